#!/usr/bin/env bash
# Build the hub's Debian package from the xiaoan wheel (make deb):
#
#   bash scripts/make-deb.sh dist/xiaoan-0.1.0-py3-none-any.whl dist    # → dist/xiaoan-hub_0.1.0_all.deb
#
# The package carries the wheel and scripts/install.sh under /usr/share/xiaoan/, and depends on the
# Debian packages of docs/install-hub.md step 1. Installing it (sudo apt install ./xiaoan-hub_…_all.deb)
# runs install.sh's steps 2 to 7 from its postinst: the venv under /opt/xiaoan with the hub's Python
# dependencies from the package index, the xiaoan-hub user, the broker config and the hub's account, the
# example settings, and the systemd unit, enabled and started. Removing it stops and disables the unit;
# purging also deletes the program (/opt/xiaoan) and the unit, never the school's record (/var/lib/xiaoan-hub),
# settings (/etc/xiaoan) or broker accounts (/etc/mosquitto/xiaoan).
# tests/test_deb.py builds it and installs it into a clean Debian 12 root.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 WHEEL OUT_DIR" >&2; exit 2; }
wheel=$1
out=$2
name=$(basename "$wheel")
case "$name" in xiaoan-*-py3-none-any.whl) ;; *) echo "$0: $wheel is not a xiaoan wheel" >&2; exit 2 ;; esac
version=${name#xiaoan-}
version=${version%%-*}
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/xiaoan-hub
install -d -m 755 "$pkg/DEBIAN" "$pkg/usr/share/xiaoan" "$pkg/usr/share/doc/xiaoan-hub"
install -m 644 "$wheel" "$pkg/usr/share/xiaoan/$name"
install -m 755 "$here/install.sh" "$pkg/usr/share/xiaoan/install.sh"
printf 'xiaoan hub %s: see /opt/xiaoan/venv/share/xiaoan/docs/install-hub.md once installed.\n' "$version" \
    > "$pkg/usr/share/doc/xiaoan-hub/README"

cat > "$pkg/DEBIAN/control" <<CONTROL
Package: xiaoan-hub
Version: $version
Architecture: all
Maintainer: xiaoan <xiaoan@localhost>
Section: misc
Priority: optional
Depends: python3 (>= 3.11), python3-venv, mosquitto, mosquitto-clients, fonts-wqy-zenhei
Installed-Size: $(du -sk "$pkg" | cut -f1)
Description: xiaoan (校安) school canteen and campus safety hub
 The school's hub: Mosquitto broker config, the xiaoan-hub service (ingest, alarms,
 web pages, reports). Installs the program into /opt/xiaoan/venv from the bundled
 wheel (its Python dependencies come from the package index).
CONTROL

cat > "$pkg/DEBIAN/postinst" <<POSTINST
#!/bin/sh
set -e
case "\$1" in
    configure)
        # Steps 2 to 7 of docs/install-hub.md; step 1's packages are this package's dependencies.
        XIAOAN_DEB=1 bash /usr/share/xiaoan/install.sh hub /usr/share/xiaoan/$name
        ;;
esac
exit 0
POSTINST

cat > "$pkg/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
case "$1" in
    remove|deconfigure)
        if [ -d /run/systemd/system ]; then systemctl stop xiaoan-hub || true; fi
        systemctl disable xiaoan-hub >/dev/null 2>&1 || true
        ;;
esac
exit 0
PRERM

cat > "$pkg/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
case "$1" in
    purge)
        # The program and its unit; the school's record, settings and broker accounts stay.
        rm -rf /opt/xiaoan/venv
        rm -f /opt/xiaoan/xiaoan-*.whl /etc/systemd/system/xiaoan-hub.service
        rmdir /opt/xiaoan 2>/dev/null || true
        if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
        ;;
esac
exit 0
POSTRM
chmod 755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm" "$pkg/DEBIAN/postrm"

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out/xiaoan-hub_${version}_all.deb" >/dev/null
echo "$out/xiaoan-hub_${version}_all.deb"
