#!/bin/bash
# gen-certs.sh — a development/test CA, a broker server certificate and client
# certificates (CN = broker user name, for the EXTERNAL mechanism).
#
#   gen-certs.sh OUTDIR [--server-name NAME]... [--client NAME]... [--owner USER]
#                       [--days N]
#
# Writes into OUTDIR (only the files that do not exist yet, so it can be re-run
# to add a client to an existing CA):
#   ca.pem ca.key                 the CA (ca.key stays 0600, owned by the caller)
#   server.pem server.key         server certificate; SANs = every --server-name
#                                 (default: localhost, 127.0.0.1, ::1);
#                                 CN = the first name
#   NAME.pem NAME.key             one pair per --client NAME, CN = NAME
#
# Keys are EC P-256, 0600. server.key is chowned to --owner (default: the
# `rabbitmq` user when run as root and that user exists) because the broker
# reads it; every other key stays owned by the caller.
#
# For production use certificates from your real CA instead (docs/broker.md);
# this CA is for development and tests only.
set -euo pipefail

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}

die() { echo "gen-certs.sh: $*" >&2; exit 1; }

[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage ;; esac
outdir=$1; shift
server_names=()
clients=()
owner=
days=825
while [ $# -gt 0 ]; do
    case "$1" in
        --server-name) [ $# -ge 2 ] || usage; server_names+=("$2"); shift 2 ;;
        --client)      [ $# -ge 2 ] || usage; clients+=("$2"); shift 2 ;;
        --owner)       [ $# -ge 2 ] || usage; owner=$2; shift 2 ;;
        --days)        [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
        -h|--help)     usage ;;
        *)             die "unknown argument: $1" ;;
    esac
done
[ ${#server_names[@]} -gt 0 ] || server_names=(localhost 127.0.0.1 ::1)
[[ $days =~ ^[0-9]+$ ]] || die "--days must be a number"
server_re='^[A-Za-z0-9:][A-Za-z0-9._:-]{0,62}$'
client_re='^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'
for n in "${server_names[@]}"; do
    [[ $n =~ $server_re ]] || die "refusing server name '$n' (allowed: $server_re)"
done
for n in "${clients[@]}"; do
    [[ $n =~ $client_re ]] || die "refusing client name '$n' (allowed: $client_re)"
    case "$n" in ca|server) die "client name '$n' would overwrite the CA or server files" ;; esac
done
if [ -z "$owner" ] && [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    owner=rabbitmq
fi

command -v openssl >/dev/null || die "openssl not found"
umask 077
mkdir -p "$outdir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() { # FILE — EC P-256 private key, PKCS#8 PEM, 0600
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
    chmod 600 "$1"
}

sign() { # CN EXTFILE KEY OUT — CSR for KEY, signed by the CA with EXTFILE's extensions
    openssl req -new -key "$3" -subj "/CN=$1" -out "$tmp/req.csr"
    openssl x509 -req -in "$tmp/req.csr" -CA "$outdir/ca.pem" -CAkey "$outdir/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
        -extfile "$2" -out "$4" 2>/dev/null
    chmod 644 "$4"
}

if [ ! -f "$outdir/ca.pem" ] || [ ! -f "$outdir/ca.key" ]; then
    newkey "$outdir/ca.key"
    openssl req -x509 -new -key "$outdir/ca.key" -sha256 -days 3650 \
        -subj "/CN=sparky development CA $(openssl rand -hex 4)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$outdir/ca.pem"
    chmod 644 "$outdir/ca.pem"
fi

if [ ! -f "$outdir/server.pem" ] || [ ! -f "$outdir/server.key" ]; then
    sans=()
    for n in "${server_names[@]}"; do
        if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then sans+=("IP:$n"); else sans+=("DNS:$n"); fi
    done
    san=$(IFS=,; echo "${sans[*]}")
    cat >"$tmp/server.ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
EOF
    newkey "$outdir/server.key"
    sign "${server_names[0]}" "$tmp/server.ext" "$outdir/server.key" "$outdir/server.pem"
fi
if [ -n "$owner" ]; then
    chown "$owner" "$outdir/server.key"
fi

cat >"$tmp/client.ext" <<EOF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
for c in "${clients[@]}"; do
    [ -f "$outdir/$c.pem" ] && [ -f "$outdir/$c.key" ] && continue
    newkey "$outdir/$c.key"
    sign "$c" "$tmp/client.ext" "$outdir/$c.key" "$outdir/$c.pem"
done

chmod 755 "$outdir"
