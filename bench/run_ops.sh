#!/usr/bin/env bash
# Runs the yoloop op benchmark and its PyTorch twin with the same arguments, one after the
# other, and prints one side-by-side table (ratio = torch ms / yoloop ms: > 1 means yoloop is
# faster). Arguments are those of bench_ops, e.g.
#
#   bench/run_ops.sh batch=16 imgsz=640 reps=5 threads=2 device=cpu filter=conv2d
#
# Environment: BUILD_DIR (default: build) is configured if needed and bench_ops built in it;
# PYTHON (default: /usr/bin/python3) is the interpreter that has torch.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
python=${PYTHON:-/usr/bin/python3}

for arg in "$@"; do
    case "$arg" in
        -h | --help)
            awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
            exit 0
            ;;
    esac
done

source "$root/bench/build_bench.sh"
build_bench run_ops "$build" "$root" bench_ops

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# csv=1 comes last so it wins over any csv= the caller passed.
"$build/bench_ops" "$@" csv=1 >"$work/yoloop.csv"

have_torch=0
if [ -x "$python" ] && "$python" -c 'import torch' 2>/dev/null; then
    have_torch=1
    "$python" "$root/bench/torch_ops.py" "$@" csv=1 >"$work/torch.csv"
else
    echo "run_ops: PyTorch is not installed for $python; printing yoloop figures alone" >&2
    : >"$work/torch.csv"
fi

awk -F, -v have_torch="$have_torch" '
    function fmt_ms(v) { return v == "" ? "n/a" : sprintf("%.3f", v) }
    function fmt_rate(v) { return v == "" ? "n/a" : sprintf("%.2f", v) }
    /^#/ { if (FILENAME == ARGV[1]) torch_settings = $0; else yoloop_settings = $0; next }
    $1 == "device" { next }
    FILENAME == ARGV[1] {
        key = $1 SUBSEP $2 SUBSEP $3
        torch_ms[key] = $5; torch_rate[key] = $6; torch_shape[key] = $4
        if ($8 != "ok") torch_note[key] = $8
        next
    }
    {
        key = $1 SUBSEP $2 SUBSEP $3
        rows++
        if (rows == 1) {
            sub(/^# /, "", yoloop_settings); print yoloop_settings
            if (have_torch) { sub(/^# /, "", torch_settings); print torch_settings }
            if (have_torch) print "ratio = torch ms / yoloop ms (> 1: yoloop faster); rates in each row'"'"'s unit"
            print ""
            if (have_torch)
                printf "%-4s %-20s %-10s %-36s %10s %10s %7s %10s %10s %s\n", "dev", "op", "dir", "shape",
                       "yoloop ms", "torch ms", "ratio", "yoloop", "torch", "unit"
            else
                printf "%-4s %-20s %-10s %-36s %10s %10s %s\n", "dev", "op", "dir", "shape", "yoloop ms",
                       "yoloop", "unit"
        }
        if ($8 != "ok") notes[++note_count] = "yoloop " $1 " " $2 " " $3 ": " $8
        if (!have_torch) {
            printf "%-4s %-20s %-10s %-36s %10s %10s %s\n", $1, $2, $3, $4, fmt_ms($5), fmt_rate($6), $7
            next
        }
        t = (key in torch_ms) ? torch_ms[key] : ""
        if (key in torch_note) notes[++note_count] = "torch " $1 " " $2 " " $3 ": " torch_note[key]
        if ((key in torch_shape) && torch_shape[key] != $4)
            notes[++note_count] = "SHAPE MISMATCH " $2 " " $3 ": yoloop " $4 " vs torch " torch_shape[key]
        ratio = "n/a"
        if ($5 != "" && t != "" && $5 > 0) {
            r = t / $5; ratio = sprintf("%.2f", r)
            log_sum += log(r); ratio_count++
            if (r >= 1) faster++
        }
        printf "%-4s %-20s %-10s %-36s %10s %10s %7s %10s %10s %s\n", $1, $2, $3, $4, fmt_ms($5), fmt_ms(t),
               ratio, fmt_rate($6), fmt_rate(t == "" ? "" : torch_rate[key]), $7
        if ($5 != "") yoloop_total += $5
        if (t != "") torch_total += t
    }
    END {
        if (rows == 0) { print "run_ops: bench_ops produced no rows (check filter=)"; exit 1 }
        if (ratio_count > 0) {
            printf "\n%d rows compared: yoloop faster in %d; geometric mean of ratios %.2f; " \
                   "summed ms yoloop %.1f, torch %.1f\n", ratio_count, faster, exp(log_sum / ratio_count),
                   yoloop_total, torch_total
        }
        for (i = 1; i <= note_count; i++) print "note: " notes[i]
    }
' "$work/torch.csv" "$work/yoloop.csv"
