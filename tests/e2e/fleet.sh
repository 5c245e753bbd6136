#!/bin/bash
# fleet.sh — the whole system on the multi-host topology (tests/e2e/topology.sh):
# the broker, the orchestrator, an agent on each client node, the repository
# host's agent, a PostgreSQL database on node1. Used by the e2e test
# (test_flows.sh) and the live demo (deploy/dev/demo.sh).
#
#   fleet.sh up DIR --bin BINDIR [--schedule-in SECONDS | --schedule CRON] [--loopback]
#       topology + broker (--loopback: topology.sh's loopback variant, for
#       machines without network namespaces: every process runs on this
#       machine's loopback, each agent's metrics on a free port); the
#       orchestrator's signing key; node1, node2 and repo
#       enrolled through `sparky-orchestrator node add` (RabbitMQ management
#       API); PostgreSQL on node1 with a sample database `shop`; sample files
#       on both nodes; configuration for every process; starts them all and
#       waits until every agent has said hello to the orchestrator.
#       BINDIR is the build tree (holding agent/, orchestrator/, admin-gui/).
#       Jobs: `etc` (scheduled), `files` (on demand, with a weekly restore
#       drill) on both clients, `db` (pg_dump of `shop`, on demand) on node1.
#       `etc` runs once, about SECONDS (default 60) after the agents start (at a
#       whole minute: cron has minutes) — or on the cron schedule --schedule
#       gives (the demo uses '*/5 * * * *').
#   fleet.sh ctl DIR ARGS...          sparky-admin-cli as the operator (in orch)
#   fleet.sh orchestrator DIR ARGS... sparky-orchestrator with its config (in orch)
#   fleet.sh agent DIR NODE ARGS...   sparky-agent CLI with NODE's config (in NODE)
#   fleet.sh psql DIR ARGS...         psql as postgres on node1's database server
#   fleet.sh stop DIR WHAT            stop one process: orchestrator, node1, node2, repo
#   fleet.sh start DIR WHAT           start it again (same config and state)
#   fleet.sh env DIR                  print DIR/fleet.env
#   fleet.sh down DIR [--purge]       stop everything (agents, orchestrator, PostgreSQL,
#                                     then topology.sh down); idempotent
#
# Files (DIR is the topology's directory; see tests/e2e/README.md):
#   DIR/fleet.env                 FLEET_* keys: binaries, configs, pids, ports, node ids
#   DIR/orch/                     orchestrator.yaml, orchestrator.key (0600), the SQLite
#                                 store, ctl.yaml (the operator's sparky-admin-cli config),
#                                 orchestrator.log
#   DIR/<node>/agent.yaml         each agent's configuration; state in DIR/<node>/state,
#                                 log in DIR/<node>/agent.log, restores under DIR/<node>/restore,
#                                 backed-up data in DIR/<node>/data
#   DIR/repo-agent/               the repository host's agent (repository_host role)
#   DIR/pg-node1/                 node1's PostgreSQL (tests/fixtures/postgres.sh)
#
# Every process is started by this script inside its host's namespace (or, in
# the loopback variant, directly), recorded by pid, and ended by pid (SIGTERM,
# then SIGKILL after a grace). Root only.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
T=$here/topology.sh
# shellcheck source=lib.sh
. "$here/lib.sh" # free_port, in_ns, exec_in_ns
pg_sh=$repo_root/tests/fixtures/postgres.sh
agents=(node1 node2 repo)
client_nodes=(node1 node2)

