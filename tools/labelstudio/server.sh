#!/usr/bin/env bash
# A throw-away Label Studio for integration tests (spec label_studio.md §7).
#
#   server.sh install <venv>                 python venv with label-studio 1.23.*; reused when it
#                                             already imports. Exit 3: PyPI could not be reached.
#   server.sh start <venv> <datadir> [port]   fresh data dir (a copy of <venv>/ls-template, a
#                                             migrated database made on first use), admin user,
#                                             preset legacy token; port 0 or none: a free one.
#                                             Waits for /health and for the token to work.
#                                             Writes in <datadir>: url, token (mode 600),
#                                             server.pid, server.log, start_seconds.
#   server.sh stop <datadir>                  kills the server and its children; always exit 0.
#
# Environment (optional): LS_USERNAME, LS_PASSWORD, LS_TOKEN (6..40 chars), LS_START_TIMEOUT (s,
# default 300), LS_PYTHON (python for the venv, default python3).
set -uo pipefail

LS_VERSION_SPEC='label-studio==1.23.*'
die() { echo "server.sh: $*" >&2; exit 1; }

ls_importable() { [ -x "$1/bin/python" ] && "$1/bin/python" -c 'import label_studio' >/dev/null 2>&1 && [ -x "$1/bin/label-studio" ]; }

cmd_install() {
    local venv=$1
    if ls_importable "$venv"; then echo "server.sh: reusing $venv"; return 0; fi
    rm -rf "$venv"
    "${LS_PYTHON:-python3}" -m venv "$venv" || die "cannot create venv $venv"
    local log="$venv.pip.log"
    # pip retries for minutes on a dead network; a short timeout and few retries fail fast.
    if ! "$venv/bin/pip" install --retries 2 --timeout 30 "$LS_VERSION_SPEC" >"$log" 2>&1; then
        tail -20 "$log" >&2
        if grep -qE 'NewConnectionError|Temporary failure in name resolution|Name or service not known|Network is unreachable|Connection refused|ConnectTimeout|ReadTimeout|Max retries exceeded|No matching distribution found|Could not find a version' "$log"; then
            rm -rf "$venv"
            echo "server.sh: PyPI could not be reached (see $log)" >&2
            exit 3
        fi
        die "pip install $LS_VERSION_SPEC failed (see $log)"
    fi
    ls_importable "$venv" || die "label_studio does not import after install (see $log)"
    echo "server.sh: installed $("$venv/bin/python" -c 'import label_studio; print(label_studio.__version__)') in $venv"
}

# get_env() also reads unprefixed names (HOST, PORT, USERNAME, ...): clear the strays. The
# legacy-token switch only counts when the organization is created (the first start on a database).
# 1.23 refuses loopback addresses by default: ML_BLOCK_LOCAL_IP for POST /api/ml/ and its requests
# to the backend, SSRF_PROTECTION_ENABLED for webhooks (the one made for a backend included); the
# tests run the ML backend on 127.0.0.1.
LS_ENV=(-u HOST -u PORT -u USERNAME -u PASSWORD -u DEBUG -u USER_TOKEN -u LABEL_STUDIO_HOST
    LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true
    LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false SENTRY_DSN= FRONTEND_SENTRY_DSN= SENTRY_RATE=0
    LOCAL_FILES_SERVING_ENABLED=false DJANGO_DB=sqlite
    ML_BLOCK_LOCAL_IP=false SSRF_PROTECTION_ENABLED=false)

