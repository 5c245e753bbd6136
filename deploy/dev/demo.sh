#!/bin/bash
# The live demo: installs what is missing, builds, and brings up the whole system on a
# private multi-host topology of network namespaces (tests/e2e/fleet.sh): a RabbitMQ broker
# (TLS only), the orchestrator, agents on node1 and node2 backing up over ssh to a repository
# host, and PostgreSQL on node1. Then it shows what an operator does: status, a backup now,
# a database dump, browsing, a restore, a restore drill, the report. It leaves everything
# running and says how to look around and how to stop.
#
#   deploy/dev/demo.sh          install, build, start, show (as root, Debian bookworm)
#   deploy/dev/demo.sh --loopback   the same on this machine's loopback, without namespaces
#                               (chosen by itself where namespaces cannot be made, e.g. in
#                               a container without CAP_SYS_ADMIN)
#   deploy/dev/demo.sh stop     stop everything the demo started and remove its namespaces
#   deploy/dev/demo.sh ctl ARGS sparky-admin-cli against the demo, e.g. `ctl status`
#
# Nothing listens outside the demo's namespaces (loopback variant: outside 127.0.0.1); the
# machine's network is untouched.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${SPARKY_BUILD_DIR:-$here/build}
demo=$build/demo
F=$here/tests/e2e/fleet.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (packages, network namespaces, sshd)" >&2; exit 1; }

loopback=''
case "${1:-}" in
    stop)
        "$F" down "$demo" --purge
        exit 0
        ;;
    ctl)
        shift
        exec "$F" ctl "$demo" "$@"
        ;;
    '') ;;
    --loopback) loopback=1 ;;
    *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

"$here/deploy/dev/install-deps.sh"
# The programs the demo runs (and the console); the tests and benchmarks are test.sh's.
SPARKY_BUILD_DIR=$build SPARKY_BUILD_TARGETS="sparky-agent sparky-orchestrator sparky-admin-cli sparky-admin" \
    "$here/deploy/dev/build.sh"

if [ -f "$demo/fleet.env" ] && ! grep -q '^FLEET_STATE=down' "$demo/fleet.env"; then
    say "a demo is already running in $demo: stopping it first"
    "$F" down "$demo" --purge
fi

if [ -z "$loopback" ]; then
    # Can this machine make network namespaces? (Not in a container without CAP_SYS_ADMIN.)
    probe=sparky-demo-probe-$$
    if why=$(ip netns add "$probe" 2>&1); then
        ip netns del "$probe"
    else
        say "network namespaces are not available here ($why): using the loopback variant"
        loopback=1
    fi
fi

if [ -n "$loopback" ]; then
    say "bringing up the fleet on this machine's loopback: broker, orchestrator, node1 + node2 + repository host (sshd), PostgreSQL for node1"
else
    say "bringing up the fleet: broker, orchestrator, node1 + node2 + repository host, PostgreSQL on node1"
fi
"$F" up "$demo" --bin "$build" --schedule '*/5 * * * *' ${loopback:+--loopback}
ctl() { "$F" ctl "$demo" "$@"; }

say "status at a glance (sparky-admin-cli status)"
ctl status

say "back up node1 now and follow it (sparky-admin-cli run node1 files --wait)"
ctl run node1 files --wait

say "a PostgreSQL dump of node1's database 'shop', streamed into borg"
ctl run node1 db --wait

say "node1's archives"
ctl archives node1 files
archive=$(ctl --json archives node1 files | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["archives"][-1]["name"])')
root=${demo#/}/node1/data

say "browse the archive: $root/www"
ctl ls node1 files "$archive" "$root/www"

say "lose a file on node1, then restore it from the archive"
rm -f "$demo/node1/data/www/index.html"
ctl restore node1 files "$archive" "$root/www/index.html" --wait
echo "restored under node1's restore root (borg keeps the file's own times):"
find "$demo/node1/restore" -path '*/www/index.html' -print

say "a restore drill: extract a random sample, verify it against what borg recorded"
ctl drill node1 files --wait

say "a restore drill of the database dump: restored into a scratch database, checked, dropped"
ctl drill node1 db --wait

say "the report (sparky-orchestrator report), and the fleet again"
"$F" orchestrator "$demo" report --format table
ctl status

topo() { sed -n "s/^$1=//p" "$demo/topology.env"; }
# In the namespace topology the console and curl run in the orchestrator's host.
in_orch=''
[ -z "$(topo TOPO_NS_ORCH)" ] || in_orch="ip netns exec $(topo TOPO_NS_ORCH) "
cat <<EOF

The demo keeps running: node1 and node2 back up their 'etc' job every 5 minutes by
themselves, and events flow into the orchestrator's store ($demo/orch/orchestrator.db).

  look around     deploy/dev/demo.sh ctl status | runs | archives node1 files | commands
                  deploy/dev/demo.sh ctl run node2 files --wait
                  deploy/dev/demo.sh ctl restore node1 db <archive> --database shop2 --create-database --wait
  the console     ${in_orch}env DISPLAY=\$DISPLAY $build/admin-gui/sparky-admin
                  (broker host '$(topo TOPO_BROKER_HOST)', port $(topo TOPO_BROKER_PORT), user sparky-operator,
                   token in $(sed -n 's/^FLEET_OPERATOR_TOKEN=//p' "$demo/fleet.env"), CA $(topo TOPO_BROKER_CA))
  logs            $demo/orch/orchestrator.log, $demo/node1/agent.log, $demo/node2/agent.log
  metrics         ${in_orch}curl -s http://$(sed -n 's/^FLEET_METRICS_ORCHESTRATOR=//p' "$demo/fleet.env")/metrics
  runbook         docs/operations.md

  stop            deploy/dev/demo.sh stop
EOF