say() { echo "fleet.sh: $*" >&2; }
die() { say "$*"; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
dir=${dir%/}
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
fleetenv=$dir/fleet.env

# ------------------------------------------------------------------ state
declare -A F=()
F_ORDER=()
fset() {
    [ -n "${F[$1]+x}" ] || F_ORDER+=("$1")
    F[$1]=$2
}
fsave() {
    local k
    for k in "${F_ORDER[@]}"; do printf '%s=%s\n' "$k" "${F[$k]}"; done >"$fleetenv.tmp"
    mv -f "$fleetenv.tmp" "$fleetenv"
}
fload() {
    local line
    F=() F_ORDER=()
    [ -f "$fleetenv" ] || return 1
    while IFS= read -r line; do
        [[ $line =~ ^(FLEET_[A-Z0-9_]+)=(.*)$ ]] && fset "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
    done <"$fleetenv"
}
fget() { echo "${F[$1]:-}"; }
topo() { sed -n "s/^$1=//p" "$dir/topology.env" | sed "s/^'\(.*\)'$/\1/"; }
upper() { echo "$1" | tr '[:lower:]' '[:upper:]'; }
ns_of() { topo "TOPO_NS_$(upper "$1")"; }

pid_alive() {
    local stat
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# What each process is: its host, its binary's arguments, its log.
proc_host() { case "$1" in orchestrator) echo orch ;; *) echo "$1" ;; esac; }
proc_config() {
    case "$1" in
        orchestrator) echo "$dir/orch/orchestrator.yaml" ;;
        repo) echo "$dir/repo-agent/agent.yaml" ;;
        *) echo "$dir/$1/agent.yaml" ;;
    esac
}
proc_log() {
    case "$1" in
        orchestrator) echo "$dir/orch/orchestrator.log" ;;
        repo) echo "$dir/repo-agent/agent.log" ;;
        *) echo "$dir/$1/agent.log" ;;
    esac
}
proc_bin() { case "$1" in orchestrator) fget FLEET_ORCHESTRATOR ;; *) fget FLEET_AGENT ;; esac; }
pid_key() { echo "FLEET_PID_$(upper "$1")"; }

# Ours only: alive, and started with this process's config file.
our_pid() { # WHAT
    local pid
    pid=$(fget "$(pid_key "$1")")
    pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$(proc_config "$1")" || return 1
    echo "$pid"
}

start_proc() { # WHAT
    local what=$1 pid
    if our_pid "$what" >/dev/null; then say "$what already runs"; return 0; fi
    # The subshell execs `ip netns exec`, which execs the program: $! is the daemon's own pid.
    (exec_in_ns "$(proc_host "$what")" "$(proc_bin "$what")" daemon -c "$(proc_config "$what")") \
        </dev/null >>"$(proc_log "$what")" 2>&1 &
    pid=$!
    fset "$(pid_key "$what")" "$pid"
    fsave
    say "$what started (pid $pid) in $(where "$(proc_host "$what")"), log $(proc_log "$what")"
}

stop_proc() { # WHAT
    local what=$1 pid deadline
    pid=$(our_pid "$what") || return 0
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while pid_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if pid_alive "$pid"; then
        say "$what (pid $pid) did not stop within 30 s of SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    say "$what (pid $pid) stopped"
}

# ------------------------------------------------------------------ helpers
# in_ns / exec_in_ns HOST CMD... (lib.sh): CMD in HOST's namespace; the loopback variant
# has none: CMD runs here.
where() { local ns; ns=$(ns_of "$1"); echo "${ns:-the root namespace (loopback variant)}"; }
broker_at() { echo "$(topo TOPO_BROKER_HOST):$(topo TOPO_BROKER_PORT)"; }
# WHAT — pick the metrics listen address (in this shell: it is saved in fleet.env): each
# host has its own loopback in the namespace topology; in the loopback variant every
# process takes a free port of the machine's.
assign_metrics() {
    local fixed
    case "$1" in orchestrator) fixed=9466 ;; *) fixed=9465 ;; esac
    if [ "$(topo TOPO_MODE)" = loopback ]; then
        fset "FLEET_METRICS_$(upper "$1")" "127.0.0.1:$(free_port)"
    else
        fset "FLEET_METRICS_$(upper "$1")" "127.0.0.1:$fixed"
    fi
    fsave
}
metrics_listen() { fget "FLEET_METRICS_$(upper "$1")"; }
ctl() { in_ns orch "$(fget FLEET_CTL)" -c "$dir/orch/ctl.yaml" "$@"; }
orchestrator_cli() { in_ns orch "$(fget FLEET_ORCHESTRATOR)" "$@"; }

