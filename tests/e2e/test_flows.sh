#!/bin/bash
# test_flows.sh DIR BINDIR — ctest e2e.flows: the whole system on the multi-host topology
# (tests/e2e/fleet.sh on tests/e2e/topology.sh) does what an operator relies on. The agents,
# the orchestrator and sparky-admin-cli are the real binaries from BINDIR; borg reaches the
# repository host over real ssh with restricted keys; the broker is the real RabbitMQ over TLS.
#
# What it proves (each a check that must pass):
#  - the client nodes expose no listening port outside their loopback while the agents run
#  - `run node1 files --wait` backs up over ssh and returns the archive's stats
#  - `archives` lists it; `ls` browses its directories
#  - a file deleted on node1 comes back byte-identical under node1's restore root
#  - a restore to a directory outside the restore roots is refused and writes nothing
#  - a dropped PostgreSQL database comes back from its pg_dump archive with the same rows
#  - a restore drill of files and of the database dump succeeds
#  - scheduled backups on node1 and node2 run by themselves and land on the repository host
#  - node1's key cannot reach node2's repository on the repository host
#  - a drill against a deliberately corrupted repository fails and says why
#  - a command to a node whose link is down expires, is reported expired, and never runs
#  - /metrics of the orchestrator and the agents' textfiles pass promtool and show the runs
# Root only; no stdin. Leaves nothing running; DIR keeps the logs when a check failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
F=$here/fleet.sh
T=$here/topology.sh

[ $# -eq 2 ] || { echo "usage: $0 DIR BINDIR" >&2; exit 2; }
D=$1
BIN=$2
[ "$(id -u)" = 0 ] || { echo "e2e.flows: FAIL: must run as root (network namespaces, sshd); CI runs it as root" >&2; exit 1; }

t_start=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - t_start) / 1000000 )) ms"; }
e2e_fleet_test "$F" "$D"

ctl() { "$F" ctl "$D" "$@"; }
fatal() {
    echo "FATAL: $*" >&2
    dump_logs
    e2e_summary
    exit 1
}
dump_logs() {
    local f
    for f in "$D/orch/orchestrator.log" "$D/node1/agent.log" "$D/node2/agent.log" "$D/repo-agent/agent.log"; do
        [ -f "$f" ] || continue
        echo "---- $f (last 40 lines)" >&2
        tail -n 40 "$f" >&2
    done
}

# ------------------------------------------------------------------ up
"$F" down "$D" --purge >/dev/null 2>&1 || true
"$F" up "$D" --bin "$BIN" --schedule-in 75 || fatal "the fleet did not come up"
topo_load "$D"
echo "fleet up after $(elapsed); scheduled backups at '$(sed -n 's/^FLEET_SCHEDULE=//p' "$D/fleet.env")' UTC"

# ------------------------------------------------------------------ exposure
check_no_ports() {
    assert_no_external_listeners "$TOPO_NS_NODE1" && assert_no_external_listeners "$TOPO_NS_NODE2"
}
e2e_check "node1 and node2 run their agents and listen on no address but loopback" check_no_ports

# ------------------------------------------------------------------ run now
check_run_now() {
    local out
    out=$(ctl --json run node1 files --wait) || { echo "$out"; return 1; }
    echo "$out" >"$E2E_LOG_DIR/run-node1-files.json"
    [ "$(jq_py 'd["run"]["status"]' <<<"$out")" = success ] || { echo "status: $out"; return 1; }
    [ "$(jq_py 'd["run"]["files"]' <<<"$out")" -ge 40 ] || { echo "files: $out"; return 1; }
    [ "$(jq_py 'd["run"]["original_size"]' <<<"$out")" -gt 300000 ] || { echo "size: $out"; return 1; }
    ARCHIVE=$(jq_py 'd["run"]["archive_name"]' <<<"$out")
    [[ $ARCHIVE == node1-files-* ]] || { echo "archive name '$ARCHIVE'"; return 1; }
    echo "$ARCHIVE" >"$E2E_LOG_DIR/archive"
}
e2e_check "run node1 files --wait: a backup over ssh, with its stats" check_run_now
ARCHIVE=$(cat "$E2E_LOG_DIR/archive" 2>/dev/null || true)
[ -n "$ARCHIVE" ] || fatal "no archive to browse and restore from"

check_archives() {
    local out
    out=$(ctl --json archives node1 files) || { echo "$out"; return 1; }
    [ "$(jq_py "[a['name'] for a in d['result']['archives']].count('$ARCHIVE')" <<<"$out")" = 1 ] || { echo "$out"; return 1; }
    [ "$(jq_py "[a for a in d['result']['archives'] if a['name'] == '$ARCHIVE'][0]['stats']['files']" <<<"$out")" -ge 40 ] || { echo "$out"; return 1; }
}
e2e_check "archives node1 files lists the archive with its stats" check_archives

