#!/usr/bin/env bash
# Install xiaoan from its wheel on Debian 12 / Raspberry Pi OS Bookworm, as root:
#
#   sudo bash install.sh hub  xiaoan-0.1.0-py3-none-any.whl    # the school's hub (docs/install-hub.md)
#   sudo bash install.sh edge xiaoan-0.1.0-py3-none-any.whl    # an edge node, a Pi (docs/install-pi.md)
#
# It runs the guide's own commands, in the guide's order, and prints each one ("$ command")
# before running it; a step already done (the user exists, the venv is there, the settings
# were written) is said and skipped, so running it twice is fine. It writes no school's
# settings: the hub's hub.env is the example until edited, and the edge's edge.yaml comes
# from the hub's admin page or `xiaoan provision` (the guides, step 6). Where systemd is not
# running (a chroot, an image being built) the units are enabled, not started.
# tests/test_install_root.py runs it in a clean Debian 12 root and compares its commands
# with the guides'.
set -euo pipefail

usage() {
    echo "usage: $0 hub|edge WHEEL   (WHEEL: the xiaoan-*.whl file to install)" >&2
    exit 2
}
[ $# -eq 2 ] || usage
ROLE=$1
WHEEL=$2
case "$ROLE" in hub | edge) ;; *) usage ;; esac

OPT=/opt/xiaoan
VENV=$OPT/venv
SHARE=$VENV/share/xiaoan
export DEBIAN_FRONTEND=noninteractive

say() { printf '# %s\n' "$*"; }
run() {
    printf '$ %s\n' "${*@Q}"
    "$@"
}
run_quiet() { # the command's own output (a help text) is not the installer's business
    printf '$ %s\n' "${*@Q}"
    "$@" >/dev/null
}
die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 1
}
# systemd as PID 1 (sd_booted): absent in a chroot, where units are enabled but not started.
systemd_running() { [ -d /run/systemd/system ]; }

[ "$(id -u)" -eq 0 ] || die "run it as root (sudo bash $0 $ROLE $WHEEL)"
[ -f "$WHEEL" ] || die "no wheel file at $WHEEL"
case "$(basename "$WHEEL")" in xiaoan-*.whl) ;; *) die "$WHEEL is not a xiaoan wheel (xiaoan-*.whl)" ;; esac
command -v apt-get >/dev/null || die "apt-get not found: this script is for Debian 12 / Raspberry Pi OS Bookworm"
NAME=$(basename "$WHEEL")

install_wheel() { # $1: the extra (hub or edge); $2…: options for python3 -m venv
    local extra=$1
    shift
    run mkdir -p "$OPT"
    run cp "$WHEEL" "$OPT/"
    if [ -x "$VENV/bin/python" ]; then
        say "$VENV exists: kept"
    else
        run python3 -m venv "$@" "$VENV"
    fi
    run "$VENV/bin/pip" install "$OPT/${NAME}[$extra]"
}

install_hub() {
    say "xiaoan hub: docs/install-hub.md, steps 1-7"
    say "1. Debian packages"
    if [ -n "${XIAOAN_DEB:-}" ]; then
        say "installed as the xiaoan-hub package's dependencies"
    else
        run apt-get update
        run apt-get install -y mosquitto mosquitto-clients python3-venv fonts-wqy-zenhei
    fi

    say "2. The program, from the wheel"
    install_wheel hub
    run_quiet "$VENV/bin/xiaoan" --help

    say "3. The hub's user and its directories"
    if id -u xiaoan-hub >/dev/null 2>&1; then
        say "user xiaoan-hub exists: kept"
    else
        run useradd --system --user-group --home-dir /var/lib/xiaoan-hub --shell /usr/sbin/nologin xiaoan-hub
    fi
    run install -d -o root -g xiaoan-hub -m 750 /etc/xiaoan

    say "4. The broker"
    run install -m 644 "$SHARE/firmware-config/mosquitto/xiaoan.conf" /etc/mosquitto/conf.d/
    run install -d -o root -g mosquitto -m 750 /etc/mosquitto/xiaoan

    say "5. The hub's broker account (devices: the admin page or \`xiaoan provision device\`)"
    if [ -f /etc/mosquitto/xiaoan/credentials/hub.password ]; then
        say "the hub's broker account exists: kept"
    else
        run "$VENV/bin/xiaoan" provision --dir /etc/mosquitto/xiaoan hub
    fi
    if systemd_running; then
        run systemctl restart mosquitto
    else
        say "systemd is not running here: mosquitto not restarted"
    fi

    say "6. The hub's settings"
    if [ -e /etc/xiaoan/hub.env ]; then
        say "/etc/xiaoan/hub.env exists: kept"
    else
        run install -o root -g xiaoan-hub -m 640 "$SHARE/firmware-config/hub/hub.env.example" /etc/xiaoan/hub.env
    fi
    if [ -e /etc/xiaoan/hub.yaml ]; then
        say "/etc/xiaoan/hub.yaml exists: kept"
    else
        run install -o root -g xiaoan-hub -m 640 /dev/null /etc/xiaoan/hub.yaml
    fi

    say "7. The service"
    run install -m 644 "$SHARE/firmware-config/hub/xiaoan-hub.service" /etc/systemd/system/
    if systemd_running; then
        run systemctl daemon-reload
        run systemctl enable --now xiaoan-hub
        say "done: the first administrator's password is in the journal:"
        say "  journalctl -u xiaoan-hub -b | grep -A3 'first administrator'"
    else
        run systemctl enable xiaoan-hub
        say "done: systemd is not running here, so xiaoan-hub is enabled, not started (it starts at boot)"
    fi
    say "next: edit /etc/xiaoan/hub.env and /etc/xiaoan/hub.yaml (docs/install-hub.md, step 6)"
}