json_get() { # EXPR — python expression over `d` (stdin JSON)
    python3 -c 'import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

wait_until() { # SECONDS WHAT CMD... — poll CMD until it succeeds (the daemons have no hook to wait on)
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || { say "timed out after ${limit}s waiting for $what"; return 1; }
        sleep 0.5
    done
}

nodes_online() { # NODE... — the orchestrator has heard from every one recently
    local out n
    out=$(ctl --json status) || return 1
    for n in "$@"; do
        [ "$(json_get "[x for x in d.get('nodes', []) if x.get('node') == '$n'][0].get('online')" <<<"$out")" = True ] || return 1
    done
}

yaml_str() { printf "'%s'" "${1//\'/\'\'}"; }

# ------------------------------------------------------------------ up
write_sample_data() { # NODE
    local data=$dir/$1/data i
    mkdir -p "$data/etc" "$data/www/img" "$data/home/alice"
    printf 'server_name %s.example;\nlisten 443 ssl;\n' "$1" >"$data/etc/site.conf"
    printf '<h1>%s</h1>\n' "$1" >"$data/www/index.html"
    head -c 300000 /dev/urandom >"$data/www/img/logo.bin"
    for i in $(seq 1 40); do
        printf 'note %d of %s\n%s\n' "$i" "$1" "$(head -c 600 /dev/urandom | base64)" >"$data/home/alice/note-$i.txt"
    done
}

write_agent_config() { # NODE
    local node=$1 N cfg key pg=''
    N=$(upper "$node")
    cfg=$dir/$node/agent.yaml
    key=$(fget FLEET_ORCHESTRATOR_PUBKEY)
    if [ "$node" = node1 ]; then
        pg=$(cat <<EOF
  db:
    repository: repo
    rpo: 1h
    retention: {keep_daily: 7}
    postgres:
      host: 127.0.0.1
      port: $(fget FLEET_PG_PORT)
      user: postgres
      passfile: $dir/$node/pgpass
      databases: [shop]
    drill: {random_files: 0, restore_dumps: true}
EOF
)
    fi
    cat >"$cfg" <<EOF
# sparky-agent on $node (written by tests/e2e/fleet.sh)
node: $node
hostname: $node
state_dir: $dir/$node/state
postgres_bin_dir: $(fget FLEET_PG_BINDIR)
heartbeat_interval: 5s
broker:
  hosts: ["$(broker_at)"]
  vhost: sparky
  token_file: $dir/$node/broker.token
  tls: {ca_file: $(topo TOPO_BROKER_CA)}
  heartbeat: 10s
  reconnect_max: 2s
commands:
  orchestrator_key: "$key"
  allowed: [backup.run, backup.cancel, agent.ping, archives.list, archive.browse, restore.extract, drill.run]
metrics:
  listen: "$(metrics_listen "$node")"
  textfile: $dir/$node/sparky.prom
restore:
  roots: [$dir/$node/restore]
repositories:
  repo:
    url: $(topo "TOPO_${N}_REPO_URL")
    passphrase_file: $(topo "TOPO_${N}_BORG_PASSPHRASE_FILE")
    ssh_key: $(topo "TOPO_${N}_SSH_KEY")
    ssh_options: [StrictHostKeyChecking=yes, UserKnownHostsFile=$(topo "TOPO_${N}_KNOWN_HOSTS"), GlobalKnownHostsFile=/dev/null, ConnectTimeout=10, ServerAliveInterval=10]
    lock_wait: 5m
jobs:
  etc:
    repository: repo
    sources: [$dir/$node/data/etc]
    schedule: '$(fget FLEET_SCHEDULE)'
    time_zone: UTC
    catch_up: false
    rpo: 1h
    retention: {keep_hourly: 24, keep_daily: 7}
  files:
    repository: repo
    sources: [$dir/$node/data]
    excludes: ['*.tmp']
    rpo: 1d
    retention: {keep_daily: 7, keep_weekly: 4}
    drill: {schedule: '$(fget FLEET_DRILL_SCHEDULE)', random_files: 8}
$pg
EOF
}

write_repo_agent_config() {
    local cfg=$dir/repo-agent/agent.yaml
    cat >"$cfg" <<EOF
# sparky-agent on the repository host (written by tests/e2e/fleet.sh)
node: repo
state_dir: $dir/repo-agent/state
heartbeat_interval: 5s
broker:
  hosts: ["$(broker_at)"]
  vhost: sparky
  token_file: $dir/repo-agent/broker.token
  tls: {ca_file: $(topo TOPO_BROKER_CA)}
  heartbeat: 10s
  reconnect_max: 2s
commands:
  orchestrator_key: "$(fget FLEET_ORCHESTRATOR_PUBKEY)"
  allowed: [agent.ping, key.authorize, key.revoke]
metrics:
  listen: "$(metrics_listen repo)"
repository_host:
  borg_user: $(topo TOPO_BORG_USER)
  authorized_keys: $(topo TOPO_REPO_AUTHORIZED_KEYS)
  base_dir: $(topo TOPO_REPO_ROOT)
  allowed_nodes: [node1, node2]
repositories: {}
jobs: {}
EOF
}

write_orchestrator_config() {
    local o=$dir/orch
    cat >"$o/orchestrator.yaml" <<EOF
# sparky-orchestrator (written by tests/e2e/fleet.sh)
broker:
  hosts: ["$(broker_at)"]
  vhost: sparky
  user: $(fget FLEET_ORCHESTRATOR_USER)
  token_file: $(fget FLEET_ORCHESTRATOR_TOKEN)
  tls: {ca_file: $(topo TOPO_BROKER_CA)}
  reconnect_max: 2s
store:
  driver: sqlite
  path: $o/orchestrator.db
commands:
  signing_key: $o/orchestrator.key
  default_lifetime: 1h
rpc:
  roles:
    $(fget FLEET_OPERATOR_USER): operator
nodes:
  offline_after: 60s
duties:
  interval: 2s
report:
  window: 7d
  interval: 30s
metrics:
  listen: "$(metrics_listen orchestrator)"
management:
  url: https://$(topo TOPO_BROKER_HOST):$(topo TOPO_BROKER_MGMT_PORT)
  user: $(fget FLEET_ADMIN_USER)
  password_file: $(fget FLEET_ADMIN_TOKEN)
  ca_file: $(topo TOPO_BROKER_CA)
  vhost: sparky
EOF
    cat >"$o/ctl.yaml" <<EOF
# sparky-admin-cli as the operator (written by tests/e2e/fleet.sh)
broker:
  hosts: ["$(broker_at)"]
  vhost: sparky
  user: $(fget FLEET_OPERATOR_USER)
  token_file: $(fget FLEET_OPERATOR_TOKEN)
  tls: {ca_file: $(topo TOPO_BROKER_CA)}
rpc:
  timeout: 60s
EOF
}

schedule_at() { # SECONDS — a cron line for the whole minute at least SECONDS-15 and at most SECONDS+45 from now
    local t
    t=$(( $(date -u +%s) + $1 + 15 ))
    t=$(( t - t % 60 ))
    date -u -d "@$t" '+%-M %-H %-d %-m *'
}

cmd_up() {
    local bin='' schedule_in=60 schedule='' benv node pgenv loopback=''
    while [ $# -gt 0 ]; do
        case "$1" in
            --loopback) loopback=1; shift ;;
            --bin) bin=${2:?}; shift 2 ;;
            --schedule-in) schedule_in=${2:?}; shift 2 ;;
            --schedule) schedule=${2:?}; shift 2 ;;
            *) usage ;;
        esac
    done
    [ -n "$bin" ] || die "--bin BINDIR is required"
    bin=$(cd "$bin" && pwd)
    for b in agent/sparky-agent orchestrator/sparky-orchestrator orchestrator/ctl/sparky-admin-cli; do
        [ -x "$bin/$b" ] || die "$bin/$b not found (build first: deploy/dev/build.sh)"
    done
    if [ -f "$fleetenv" ]; then
        fload
        [ "$(fget FLEET_STATE)" = down ] || die "a fleet is already in $dir (state $(fget FLEET_STATE)); run: fleet.sh down $dir"
    fi

    "$T" up "$dir" ${loopback:+--loopback}
    # From here on, a failure takes down what was made.
    trap 'rc=$?; if [ "$rc" != 0 ]; then say "up failed; taking down what was made"; "$here/fleet.sh" down "$dir" || true; fi' EXIT
    F=() F_ORDER=()
    fset FLEET_STATE starting
    fset FLEET_DIR "$dir"
    fset FLEET_MODE "$(topo TOPO_MODE)"
    fset FLEET_BIN "$bin"
    fset FLEET_AGENT "$bin/agent/sparky-agent"
    fset FLEET_ORCHESTRATOR "$bin/orchestrator/sparky-orchestrator"
    fset FLEET_CTL "$bin/orchestrator/ctl/sparky-admin-cli"
    fset FLEET_ADMIN_GUI "$bin/admin-gui/sparky-admin"
    fsave

    "$T" broker-up "$dir"
    benv=$dir/broker.env
    fset FLEET_ORCHESTRATOR_USER "$(sed -n 's/^SPARKY_BROKER_ORCHESTRATOR_USER=//p' "$benv")"
    fset FLEET_ORCHESTRATOR_TOKEN "$(sed -n 's/^SPARKY_BROKER_ORCHESTRATOR_PASSWORD_FILE=//p' "$benv")"
    fset FLEET_OPERATOR_USER "$(sed -n 's/^SPARKY_BROKER_OPERATOR_USER=//p' "$benv")"
    fset FLEET_OPERATOR_TOKEN "$(sed -n 's/^SPARKY_BROKER_OPERATOR_PASSWORD_FILE=//p' "$benv")"
    fset FLEET_ADMIN_USER "$(sed -n 's/^SPARKY_BROKER_ADMIN_USER=//p' "$benv")"
    fset FLEET_ADMIN_TOKEN "$(sed -n 's/^SPARKY_BROKER_ADMIN_PASSWORD_FILE=//p' "$benv")"
    fsave

    # The orchestrator: its signing key (private, stays in orch/), configuration.
    for node in orchestrator "${agents[@]}"; do assign_metrics "$node"; done
    (umask 077 && mkdir -p "$dir/orch")
    fset FLEET_ORCHESTRATOR_PUBKEY "$("$(fget FLEET_ORCHESTRATOR)" keygen --out "$dir/orch/orchestrator.key" | tail -n 1)"
    [ -n "$(fget FLEET_ORCHESTRATOR_PUBKEY)" ] || die "keygen printed no public key"
    write_orchestrator_config
    "$(fget FLEET_ORCHESTRATOR)" check-config -c "$dir/orch/orchestrator.yaml" >/dev/null

    # Enrollment through the management API, as an operator would: one broker user per node.
    mkdir -p "$dir/repo-agent"
    chmod 700 "$dir/repo-agent"
    for node in "${agents[@]}"; do
        local tokfile=$dir/$node/broker.token
        [ "$node" = repo ] && tokfile=$dir/repo-agent/broker.token
        orchestrator_cli node add "$node" -c "$dir/orch/orchestrator.yaml" --token-file "$tokfile" >/dev/null
        [ -s "$tokfile" ] || die "node add $node wrote no token"
    done

    # node1's database server, inside node1 (listens on node1's loopback only; in the
    # loopback variant on a free port of the machine's).
    in_ns node1 "$pg_sh" start "$dir/pg-node1" >/dev/null
    pgenv=$dir/pg-node1/postgres.env
    fset FLEET_PG_DIR "$dir/pg-node1"
    fset FLEET_PG_PORT "$(sed -n 's/^PGPORT=//p' "$pgenv")"
    fset FLEET_PG_BINDIR "$(sed -n 's/^PG_BINDIR=//p' "$pgenv")"
    fsave
    install -m 600 "$dir/pg-node1/pgpass" "$dir/node1/pgpass"
    cmd_psql -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE shop" >/dev/null
    cmd_psql -q -v ON_ERROR_STOP=1 -d shop >/dev/null <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, since date NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers, total numeric(10,2), placed timestamptz);
