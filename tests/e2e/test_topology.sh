#!/bin/bash
# test_topology.sh DIR — ctest e2e.topology: the multi-host harness of
# tests/e2e/topology.sh holds the network properties the end-to-end tests
# and the live demo rely on. Brings a topology up in DIR (and a second,
# smaller one in DIR-second to prove runs do not touch each other), checks,
# brings both down and proves nothing is left. Root only; no stdin needed.
#
# What it proves (each line one or more checks, all must pass):
#  - topology.env holds every documented key; private keys are 0600
#  - every host namespace has lo + eth0 only, one link route, no default
#    route, no IPv6; the switch holds only the bridge and our veths (peers in
#    our namespaces); the root namespace has no address or link into the
#    topology; /etc/hosts is untouched; names resolve inside the namespaces
#  - the repository host's sshd listens on repo's address only
#  - authorized_keys entries have the exact managed form; unmanaged lines
#    survive rewrites
#  - node1: borg init/create/list over real ssh to its repository works;
#    node1's key cannot reach node2's path, cannot run a command, get a pty,
#    forward a port, or log in as another user
#  - an append-only entry: prune + compact remove no data file, deleting the
#    repository is refused; a revoked key cannot log in
#  - assert_no_external_listeners: node1 and node2 expose nothing; it does
#    catch a listener on a node's address (and the broker's listeners)
#  - the broker (in its namespace): TLS from node1 and orch verifies against
#    the CA for the name `broker`; a wrong name fails; plain AMQP is closed;
#    it listens only on its address; broker.sh add-node and an AMQP login as
#    that node from node1 work; the management API answers orch
#  - `link HOST down` cuts that host off the switch, `link HOST up` restores it
#  - a second topology gets its own prefix and subnet; tearing it down after a
#    simulated partial failure leaves the first one intact; an `up` that fails
#    half-way removes what it made
#  - after down: no namespace, /etc/netns entry, authorized_keys directory or
#    process of the run is left;
#    down again succeeds
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
T=$here/topology.sh
broker_sh=$repo_root/tests/fixtures/broker.sh
probe=$repo_root/broker-config/bin/sparky-amqp-probe

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
D=$1
D2=$D-second
[ "$(id -u)" = 0 ] || { echo "e2e.topology: FAIL: must run as root (network namespaces, sshd); CI runs it as root" >&2; exit 1; }

fatal() { echo "FATAL: $*" >&2; e2e_summary; exit 1; }
t_start=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - t_start) / 1000000 )) ms"; }

cleanup() {
    local rc=$?
    [ -z "${listener_pid:-}" ] || kill "$listener_pid" 2>/dev/null
    for p in "${E2E_GROUP_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -z "${broker_job:-}" ] || wait "$broker_job" 2>/dev/null
    [ -z "${second_job:-}" ] || wait "$second_job" 2>/dev/null
    "$T" down "$D2" --purge >/dev/null 2>&1
    if [ "$rc" != 0 ] && [ -d "$D" ]; then
        echo "---- e2e.topology failed; log tails from $D" >&2
        for f in "$D/test.log" "$D/broker-up.log" "$D/repo/sshd/sshd.log"; do
            [ -s "$f" ] && { echo "---- $f" >&2; tail -n 40 "$f" >&2; }
        done
    fi
    "$T" down "$D" >/dev/null 2>&1
    exit "$rc"
}
trap cleanup EXIT

hosts_sum=$(sha256sum /etc/hosts)
# Leftovers of an earlier, killed run in the same directories.
"$T" down "$D" --purge || fatal "could not clear $D"
"$T" down "$D2" --purge || fatal "could not clear $D2"

# ------------------------------------------------------------------ up
"$T" up "$D" || fatal "topology.sh up failed"
echo "topology up after $(elapsed)"
# shellcheck disable=SC2031 # (set here, changed only in check-group subshells)
export E2E_LOG=$D/test.log
: >"$E2E_LOG"
topo_load "$D" || fatal "cannot read $D/topology.env"
# The slow parts run while the checks below go on.
"$T" broker-up "$D" >"$D/broker-up.log" 2>&1 &
broker_job=$!
"$T" up "$D2" --no-authorize >"$D/second-up.log" 2>&1 &
second_job=$!

