#!/bin/sh
# verify-systemd-unit.sh UNIT BINARY — `systemd-analyze verify` on the agent's unit, with
# ExecStart pointed at the built binary. Any output (unknown keys, bad values) fails it:
# systemd-analyze only warns about those.
set -eu
unit=$1 binary=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/bin/sparky-agent#$binary#" "$unit" > "$tmp/sparky-agent.service"
out=$(systemd-analyze verify "$tmp/sparky-agent.service" 2>&1) || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
    echo "$out"
    exit 1
fi
echo "systemd-analyze verify: $unit is clean"