INSERT INTO customers SELECT i, 'customer ' || i, date '2020-01-01' + i FROM generate_series(1, 500) i;
INSERT INTO orders (customer, total, placed)
    SELECT 1 + (i % 500), (i * 7 % 1000) / 10.0, timestamptz '2026-01-01 00:00+00' + i * interval '1 hour'
    FROM generate_series(1, 3000) i;
SQL

    fset FLEET_SCHEDULE "${schedule:-$(schedule_at "$schedule_in")}"
    fset FLEET_DRILL_SCHEDULE '30 4 * * 6'
    fsave
    for node in "${client_nodes[@]}"; do
        write_sample_data "$node"
        mkdir -p "$dir/$node/restore"
        write_agent_config "$node"
    done
    write_repo_agent_config
    for node in "${agents[@]}"; do
        "$(fget FLEET_AGENT)" check-config -c "$(proc_config "$node")" >/dev/null \
            || die "$(proc_config "$node") is not valid: $("$(fget FLEET_AGENT)" check-config -c "$(proc_config "$node")" 2>&1)"
    done

    start_proc orchestrator
    wait_until 60 "the orchestrator to answer RPC" ctl --json status \
        || { tail -n 30 "$(proc_log orchestrator)" >&2; die "the orchestrator does not answer"; }
    for node in "${agents[@]}"; do start_proc "$node"; done
    wait_until 90 "node1, node2 and repo to say hello" nodes_online "${agents[@]}" \
        || { for node in "${agents[@]}"; do tail -n 15 "$(proc_log "$node")" >&2; done; die "not every agent came online"; }
    fset FLEET_STATE up
    fsave
    trap - EXIT
    say "fleet up in $dir: orchestrator, agents node1 node2 repo online; scheduled backups at '$(fget FLEET_SCHEDULE)' (UTC)"
}

