# shellcheck shell=bash
# shellcheck disable=SC2030,SC2031 # the check groups change the tallies in a subshell on purpose
# lib.sh — shell helpers for end-to-end tests on the topology (source it).
#
#   topo_load DIR
#       export every TOPO_* key of DIR/topology.env (tests/e2e/topology.sh)
#   assert_no_external_listeners NS
#       status 0 if nothing in network namespace NS listens on TCP or is bound
#       on UDP at an address other than loopback (127.0.0.0/8, ::1); else
#       status 1 and the offending sockets (with their processes) on stderr.
#       NS is a namespace name, e.g. "$TOPO_NS_NODE1".
#   e2e_check WHAT CMD...          record a pass if CMD succeeds, else a failure
#   e2e_check_fails WHAT CMD...    record a pass if CMD fails, else a failure
#   e2e_pass WHAT / e2e_fail WHAT  record a result directly
#   e2e_summary                    print the tally; status 1 if anything failed
#   e2e_group_start NAME FUNC      run FUNC (a series of checks) in the background,
#                                  its output in $E2E_LOG.NAME.out (E2E_LOG required)
#   e2e_group_wait NAME            wait for it, print its output, add its tally
#   jq_py EXPR                     print a python expression over `d` (the JSON on stdin)
#   free_port                      a free TCP port on 127.0.0.1
#   in_ns HOST CMD... / exec_in_ns HOST CMD...
#                                  run (exec) CMD in HOST's namespace, or here when the
#                                  caller's `ns_of HOST` is empty (the loopback variant)
#   e2e_check_restore_file FLEET_SH DIR ARCHIVE
#                                  delete node1's www/img/logo.bin, restore it from ARCHIVE:
#                                  byte-identical under node1's restore root, not in place
#                                  (then put back)
#   e2e_fleet_test FLEET_SH DIR    for a test on tests/e2e/fleet.sh: `fleet.sh down DIR`
#                                  on exit (keeping the exit status), E2E_LOG_DIR=DIR-logs
#                                  made empty, E2E_LOG=$E2E_LOG_DIR/test.log
# CMD's output goes to $E2E_LOG (default: nowhere) and is shown on failure.

E2E_FAILURES=${E2E_FAILURES:-0}
E2E_PASSES=${E2E_PASSES:-0}

