#!/usr/bin/env bash
# Install what xiaoan needs on Debian 12 / Raspberry Pi OS, only where it is missing:
# Debian packages (the Mosquitto broker, InfluxDB for the optional series store (XIAOAN_STORE=influxdb) and its tests,
# PostgreSQL 15 for the district service and its tests, python3-venv), then a virtual environment with the package and its extras.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
EXTRAS=${EXTRAS:-edge,hub,influx,postgres,district,dev}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

missing=()
have mosquitto || missing+=(mosquitto)
have mosquitto_pub || missing+=(mosquitto-clients)
have influxd || missing+=(influxdb)
# The district service (hub/district) keeps its state in PostgreSQL 15; its tests start a private cluster
# with the binaries under /usr/lib/postgresql/15/bin (hub/pg/server.py), never the system one.
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
# `make bench` compiles its C load generator (bench/mqttload.c) against libmosquitto.
[ -f /usr/include/mosquitto.h ] || missing+=(libmosquitto-dev)
have cc || missing+=(gcc libc6-dev)
# Food-sample labels (hub/samples/labels.py) print Chinese with WenQuanYi Zen Hei.
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || missing+=(fonts-wqy-zenhei)
# Reports and their tests: pdftoppm renders PDFs to images.
have pdftoppm || missing+=(poppler-utils)
# Browser tests (Playwright) drive Debian's Chromium headless.
have chromium || missing+=(chromium)
# The durability test (tests/hub/test_durability.py) watches the hub's syncs and sends with strace.
have strace || missing+=(strace)
# The clean-root install test (tests/test_install_root.py) bootstraps a Debian 12 root; shellcheck checks
# the install script.
have debootstrap || missing+=(debootstrap)
have shellcheck || missing+=(shellcheck)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
for extra in ${APT_EXTRA:-}; do dpkg -s "$extra" >/dev/null 2>&1 || missing+=("$extra"); done

if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    # No question on stdin (CI=true, no terminal): keep any configuration file already there.
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null
fi

# The Debian packages start their own services where systemd runs; xiaoan starts
# private instances on its own ports, so those are not needed (and not touched).

stamp="$VENV/.xiaoan-installed"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -e ".[$EXTRAS]"
    touch "$stamp"
fi
