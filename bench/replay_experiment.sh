#!/usr/bin/env bash
# Issue #5's replay experiment: does fine-tuning with replay keep the old classes' mAP50 (within
# 0.02 of its value before) where fine-tuning without replay loses more?
#
#   1. old data: `yoloop synth` (3 classes, shift 0); a yolov8n base trained on it from scratch.
#   2. new data: `yoloop synth shift=<shift>` (another seed), then only class `new_class` kept in the
#      label files: the other defects are still in the pictures but unlabelled, as when annotators
#      label only the class that needs work.
#   3. two fine-tunes of the base on the new data with the cycle's recipe (cli/cycle/workspace.h:
#      SGD, lr0 0.001, warm-up 1 epoch with bias lr = lr0, close_mosaic 0), the same epochs and seed:
#      with replay (replay=old data.yaml, replay_ratio 0.3) and without. As in the cycle, no
#      per-epoch validation picks a "best": the last weights are the result.
#   4. `yoloop val` of the base and both fine-tunes on an old-distribution test set (its own synth
#      seed, n_test images, never trained on: enough boxes per class that a 0.02 change means
#      something) and on the new validation set: per-class mAP50 before / after with replay / after
#      without replay.
#
#   bench/replay_experiment.sh [out=runs/replay_experiment] [n_old=300] [n_new=150] [n_test=400]
#                              [imgsz=128] [base_epochs=20] [ft_epochs=10] [batch=16] [shift=0.6]
#                              [new_class=2] [workers=2] [seed=0]
#
# Environment: BUILD_DIR (default build) holds yoloop. A step whose output exists in out/ is not
# redone (rerun after an interruption; delete out/ for a fresh run). Prints one table at the end
# and writes it to out/summary.txt.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
out=runs/replay_experiment n_old=300 n_new=150 n_test=400 imgsz=128 base_epochs=20 ft_epochs=10 batch=16 shift=0.6
new_class=2 workers=2 seed=0
for arg in "$@"; do
    case "$arg" in
        -h | --help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        out=* | n_old=* | n_new=* | n_test=* | imgsz=* | base_epochs=* | ft_epochs=* | batch=* | shift=* | new_class=* | \
            workers=* | seed=*) declare "${arg%%=*}=${arg#*=}" ;;
        *) echo "replay_experiment: unknown argument $arg" >&2; exit 2 ;;
    esac