# ------------------------------------------------------------------ commands
cmd_psql() {
    local pgenv=$dir/pg-node1/postgres.env port bindir
    port=$(sed -n 's/^PGPORT=//p' "$pgenv")
    bindir=$(sed -n 's/^PG_BINDIR=//p' "$pgenv")
    in_ns node1 env PGPASSFILE="$dir/pg-node1/pgpass" "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -w "$@"
}

cmd_down() {
    local purge='' what
    case "${1:-}" in '') ;; --purge) purge=1 ;; *) usage ;; esac
    [ -e "$dir" ] || return 0
    if fload; then
        fset FLEET_STATE stopping
        fsave
        # Agents first (they report a run cut short), then the orchestrator.
        for what in "${agents[@]}" orchestrator; do stop_proc "$what"; done
    fi
    if [ -f "$dir/pg-node1/postgres.env" ]; then
        "$pg_sh" stop "$dir/pg-node1" || say "PostgreSQL on node1 did not stop cleanly"
    fi
    "$T" down "$dir" ${purge:+--purge}
    if [ -z "$purge" ] && [ -f "$fleetenv" ]; then
        fset FLEET_STATE down
        fsave
    fi
    say "fleet in $dir is down"
}

case "$cmd" in
    up) cmd_up "$@" ;;
    ctl) fload || die "no fleet in $dir"; ctl "$@" ;;
    orchestrator) fload || die "no fleet in $dir"; orchestrator_cli "$@" -c "$dir/orch/orchestrator.yaml" ;;
    agent)
        fload || die "no fleet in $dir"
        [ $# -ge 2 ] || usage
        node=$1 sub=$2
        shift 2
        in_ns "$node" "$(fget FLEET_AGENT)" "$sub" -c "$(proc_config "$node")" "$@"
        ;;
    psql) cmd_psql "$@" ;;
    stop) fload || die "no fleet in $dir"; [ $# -eq 1 ] || usage; stop_proc "$1" ;;
    start) fload || die "no fleet in $dir"; [ $# -eq 1 ] || usage; start_proc "$1" ;;
    env) [ -f "$fleetenv" ] || die "no fleet in $dir"; cat "$fleetenv" ;;
    down) cmd_down "$@" ;;
    *) usage ;;
esac
