#!/bin/sh
# Installs what sparky-for-backup needs to build, test and demo on Debian bookworm (as root).
# Idempotent and quiet when everything is there already.
set -eu

PACKAGES="
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl python3
  clang libclang-rt-14-dev
  qt6-base-dev qt6-base-dev-tools libqt6sql6-sqlite libqt6sql6-psql qt6-charts-dev libqt6opengl6-dev libxkbcommon-dev
  qtkeychain-qt6-dev libgl-dev
  librabbitmq-dev libssl-dev prometheus-cpp-dev libyaml-cpp-dev
  borgbackup rabbitmq-server postgresql postgresql-client
  openssh-server openssh-client iproute2 procps psmisc util-linux
  prometheus prometheus-pushgateway
  xvfb xauth fonts-dejavu-core
"

if [ "$(id -u)" != 0 ]; then
    echo "install-deps.sh: run as root (apt-get needs it)" >&2
    exit 1
fi

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Debian's maintainer scripts would start rabbitmq-server, postgresql and sshd as system
# services; sparky starts its own instances, so keep the packaged ones from starting.
policy=/usr/sbin/policy-rc.d
created_policy=no
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=yes
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
[ "$created_policy" = yes ] && rm -f "$policy"
echo "install-deps: done"