topo_load() {
    local file=$1/topology.env line k v
    [ -f "$file" ] || { echo "topo_load: $file does not exist" >&2; return 1; }
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line =~ ^(TOPO_[A-Z0-9_]+)=(.*)$ ]] || continue
        k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
        if [ "${#v}" -ge 2 ] && [ "${v:0:1}" = "'" ] && [ "${v: -1}" = "'" ]; then
            v=${v:1:${#v}-2}
        fi
        printf -v "$k" '%s' "$v"
        export "${k?}"
    done <"$file"
}

assert_no_external_listeners() {
    local ns=$1 out line addr bad=()
    if ! out=$(ip netns exec "$ns" ss -H -l -n -t -u -p 2>&1); then
        echo "assert_no_external_listeners: cannot list the sockets of namespace $ns: $out" >&2
        return 1
    fi
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        # Netid State Recv-Q Send-Q Local-Address:Port Peer-Address:Port Process
        addr=$(awk '{ print $5 }' <<<"$line")
        case "$addr" in
            127.*|'[::1]:'*|'[::ffff:127.'*) ;;
            *) bad+=("$line") ;;
        esac
    done <<<"$out"
    if [ ${#bad[@]} -gt 0 ]; then
        echo "assert_no_external_listeners: namespace $ns has sockets reachable from outside it:" >&2
        printf '  %s\n' "${bad[@]}" >&2
        return 1
    fi
    return 0
}

e2e_pass() {
    E2E_PASSES=$((E2E_PASSES + 1))
    echo "PASS: $1"
}

e2e_fail() {
    E2E_FAILURES=$((E2E_FAILURES + 1))
    echo "FAIL: $1" >&2
}

_e2e_run() { # WHAT EXPECT(0|fail) CMD...
    local what=$1 expect=$2 out rc t0
    shift 2
    t0=$(date +%s%N)
    out=$("$@" 2>&1)
    rc=$?
    what="$what [$(( ($(date +%s%N) - t0) / 1000000 )) ms]"
    if [ -n "${E2E_LOG:-}" ]; then
        printf '### %s (status %s)\n%s\n' "$what" "$rc" "$out" >>"$E2E_LOG"
    fi
    if { [ "$expect" = 0 ] && [ "$rc" = 0 ]; } || { [ "$expect" = fail ] && [ "$rc" != 0 ]; }; then
        e2e_pass "$what"
        return 0
    fi
    e2e_fail "$what (status $rc, expected $([ "$expect" = 0 ] && echo success || echo failure))"
    printf '%s\n' "$out" | tail -n 30 | sed 's/^/    | /' >&2
    return 1
}

e2e_check() { _e2e_run "$1" 0 "${@:2}"; }
e2e_check_fails() { _e2e_run "$1" fail "${@:2}"; }

declare -A E2E_GROUP_PIDS=()

e2e_group_start() {
    local name=$1 fn=$2 base
    base=${E2E_LOG:?e2e_group_start needs E2E_LOG}.$name
    rm -f "$base.tally"
    (
        E2E_PASSES=0 E2E_FAILURES=0 E2E_LOG=$base.log
        "$fn"
        echo "$E2E_PASSES $E2E_FAILURES" >"$base.tally"
    ) >"$base.out" 2>&1 &
    E2E_GROUP_PIDS[$name]=$!
}

e2e_group_wait() {
    local name=$1 base passes failures
    base=${E2E_LOG:?}.$name
    wait "${E2E_GROUP_PIDS[$name]}"
    unset "E2E_GROUP_PIDS[$name]"
    cat "$base.out"
    [ -f "$base.log" ] && cat "$base.log" >>"$E2E_LOG"
    if read -r passes failures <"$base.tally" 2>/dev/null; then
        E2E_PASSES=$((E2E_PASSES + passes))
        E2E_FAILURES=$((E2E_FAILURES + failures))
    else
        e2e_fail "check group $name did not finish"
    fi
}

e2e_summary() {
    echo "e2e: $E2E_PASSES passed, $E2E_FAILURES failed"
    [ "$E2E_FAILURES" = 0 ]
}

jq_py() {
    python3 -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

e2e_fleet_test() {
    E2E_FLEET_SH=$1 E2E_FLEET_DIR=$2
    # shellcheck disable=SC2317 # called by the trap
    _e2e_fleet_cleanup() {
        local rc=$?
        "$E2E_FLEET_SH" down "$E2E_FLEET_DIR" >/dev/null 2>&1 || "$E2E_FLEET_SH" down "$E2E_FLEET_DIR"
        exit "$rc"
    }
    trap _e2e_fleet_cleanup EXIT
    trap 'exit 130' INT TERM
    E2E_LOG_DIR=$E2E_FLEET_DIR-logs
    rm -rf "$E2E_LOG_DIR"
    mkdir -p "$E2E_LOG_DIR"
    export E2E_LOG=$E2E_LOG_DIR/test.log
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

in_ns() {
    local ns
    ns=$(ns_of "$1")
    shift
    if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

exec_in_ns() {
    local ns
    ns=$(ns_of "$1")
    shift
    if [ -n "$ns" ]; then exec ip netns exec "$ns" "$@"; else exec "$@"; fi
}

e2e_check_restore_file() {
    local fleet=$1 dir=$2 archive=$3 file=$2/node1/data/www/img/logo.bin sum out target
    sum=$(sha256sum <"$file")
    rm -f "$file"
    out=$("$fleet" ctl "$dir" --json restore node1 files "$archive" "${file#/}" --wait) || { echo "$out"; return 1; }
    target=$(jq_py "d['run']['details']['target']" <<<"$out")
    case "$target" in "$dir/node1/restore/"*) ;; *) echo "target $target is not under the restore root"; return 1 ;; esac
    [ -f "$target$file" ] || { echo "$target$file missing: $out"; return 1; }
    [ "$(sha256sum <"$target$file")" = "$sum" ] || { echo "restored file differs"; return 1; }
    [ ! -e "$file" ] || { echo "the restore wrote to the original place"; return 1; }
    cp -p "$target$file" "$file"
}
