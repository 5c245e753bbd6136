#!/bin/bash
# render-config.sh — render the broker configuration into one directory.
#
#   render-config.sh --outdir DIR [options]
#
# Writes DIR/rabbitmq.conf, DIR/rabbitmq-env.conf (from the *.in templates),
# DIR/enabled_plugins and DIR/sparky-definitions.json (copies). Every path in
# the rendered files points into DIR except the certificates, data and logs.
# Production: --outdir /etc/rabbitmq with the defaults below. Tests:
# tests/fixtures/broker.sh passes its own directory, loopback and free ports.
#
# Options (default in brackets):
#   --amqps-listen ADDR:PORT|PORT  AMQPS listener; a bare port = all interfaces [5671]
#   --mgmt-address ADDR            management HTTPS address [0.0.0.0]
#   --mgmt-port PORT               management HTTPS port [15671]
#   --prometheus-address ADDR      prometheus HTTPS address [127.0.0.1]
#   --prometheus-port PORT         prometheus HTTPS port [15691]
#   --cacert FILE                  CA bundle clients are verified against [/etc/rabbitmq/tls/ca.pem]
#   --cert FILE                    server certificate [/etc/rabbitmq/tls/server.pem]
#   --key FILE                     server key, readable by the broker [/etc/rabbitmq/tls/server.key]
#   --nodename NAME                node name [rabbit@localhost]
#   --dist-address IPV4            Erlang distribution interface [127.0.0.1]
#   --dist-port PORT               Erlang distribution port [25672]
#   --epmd-address ADDR            epmd listen address [127.0.0.1]
#   --epmd-port PORT               epmd port [4369]
#   --mnesia-base DIR              data directory [/var/lib/rabbitmq/mnesia]
#   --log-base DIR                 log directory [/var/log/rabbitmq]
#   --pid-file FILE                pid file [MNESIA_BASE/NODENAME.pid]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
    exit 2
}
die() { echo "render-config.sh: $*" >&2; exit 1; }

outdir=
amqps_listen=5671
mgmt_address=0.0.0.0
mgmt_port=15671
prometheus_address=127.0.0.1
prometheus_port=15691
cacert=/etc/rabbitmq/tls/ca.pem
cert=/etc/rabbitmq/tls/server.pem
key=/etc/rabbitmq/tls/server.key
nodename=rabbit@localhost
dist_address=127.0.0.1
dist_port=25672
epmd_address=127.0.0.1
epmd_port=4369
mnesia_base=/var/lib/rabbitmq/mnesia
log_base=/var/log/rabbitmq
pid_file=

while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || { case "$1" in -h|--help) usage ;; *) die "missing value for $1" ;; esac; }
    case "$1" in
        --outdir)             outdir=$2 ;;
        --amqps-listen)       amqps_listen=$2 ;;
        --mgmt-address)       mgmt_address=$2 ;;
        --mgmt-port)          mgmt_port=$2 ;;
        --prometheus-address) prometheus_address=$2 ;;
        --prometheus-port)    prometheus_port=$2 ;;
        --cacert)             cacert=$2 ;;
        --cert)               cert=$2 ;;
        --key)                key=$2 ;;
        --nodename)           nodename=$2 ;;
        --dist-address)       dist_address=$2 ;;
        --dist-port)          dist_port=$2 ;;
        --epmd-address)       epmd_address=$2 ;;
        --epmd-port)          epmd_port=$2 ;;
        --mnesia-base)        mnesia_base=$2 ;;
        --log-base)           log_base=$2 ;;
        --pid-file)           pid_file=$2 ;;
        *)                    die "unknown option: $1" ;;
    esac
    shift 2
done
[ -n "$outdir" ] || usage
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
[ -n "$pid_file" ] || pid_file="$mnesia_base/$nodename.pid"

# Validate everything that lands in a file: these values are pasted verbatim
# into a cuttlefish config and a shell-sourced env file.
port()  { if ! [[ $2 =~ ^[0-9]{1,5}$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then die "$1: bad port '$2'"; fi; }
addr()  { [[ $2 =~ ^[0-9A-Za-z.:-]+$ ]] || die "$1: bad address '$2'"; }
apath() { [[ $2 =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "$1: need an absolute path of [A-Za-z0-9._/+-], got '$2'"; }
if [[ $amqps_listen =~ ^[0-9]+$ ]]; then
    port --amqps-listen "$amqps_listen"
else
    [[ $amqps_listen =~ ^(.+):([0-9]+)$ ]] || die "--amqps-listen: need ADDR:PORT or PORT"
    listen_addr=${BASH_REMATCH[1]} listen_port=${BASH_REMATCH[2]}
    addr --amqps-listen "$listen_addr"; port --amqps-listen "$listen_port"
fi
addr --mgmt-address "$mgmt_address";             port --mgmt-port "$mgmt_port"
addr --prometheus-address "$prometheus_address"; port --prometheus-port "$prometheus_port"
addr --epmd-address "$epmd_address";             port --epmd-port "$epmd_port"
port --dist-port "$dist_port"
[[ $dist_address =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] \
    || die "--dist-address: need an IPv4 address, got '$dist_address'"
dist_interface="{${BASH_REMATCH[1]},${BASH_REMATCH[2]},${BASH_REMATCH[3]},${BASH_REMATCH[4]}}"
[[ $nodename =~ ^[A-Za-z0-9_-]+(@[A-Za-z0-9.-]+)?$ ]] || die "--nodename: bad node name '$nodename'"
apath --cacert "$cacert"; apath --cert "$cert"; apath --key "$key"
apath --mnesia-base "$mnesia_base"; apath --log-base "$log_base"; apath --pid-file "$pid_file"
apath --outdir "$outdir"

render() { # TEMPLATE OUT KEY=VALUE...
    local template=$1 out=$2 text kv
    shift 2
    text=$(<"$template")
    for kv in "$@"; do
        text=${text//@${kv%%=*}@/${kv#*=}}
    done
    if [[ $text =~ @[A-Z_]+@ ]]; then
        die "$template: placeholder ${BASH_REMATCH[0]} left unrendered"
    fi
    printf '%s\n' "$text" >"$out.tmp"
    chmod 644 "$out.tmp"
    mv -f "$out.tmp" "$out"
}

render "$here/rabbitmq.conf.in" "$outdir/rabbitmq.conf" \
    "AMQPS_LISTEN=$amqps_listen" \
    "MGMT_ADDRESS=$mgmt_address" "MGMT_PORT=$mgmt_port" \
    "PROMETHEUS_ADDRESS=$prometheus_address" "PROMETHEUS_PORT=$prometheus_port" \
    "CA_FILE=$cacert" "CERT_FILE=$cert" "KEY_FILE=$key" \
    "DEFINITIONS_FILE=$outdir/sparky-definitions.json"

render "$here/rabbitmq-env.conf.in" "$outdir/rabbitmq-env.conf" \
    "NODENAME=$nodename" \
    "CONFIG_FILE=$outdir/rabbitmq.conf" \
    "ENABLED_PLUGINS_FILE=$outdir/enabled_plugins" \
    "MNESIA_BASE=$mnesia_base" "LOG_BASE=$log_base" "PID_FILE=$pid_file" \
    "DIST_PORT=$dist_port" "DIST_INTERFACE=$dist_interface" \
    "EPMD_ADDRESS=$epmd_address" "EPMD_PORT=$epmd_port"

install -m 644 "$here/enabled_plugins" "$outdir/enabled_plugins"
install -m 644 "$here/definitions.json" "$outdir/sparky-definitions.json"
