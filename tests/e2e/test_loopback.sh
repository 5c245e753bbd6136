#!/bin/bash
# test_loopback.sh DIR BINDIR — ctest e2e.loopback: the fleet in topology.sh's loopback
# variant (no network namespaces; what the live demo falls back to on a machine that cannot
# make them) works end to end with the real binaries from BINDIR, borg over real ssh to the
# repository host's sshd on a loopback port, and the real broker over TLS.
#
# What it proves (each a check that must pass):
#  - `fleet.sh up --loopback` makes no network namespace; sshd, the broker and every agent's
#    metrics listen on 127.0.0.1 only, each on a port of its own
#  - `run node1 files --wait` backs up over ssh and returns the archive's stats
#  - a file deleted on node1 comes back byte-identical under node1's restore root
#  - a pg_dump backup of node1's database and a drill of it succeed
#  - `fleet.sh down --purge` leaves no process of the fleet, no run directory under the
#    borg user's home and no namespace behind
# Root only; no stdin. DIR keeps the logs when a check failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
F=$here/fleet.sh

[ $# -eq 2 ] || { echo "usage: $0 DIR BINDIR" >&2; exit 2; }
D=$1
BIN=$2
[ "$(id -u)" = 0 ] || { echo "e2e.loopback: FAIL: must run as root (sshd, a system user); CI runs it as root" >&2; exit 1; }

e2e_fleet_test "$F" "$D"

ctl() { "$F" ctl "$D" "$@"; }
fenv() { sed -n "s/^$1=//p" "$D/fleet.env"; }
tenv() { sed -n "s/^$1=//p" "$D/topology.env" | sed "s/^'\(.*\)'$/\1/"; }
fatal() {
    local f
    echo "FATAL: $*" >&2
    for f in "$D/orch/orchestrator.log" "$D/node1/agent.log" "$D/repo-agent/agent.log"; do
        [ -f "$f" ] && { echo "---- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; }
    done
    e2e_summary
    exit 1
}

ours_in_netns() { ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^$PREFIX" | tr '\n' ' '; }
"$F" down "$D" --purge >/dev/null 2>&1 || true
"$F" up "$D" --bin "$BIN" --loopback --schedule '0 0 1 1 *' || fatal "the loopback fleet did not come up"
PREFIX=$(tenv TOPO_PREFIX)
BORG_HOME=$(tenv TOPO_BORG_HOME)

# ------------------------------------------------------------------ no namespaces, loopback only
# (Other e2e tests may run beside this one with namespaces of their own: only ours count.)
check_no_namespaces() {
    local key pid ns
    if [ "$(tenv TOPO_MODE)" != loopback ] || [ -n "$(tenv TOPO_NS_NODE1)" ]; then
        echo "topology.env: mode $(tenv TOPO_MODE), node1 ns '$(tenv TOPO_NS_NODE1)'"
        return 1
    fi
    [ -z "$(ours_in_netns)" ] || { echo "namespaces of this run: $(ours_in_netns)"; return 1; }
    for key in FLEET_PID_ORCHESTRATOR FLEET_PID_NODE1 FLEET_PID_NODE2 FLEET_PID_REPO; do
        pid=$(fenv "$key")
        [ -d "/proc/$pid" ] || { echo "$key $pid does not run"; return 1; }
        ns=$(ip netns identify "$pid" 2>&1)
        [ -z "$ns" ] || { echo "$key $pid runs in namespace '$ns'"; return 1; }
        [ "$(readlink "/proc/$pid/ns/net")" = "$(readlink /proc/self/ns/net)" ] || { echo "$key $pid is not in this test's network namespace"; return 1; }
    done
}
e2e_check "the loopback variant makes no network namespace" check_no_namespaces

listening_on() { # PORT — the local addresses a TCP listener on PORT is bound to
    ss -Htln "sport = :$1" | awk '{ print $4 }' | sed 's/:[0-9]*$//' | sort -u | tr '\n' ' '
}
check_loopback_listeners() {
    local port what ports=() seen
    ports+=("sshd:$(tenv TOPO_REPO_SSH_PORT)" "broker:$(tenv TOPO_BROKER_PORT)")
    for what in NODE1 NODE2 REPO ORCHESTRATOR; do
        ports+=("$what-metrics:$(fenv "FLEET_METRICS_$what" | sed 's/.*://')")
    done
    for what in "${ports[@]}"; do
        port=${what#*:}
        [ "$(listening_on "$port")" = "127.0.0.1 " ] || { echo "${what%%:*} on port $port listens on '$(listening_on "$port")'"; return 1; }
    done
    seen=$(printf '%s\n' "${ports[@]}" | sed 's/.*://' | sort | uniq -d)
    [ -z "$seen" ] || { echo "ports shared: $seen"; return 1; }
}
e2e_check "sshd, the broker and every metrics endpoint listen on 127.0.0.1 only, each on its own port" check_loopback_listeners

# ------------------------------------------------------------------ backup and restore
check_run_now() {
    local out
    out=$(ctl --json run node1 files --wait) || { echo "$out"; return 1; }
    [ "$(jq_py 'd["run"]["status"]' <<<"$out")" = success ] || { echo "status: $out"; return 1; }
    [ "$(jq_py 'd["run"]["files"]' <<<"$out")" -ge 40 ] || { echo "files: $out"; return 1; }
    [[ $(fenv FLEET_MODE) == loopback ]] || { echo "fleet.env mode $(fenv FLEET_MODE)"; return 1; }
    jq_py 'd["run"]["archive_name"]' <<<"$out" >"$E2E_LOG_DIR/archive"
}
e2e_check "run node1 files --wait: a backup over ssh to the loopback sshd, with its stats" check_run_now
ARCHIVE=$(cat "$E2E_LOG_DIR/archive" 2>/dev/null || true)
[[ $ARCHIVE == node1-files-* ]] || fatal "no archive to restore from ('$ARCHIVE')"

e2e_check "a deleted file comes back byte-identical under node1's restore root" \
    e2e_check_restore_file "$F" "$D" "$ARCHIVE"

check_database() {
    local out
    out=$(ctl --json run node1 db --wait) || { echo "$out"; return 1; }
    [ "$(jq_py 'd["run"]["status"]' <<<"$out")" = success ] || { echo "backup: $out"; return 1; }
    out=$(ctl --json drill node1 db --wait) || { echo "$out"; return 1; }
    [ "$(jq_py 'd["run"]["status"]' <<<"$out")" = success ] || { echo "drill: $out"; return 1; }
}
e2e_check "a pg_dump backup of node1's database and its restore drill succeed" check_database

# ------------------------------------------------------------------ down
PIDS=""
for key in FLEET_PID_ORCHESTRATOR FLEET_PID_NODE1 FLEET_PID_NODE2 FLEET_PID_REPO; do PIDS+="$(fenv "$key") "; done
PIDS+=$(tr -dc '0-9' <"$D/repo/sshd/sshd.pid" 2>/dev/null)
check_down() {
    local p
    "$F" down "$D" --purge || return 1
    for p in $PIDS; do
        if kill -0 "$p" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ]; then
            echo "pid $p ($(cat "/proc/$p/comm" 2>/dev/null)) still runs"
            return 1
        fi
    done
    [ ! -e "$BORG_HOME/runs/$PREFIX" ] || { echo "$BORG_HOME/runs/$PREFIX is left"; return 1; }
    [ ! -e "$D" ] || { echo "$D is left after --purge"; return 1; }
    [ -z "$(ours_in_netns)" ] || { echo "namespaces of this run: $(ours_in_netns)"; return 1; }
}
e2e_check "down --purge leaves no process, run directory or namespace behind" check_down

e2e_summary
