#!/usr/bin/env bash
# ctest "ls_real": the Label Studio client and `yoloop init` / `yoloop cycle` (issue #6), then
# `yoloop serve` as the project's ML backend, `yoloop push` and `yoloop rank` (issue #7) against a
# REAL Label Studio 1.23 (spec label_studio.md §7).
#   run.sh <yoloop binary> <ls_real_client binary> <build dir>
# Label Studio is pip-installed into <build dir>/labelstudio-venv (reused when present; ~1 GB,
# ~90 s) or $YOLOOP_LS_VENV. No PyPI: "SKIPPED" and exit 77. YOLOOP_SKIP_LS_REAL=1 skips too.
# One server start (a fresh data dir: the first start migrates the database) serves every check;
# it is stopped at the end whatever happens, even when this script is killed; so is the ML backend
# (`yoloop serve`, whose pid the client writes into <work>/cycle/serve.pid).
set -uo pipefail
if [ $# -ne 3 ]; then echo "usage: run.sh <yoloop> <ls_real_client> <build dir>" >&2; exit 2; fi
yoloop=$1 client=$2 build=$3
server="$(cd "$(dirname "$0")/../.." && pwd)/tools/labelstudio/server.sh"

if [ "${YOLOOP_SKIP_LS_REAL:-0}" = 1 ]; then echo "SKIPPED: YOLOOP_SKIP_LS_REAL=1"; exit 77; fi
if ! command -v python3 >/dev/null || ! command -v curl >/dev/null; then
    echo "SKIPPED: python3 and curl are needed to run Label Studio"; exit 77
fi

venv=${YOLOOP_LS_VENV:-$build/labelstudio-venv}
t0=$(date +%s)
bash "$server" install "$venv"
rc=$?
if [ $rc -eq 3 ]; then echo "SKIPPED: label-studio could not be installed: PyPI is not reachable"; exit 77; fi
if [ $rc -ne 0 ]; then echo "FAIL: installing label-studio into $venv (exit $rc)"; exit 1; fi
echo "ls_real: venv ready in $(( $(date +%s) - t0 )) s ($(du -sh "$venv" 2>/dev/null | cut -f1))"

work=$(mktemp -d "${TMPDIR:-/tmp}/yoloop-ls-real-XXXXXX") || exit 1
data=$work/ls
failed=0
# Kills the ML backend's process group (the server and any cycle it started).
stop_backend() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 0
    [ -n "$pid" ] || return 0
    kill -TERM -- "-$pid" 2>/dev/null
    sleep 1
    kill -KILL -- "-$pid" 2>/dev/null
    rm -f "$1"
    return 0
}
finish() {
    stop_backend "$work/cycle/serve.pid"
    bash "$server" stop "$data"
    if [ $failed -eq 0 ]; then rm -rf "$work"; else echo "ls_real: kept $work for inspection"; fi
}
trap finish EXIT
trap 'failed=1; exit 1' INT TERM
# When this script is killed outright (ctest's timeout), a detached watchdog still stops the server.
setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 2; done
    p=$(cat "$4" 2>/dev/null) && [ -n "$p" ] && kill -KILL -- "-$p" 2>/dev/null
    bash "$2" stop "$3"' watchdog $$ "$server" "$data" "$work/cycle/serve.pid" </dev/null >/dev/null 2>&1 &

if ! bash "$server" start "$venv" "$data" 0; then
    failed=1
    echo "FAIL: Label Studio did not start (log: $data/server.log)"
    exit 1
fi
url=$(cat "$data/url")

mkdir -p "$work/client" "$work/cycle"
echo "ls_real: client checks against $url"
"$client" checks "$url" "$data/token" "$data" "$work/client" || failed=1
echo "ls_real: yoloop init + cycle against $url"
"$client" cycle "$url" "$data/token" "$yoloop" "$work/cycle" || failed=1
echo "ls_real: yoloop serve (ML backend), push and rank against $url"
t_backend=$(date +%s)
"$client" backend "$url" "$data/token" "$yoloop" "$work/cycle" || failed=1
echo "ls_real: backend, push and rank part took $(( $(date +%s) - t_backend )) s"

if [ $failed -ne 0 ]; then
    echo "--- Label Studio log (last 40 lines) ---"
    tail -40 "$data/server.log"
    if [ -f "$work/cycle/serve.log" ]; then
        echo "--- yoloop serve log (last 20 lines) ---"
        tail -20 "$work/cycle/serve.log"
    fi
    echo "FAIL: ls_real"
    exit 1
fi
echo "ls_real: passed (Label Studio start $(cat "$data/start_seconds") s, total $(( $(date +%s) - t0 )) s)"
exit 0
