#!/usr/bin/env bash
# 校安 xiaoan: a school's own certificate authority for the broker's TLS listener.
#
#   scripts/make-ca.sh OUT_DIR BROKER_NAME_OR_IP [DEVICE ...]
#
# Writes to OUT_DIR:
#   ca.crt / ca.key          the school's CA (10 years). ca.crt goes to every Pi and the hub;
#                            ca.key stays offline (it is only needed to issue more certificates).
#   server.crt / server.key  the broker's certificate, valid for BROKER_NAME_OR_IP (and localhost,
#                            127.0.0.1): Mosquitto's certfile/keyfile (firmware-config/mosquitto/).
#   DEVICE.crt / DEVICE.key  optional client certificates (CN = device id), for a listener with
#                            `require_certificate true`.
# Running it again keeps an existing CA and issues new server/device certificates from it.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 OUT_DIR BROKER_NAME_OR_IP [DEVICE ...]" >&2
    exit 2
fi
out=$1
broker=$2
shift 2
days_ca=3650
days_cert=825  # what browsers and most TLS stacks still accept for a leaf certificate

mkdir -p "$out"
umask 077

if [ ! -f "$out/ca.key" ]; then
    openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days "$days_ca" \
        -keyout "$out/ca.key" -out "$out/ca.crt" \
        -subj "/O=xiaoan school/CN=xiaoan school CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    echo "CA:     $out/ca.crt"
fi

# A name or an address: an IP goes into the certificate as an IP SAN, or hostname checks fail.
if [[ $broker =~ ^[0-9.]+$ || $broker == *:* ]]; then
    san="IP:$broker,DNS:localhost,IP:127.0.0.1"
else
    san="DNS:$broker,DNS:localhost,IP:127.0.0.1"
fi

issue() {  # name, subject CN, extended key usage, [SAN]
    local name=$1 cn=$2 usage=$3 alt=${4:-}
    local ext="$out/$name.ext"
    {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$usage"
        if [ -n "$alt" ]; then echo "subjectAltName=$alt"; fi
    } > "$ext"
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$out/$name.key" -out "$out/$name.csr" \
        -subj "/O=xiaoan school/CN=$cn" 2>/dev/null
    openssl x509 -req -in "$out/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
        -days "$days_cert" -sha256 -extfile "$ext" -out "$out/$name.crt" 2>/dev/null
    rm -f "$out/$name.csr" "$ext"
    echo "issued: $out/$name.crt ($cn)"
}

issue server "$broker" serverAuth "$san"
for device in "$@"; do
    issue "$device" "$device" clientAuth
done
# Mosquitto reads its key as the mosquitto user; the CA certificate is public.
chmod 644 "$out/ca.crt" "$out/server.crt"