check_ls() {
    local out root=${D#/}/node1/data
    out=$(ctl --json ls node1 files "$ARCHIVE" "$root/www") || { echo "$out"; return 1; }
    [ "$(jq_py "' '.join(sorted(e['name'] + ':' + e['type'] for e in d['result']['entries']))" <<<"$out")" = \
        "img:dir index.html:file" ] || { echo "$out"; return 1; }
    out=$(ctl --json ls node1 files "$ARCHIVE" "$root/home/alice" --page-size 15) || { echo "$out"; return 1; }
    [ "$(jq_py "len(d['result']['entries'])" <<<"$out")" = 15 ] || { echo "page: $out"; return 1; }
    [ -n "$(jq_py "d['result'].get('next_cursor') or ''" <<<"$out")" ] || { echo "no next page: $out"; return 1; }
}
e2e_check "ls browses the archive's directories, a page at a time" check_ls

# ------------------------------------------------------------------ restore
e2e_check "a deleted file comes back byte-identical under node1's restore root" \
    e2e_check_restore_file "$F" "$D" "$ARCHIVE"

check_restore_outside() {
    local out rc
    out=$(ctl restore node1 files "$ARCHIVE" "${D#/}/node1/data/etc/site.conf" --to /etc/sparky-e2e-evil --wait 2>&1)
    rc=$?
    [ "$rc" != 0 ] || { echo "a restore outside the roots succeeded: $out"; return 1; }
    [[ $out == *"outside the restore roots"* ]] || { echo "unclear refusal: $out"; return 1; }
    [ ! -e /etc/sparky-e2e-evil ] || { echo "/etc/sparky-e2e-evil was written"; rm -rf /etc/sparky-e2e-evil; return 1; }
}
e2e_check "a restore outside node1's restore roots is refused, naming the roots" check_restore_outside

DB_CHECK="SELECT count(*), sum(total), md5(string_agg(id || ':' || customer || ':' || total, ',' ORDER BY id)) FROM orders"
check_database() {
    local before after out dump
    before=$("$F" psql "$D" -d shop -Atc "$DB_CHECK") || return 1
    out=$(ctl --json run node1 db --wait) || { echo "$out"; return 1; }
    dump=$(jq_py "d['run']['archive_name']" <<<"$out")
    [[ $dump == node1-db.pg-shop-* ]] || { echo "dump archive '$dump': $out"; return 1; }
    "$F" psql "$D" -d postgres -qc 'DROP DATABASE shop' || return 1
    if "$F" psql "$D" -d shop -Atc 'select 1' >/dev/null 2>&1; then echo "shop was not dropped"; return 1; fi
    out=$(ctl --json restore node1 db "$dump" --database shop --create-database --wait) || { echo "$out"; return 1; }
    after=$("$F" psql "$D" -d shop -Atc "$DB_CHECK") || return 1
    [ "$before" = "$after" ] || { echo "rows differ: before '$before', after '$after'"; return 1; }
    echo "shop: $after"
}
e2e_check "a dropped PostgreSQL database comes back from its dump with the same rows" check_database

check_drills() {
    local out
    out=$(ctl --json drill node1 files --wait) || { echo "$out"; return 1; }
    [ "$(jq_py "d['run']['details']['files_checked']" <<<"$out")" -ge 1 ] || { echo "$out"; return 1; }
    [ "$(jq_py "len(d['run']['details']['mismatches'])" <<<"$out")" = 0 ] || { echo "$out"; return 1; }
    out=$(ctl --json drill node1 db --wait) || { echo "$out"; return 1; }
    [ "$(jq_py "' '.join(x['database'] + ':' + x['status'] for x in d['run']['details']['databases'])" <<<"$out")" = "shop:success" ] || { echo "$out"; return 1; }
    [ "$(jq_py "d['run']['details']['databases'][0]['rows']" <<<"$out")" -ge 3500 ] || { echo "$out"; return 1; }
}
e2e_check "restore drills of node1's files and of its database dump succeed" check_drills

# ------------------------------------------------------------------ schedule
scheduled_ok() { # NODE — a scheduled `etc` backup finished successfully
    local out
    out=$(ctl --json runs --node "$1" --job etc --kind backup) || return 1
    [ "$(jq_py "len([r for r in d['runs'] if r['trigger'] == 'schedule' and r['status'] == 'success'])" <<<"$out")" -ge 1 ]
}
check_scheduled() {
    local deadline=$((SECONDS + 200)) n listing
    until scheduled_ok node1 && scheduled_ok node2; do
        [ $SECONDS -lt $deadline ] || { echo "no scheduled run on both nodes within 200 s"; ctl runs; return 1; }
        sleep 2
    done
    for n in node1 node2; do
        # The archive is in the node's repository on the repository host, read back over ssh.
        listing=$("$T" borg "$D" "$n" list --short) || return 1
        [[ $listing == *"$n-etc-"* ]] || { echo "$n's repository lists no etc archive: $listing"; return 1; }
        [ "$(stat -c %U "$TOPO_REPO_ROOT/$n/config")" = "$TOPO_BORG_USER" ] || { echo "$n's repository is not the borg user's"; return 1; }
    done
}
e2e_check "scheduled backups on node1 and node2 run by themselves and land on the repository host" check_scheduled

check_isolation() {
    local out
    if out=$("$T" borg "$D" node1 list "$TOPO_NODE2_REPO_URL" 2>&1); then
        echo "node1 listed node2's repository: $out"; return 1
    fi
    [[ $out == *"not"*"allowed"* || $out == *"restrict"* || $out == *"Permission denied"* ]] \
        || { echo "refused, but not by the restriction: $out"; return 1; }
}
e2e_check "node1's key cannot reach node2's repository on the repository host" check_isolation

# ------------------------------------------------------------------ corruption
check_corrupt_drill() {
    local out rc seg size
    out=$(ctl --json run node2 files --wait) || { echo "$out"; return 1; }
    # Overwrite bytes in the middle of every data segment (not the tiny commit-only ones):
    # whatever the drill's random sample reads is damaged.
    for seg in "$TOPO_REPO_ROOT"/node2/data/*/*; do
        size=$(stat -c %s "$seg")
        [ "$size" -gt 200 ] || continue
        printf 'sparky-e2e: deliberately corrupted' | dd of="$seg" bs=1 seek=$((size / 2)) conv=notrunc status=none
    done
    out=$(ctl --json drill node2 files --wait)
    rc=$?
    [ "$rc" = 2 ] || { echo "drill exit $rc: $out"; return 1; }
    [ "$(jq_py "d['run']['status']" <<<"$out")" = failed ] || { echo "$out"; return 1; }
    [[ $(jq_py "d['run']['error']" <<<"$out") == *"integrity"* ]] || { echo "unclear reason: $out"; return 1; }
    jq_py "d['run']['failed_step'] + ': ' + d['run']['error']" <<<"$out"
}
e2e_check "a drill of a corrupted repository fails with borg's reason" check_corrupt_drill

# ------------------------------------------------------------------ offline node
check_expiry() {
    local out rc id since
    "$T" link "$D" node2 down || return 1
    out=$(ctl --json run node2 files --expires-in 10s --wait 2>&1)
    rc=$?
    "$T" link "$D" node2 up || return 1
    [ "$rc" = 2 ] || { echo "exit $rc: $out"; return 1; }
    [[ $out == *expired* ]] || { echo "not reported expired: $out"; return 1; }
    id=$(ctl --json commands --node node2 --state expired | jq_py "d['commands'][0]['id']") || return 1
    [ "$(ctl --json command "$id" | jq_py "d['state']")" = expired ] || return 1
    # Back online (a heartbeat after the cable is back), the agent never ran it.
    since=$(date -u +%s)
    local deadline=$((SECONDS + 60))
    until [ "$(ctl --json status | jq_py "[int(__import__('datetime').datetime.fromisoformat(n['last_seen'].replace('Z', '+00:00')).timestamp()) for n in d['nodes'] if n['node'] == 'node2'][0]")" -gt "$since" ]; do
        [ $SECONDS -lt $deadline ] || { echo "node2 did not come back"; return 1; }
        sleep 1
    done
    out=$(ctl --json runs --node node2 --limit 50) || return 1
    [ "$(jq_py "len([r for r in d['runs'] if r['command_id'] == '$id'])" <<<"$out")" = 0 ] || { echo "the expired command ran: $out"; return 1; }
    echo "command $id expired"
}
e2e_check "a command to a node whose link is down expires, is reported so, and never runs" check_expiry

# ------------------------------------------------------------------ metrics
check_metrics() {
    local text n
    text=$("$T" exec "$D" orch curl -fsS --max-time 10 http://127.0.0.1:9466/metrics) || return 1
    promtool check metrics <<<"$text" || return 1
    grep -q '^sparky_fleet_nodes_online' <<<"$text" || { echo "no sparky_fleet_nodes_online"; return 1; }
    for n in node1 node2; do
        promtool check metrics <"$D/$n/sparky.prom" || return 1
        grep -q '^sparky_backup_last_success_timestamp_seconds{job="etc"' "$D/$n/sparky.prom" || { echo "$n: no etc success"; return 1; }
    done
    grep -Eq '^sparky_restore_drill_last_status\{job="files".*\} 3' "$D/node2/sparky.prom" || { echo "node2: drill failure not in metrics"; return 1; }
    grep -Eq '^sparky_restore_drill_last_success_timestamp_seconds\{job="files".*\} [1-9]' "$D/node1/sparky.prom" || { echo "node1: drill success not in metrics"; return 1; }
}
e2e_check "metrics: the orchestrator's /metrics and the agents' textfiles pass promtool and show the runs" check_metrics

echo "e2e.flows finished after $(elapsed)"
if ! e2e_summary; then
    dump_logs
    exit 1
fi
rm -rf "$E2E_LOG_DIR"
