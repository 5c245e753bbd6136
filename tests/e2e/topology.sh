#!/bin/bash
# topology.sh — the multi-host end-to-end topology: five "hosts" in network
# namespaces on one private bridge, a repository host with its own sshd and
# borg user, client nodes with their own SSH keys, and the real broker.
#
#   topology.sh up DIR [--no-authorize] [--loopback]
#       Create the topology; its state and files live in DIR (made if missing).
#       Both client keys are authorized on the repository host unless
#       --no-authorize (then authorized_keys starts empty). --loopback: the
#       same hosts without namespaces (see "Loopback variant" below).
#   topology.sh broker-up DIR      start the broker (broker-config/) in `broker`
#   topology.sh broker-down DIR    stop it, keep its data (broker-up restarts it)
#   topology.sh exec DIR HOST CMD...   run CMD inside HOST's namespace
#   topology.sh env DIR                print DIR/topology.env (KEY=VALUE)
#   topology.sh authorize DIR NODE PUBKEYFILE [--append-only]
#   topology.sh revoke DIR NODE [PUBKEYFILE]
#       add (or replace, for the same key) / remove NODE's entry in the
#       repository host's authorized_keys (see "authorized_keys" below)
#   topology.sh borg DIR NODE BORG-ARGS...
#       run borg in NODE's namespace with NODE's key, known_hosts, passphrase
#       file and borg base dir; BORG_REPO = NODE's repository
#   topology.sh ssh DIR NODE [SSH-ARGS...]
#       ssh from NODE to the repository host as the borg user with NODE's key
#   topology.sh link DIR HOST down|up  cut / restore HOST's cable (switch side)
#   topology.sh down DIR [--purge]
#       stop everything this DIR started and delete its namespaces and
#       /etc/netns files; idempotent, works after a partial `up`, touches no
#       other run. Keeps DIR's files (logs, keys, repositories) unless --purge.
#
# HOST is one of: broker orch node1 node2 repo. Root only.
#
# Network: namespaces <P>-sw (a bridge, no address) and <P>-broker, <P>-orch,
# <P>-node1, <P>-node2, <P>-repo, each with `lo` and `eth0` (a veth whose peer
# is in <P>-sw). <P> = "spk" + 4 random hex digits, unique per run. Addresses
# in 10.213.X.0/24, X picked so that no route or address of the machine or of
# another topology uses it: broker .10, orch .11, node1 .21, node2 .22,
# repo .30. No default route anywhere, IPv6 off, nothing attached to the root
# namespace: the hosts reach each other and nothing else, and nothing outside
# reaches them. Names resolve through /etc/netns/<ns>/hosts, which
# `ip netns exec` (and so `topology.sh exec`) bind-mounts over /etc/hosts;
# the machine's /etc/hosts is never touched.
#
# Repository host: user sparky-e2e-borg (system user, home
# /var/lib/sparky-e2e-borg, made if missing, kept afterwards — shared by
# runs), repositories DIR/repo/repos/<node> owned by it; sshd with its own
# config, host key and pid file under DIR/repo/sshd, listening on repo's
# address only, UsePAM no, PasswordAuthentication no, PermitRootLogin no,
# AllowUsers sparky-e2e-borg, no forwarding, StrictModes yes,
# AuthorizedKeysFile <borg home>/runs/<P>/authorized_keys: sshd's StrictModes
# needs a path owned by root or the user and writable by nobody else all the
# way up to /, which DIR may not offer; `down` removes <borg home>/runs/<P>.
#
# authorized_keys: every entry this tool (and the agent's repository-host
# role) manages has exactly the form
#   command="borg serve --restrict-to-path REPO",restrict ssh-ed25519 KEY sparky:NODE
#   command="borg serve --append-only --restrict-to-path REPO",restrict ssh-ed25519 KEY sparky:NODE
# with REPO = DIR/repo/repos/NODE. `authorize` replaces a managed line with
# the same key, `revoke` removes NODE's managed lines (or the one with that
# key); every other line is kept as it is. Rewrites are atomic (temporary file
# + rename, under a lock) and leave the file owned by the borg user, 0600.
#
# Client nodes: DIR/<node>/ssh/id_ed25519 (0600, never copied anywhere),
# known_hosts pinning the repository host key (StrictHostKeyChecking yes),
# a borg passphrase file (0600) and a borg base dir. DIR/topology.env holds
# every address, name, path and command line (list in tests/e2e/README.md).
#
# The broker: tests/fixtures/broker.sh in DIR/broker, run inside <P>-broker,
# AMQPS/management/prometheus on broker's address, certificate for `broker`
# and its address. DIR/broker.env (-> DIR/broker/broker.env) is what
# tests/support/TestBroker reads: TestBroker's directory is DIR/broker
# (SPARKY_TEST_BROKER_DIR), host `broker`, which resolves inside the
# topology's namespaces only.
#
# DIR: a path of [A-Za-z0-9._/+-] whose parents others may search (o+x): the
# borg user walks to the repositories, the rabbitmq user to the broker's
# data. The build tree is fine; a 0700 temporary directory is not.
# If `up` fails half-way it tears down what it made (DIR's logs are kept).
#
# Outside DIR, `up` touches only: /etc/netns/<P>-*/hosts, <borg home>/runs/<P>,
# the borg user (created once), /run/sshd (Debian sshd's privilege
# separation directory, created if missing) and a lock file in /run/lock.
#
# Loopback variant (--loopback; TOPO_MODE=loopback): for machines where network
# namespaces cannot be made (a container without CAP_SYS_ADMIN). Every "host" is
# the machine itself: TOPO_NS_* are empty and commands run directly, every host
# name is `localhost` and every address 127.0.0.1; the broker and sshd listen on
# free loopback ports (TOPO_REPO_SSH_PORT); the repository host, its borg user,
# authorized_keys and the client keys are as above. `link` is not available (no
# cables to cut), and the isolation between hosts is only the one of users and
# files: what the namespace topology proves about reachability does not hold here.
# TOPO_PREFIX is "spl" + 4 hex digits.
#
# Environment: SPARKY_TOPOLOGY_SSHD (default /usr/sbin/sshd).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
broker_sh=$repo_root/tests/fixtures/broker.sh
# shellcheck source=lib.sh
. "$here/lib.sh" # free_port, in_ns, exec_in_ns
sshd_bin=${SPARKY_TOPOLOGY_SSHD:-/usr/sbin/sshd}
borg_user=sparky-e2e-borg
borg_home=/var/lib/$borg_user
hosts_all=(broker orch node1 node2 repo)
client_nodes=(node1 node2)
marker=.sparky-topology
global_lock=/run/lock/sparky-e2e-topology.lock

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }
say() { echo "topology.sh: $*" >&2; }
die() { say "$*"; exit 1; }