install_edge() {
    say "xiaoan edge agent: docs/install-pi.md, steps 2, 3, 6 (the settings directory), 7 and 8"
    say "2. Install the agent"
    run apt-get update
    run apt-get install -y python3-venv
    # Raspberry Pi OS's archive has it (gpiozero's pin library); Debian's has not.
    if apt-cache show python3-lgpio >/dev/null 2>&1; then
        run apt-get install -y python3-lgpio
    else
        say "python3-lgpio is not in this system's archive (not Raspberry Pi OS): skipped"
    fi
    if ! getent group gpio >/dev/null; then
        say "no gpio group (not Raspberry Pi OS): created"
        run groupadd --system gpio
    fi
    if id -u xiaoan >/dev/null 2>&1; then
        say "user xiaoan exists: kept"
    else
        run useradd --system --user-group --home-dir /var/lib/xiaoan-edge --shell /usr/sbin/nologin \
            --groups gpio,dialout xiaoan
    fi
    install_wheel edge --system-site-packages
    run_quiet "$VENV/bin/xiaoan" --help

    say "3. Enable 1-wire and the UART"
    local boot=/boot/firmware/config.txt
    if [ ! -f "$boot" ]; then
        say "no $boot (not a Raspberry Pi): skipped"
    elif grep -qF 'dtoverlay=w1-gpio,gpiopin=4' "$boot"; then
        say "$boot already has the 1-wire and UART lines: kept"
    else
        printf '$ tee -a %s < %s\n' "$boot" "$SHARE/firmware-config/raspi/config.txt"
        tee -a "$boot" <"$SHARE/firmware-config/raspi/config.txt" >/dev/null
        say "reboot once the install is done, for 1-wire and the UART"
    fi

    say "6. The settings directory (the config itself: the hub's admin page, docs/install-pi.md step 6)"
    run install -d -o root -g xiaoan -m 750 /etc/xiaoan

    say "7. The clock"
    run install -D -m 644 "$SHARE/firmware-config/raspi/time-wait-sync.conf" \
        /etc/systemd/system/systemd-time-wait-sync.service.d/xiaoan.conf
    run systemctl enable systemd-time-wait-sync

    say "8. Start it as a service"
    run install -m 644 "$SHARE/firmware-config/raspi/xiaoan-edge.service" /etc/systemd/system/
    if ! systemd_running; then
        run systemctl enable xiaoan-edge
        say "done: systemd is not running here, so xiaoan-edge is enabled, not started (it starts at boot)"
        return
    fi
    run systemctl daemon-reload
    if [ -f /etc/xiaoan/edge.yaml ]; then
        run systemctl enable --now xiaoan-edge
        say "done: journalctl -u xiaoan-edge -f shows it connect"
    else
        run systemctl enable xiaoan-edge
        say "done: xiaoan-edge is enabled; write /etc/xiaoan/edge.yaml (docs/install-pi.md, step 6),"
        say "  then: sudo systemctl start xiaoan-edge"
    fi
}

"install_$ROLE"
