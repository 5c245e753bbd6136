# shellcheck shell=bash
# sparky-broker.sh — shell helpers shared by broker-config/bin/* (sourced, bash).
#
# Secrets never appear on a command line: curl reads URL, credentials and body
# from a config on its standard input (-K -), python3 reads secret files itself.

sb_die() { echo "${SB_PROG:-sparky}: $*" >&2; exit 1; }

# A random secret: 32 URL-safe characters (192 bits).
sb_random_secret() {
    head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

# sb_write_secret FILE VALUE — atomically write VALUE (no newline) with mode 0600.
sb_write_secret() {
    local file=$1 value=$2 tmp
    tmp=$(umask 077 && mktemp "$file.XXXXXX") || sb_die "cannot create $file"
    printf '%s' "$value" >"$tmp"
    chmod 600 "$tmp"
    mv -f "$tmp" "$file"
}

# sb_read_secret FILE — print the secret (first line, surrounding whitespace
# trimmed); refuse a file that group or others can read.
sb_read_secret() {
    local file=$1 mode value
    [ -f "$file" ] || sb_die "secret file $file does not exist"
    mode=$(stat -c %a "$file")
    case "$mode" in
        *00) ;;
        *) sb_die "secret file $file has mode $mode; it must not be readable by group or others (chmod 600)" ;;
    esac
    IFS= read -r value <"$file" || [ -n "$value" ] || sb_die "secret file $file is empty"
    value=${value#"${value%%[![:space:]]*}"}
    value=${value%"${value##*[![:space:]]}"}
    [ -n "$value" ] || sb_die "secret file $file is empty"
    printf '%s' "$value"
}

# sb_load_env FILE — read SPARKY_BROKER_* KEY=VALUE lines (no shell evaluation)
# into variables that are not already set.
sb_load_env() {
    local file=$1 line key value
    [ -f "$file" ] || sb_die "env file $file does not exist"
    while IFS= read -r line || [ -n "$line" ]; do
        [[ $line =~ ^(SPARKY_BROKER_[A-Z0-9_]+)=(.*)$ ]] || continue
        key=${BASH_REMATCH[1]}
        value=${BASH_REMATCH[2]}
        if [ -z "${!key:-}" ]; then
            printf -v "$key" '%s' "$value"
            export "${key?}"
        fi
    done <"$file"
}

# Escape a value for a double-quoted curl config string.
sb_cfg_quote() {
    local v=$1
    v=${v//\\/\\\\}
    v=${v//\"/\\\"}
    printf '"%s"' "$v"
}

# sb_urlencode STRING — percent-encode one path segment.
sb_urlencode() {
    python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

# sb_api METHOD PATH [JSON_BODY] — call the management HTTP API.
# Needs SB_MGMT_URL, SB_CACERT, SB_USER, SB_PASSWORD. Sets SB_STATUS (HTTP
# code, 000 when the request failed) and SB_BODY. Returns 0 for 2xx.
sb_api() {
    local method=$1 path=$2 body=${3-} out err
    out=$(mktemp) err=$(mktemp)
    SB_STATUS=$(
        {
            printf 'url = %s\n' "$(sb_cfg_quote "$SB_MGMT_URL$path")"
            printf 'request = %s\n' "$(sb_cfg_quote "$method")"
            printf 'user = %s\n' "$(sb_cfg_quote "$SB_USER:$SB_PASSWORD")"
            printf 'cacert = %s\n' "$(sb_cfg_quote "$SB_CACERT")"
            if [ -n "$body" ]; then
                printf 'header = "content-type: application/json"\n'
                printf 'data-binary = %s\n' "$(sb_cfg_quote "$body")"
            fi
        } | curl --silent --show-error --proto =https --tlsv1.2 --max-time 30 \
                 --output "$out" --write-out '%{http_code}' -K - 2>"$err"
    ) || true
    SB_BODY=$(cat "$out")
    if [ "${SB_STATUS:-000}" = 000 ]; then
        SB_BODY="$(cat "$err")"
        SB_STATUS=000
    fi
    rm -f "$out" "$err"
    [[ $SB_STATUS == 2?? ]]
}

# sb_api_check WHAT METHOD PATH [JSON_BODY] — sb_api, dying with a message on failure.
sb_api_check() {
    local what=$1
    shift
    sb_api "$@" || sb_die "$what failed: HTTP $SB_STATUS ${SB_BODY:0:500}"
}

# sb_setup_api — fill SB_* from options/env (SPARKY_BROKER_*), read the admin secret.
sb_setup_api() {
    SB_MGMT_URL=${SB_MGMT_URL:-${SPARKY_BROKER_MGMT_URL:-}}
    SB_CACERT=${SB_CACERT:-${SPARKY_BROKER_CA:-}}
    SB_USER=${SB_USER:-${SPARKY_BROKER_ADMIN_USER:-sparky-admin}}
    SB_PASSWORD_FILE=${SB_PASSWORD_FILE:-${SPARKY_BROKER_ADMIN_PASSWORD_FILE:-}}
    SB_VHOST=${SB_VHOST:-${SPARKY_BROKER_VHOST:-sparky}}
    [ -n "$SB_MGMT_URL" ] || sb_die "no management URL (--mgmt-url or SPARKY_BROKER_MGMT_URL)"
    [[ $SB_MGMT_URL == https://* ]] || sb_die "management URL must be https://, got $SB_MGMT_URL"
    SB_MGMT_URL=${SB_MGMT_URL%/}
    [ -n "$SB_CACERT" ] || sb_die "no CA file (--cacert or SPARKY_BROKER_CA)"
    [ -r "$SB_CACERT" ] || sb_die "CA file $SB_CACERT is not readable"
    [ -n "$SB_PASSWORD_FILE" ] || sb_die "no admin password file (--admin-password-file or SPARKY_BROKER_ADMIN_PASSWORD_FILE)"
    SB_PASSWORD=$(sb_read_secret "$SB_PASSWORD_FILE") || exit 1
}