done
case "$new_class" in 0 | 1 | 2) ;; *) echo "replay_experiment: new_class=$new_class: expected 0, 1 or 2" >&2; exit 2 ;; esac
yoloop=$build/yoloop
[ -x "$yoloop" ] || { echo "replay_experiment: $yoloop is missing (build it first)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
stamp() { echo "[$(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)] $*" >&2; }

# 1. old data and the base model
[ -f "$out/old/data.yaml" ] || "$yoloop" synth out="$out/old" n="$n_old" imgsz="$imgsz" seed="$seed" shift=0 >&2
base=$out/base/weights/best.safetensors
if [ ! -f "$base" ]; then
    rm -rf "$out/base"
    stamp "base: yolov8n from scratch, $base_epochs epochs"
    "$yoloop" train model=yolov8n.yaml data="$out/old/data.yaml" epochs="$base_epochs" imgsz="$imgsz" \
        batch="$batch" workers="$workers" seed="$seed" optimizer=SGD lr0=0.01 \
        close_mosaic=$(( base_epochs / 10 > 0 ? base_epochs / 10 : 1 )) project="$out" name=base >"$out/base.log" 2>&1 ||
        { tail -20 "$out/base.log" >&2; exit 1; }
fi

# 2. new data: shifted distribution, only new_class labelled (train and val)
if [ ! -f "$out/new/data.yaml" ]; then
    rm -rf "$out/new"
    "$yoloop" synth out="$out/new" n="$n_new" imgsz="$imgsz" seed=$(( seed + 1 )) shift="$shift" >&2
    for f in "$out"/new/labels/*/*.txt; do
        awk -v c="$new_class" '$1 == c' "$f" >"$f.keep" && mv "$f.keep" "$f"
    done
fi

# 3. the two fine-tunes, identical but for the replay
recipe="epochs=$ft_epochs imgsz=$imgsz batch=$batch workers=$workers seed=$seed optimizer=SGD lr0=0.001 lrf=0.01
        warmup_epochs=1 warmup_bias_lr=0.001 close_mosaic=0"
finetune() {  # name, extra arguments...
    local name=$1
    shift
    [ -f "$out/$name/weights/last.safetensors" ] && return 0
    rm -rf "${out:?}/$name"
    stamp "fine-tune $name: $*"
    "$yoloop" train model="$base" data="$out/new/data.yaml" $recipe val=false "$@" project="$out" name="$name" \
        >"$out/$name.log" 2>&1 || { tail -20 "$out/$name.log" >&2; exit 1; }
}
finetune ft_replay replay="$out/old/data.yaml" replay_ratio=0.3
finetune ft_noreplay

# 4. validation on the old and the new validation sets
validate() {  # model, data, log
    [ -s "$3" ] && grep -q "^ *all " "$3" && return 0
    "$yoloop" val model="$1" data="$2" imgsz="$imgsz" batch="$batch" workers="$workers" >"$3" 2>&1 ||
        { tail -20 "$3" >&2; exit 1; }
}
# the old-distribution test set: another seed, nearly all of it in its val split
[ -f "$out/old_test/data.yaml" ] ||
    "$yoloop" synth out="$out/old_test" n="$n_test" imgsz="$imgsz" seed=$(( seed + 2 )) shift=0 val_fraction=0.95 >&2
for m in base ft_replay ft_noreplay; do
    stamp "val $m"
    weights=$out/$m/weights/last.safetensors
    [ "$m" = base ] && weights=$base
    validate "$weights" "$out/old_test/data.yaml" "$out/val_old_$m.log"
    validate "$weights" "$out/new/data.yaml" "$out/val_new_$m.log"
done

# mAP50 (the 6th number of a table row) of a class row in a val log; "-" when absent
map50() { awk -v name="$2" '$1 == name && NF == 7 { v = $6 } END { print (v == "" ? "-" : v) }' "$1"; }
names=$(awk '/^ *[0-9]+: / { gsub(/"/, "", $2); printf "%s ", $2 }' "$out/old/data.yaml")
{
    echo "replay experiment: n_old=$n_old n_new=$n_new n_test=$n_test imgsz=$imgsz base_epochs=$base_epochs ft_epochs=$ft_epochs" \
        "batch=$batch shift=$shift new_class=$new_class seed=$seed"
    echo "mAP50 on the OLD-distribution test set (shift 0, all classes labelled, $(awk '$1 == "all" && NF == 7 { print $2 " images, " $3 " boxes" }' "$out/val_old_base.log"))"
    printf '%-14s %10s %12s %14s %12s %14s\n' class before "with replay" "without replay" "delta replay" "delta no-repl"
    for c in all $names; do
        b=$(map50 "$out/val_old_base.log" "$c")
        r=$(map50 "$out/val_old_ft_replay.log" "$c")
        n=$(map50 "$out/val_old_ft_noreplay.log" "$c")
        printf '%-14s %10s %12s %14s %12s %14s\n' "$c" "$b" "$r" "$n" \
            "$(awk -v a="$r" -v b="$b" 'BEGIN { printf "%+.3f", a - b }')" \
            "$(awk -v a="$n" -v b="$b" 'BEGIN { printf "%+.3f", a - b }')"
    done
    c=$(echo $names | cut -d' ' -f$(( new_class + 1 )))
    echo "mAP50 of the new class ($c) on the NEW validation set (shift $shift):" \
        "before $(map50 "$out/val_new_base.log" all), with replay $(map50 "$out/val_new_ft_replay.log" all)," \
        "without replay $(map50 "$out/val_new_ft_noreplay.log" all)"
} | tee "$out/summary.txt"