# The migration chain takes 30-110 s on 2 cores; a start on a copy of a migrated database takes
# ~10 s. `label-studio version` migrates without creating a user or an organization, so each
# copy still gets its own at start. Kept inside the venv: a reinstall drops it with the venv.
migrated_template() {
    local venv=$1 template="$1/ls-template"
    [ -f "$template/label_studio.sqlite3" ] && return 0
    local tmp="$venv/ls-template.tmp.$$"
    rm -rf "$tmp" && mkdir -p "$tmp" || return 1
    if ! (cd "$tmp" && timeout "${LS_START_TIMEOUT:-300}" env "${LS_ENV[@]}" LABEL_STUDIO_BASE_DATA_DIR="$tmp" \
            "$venv/bin/label-studio" version --data-dir "$tmp") >"$venv/ls-template.log" 2>&1 </dev/null ||
        [ ! -f "$tmp/label_studio.sqlite3" ]; then
        rm -rf "$tmp"
        return 1
    fi
    rm -rf "${tmp:?}/export" "${tmp:?}/media" "${tmp:?}/test_data"
    mv -T "$tmp" "$template" 2>/dev/null || rm -rf "$tmp"  # another run may have won the race
    [ -f "$template/label_studio.sqlite3" ]
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_in_use() {
    python3 -c 'import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(("127.0.0.1",int(sys.argv[1])))==0 else 1)' "$1"
}

cmd_start() {
    local venv=$1 data=$2 port=${3:-0}
    ls_importable "$venv" || die "no label-studio in $venv (run: server.sh install $venv)"
    venv=$(cd "$venv" && pwd)  # the server starts from inside the data dir
    [ -e "$data/server.pid" ] && cmd_stop "$data"
    [ -n "$data" ] && [ "$data" != / ] || die "bad data dir '$data'"
    rm -rf "$data"
    mkdir -p "$data" || die "cannot create $data"
    data=$(cd "$data" && pwd)
    [ "$port" = 0 ] && port=$(free_port)
    # Label Studio silently moves to port+1 when the port is busy: refuse instead.
    port_in_use "$port" && die "port $port is already in use"

    local user=${LS_USERNAME:-ci@example.com} pass=${LS_PASSWORD:-ci-password-123}
    local token=${LS_TOKEN:-0123456789abcdef0123456789abcdef01234567}
    (umask 077 && printf '%s' "$token" >"$data/token")
    echo "http://127.0.0.1:$port" >"$data/url"

    local t0; t0=$(date +%s.%N)
    migrated_template "$venv" || die "label-studio could not migrate a database (see $venv/ls-template.log)"
    cp -a "$venv/ls-template/." "$data/" || die "cannot copy the migrated database into $data"
    local t_migrated; t_migrated=$(date +%s.%N)
    (
        cd "$data" || exit 1  # no mydata/ or label-studio-data/ here to auto-enable local files
        exec env "${LS_ENV[@]}" LABEL_STUDIO_BASE_DATA_DIR="$data" \
            LABEL_STUDIO_USERNAME="$user" LABEL_STUDIO_PASSWORD="$pass" LABEL_STUDIO_USER_TOKEN="$token" \
            setsid "$venv/bin/label-studio" start --no-browser --internal-host 127.0.0.1 --port "$port" \
            --data-dir "$data" --username "$user" --password "$pass" --user-token "$token" \
            --enable-legacy-api-token
    ) >"$data/server.log" 2>&1 </dev/null &
    echo $! >"$data/server.pid"

    local budget=${LS_START_TIMEOUT:-300} pid; pid=$(cat "$data/server.pid")
    local deadline=$(( $(date +%s) + budget ))
    while :; do
        if curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -30 "$data/server.log" >&2; die "label-studio exited before answering /health"
        fi
        if grep -q 'Trying to start at' "$data/server.log"; then
            cmd_stop "$data"; die "label-studio moved off port $port (busy)"
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            tail -30 "$data/server.log" >&2; cmd_stop "$data"; die "no /health on port $port within ${budget}s"
        fi
        sleep 1
    done
    # /health answers before the user exists on some paths: wait for the token to be accepted.
    while ! curl -fsS -m 5 -H "Authorization: Token $token" "http://127.0.0.1:$port/api/projects/" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then cmd_stop "$data"; die "token not accepted on port $port"; fi
        sleep 1
    done
    local t1; t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' >"$data/start_seconds"
    echo "server.sh: Label Studio up at http://127.0.0.1:$port in $(cat "$data/start_seconds") s" \
        "($(awk -v a="$t0" -v b="$t_migrated" 'BEGIN { printf "%.1f", b - a }') s of it migrating; pid $pid)"
}

cmd_stop() {
    local data=$1 pid
    [ -f "$data/server.pid" ] || return 0
    pid=$(cat "$data/server.pid")
    rm -f "$data/server.pid"
    [ -n "$pid" ] || return 0
    # setsid made the server a process-group leader: signal the whole group (its children too).
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 -- "-$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null
    return 0
}

case "${1:-}" in
    install) [ $# -eq 2 ] || die "usage: server.sh install <venv>"; cmd_install "$2" ;;
    start) [ $# -ge 3 ] && [ $# -le 4 ] || die "usage: server.sh start <venv> <datadir> [port]"; cmd_start "$2" "$3" "${4:-0}" ;;
    stop) [ $# -eq 2 ] || die "usage: server.sh stop <datadir>"; cmd_stop "$2" ;;
    *) die "usage: server.sh install|start|stop ..." ;;
esac