host_octet() {
    case "$1" in
        broker) echo 10 ;; orch) echo 11 ;; node1) echo 21 ;; node2) echo 22 ;; repo) echo 30 ;;
        *) return 1 ;;
    esac
}
is_host() { host_octet "$1" >/dev/null 2>&1; }
upper() { echo "$1" | tr '[:lower:]' '[:upper:]'; }

pid_alive() { # running, and not a zombie
    local stat
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

loopback() { [ "$(tget TOPO_MODE)" = loopback ]; }
netns_exists() { [ -n "$1" ] && ip netns list 2>/dev/null | awk '{ print $1 }' | grep -qxF "$1"; }

# ---------------------------------------------------------------- arguments
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
[[ $dir =~ ^[A-Za-z0-9._/+-]+$ ]] || die "DIR '$dir' may only contain [A-Za-z0-9._/+-]"
case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
dir=${dir%/}
[[ $dir =~ ^[A-Za-z0-9._/+-]+$ ]] || die "absolute path '$dir' may only contain [A-Za-z0-9._/+-]"
if [ -z "$dir" ] || [ "$dir" = / ]; then die "refusing DIR '/'"; fi
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, sshd, a system user)"

envfile=$dir/topology.env

# ---------------------------------------------------------------- state
# DIR/topology.env is the state: KEY=VALUE lines, sourceable by sh: a value
# with characters other than [A-Za-z0-9._/:@,+=-] is in single quotes (no
# value holds a quote or a newline). It is rewritten atomically as `up`
# progresses, so `down` always knows what exists, even after a failure.
declare -A T=()
T_ORDER=()
tset() { # KEY VALUE
    case "$2" in *"'"*|*$'\n'*) die "internal: value of $1 holds a quote or newline" ;; esac
    [ -n "${T[$1]+x}" ] || T_ORDER+=("$1")
    T[$1]=$2
}
tsave() {
    local k
    {
        echo "# sparky e2e topology (tests/e2e/topology.sh): KEY=VALUE, sourceable by sh"
        for k in "${T_ORDER[@]}"; do
            if [[ ${T[$k]} =~ ^[A-Za-z0-9._/:@,+=-]*$ ]]; then
                printf '%s=%s\n' "$k" "${T[$k]}"
            else
                printf "%s='%s'\n" "$k" "${T[$k]}"
            fi
        done
    } >"$envfile.tmp"
    chmod 644 "$envfile.tmp"
    mv -f "$envfile.tmp" "$envfile"
}
tload() {
    local line
    T=() T_ORDER=()
    [ -f "$envfile" ] || return 1
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line =~ ^([A-Z0-9_]+)=(.*)$ ]] || continue
        local k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
        if [ "${#v}" -ge 2 ] && [ "${v:0:1}" = "'" ] && [ "${v: -1}" = "'" ]; then
            v=${v:1:${#v}-2}
        fi
        tset "$k" "$v"
    done <"$envfile"
}
tget() { echo "${T[$1]:-}"; }
need_up() {
    tload || die "no topology in $dir (run: topology.sh up $dir)"
    [ "$(tget TOPO_STATE)" = up ] || die "the topology in $dir is not up (state: $(tget TOPO_STATE))"
}
ns_of() { # HOST — its namespace name
    is_host "$1" || die "unknown host '$1' (one of: ${hosts_all[*]})"
    tget "TOPO_NS_$(upper "$1")"
}
# in_ns / exec_in_ns HOST CMD... (lib.sh): CMD inside HOST's namespace (loopback variant: here)

# ---------------------------------------------------------------- checks
check_tools() {
    local t
    for t in ip ss sshd:"$sshd_bin" ssh ssh-keygen borg openssl python3 setpriv flock useradd usermod getent; do
        case "$t" in
            sshd:*) [ -x "${t#sshd:}" ] || die "${t#sshd:} not found (apt-get install openssh-server)" ;;
            *) command -v "$t" >/dev/null || die "$t not found (deploy/dev/install-deps.sh installs iproute2, openssh-server, openssh-client, borgbackup, openssl, python3, util-linux, passwd)" ;;
        esac
    done
}