# ------------------------------------------------------------------ state
check_env_keys() {
    local k h N missing=()
    for k in TOPO_STATE TOPO_DIR TOPO_PREFIX TOPO_SUBNET TOPO_HOSTS TOPO_NS_SWITCH \
        TOPO_BORG_USER TOPO_BORG_HOME TOPO_REPO_ROOT TOPO_REPO_AUTHORIZED_KEYS TOPO_REPO_AK_DIR \
        TOPO_REPO_SSHD_CONFIG TOPO_REPO_SSHD_PID_FILE TOPO_REPO_SSHD_PID TOPO_REPO_SSHD_LOG \
        TOPO_REPO_HOST_KEY_PUB TOPO_REPO_SSH_PORT TOPO_BROKER_DIR TOPO_BROKER_ENV; do
        [ -n "${!k:-}" ] || missing+=("$k")
    done
    for h in broker orch node1 node2 repo; do
        N=$(echo "$h" | tr '[:lower:]' '[:upper:]')
        for k in "TOPO_NS_$N" "TOPO_ADDR_$N" "TOPO_NAME_$N"; do [ -n "${!k:-}" ] || missing+=("$k"); done
    done
    for h in node1 node2; do
        N=$(echo "$h" | tr '[:lower:]' '[:upper:]')
        for k in SSH_KEY SSH_PUBKEY KNOWN_HOSTS BORG_RSH REPO_URL REPO_PATH BORG_PASSPHRASE_FILE BORG_BASE_DIR DIR; do
            [ -n "$(eval echo "\${TOPO_${N}_$k:-}")" ] || missing+=("TOPO_${N}_$k")
        done
        k=TOPO_${N}_SSH_KEY
        [ "$(stat -c %a "${!k}")" = 600 ] || { echo "${!k} is not 0600"; return 1; }
        k=TOPO_${N}_BORG_PASSPHRASE_FILE
        [ "$(stat -c %a "${!k}")" = 600 ] || { echo "${!k} is not 0600"; return 1; }
    done
    [ ${#missing[@]} -eq 0 ] || { echo "missing keys: ${missing[*]}"; return 1; }
    [ "$TOPO_STATE" = up ] || { echo "state $TOPO_STATE"; return 1; }
    [[ $TOPO_PREFIX =~ ^spk[0-9a-f]{4}$ ]] || { echo "prefix $TOPO_PREFIX"; return 1; }
    # The file is sourceable by sh and gives the same values.
    [ "$(sh -c ". '$D/topology.env' && printf %s \"\$TOPO_NODE1_BORG_RSH\"")" = "$TOPO_NODE1_BORG_RSH" ] \
        || { echo "topology.env does not source cleanly"; return 1; }
}
e2e_check "topology.env has every key, private files are 0600" check_env_keys

# ------------------------------------------------------------------ network
check_host_ns() { # HOST
    local N ns addr links routes
    N=$(echo "$1" | tr '[:lower:]' '[:upper:]')
    ns=$(eval echo "\$TOPO_NS_$N") addr=$(eval echo "\$TOPO_ADDR_$N")
    links=$(ip -n "$ns" -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort | tr '\n' ' ')
    [ "$links" = "eth0 lo " ] || { echo "$ns has links: $links"; return 1; }
    routes=$(ip -n "$ns" route show table all | grep -v -e '^local ' -e '^broadcast ' -e '^multicast ' -e '^ff00::' -e '^fe80::' || true)
    [ "$routes" = "$TOPO_SUBNET dev eth0 proto kernel scope link src $addr " ] \
        || [ "$routes" = "$TOPO_SUBNET dev eth0 proto kernel scope link src $addr" ] \
        || { echo "$ns routes: $routes"; return 1; }
    [ -z "$(ip -n "$ns" route show default)" ] || { echo "$ns has a default route"; return 1; }
    if ip -n "$ns" route get 192.0.2.1 >/dev/null 2>&1; then echo "$ns can route to 192.0.2.1"; return 1; fi
    [ -z "$(ip -n "$ns" -6 addr show 2>/dev/null)" ] || { echo "$ns has IPv6 addresses"; return 1; }
    [ "$(ip netns exec "$ns" getent hosts repo | awk '{ print $1 }')" = "$TOPO_ADDR_REPO" ] \
        || { echo "repo does not resolve to $TOPO_ADDR_REPO in $ns"; return 1; }
    [ "$(ip netns exec "$ns" getent hosts broker | awk '{ print $1 }')" = "$TOPO_ADDR_BROKER" ] \
        || { echo "broker does not resolve to $TOPO_ADDR_BROKER in $ns"; return 1; }
}
for h in broker orch node1 node2 repo; do
    e2e_check "$h: only lo+eth0, one link route, no default route, no IPv6, names resolve" check_host_ns "$h"
done

check_switch() {
    local line name peer ours=" $TOPO_NS_BROKER $TOPO_NS_ORCH $TOPO_NS_NODE1 $TOPO_NS_NODE2 $TOPO_NS_REPO " n=0
    while IFS= read -r line; do
        name=$(awk -F': ' '{ print $2 }' <<<"$line" | sed 's/@.*//')
        case "$name" in
            lo|br0) ;;
            v-*)
                [[ $line =~ link-netns\ ([^ ]+) ]] || { echo "$name has no peer namespace: $line"; return 1; }
                peer=${BASH_REMATCH[1]}
                [[ $ours == *" $peer "* ]] || { echo "$name peers with $peer"; return 1; }
                [ ${#name} -le 15 ] || { echo "interface name $name too long"; return 1; }
                n=$((n + 1)) ;;
            *) echo "unexpected link $name in the switch"; return 1 ;;
        esac
    done < <(ip -n "$TOPO_NS_SWITCH" -o -d link show)
    [ "$n" = 5 ] || { echo "$n veths in the switch, expected 5"; return 1; }
    if ip -n "$TOPO_NS_SWITCH" -4 -o addr show | grep -qv ' lo '; then echo "the switch has an address"; return 1; fi
    [ -z "$(ip -n "$TOPO_NS_SWITCH" route show)" ] || { echo "the switch has routes"; return 1; }
}
e2e_check "switch: a bridge and five veths into our namespaces, no address, no route" check_switch

check_root_ns() {
    local ns
    if ip -4 -o addr show | grep -q " ${TOPO_SUBNET%.0/24}\."; then echo "root has an address in $TOPO_SUBNET"; return 1; fi
    if ip route show table all | grep -q "${TOPO_SUBNET%.0/24}\."; then echo "root has a route into $TOPO_SUBNET"; return 1; fi
    for ns in "$TOPO_NS_SWITCH" "$TOPO_NS_BROKER" "$TOPO_NS_ORCH" "$TOPO_NS_NODE1" "$TOPO_NS_NODE2" "$TOPO_NS_REPO"; do
        if ip -o -d link show | grep -q "link-netns $ns\b"; then echo "root has a link into $ns"; return 1; fi
    done
    [ "$(sha256sum /etc/hosts)" = "$hosts_sum" ] || { echo "/etc/hosts changed"; return 1; }
}
e2e_check "root namespace: no address, route or link into the topology; /etc/hosts untouched" check_root_ns

# ------------------------------------------------------------------ repository host
check_sshd() {
    local out
    out=$(ip netns exec "$TOPO_NS_REPO" ss -H -l -n -t | awk '{ print $4 }' | grep -v '^127\.' | sort | tr '\n' ' ')
    [ "$out" = "$TOPO_ADDR_REPO:22 " ] || { echo "repo listens on: $out"; return 1; }
    kill -0 "$TOPO_REPO_SSHD_PID" || { echo "sshd pid $TOPO_REPO_SSHD_PID not running"; return 1; }
    for l in "UsePAM no" "PasswordAuthentication no" "PermitRootLogin no" "AllowUsers $TOPO_BORG_USER" \
        "ListenAddress $TOPO_ADDR_REPO:22" "StrictModes yes"; do
        grep -qxF "$l" "$TOPO_REPO_SSHD_CONFIG" || { echo "sshd_config lacks '$l'"; return 1; }
    done
}
e2e_check "repo: sshd runs with its own config and listens on repo's address only" check_sshd

check_authorized_keys_form() {
    local n=0 line node
    while IFS= read -r line; do
        [[ $line =~ ^command=\"borg\ serve\ --restrict-to-path\ ([^\"]+)\",restrict\ ssh-ed25519\ AAAA[A-Za-z0-9+/]+\ sparky:([a-z0-9-]+)$ ]] \
            || { echo "unexpected entry: $line"; return 1; }
        node=${BASH_REMATCH[2]}
        [ "${BASH_REMATCH[1]}" = "$TOPO_REPO_ROOT/$node" ] || { echo "entry for $node restricts to ${BASH_REMATCH[1]}"; return 1; }
        n=$((n + 1))
    done <"$TOPO_REPO_AUTHORIZED_KEYS"
    [ "$n" = 2 ] || { echo "$n entries, expected 2"; return 1; }
    [ "$(stat -c '%U %a' "$TOPO_REPO_AUTHORIZED_KEYS")" = "$TOPO_BORG_USER 600" ] || { echo "authorized_keys owner/mode"; return 1; }
}
e2e_check "authorized_keys: one restricted borg-serve entry per node, exact form" check_authorized_keys_form

# ------------------------------------------------------------------ authorize/revoke, append-only (node2)
# Runs in the background while node1's checks go on (independent keys and
# repositories); its results are merged below.
check_rewrite_keeps_foreign_lines() {
    local ak=$TOPO_REPO_AUTHORIZED_KEYS before
    printf '%s\n' "# kept: a line the tool does not manage" >>"$ak"
    before=$(grep -c . "$ak")
    "$T" authorize "$D" node2 "$TOPO_NODE2_SSH_PUBKEY" --append-only || return 1
    grep -qxF "# kept: a line the tool does not manage" "$ak" || { echo "foreign line lost"; return 1; }
    [ "$(grep -c . "$ak")" = "$before" ] || { echo "entry not replaced in place of the old one"; return 1; }
    [ "$(grep -c ' sparky:node2$' "$ak")" = 1 ] || { echo "node2 has $(grep -c ' sparky:node2$' "$ak") entries"; return 1; }
    grep -qF "command=\"borg serve --append-only --restrict-to-path $TOPO_REPO_ROOT/node2\",restrict ssh-ed25519 " "$ak" \
        || { echo "no append-only entry"; return 1; }
    [ "$(stat -c '%U %a' "$ak")" = "$TOPO_BORG_USER 600" ] || { echo "authorized_keys owner/mode after rewrite"; return 1; }
    if "$T" authorize "$D" node2 "$TOPO_REPO_SSHD_CONFIG" 2>/dev/null; then echo "accepted a non-key file"; return 1; fi
}
check_append_only() {
    local sums out
    sums=$(cd "$TOPO_NODE2_REPO_PATH" && find data -type f -print0 | sort -z | xargs -0 sha256sum)
    [ -n "$sums" ] || { echo "no data files"; return 1; }
    out=$("$T" borg "$D" node2 prune --keep-last 1 --list 2>&1) || { echo "prune failed: $out"; return 1; }
    if [[ $out != *"Pruning archive"*a1* ]] || [[ $out != *"Keeping archive"*a2* ]]; then echo "prune said: $out"; return 1; fi
    "$T" borg "$D" node2 compact || { echo "compact failed"; return 1; }
    # Append-only: the pruned archive's data is still all there (recoverable
    # by the repository host's operator), nothing was rewritten or removed.
    (cd "$TOPO_NODE2_REPO_PATH" && sha256sum --quiet -c <<<"$sums") || { echo "data files changed or vanished"; return 1; }
    if out=$(BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=YES "$T" borg "$D" node2 delete 2>&1); then
        echo "deleting the repository worked"; return 1
    fi
    [[ $out == *"append-only mode"* ]] || { echo "unexpected error: $out"; return 1; }
    [ -f "$TOPO_NODE2_REPO_PATH/config" ] || { echo "repository gone"; return 1; }
}
check_revoke() {
    local out
    "$T" revoke "$D" node2 || return 1
    [ "$(grep -c ' sparky:node2$' "$TOPO_REPO_AUTHORIZED_KEYS")" = 0 ] || { echo "node2 still authorized"; return 1; }
    grep -q ' sparky:node1$' "$TOPO_REPO_AUTHORIZED_KEYS" || { echo "node1's entry lost"; return 1; }
    if out=$("$T" ssh "$D" node2 </dev/null 2>&1); then echo "revoked key logged in"; return 1; fi
    [[ $out == *"Permission denied"* ]] || { echo "unexpected: $out"; return 1; }
}
node2_group() {
    e2e_check "authorize: replaces the node's entry atomically, keeps foreign lines, refuses non-keys" check_rewrite_keeps_foreign_lines
    mkdir -p "$TOPO_NODE2_DIR/data"
    echo one >"$TOPO_NODE2_DIR/data/f"
    e2e_check "node2 (append-only): borg init" "$T" borg "$D" node2 init --encryption=repokey-blake2
    e2e_check "node2 (append-only): borg create a1" "$T" borg "$D" node2 create ::a1 "$TOPO_NODE2_DIR/data"
    echo two >>"$TOPO_NODE2_DIR/data/f"
    e2e_check "node2 (append-only): borg create a2" "$T" borg "$D" node2 create ::a2 "$TOPO_NODE2_DIR/data"
    e2e_check "append-only entry: prune+compact remove no data, repository deletion refused" check_append_only
    e2e_check "revoke: the node's entry goes, others stay, the key no longer logs in" check_revoke
}
e2e_group_start node2 node2_group

# ------------------------------------------------------------------ borg over ssh (node1)
mkdir -p "$TOPO_NODE1_DIR/data"
head -c 100000 /dev/urandom >"$TOPO_NODE1_DIR/data/blob"
echo "hello from node1" >"$TOPO_NODE1_DIR/data/hello.txt"
e2e_check "node1: borg init over ssh" "$T" borg "$D" node1 init --encryption=repokey-blake2
e2e_check "node1: borg create over ssh" "$T" borg "$D" node1 create --stats ::first "$TOPO_NODE1_DIR/data"
check_node1_list() {
    local out
    out=$("$T" borg "$D" node1 list --short 2>&1) || { echo "$out"; return 1; }
    [ "$out" = first ] || { echo "archives: $out"; return 1; }
    [ -f "$TOPO_NODE1_REPO_PATH/config" ] || { echo "no repository at $TOPO_NODE1_REPO_PATH"; return 1; }
    [ "$(stat -c %U "$TOPO_NODE1_REPO_PATH/config")" = "$TOPO_BORG_USER" ] || { echo "repository not owned by $TOPO_BORG_USER"; return 1; }
}
e2e_check "node1: borg list shows the archive; the repository on repo belongs to the borg user" check_node1_list

check_node1_cannot_reach_node2() {
    local out
    if out=$("$T" borg "$D" node1 list "${TOPO_NODE2_REPO_URL}" 2>&1); then echo "node1 listed node2's repository: $out"; return 1; fi
    [[ $out == *"Repository path not allowed"* ]] || { echo "unexpected error: $out"; return 1; }
    if out=$("$T" borg "$D" node1 init --encryption=none "ssh://$TOPO_BORG_USER@repo$TOPO_REPO_ROOT/stray" 2>&1); then
        echo "node1 created a repository outside its path"; return 1
    fi
    [[ $out == *"Repository path not allowed"* ]] || { echo "unexpected error: $out"; return 1; }
    [ ! -e "$TOPO_REPO_ROOT/stray" ] || { echo "$TOPO_REPO_ROOT/stray exists"; return 1; }
}
e2e_check "node1's key cannot reach node2's path or create another (restrict-to-path)" check_node1_cannot_reach_node2

check_no_shell() {
    local out
    out=$("$T" ssh "$D" node1 id </dev/null 2>&1)
    [[ $out != *uid=* ]] || { echo "ran id: $out"; return 1; }
    [[ $out == *borg* ]] || { echo "not forced into borg serve: $out"; return 1; }
    if out=$("$T" ssh "$D" node1 -tt </dev/null 2>&1); then :; fi
    [[ $out == *"PTY allocation request failed"* ]] || { echo "pty not refused: $out"; return 1; }
    if out=$("$T" ssh "$D" node1 -W "broker:22" </dev/null 2>&1); then echo "port forwarding worked"; return 1; fi
    [[ $out == *"administratively prohibited"* ]] || { echo "forwarding not refused: $out"; return 1; }
}
e2e_check "node1's key gets no shell, command, pty or forwarding: forced to borg serve" check_no_shell

check_other_users() {
    local out rsh
    read -ra rsh <<<"$TOPO_NODE1_BORG_RSH"
    for u in root "$(id -un nobody 2>/dev/null || echo nobody)"; do
        if out=$(ip netns exec "$TOPO_NS_NODE1" "${rsh[@]}" "$u@repo" true </dev/null 2>&1); then
            echo "logged in as $u"; return 1
        fi
        [[ $out == *"Permission denied"* ]] || { echo "login as $u: $out"; return 1; }
    done
}
e2e_check "node1's key cannot log in as root or another user" check_other_users


e2e_group_wait node2

# ------------------------------------------------------------------ listeners
e2e_check "node1 exposes no listening port" assert_no_external_listeners "$TOPO_NS_NODE1"
e2e_check "node2 exposes no listening port" assert_no_external_listeners "$TOPO_NS_NODE2"
check_listener_detection() {
    local fifo=$D/listener.fifo port out
    rm -f "$fifo"
    mkfifo "$fifo"
    # A server on 127.0.0.1 inside node1 is fine...
    ip netns exec "$TOPO_NS_NODE1" python3 -c '
import signal, socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.listen()
print(s.getsockname()[1], flush=True)
signal.pause()' 127.0.0.1 >"$fifo" &
    listener_pid=$!
    read -r -t 30 port <"$fifo" || { echo "loopback listener did not start"; return 1; }
    assert_no_external_listeners "$TOPO_NS_NODE1" || { echo "a loopback listener was flagged"; return 1; }
    kill "$listener_pid"; wait "$listener_pid" 2>/dev/null
    # ...one on the node's address is caught and named.
    ip netns exec "$TOPO_NS_NODE1" python3 -c '
import signal, socket, sys
s = socket.socket(); s.bind((sys.argv[1], 0)); s.listen()
print(s.getsockname()[1], flush=True)
signal.pause()' "$TOPO_ADDR_NODE1" >"$fifo" &
    listener_pid=$!
    read -r -t 30 port <"$fifo" || { echo "listener did not start"; return 1; }
    if out=$(assert_no_external_listeners "$TOPO_NS_NODE1" 2>&1); then echo "listener on $TOPO_ADDR_NODE1:$port not caught"; return 1; fi
    [[ $out == *"$TOPO_ADDR_NODE1:$port"* ]] || { echo "report does not name the socket: $out"; return 1; }
    kill "$listener_pid"; wait "$listener_pid" 2>/dev/null
    listener_pid=
    rm -f "$fifo"
    assert_no_external_listeners "$TOPO_NS_NODE1" || { echo "still flagged after the listener ended"; return 1; }
}
e2e_check "assert_no_external_listeners ignores loopback, catches a listener on the node's address" check_listener_detection

# ------------------------------------------------------------------ broker
broker_rc=0
wait "$broker_job" || broker_rc=$?
broker_job=
echo "broker up after $(elapsed)"
[ "$broker_rc" = 0 ] || { cat "$D/broker-up.log" >&2; fatal "topology.sh broker-up failed (status $broker_rc)"; }
topo_load "$D"
# shellcheck disable=SC1091
. "$D/broker.env"

check_broker_env() {
    if [ ! -L "$D/broker.env" ] || [ "$(readlink -f "$D/broker.env")" != "$TOPO_BROKER_DIR/broker.env" ]; then
        echo "$D/broker.env is not a link to $TOPO_BROKER_DIR/broker.env"; return 1
    fi
    [ "$SPARKY_BROKER_HOST" = broker ] || { echo "host $SPARKY_BROKER_HOST"; return 1; }
    [ "$SPARKY_BROKER_ADDRESS" = "$TOPO_ADDR_BROKER" ] || { echo "address $SPARKY_BROKER_ADDRESS"; return 1; }
    [ "$SPARKY_BROKER_NETNS" = "$TOPO_NS_BROKER" ] || { echo "netns $SPARKY_BROKER_NETNS"; return 1; }
    [ "$SPARKY_BROKER_URL" = "amqps://broker:$SPARKY_BROKER_PORT/sparky" ] || { echo "url $SPARKY_BROKER_URL"; return 1; }
    [ "$TOPO_BROKER_PORT" = "$SPARKY_BROKER_PORT" ] || { echo "TOPO_BROKER_PORT"; return 1; }
}
e2e_check "broker.env: host broker, its address and namespace, TestBroker-compatible" check_broker_env

tls_ok() { # HOST
    local out
    out=$(ip netns exec "$(eval echo "\$TOPO_NS_$(echo "$1" | tr '[:lower:]' '[:upper:]')")" \
        openssl s_client -connect "broker:$SPARKY_BROKER_PORT" -servername broker -verify_hostname broker \
        -CAfile "$SPARKY_BROKER_CA" -verify_return_error -brief </dev/null 2>&1) || { echo "$out"; return 1; }
    [[ $out == *"Verification: OK"* ]] || { echo "$out"; return 1; }
}
e2e_check "node1 reaches the broker over TLS, verified for the name broker" tls_ok node1
e2e_check "orch reaches the broker over TLS, verified for the name broker" tls_ok orch
e2e_check_fails "TLS verification fails for a wrong name" \
    ip netns exec "$TOPO_NS_NODE1" openssl s_client -connect "broker:$SPARKY_BROKER_PORT" -verify_hostname not-the-broker \
    -CAfile "$SPARKY_BROKER_CA" -verify_return_error -brief </dev/null
check_plain_closed() {
    local out
    if out=$(ip netns exec "$TOPO_NS_NODE1" timeout 10 bash -c 'exec 3<>/dev/tcp/broker/5672' 2>&1); then
        echo "port 5672 is open"; return 1
    fi
    [[ $out == *"Connection refused"* ]] || { echo "not refused: $out"; return 1; }
}
e2e_check "plain AMQP (5672) on the broker is closed" check_plain_closed
check_broker_listeners() {
    local out expected
    out=$(ip netns exec "$TOPO_NS_BROKER" ss -H -l -n -t | awk '{ print $4 }' | grep -v '^127\.' | sort | tr '\n' ' ')
    expected=$(printf '%s\n' "$TOPO_ADDR_BROKER:$SPARKY_BROKER_PORT" "$TOPO_ADDR_BROKER:$SPARKY_BROKER_MGMT_PORT" \
        "$TOPO_ADDR_BROKER:$SPARKY_BROKER_PROMETHEUS_PORT" | sort | tr '\n' ' ')
    [ "$out" = "$expected" ] || { echo "broker listens on: $out (expected $expected)"; return 1; }
    # ... and assert_no_external_listeners does see them.
    if assert_no_external_listeners "$TOPO_NS_BROKER" 2>/dev/null; then echo "broker listeners not detected"; return 1; fi
}
e2e_check "broker listens on its address (amqps, management, prometheus) and nowhere else" check_broker_listeners
check_enroll_and_login() {
    "$broker_sh" add-node "$TOPO_BROKER_DIR" node1 || return 1
    [ "$(stat -c %a "$TOPO_BROKER_DIR/nodes/node1.token")" = 600 ] || { echo "token not 0600"; return 1; }
    ip netns exec "$TOPO_NS_NODE1" "$probe" --env "$D/broker.env" --user node1 \
        --password-file "$TOPO_BROKER_DIR/nodes/node1.token" login || return 1
}
e2e_check "broker.sh add-node from the root namespace; node1 logs in over AMQPS from its namespace" check_enroll_and_login
check_mgmt_from_orch() {
    local code
    code=$({
        printf 'user = "%s:%s"\n' "$SPARKY_BROKER_ADMIN_USER" "$(cat "$SPARKY_BROKER_ADMIN_PASSWORD_FILE")"
    } | ip netns exec "$TOPO_NS_ORCH" curl -sS -o /dev/null -w '%{http_code}' --cacert "$SPARKY_BROKER_CA" \
        -K - "$SPARKY_BROKER_MGMT_URL/api/vhosts/sparky") || return 1
    [ "$code" = 200 ] || { echo "HTTP $code"; return 1; }
}
e2e_check "orch reaches the management API over HTTPS" check_mgmt_from_orch
check_link_down_up() {
    "$T" link "$D" node2 down || return 1
    if ip netns exec "$TOPO_NS_NODE2" timeout 10 bash -c 'exec 3<>/dev/tcp/broker/'"$SPARKY_BROKER_PORT" 2>/dev/null; then
        echo "node2 reached the broker with its link down"; return 1
    fi
    tls_ok node1 || { echo "node1 lost the broker when node2's link went down"; return 1; }
    "$T" link "$D" node2 up || return 1
    tls_ok node2 || { echo "node2 does not reach the broker after its link came back"; return 1; }
}
e2e_check "link down cuts one host off (others unaffected); link up restores it" check_link_down_up

# ------------------------------------------------------------------ a second run, partial teardown
second_rc=0
wait "$second_job" || second_rc=$?
second_job=
check_second_run() {
    local p2 sub2 sshd2 ak2 ns
    [ "$second_rc" = 0 ] || { cat "$D/second-up.log"; return 1; }
    p2=$(sed -n 's/^TOPO_PREFIX=//p' "$D2/topology.env")
    sub2=$(sed -n 's/^TOPO_SUBNET=//p' "$D2/topology.env")
    sshd2=$(sed -n 's/^TOPO_REPO_SSHD_PID=//p' "$D2/topology.env")
    ak2=$(sed -n 's/^TOPO_REPO_AUTHORIZED_KEYS=//p' "$D2/topology.env")
    [ "$p2" != "$TOPO_PREFIX" ] || { echo "same prefix"; return 1; }
    [ "$sub2" != "$TOPO_SUBNET" ] || { echo "same subnet"; return 1; }
    [ "$ak2" != "$TOPO_REPO_AUTHORIZED_KEYS" ] || { echo "same authorized_keys"; return 1; }
    if [ ! -f "$ak2" ] || [ -s "$ak2" ]; then echo "--no-authorize: $ak2 missing or not empty"; return 1; fi
    # Simulate a partial failure: sshd died, one namespace already gone.
    kill "$sshd2"
    ip netns del "$p2-node2"
    "$T" down "$D2" || { echo "down after partial failure failed"; return 1; }
    if ip netns list | awk '{ print $1 }' | grep -q "^$p2-"; then echo "namespaces of $p2 left"; return 1; fi
    [ ! -e "/etc/netns/$p2-node1" ] || { echo "/etc/netns/$p2-node1 left"; return 1; }
    [ ! -e "$(dirname "$ak2")" ] || { echo "$(dirname "$ak2") left"; return 1; }
    "$T" down "$D2" || { echo "second down failed"; return 1; }
    # The first topology was not touched.
    for ns in "$TOPO_NS_SWITCH" "$TOPO_NS_BROKER" "$TOPO_NS_ORCH" "$TOPO_NS_NODE1" "$TOPO_NS_NODE2" "$TOPO_NS_REPO"; do
        ip netns list | awk '{ print $1 }' | grep -qxF "$ns" || { echo "$ns vanished"; return 1; }
        [ -f "/etc/netns/$ns/hosts" ] || [ "$ns" = "$TOPO_NS_SWITCH" ] || { echo "/etc/netns/$ns/hosts vanished"; return 1; }
    done
    kill -0 "$TOPO_REPO_SSHD_PID" || { echo "first run's sshd died"; return 1; }
    [ -f "$TOPO_REPO_AUTHORIZED_KEYS" ] || { echo "first run's authorized_keys vanished"; return 1; }
    "$T" down "$D2" --purge || return 1
}
e2e_check "a second run: own prefix and subnet; down after a partial failure cleans it and only it" check_second_run
check_failed_up() {
    local p3
    # sshd that cannot start: up fails half-way and removes what it made.
    if SPARKY_TOPOLOGY_SSHD=/bin/false "$T" up "$D2"; then echo "up succeeded without sshd"; return 1; fi
    p3=$(sed -n 's/^TOPO_PREFIX=//p' "$D2/topology.env")
    [ -n "$p3" ] || { echo "the failed run claimed no prefix"; return 1; }
    if ip netns list | awk '{ print $1 }' | grep -q "^$p3-"; then echo "namespaces of $p3 left"; return 1; fi
    if ls -d /etc/netns/"$p3"-* >/dev/null 2>&1; then echo "/etc/netns entries of $p3 left"; return 1; fi
    [ "$(sed -n 's/^TOPO_STATE=//p' "$D2/topology.env")" = down ] || { echo "state not down"; return 1; }
    "$T" down "$D2" --purge || return 1
    [ ! -e "$D2" ] || { echo "$D2 not purged"; return 1; }
}
e2e_check "a failed up tears down what it made" check_failed_up

# ------------------------------------------------------------------ down
# pid:starttime of a live process; nothing for one that has ended. A zombie has ended too:
# only its parent (for an orphan, whatever reaps for pid 1) has not collected its status yet.
proc_id() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    set -- "$1" $stat
    [ "$2" != Z ] || return 0
    echo "$1:${21}"
}
check_down() {
    local procs=() ns p left
    for ns in "$TOPO_NS_SWITCH" "$TOPO_NS_BROKER" "$TOPO_NS_ORCH" "$TOPO_NS_NODE1" "$TOPO_NS_NODE2" "$TOPO_NS_REPO"; do
        for p in $(ip netns pids "$ns"); do procs+=("$(proc_id "$p")"); done
    done
    [[ " ${procs[*]} " == *" $TOPO_REPO_SSHD_PID:"* ]] || { echo "sshd not among the namespace's processes"; return 1; }
    [[ " ${procs[*]} " == *" $SPARKY_BROKER_PID:"* ]] || { echo "the broker not among the namespace's processes"; return 1; }
    "$T" down "$D" || { echo "down failed"; return 1; }
    left=$(ip netns list | awk '{ print $1 }' | grep "^$TOPO_PREFIX-" || true)
    [ -z "$left" ] || { echo "namespaces left: $left"; return 1; }
    left=$(ls -d /etc/netns/"$TOPO_PREFIX"-* 2>/dev/null || true)
    [ -z "$left" ] || { echo "/etc/netns entries left: $left"; return 1; }
    [ ! -e "$TOPO_REPO_AK_DIR" ] || { echo "$TOPO_REPO_AK_DIR left"; return 1; }
    for p in "${procs[@]}"; do
        [ "$(proc_id "${p%%:*}")" != "$p" ] || { echo "process ${p%%:*} ($(cat "/proc/${p%%:*}/comm")) still runs"; return 1; }
    done
    if pgrep -f -- "$D/" >/dev/null; then echo "processes mentioning $D still run: $(pgrep -af -- "$D/")"; return 1; fi
    [ "$(sed -n 's/^TOPO_STATE=//p' "$D/topology.env")" = down ] || { echo "state not down"; return 1; }
    [ "$(sha256sum /etc/hosts)" = "$hosts_sum" ] || { echo "/etc/hosts changed"; return 1; }
    "$T" down "$D" || { echo "down is not idempotent"; return 1; }
    echo "ended ${#procs[@]} processes"
}
e2e_check "down: no namespace, /etc/netns entry or process of the run is left; down again succeeds" check_down

echo "e2e.topology finished after $(elapsed)"
e2e_summary