# The borg and rabbitmq users must be able to pass through every directory
# above DIR (o+x).
check_dir_path() {
    local p=$1 mode
    while [ "$p" != / ]; do
        p=$(dirname "$p")
        [ -d "$p" ] || die "parent $p of $dir does not exist"
        mode=$(stat -c '%a' "$p")
        (( (8#$mode & 8#001) != 0 )) || die "$p (above $dir) is not searchable by others (mode $mode): the borg and rabbitmq users could not reach DIR (chmod o+x, or use a DIR under the build tree)"
    done
}

# sshd's StrictModes walks the whole path of authorized_keys up to /: each
# directory must belong to root or the borg user and be writable by nobody else.
check_strict_modes_path() { # FILE
    local p=$1 mode owner uid
    uid=$(id -u "$borg_user")
    while [ "$p" != / ]; do
        p=$(dirname "$p")
        read -r owner mode < <(stat -c '%u %a' "$p")
        if { [ "$owner" != 0 ] && [ "$owner" != "$uid" ]; } || (( (8#$mode & 8#022) != 0 )); then
            die "$p (owner uid $owner, mode $mode) is not acceptable to sshd's StrictModes for $1 (must belong to root or $borg_user, not group/other-writable)"
        fi
    done
}

# ---------------------------------------------------------------- up
claim_prefix() { # sets prefix; the switch namespace is the atomic claim
    local _ err
    for _ in $(seq 1 50); do
        prefix="spk$(head -c 2 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        if ip netns list 2>/dev/null | awk '{ print $1 }' | grep -q "^$prefix-"; then continue; fi
        if err=$(ip netns add "$prefix-sw" 2>&1); then return 0; fi
        case "$err" in *"File exists"*) continue ;; esac
        die "cannot create a network namespace (ip netns add: $err); the topology needs root with CAP_SYS_ADMIN and a writable /run/netns — not an unprivileged container"
    done
    die "could not claim a free namespace prefix (50 tries)"
}

subnet_in_use() { # X — 10.213.X.0/24 seen in the root namespace or another topology
    local x=$1 ns
    if ip -4 route show table all 2>/dev/null | grep -q "10\.213\.$x\." \
        || ip -4 -o addr show 2>/dev/null | grep -q " 10\.213\.$x\."; then
        return 0
    fi
    for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^spk[0-9a-f]{4}-(broker|orch|node1|node2|repo)$'); do
        ip -n "$ns" -4 -o addr show 2>/dev/null | grep -q " 10\.213\.$x\." && return 0
    done
    return 1
}

pick_subnet() { # sets subnet_x
    local x
    for x in $(seq 1 254 | shuf); do
        if ! subnet_in_use "$x"; then subnet_x=$x; return 0; fi
    done
    die "no free 10.213.X.0/24 subnet"
}

no_ipv6() { # NS — IPv4 only (no link-local addresses); absent IPv6 is fine too
    [ -e /proc/sys/net/ipv6 ] || return 0
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

make_network() {
    local h ns sw=$prefix-sw addr
    for h in "${hosts_all[@]}"; do
        ns=$prefix-$h
        tset "TOPO_NS_$(upper "$h")" "$ns"
    done
    tsave
    ip -n "$sw" link set lo up
    no_ipv6 "$sw"
    ip -n "$sw" link add br0 type bridge stp_state 0 forward_delay 0
    ip -n "$sw" link set br0 up
    for h in "${hosts_all[@]}"; do
        ns=$prefix-$h
        addr=10.213.$subnet_x.$(host_octet "$h")
        ip netns add "$ns"
        no_ipv6 "$ns"
        ip -n "$ns" link set lo up
        # Made inside the switch namespace, peer straight into the host's:
        # no interface ever appears in the root namespace.
        ip -n "$sw" link add "v-$h" type veth peer name eth0 netns "$ns"
        ip -n "$sw" link set "v-$h" master br0
        ip -n "$sw" link set "v-$h" up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
        tset "TOPO_ADDR_$(upper "$h")" "$addr"
    done
    tsave
}

make_loopback_hosts() { # the loopback variant: no namespaces, every host is this machine
    local h
    for h in "${hosts_all[@]}"; do
        tset "TOPO_NS_$(upper "$h")" ''
        tset "TOPO_ADDR_$(upper "$h")" 127.0.0.1
        tset "TOPO_NAME_$(upper "$h")" localhost
    done
    tsave
}

claim_loopback_prefix() { # sets prefix; unique among the runs under the borg home
    local _
    for _ in $(seq 1 50); do
        prefix="spl$(head -c 2 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        [ -e "$borg_home/runs/$prefix" ] || return 0
    done
    die "could not pick a free loopback prefix (50 tries)"
}

write_hosts_files() {
    local h ns other
    for h in "${hosts_all[@]}"; do
        ns=$prefix-$h
        mkdir -p "/etc/netns/$ns"
        {
            echo "# sparky e2e topology $prefix ($dir); bind-mounted over /etc/hosts by ip netns exec"
            echo "127.0.0.1 localhost"
            for other in "${hosts_all[@]}"; do
                echo "$(tget "TOPO_ADDR_$(upper "$other")") $other"
            done
        } >"/etc/netns/$ns/hosts.tmp"
        chmod 644 "/etc/netns/$ns/hosts.tmp"
        mv -f "/etc/netns/$ns/hosts.tmp" "/etc/netns/$ns/hosts"
    done
}

ensure_borg_user() {
    local hash shell
    if ! id "$borg_user" >/dev/null 2>&1; then
        # Parallel runs may race here: whoever loses finds the user made.
        useradd --system --user-group --create-home --home-dir "$borg_home" \
            --shell /bin/sh --comment "sparky e2e repository host" "$borg_user" 2>/dev/null \
            || id "$borg_user" >/dev/null 2>&1 || die "useradd $borg_user failed"
    fi
    hash=$(getent shadow "$borg_user" | cut -d: -f2)
    # A locked account ('!') cannot log in with a key when UsePAM is off.
    if [[ $hash == !* ]]; then usermod -p '*' "$borg_user"; fi
    shell=$(getent passwd "$borg_user" | cut -d: -f7)
    case "$shell" in
        */nologin|*/false) die "user $borg_user has shell $shell: the forced borg command needs a real shell (usermod -s /bin/sh $borg_user)" ;;
    esac
    borg_home=$(getent passwd "$borg_user" | cut -d: -f6)
    if ! [[ $borg_home =~ ^/[A-Za-z0-9._/+-]+$ ]] || [ ! -d "$borg_home" ]; then
        die "user $borg_user has no usable home directory ('$borg_home')"
    fi
    tset TOPO_BORG_USER "$borg_user"
    tset TOPO_BORG_HOME "$borg_home"
    tset TOPO_REPO_AK_DIR "$borg_home/runs/$prefix"
    tsave
}

setup_repo_host() {
    local sshd_dir=$dir/repo/sshd node ak_dir
    mkdir -p "$dir/repo"
    chmod 711 "$dir/repo"
    (umask 077 && mkdir -p "$sshd_dir")
    install -d -m 700 -o "$borg_user" -g "$borg_user" "$dir/repo/repos"
    for node in "${client_nodes[@]}"; do
        install -d -m 700 -o "$borg_user" -g "$borg_user" "$dir/repo/repos/$node"
        tset "TOPO_$(upper "$node")_REPO_PATH" "$dir/repo/repos/$node"
    done
    ak_dir=$borg_home/runs/$prefix
    install -d -m 755 -o root -g root "$borg_home/runs"
    install -d -m 700 -o "$borg_user" -g "$borg_user" "$ak_dir"
    install -m 600 -o "$borg_user" -g "$borg_user" /dev/null "$ak_dir/authorized_keys"
    check_strict_modes_path "$ak_dir/authorized_keys"
    ssh-keygen -q -t ed25519 -N '' -C "sparky-e2e repo host $prefix" -f "$sshd_dir/ssh_host_ed25519_key"
    # In its own namespace sshd has port 22 to itself; on the machine's loopback it takes
    # a free port (the machine's own sshd may hold 22).
    local port=22
    if loopback; then port=$(free_port); fi
    cat >"$sshd_dir/sshd_config" <<EOF
# sshd for the sparky e2e repository host $prefix (generated by tests/e2e/topology.sh)
ListenAddress $(tget TOPO_ADDR_REPO):$port
HostKey $sshd_dir/ssh_host_ed25519_key
PidFile $sshd_dir/sshd.pid
AuthorizedKeysFile $ak_dir/authorized_keys
AllowUsers $borg_user
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
HostbasedAuthentication no
GSSAPIAuthentication no
PubkeyAuthentication yes
AuthenticationMethods publickey
PermitRootLogin no
StrictModes yes
DisableForwarding yes
PermitTunnel no
PermitUserRC no
PermitUserEnvironment no
UseDNS no
PrintMotd no
PrintLastLog no
MaxAuthTries 3
LoginGraceTime 30
LogLevel VERBOSE
EOF
    chmod 600 "$sshd_dir/sshd_config"
    tset TOPO_REPO_SSHD_CONFIG "$sshd_dir/sshd_config"
    tset TOPO_REPO_SSHD_PID_FILE "$sshd_dir/sshd.pid"
    tset TOPO_REPO_SSHD_LOG "$sshd_dir/sshd.log"
    tset TOPO_REPO_HOST_KEY_PUB "$sshd_dir/ssh_host_ed25519_key.pub"
    tset TOPO_REPO_SSH_PORT "$port"
    if loopback; then tset TOPO_REPO_SSH_HOST localhost; else tset TOPO_REPO_SSH_HOST repo; fi
    tset TOPO_REPO_ROOT "$dir/repo/repos"
    tset TOPO_REPO_AUTHORIZED_KEYS "$ak_dir/authorized_keys"
    tsave
}

start_sshd() {
    local pidfile=$dir/repo/sshd/sshd.pid conf=$dir/repo/sshd/sshd_config deadline pid
    # Debian's sshd needs its privilege separation directory (normally made by
    # the packaged service, which install-deps.sh keeps from starting).
    [ -d /run/sshd ] || install -d -m 755 /run/sshd
    "$sshd_bin" -t -f "$conf" || die "sshd rejects $conf"
    rm -f "$pidfile"
    # sshd binds its listener, then daemonizes and writes the pid file.
    in_ns repo "$sshd_bin" -f "$conf" -E "$dir/repo/sshd/sshd.log" </dev/null \
        || { tail -n 20 "$dir/repo/sshd/sshd.log" >&2 || true; die "sshd did not start in $(ns_of repo)"; }
    deadline=$((SECONDS + 20))
    until [ -s "$pidfile" ]; do
        [ $SECONDS -lt $deadline ] || die "sshd wrote no pid file $pidfile"
        sleep 0.05
    done
    pid=$(tr -dc 0-9 <"$pidfile")
    pid_alive "$pid" || { tail -n 20 "$dir/repo/sshd/sshd.log" >&2 || true; die "sshd (pid $pid) is not running"; }
    tset TOPO_REPO_SSHD_PID "$pid"
    tsave
}

setup_client() { # NODE
    local node=$1 N sshdir=$dir/$1/ssh borgdir=$dir/$1/borg rsh
    N=$(upper "$node")
    (umask 077 && mkdir -p "$dir/$node" "$sshdir" "$borgdir/base")
    chmod 700 "$dir/$node"
    ssh-keygen -q -t ed25519 -N '' -C "sparky:$node" -f "$sshdir/id_ed25519"
    chmod 600 "$sshdir/id_ed25519"
    local hostkey port at
    port=$(tget TOPO_REPO_SSH_PORT)
    hostkey=$(cut -d' ' -f1,2 "$dir/repo/sshd/ssh_host_ed25519_key.pub")
    if loopback; then
        echo "[localhost]:$port,[127.0.0.1]:$port $hostkey" >"$sshdir/known_hosts"
        at=localhost:$port
    else
        echo "repo,$(tget TOPO_ADDR_REPO) $hostkey" >"$sshdir/known_hosts"
        at=repo
    fi
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$borgdir/passphrase")
    rsh="ssh -F /dev/null -i $sshdir/id_ed25519 -o IdentitiesOnly=yes -o IdentityAgent=none"
    rsh+=" -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$sshdir/known_hosts"
    rsh+=" -o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no -o ConnectTimeout=10"
    tset "TOPO_${N}_SSH_KEY" "$sshdir/id_ed25519"
    tset "TOPO_${N}_SSH_PUBKEY" "$sshdir/id_ed25519.pub"
    tset "TOPO_${N}_KNOWN_HOSTS" "$sshdir/known_hosts"
    tset "TOPO_${N}_BORG_RSH" "$rsh"
    tset "TOPO_${N}_REPO_URL" "ssh://$borg_user@$at$dir/repo/repos/$node"
    tset "TOPO_${N}_BORG_PASSPHRASE_FILE" "$borgdir/passphrase"
    tset "TOPO_${N}_BORG_BASE_DIR" "$borgdir/base"
    tset "TOPO_${N}_DIR" "$dir/$node"
    tsave
}

cmd_up() {
    local authorize=1 mode=namespaces node t0 ms h
    while [ $# -gt 0 ]; do
        case "$1" in
            --no-authorize) authorize=''; shift ;;
            --loopback) mode=loopback; shift ;;
            *) usage ;;
        esac
    done
    t0=$(date +%s%N)
    check_tools
    (umask 022 && mkdir -p "$(dirname "$dir")")
    check_dir_path "$dir"
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
        [ -f "$dir/$marker" ] || die "$dir exists, is not empty and is not a topology directory; refusing to use it"
        if tload && [ "$(tget TOPO_STATE)" != down ]; then
            die "a topology is already in $dir (state $(tget TOPO_STATE)); run: topology.sh down $dir"
        fi
        "$broker_sh" clean "$dir/broker" 2>/dev/null || true
        rm -rf "$dir"
    fi
    mkdir -p "$dir"
    chown 0:0 "$dir"
    chmod 711 "$dir"
    touch "$dir/$marker"
    T=() T_ORDER=()
    tset TOPO_STATE starting
    tset TOPO_DIR "$dir"
    tset TOPO_MODE "$mode"
    tsave

    if loopback; then
        claim_loopback_prefix
        tset TOPO_PREFIX "$prefix"
        tsave
        # shellcheck disable=SC2154 # rc is assigned inside the trap
        trap 'rc=$?; if [ "$rc" != 0 ]; then say "up failed; tearing down what was made"; "$here/topology.sh" down "$dir" || true; fi' EXIT
        tset TOPO_HOSTS "${hosts_all[*]}"
        make_loopback_hosts
    else
        mkdir -p "$(dirname "$global_lock")"
        exec 8>>"$global_lock"
        flock -w 60 8 || die "could not lock $global_lock"
        claim_prefix
        tset TOPO_PREFIX "$prefix"
        tset TOPO_NS_SWITCH "$prefix-sw"
        tsave
        # Everything from here on is undone by `down`, also when `up` fails.
        # shellcheck disable=SC2154 # rc is assigned inside the trap
        trap 'rc=$?; if [ "$rc" != 0 ]; then say "up failed; tearing down what was made"; "$here/topology.sh" down "$dir" || true; fi' EXIT
        pick_subnet
        tset TOPO_SUBNET "10.213.$subnet_x.0/24"
        tset TOPO_HOSTS "${hosts_all[*]}"
        make_network
        flock -u 8
        exec 8>&-
        for h in "${hosts_all[@]}"; do tset "TOPO_NAME_$(upper "$h")" "$h"; done
        write_hosts_files
    fi

    ensure_borg_user
    setup_repo_host
    start_sshd
    for node in "${client_nodes[@]}"; do setup_client "$node"; done
    if [ -n "$authorize" ]; then
        for node in "${client_nodes[@]}"; do
            authorize_key "$node" "$(tget "TOPO_$(upper "$node")_SSH_PUBKEY")" ''
        done
    fi
    tset TOPO_BROKER_DIR "$dir/broker"
    tset TOPO_BROKER_ENV "$dir/broker.env"
    tset TOPO_STATE up
    tsave
    trap - EXIT
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if loopback; then
        say "topology $prefix up in ${ms} ms: loopback variant (no namespaces), sshd on 127.0.0.1:$(tget TOPO_REPO_SSH_PORT)"
    else
        say "topology $prefix up in ${ms} ms: 10.213.$subnet_x.0/24, namespaces $prefix-{sw,${hosts_all[*]// /,}}"
    fi
    say "  state and keys: $envfile"
}

# ---------------------------------------------------------------- authorized_keys
authorize_key() { # NODE PUBKEYFILE APPEND_ONLY(''|1)
    local node=$1 file=$2 append_only=$3 line kind blob repo entry ak tmp
    [[ $node =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || die "bad node id '$node'"
    [ -f "$file" ] || die "public key file $file does not exist"
    [ "$(wc -l <"$file")" -le 1 ] || die "$file must hold exactly one public key"
    IFS= read -r line <"$file" || [ -n "$line" ] || die "$file is empty"
    read -r kind blob _ <<<"$line"
    [ "$kind" = ssh-ed25519 ] || die "$file: only ssh-ed25519 keys are accepted, got '$kind'"
    [[ $blob =~ ^AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$ ]] || die "$file: malformed ed25519 key"
    ssh-keygen -l -f "$file" >/dev/null 2>&1 || die "$file: ssh-keygen does not accept the key"
    repo=$(tget TOPO_REPO_ROOT)/$node
    [ -d "$repo" ] || install -d -m 700 -o "$borg_user" -g "$borg_user" "$repo"
    entry="command=\"borg serve ${append_only:+--append-only }--restrict-to-path $repo\",restrict $kind $blob sparky:$node"
    ak=$(tget TOPO_REPO_AUTHORIZED_KEYS)
    rewrite_authorized_keys "$ak" "$blob" '' "$entry"
    say "authorized $node's key ${append_only:+(append-only) }for $repo"
}

# Atomic rewrite under a lock: drop managed lines with key BLOB (if set) or
# with comment sparky:NODE (if set), keep everything else, append ENTRY.
rewrite_authorized_keys() { # FILE BLOB NODE ENTRY
    local ak=$1 blob=$2 node=$3 entry=$4 tmp l lb lc
    tmp=$(mktemp "$ak.XXXXXX")
    (
        flock -w 30 7 || die "could not lock $ak.lock"
        if [ -f "$ak" ]; then
            while IFS= read -r l || [ -n "$l" ]; do
                # Managed lines: options, key type, blob, comment sparky:NODE.
                if [[ $l =~ \ (ssh-[a-z0-9-]+)\ ([A-Za-z0-9+/=]+)\ (sparky:[a-z0-9-]+)$ ]]; then
                    lb=${BASH_REMATCH[2]} lc=${BASH_REMATCH[3]}
                    if [ -n "$blob" ] && [ "$lb" = "$blob" ]; then continue; fi
                    if [ -n "$node" ] && [ "$lc" = "sparky:$node" ]; then continue; fi
                fi
                printf '%s\n' "$l"
            done <"$ak" >"$tmp"
        fi
        [ -z "$entry" ] || printf '%s\n' "$entry" >>"$tmp"
        chown "$borg_user:$borg_user" "$tmp"
        chmod 600 "$tmp"
        mv -f "$tmp" "$ak"
    ) 7>>"$ak.lock"
    rm -f "$tmp"
}

cmd_authorize() {
    [ $# -ge 2 ] || usage
    local node=$1 file=$2 append_only=''
    shift 2
    case "${1:-}" in
        '') ;;
        --append-only) append_only=1 ;;
        *) usage ;;
    esac
    need_up
    authorize_key "$node" "$file" "$append_only"
}

cmd_revoke() {
    [ $# -ge 1 ] || usage
    local node=$1 file=${2:-} blob=''
    need_up
    [[ $node =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || die "bad node id '$node'"
    if [ -n "$file" ]; then
        read -r _ blob _ <"$file" || die "cannot read $file"
        rewrite_authorized_keys "$(tget TOPO_REPO_AUTHORIZED_KEYS)" "$blob" '' ''
        say "revoked that key of $node"
    else
        rewrite_authorized_keys "$(tget TOPO_REPO_AUTHORIZED_KEYS)" '' "$node" ''
        say "revoked every key of $node"
    fi
}

# ---------------------------------------------------------------- broker
cmd_broker_up() {
    need_up
    local ns addr host=broker
    ns=$(ns_of broker)
    addr=$(tget TOPO_ADDR_BROKER)
    if loopback; then
        host=localhost
        "$broker_sh" start "$dir/broker" --address "$addr" --host "$host" >/dev/null
    else
        "$broker_sh" start "$dir/broker" --netns "$ns" --address "$addr" --host "$host" >/dev/null
    fi
    ln -sfn broker/broker.env "$dir/broker.env"
    tset TOPO_BROKER_HOST "$host"
    tset TOPO_BROKER_PORT "$(sed -n 's/^SPARKY_BROKER_PORT=//p' "$dir/broker/broker.env")"
    tset TOPO_BROKER_MGMT_PORT "$(sed -n 's/^SPARKY_BROKER_MGMT_PORT=//p' "$dir/broker/broker.env")"
    tset TOPO_BROKER_CA "$(sed -n 's/^SPARKY_BROKER_CA=//p' "$dir/broker/broker.env")"
    tset TOPO_BROKER_RUNNING 1
    tsave
    say "broker up in ${ns:-the root namespace}: amqps://$host:$(tget TOPO_BROKER_PORT)/sparky, env $dir/broker.env"
}

cmd_broker_down() {
    need_up
    [ -f "$dir/broker/run/state" ] || die "no broker in $dir/broker"
    "$broker_sh" stop "$dir/broker"
    tset TOPO_BROKER_RUNNING 0
    tsave
}

# ---------------------------------------------------------------- helpers
cmd_exec() {
    [ $# -ge 2 ] || usage
    local host=$1
    shift
    need_up
    exec_in_ns "$host" "$@"
}

client_env() { # NODE — env assignments for borg/ssh as NODE
    local N
    N=$(upper "$1")
    [ -n "$(tget "TOPO_${N}_SSH_KEY")" ] || die "'$1' is not a client node (one of: ${client_nodes[*]})"
    echo "BORG_RSH=$(tget "TOPO_${N}_BORG_RSH")"
    echo "BORG_REPO=$(tget "TOPO_${N}_REPO_URL")"
    echo "BORG_BASE_DIR=$(tget "TOPO_${N}_BORG_BASE_DIR")"
    echo "BORG_PASSCOMMAND=cat $(tget "TOPO_${N}_BORG_PASSPHRASE_FILE")"
}

cmd_borg() {
    [ $# -ge 1 ] || usage
    local node=$1 envs=()
    shift
    need_up
    client_env "$node" >/dev/null
    mapfile -t envs < <(client_env "$node")
    exec_in_ns "$node" env "${envs[@]}" \
        BORG_HOSTNAME_IS_UNIQUE=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=no \
        BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no borg "$@"
}

cmd_ssh() {
    [ $# -ge 1 ] || usage
    local node=$1 rsh
    shift
    need_up
    client_env "$node" >/dev/null
    rsh=$(tget "TOPO_$(upper "$node")_BORG_RSH")
    # shellcheck disable=SC2086 # the command line is ours, split on purpose
    exec_in_ns "$node" $rsh -p "$(tget TOPO_REPO_SSH_PORT)" "$borg_user@$(tget TOPO_REPO_SSH_HOST)" "$@"
}

cmd_link() {
    [ $# -eq 2 ] || usage
    local host=$1 state=$2
    need_up
    is_host "$host" || die "unknown host '$host'"
    case "$state" in up|down) ;; *) usage ;; esac
    ! loopback || die "link: the loopback variant has no cables to cut (it needs the namespace topology)"
    ip -n "$(tget TOPO_NS_SWITCH)" link set "v-$host" "$state"
    say "link of $host is $state"
}

# ---------------------------------------------------------------- down
stop_pid() { # PID WHAT — TERM, wait, KILL
    local pid=$1 what=$2 deadline
    pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while pid_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    if pid_alive "$pid"; then
        say "$what (pid $pid) ignored SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
}

remove_run_keys() { # PREFIX — the run's authorized_keys directory under the borg user's home
    local home
    home=$(tget TOPO_BORG_HOME)
    if [[ $home =~ ^/[A-Za-z0-9._/+-]+$ ]] && [ -d "$home/runs/$1" ]; then
        rm -rf "${home:?}/runs/$1"
    fi
}

cmd_down() {
    local purge='' ns h prefix pid pids left p mine home
    case "${1:-}" in
        '') ;;
        --purge) purge=1 ;;
        *) usage ;;
    esac
    if [ ! -e "$dir" ]; then return 0; fi
    [ -f "$dir/$marker" ] || die "$dir is not a topology directory (no $marker); refusing to touch it"
    tload || true
    prefix=$(tget TOPO_PREFIX)
    if [ -n "$(tget TOPO_STATE)" ] && [ "$(tget TOPO_STATE)" != down ]; then
        tset TOPO_STATE stopping
        tsave
    fi

    # The broker first, through its own fixture (rabbitmqctl stop, then epmd),
    # if it may be running (broker.sh removes its pid files when it stops).
    if [ -f "$dir/broker/run/state" ] && { [ -n "$purge" ] \
        || [ -f "$dir/broker/run/rabbitmq.pid" ] || [ -f "$dir/broker/run/wrapper.pid" ]; }; then
        if [ -n "$purge" ]; then
            "$broker_sh" clean "$dir/broker" || say "broker clean failed; its processes are ended below"
        else
            "$broker_sh" stop "$dir/broker" || say "broker stop failed; its processes are ended below"
        fi
    fi
    # sshd, by its pid file, if it is still our sshd.
    pid=$({ tr -dc 0-9 <"$dir/repo/sshd/sshd.pid"; } 2>/dev/null || true)
    if [ -n "$pid" ] && pid_alive "$pid" \
        && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/repo/sshd/sshd_config"; then
        stop_pid "$pid" sshd
    fi
    rm -f "$dir/repo/sshd/sshd.pid"

    if [ -n "$prefix" ] && loopback; then
        [[ $prefix =~ ^spl[0-9a-f]{4}$ ]] || die "$envfile: bad TOPO_PREFIX '$prefix'"
        remove_run_keys "$prefix"
    elif [ -n "$prefix" ]; then
        [[ $prefix =~ ^spk[0-9a-f]{4}$ ]] || die "$envfile: bad TOPO_PREFIX '$prefix'; refusing to delete namespaces"
        # Whatever still runs inside our namespaces was started there for this
        # topology (agents, borg serve sessions, ...): end it by pid — except
        # this script and its callers (a test may run inside a namespace).
        mine=" $$ "
        p=$PPID
        while [ -n "$p" ] && [ "$p" -gt 1 ]; do
            mine+="$p "
            p=$(cat "/proc/$p/stat" 2>/dev/null || true)
            p=${p##*) }
            p=$(echo "$p" | cut -d' ' -f2)
        done
        for h in "${hosts_all[@]}" sw; do
            ns=$prefix-$h
            netns_exists "$ns" || continue
            pids=$(ip netns pids "$ns" 2>/dev/null || true)
            for p in $pids; do
                [[ $mine == *" $p "* ]] && continue
                say "ending pid $p ($(cat "/proc/$p/comm" 2>/dev/null || echo '?')) left in $ns"
                kill -TERM "$p" 2>/dev/null || true
            done
        done
        for h in "${hosts_all[@]}" sw; do
            ns=$prefix-$h
            netns_exists "$ns" || continue
            for p in $(ip netns pids "$ns" 2>/dev/null || true); do
                [[ $mine == *" $p "* ]] && continue
                stop_pid "$p" "process in $ns"
            done
        done
        for h in "${hosts_all[@]}" sw; do
            ns=$prefix-$h
            if netns_exists "$ns"; then
                ip netns del "$ns" || say "could not delete namespace $ns"
            fi
            if [ -d "/etc/netns/$ns" ]; then
                rm -f "/etc/netns/$ns/hosts" "/etc/netns/$ns/hosts.tmp"
                rmdir "/etc/netns/$ns" 2>/dev/null || say "/etc/netns/$ns holds files this tool did not write; left in place"
            fi
        done
        rmdir /etc/netns 2>/dev/null || true
        remove_run_keys "$prefix"
        left=$(ip netns list 2>/dev/null | awk '{ print $1 }' | grep "^$prefix-" || true)
        [ -z "$left" ] || die "namespaces left after down: $left"
    fi
    if [ -n "$purge" ]; then
        rm -rf "$dir"
        say "topology in $dir removed"
        return 0
    fi
    if [ -f "$envfile" ]; then
        tset TOPO_STATE down
        tset TOPO_BROKER_RUNNING 0
        tsave
    fi
    say "topology ${prefix:-(none)} in $dir is down"
}

# ---------------------------------------------------------------- main
case "$cmd" in
    up)          cmd_up "$@" ;;
    broker-up)   [ $# -eq 0 ] || usage; cmd_broker_up ;;
    broker-down) [ $# -eq 0 ] || usage; cmd_broker_down ;;
    exec)        cmd_exec "$@" ;;
    env)         [ $# -eq 0 ] || usage; [ -f "$envfile" ] || die "no topology in $dir"; cat "$envfile" ;;
    authorize)   cmd_authorize "$@" ;;
    revoke)      cmd_revoke "$@" ;;
    borg)        cmd_borg "$@" ;;
    ssh)         cmd_ssh "$@" ;;
    link)        cmd_link "$@" ;;
    down)        cmd_down "$@" ;;
    *)           usage ;;
esac
