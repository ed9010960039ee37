#!/usr/bin/env bash
# Issue #5's replay experiment: does fine-tuning with replay keep the old classes' mAP50 (within
# 0.02 of its value before) where fine-tuning without replay loses more?
#
#   1. old data: `yoloop synth` (3 classes, shift 0); a yolov8n base trained on it from scratch.
#   2. new data: `yoloop synth shift=<shift>` (another seed) holding only class `new_class`, in one
#      of two designs (`old_objects=`):
#        unlabelled: n_new images, only new_class kept in the label files: the other defects are
#                    still in the pictures but unlabelled, as when annotators label only the class
#                    that needs work (the new data says "old class = background");
#        absent:     4 x n_new images synthesised, and only those without any old-class object kept
#                    (new_class objects or background only): class-incremental data, where the old
#                    classes are forgotten only for lack of examples.
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
#                              [new_class=2] [old_objects=unlabelled|absent] [workers=2] [seed=0]
#
# Environment: BUILD_DIR (default build) holds yoloop. A step whose output exists in out/ is not
# redone (rerun after an interruption; delete out/ for a fresh run). Prints one table at the end
# and writes it to out/summary_<old_objects>.txt. The base and the old test set are shared by both
# designs: run the script twice on the same out/, once per old_objects.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
out=runs/replay_experiment n_old=300 n_new=150 n_test=400 imgsz=128 base_epochs=20 ft_epochs=10 batch=16 shift=0.6
new_class=2 old_objects=unlabelled workers=2 seed=0
for arg in "$@"; do
    case "$arg" in
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        out=* | n_old=* | n_new=* | n_test=* | imgsz=* | base_epochs=* | ft_epochs=* | batch=* | shift=* | new_class=* | \
            old_objects=* | workers=* | seed=*) declare "${arg%%=*}=${arg#*=}" ;;
        *) echo "replay_experiment: unknown argument $arg" >&2; exit 2 ;;
    esac
done
case "$new_class" in 0 | 1 | 2) ;; *) echo "replay_experiment: new_class=$new_class: expected 0, 1 or 2" >&2; exit 2 ;; esac
case "$old_objects" in unlabelled | absent) ;;
    *) echo "replay_experiment: old_objects=$old_objects: expected unlabelled or absent" >&2; exit 2 ;; esac
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

# 2. new data: shifted distribution, only new_class labelled (train and val); one folder per design
new=$out/new_$old_objects
if [ ! -f "$new/data.yaml" ]; then
    rm -rf "$new"
    if [ "$old_objects" = unlabelled ]; then
        "$yoloop" synth out="$new" n="$n_new" imgsz="$imgsz" seed=$(( seed + 1 )) shift="$shift" >&2
        for f in "$new"/labels/*/*.txt; do
            awk -v c="$new_class" '$1 == c' "$f" >"$f.keep" && mv "$f.keep" "$f"
        done
    else
        "$yoloop" synth out="$new" n=$(( 4 * n_new )) imgsz="$imgsz" seed=$(( seed + 1 )) shift="$shift" >&2
        for f in "$new"/labels/*/*.txt; do
            if awk -v c="$new_class" '$1 != c { found = 1 } END { exit !found }' "$f"; then
                split=$(basename "$(dirname "$f")")
                stem=$(basename "${f%.txt}")
                rm -f "$f" "$new/images/$split/$stem".*
            fi
        done
    fi
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
    "$yoloop" train model="$base" data="$new/data.yaml" $recipe val=false "$@" project="$out" name="$name" \
        >"$out/$name.log" 2>&1 || { tail -20 "$out/$name.log" >&2; exit 1; }
}
finetune "ft_replay_$old_objects" replay="$out/old/data.yaml" replay_ratio=0.3
finetune "ft_noreplay_$old_objects"

# 4. validation on the old and the new validation sets
validate() {  # model, data, log
    [ -s "$3" ] && grep -q "^ *all " "$3" && return 0
    "$yoloop" val model="$1" data="$2" imgsz="$imgsz" batch="$batch" workers="$workers" >"$3" 2>&1 ||
        { tail -20 "$3" >&2; exit 1; }
}
# the old-distribution test set: another seed, nearly all of it in its val split
[ -f "$out/old_test/data.yaml" ] ||
    "$yoloop" synth out="$out/old_test" n="$n_test" imgsz="$imgsz" seed=$(( seed + 2 )) shift=0 val_fraction=0.95 >&2
validate "$base" "$out/old_test/data.yaml" "$out/val_old_base.log"
validate "$base" "$new/data.yaml" "$out/val_new_base_$old_objects.log"
for m in "ft_replay_$old_objects" "ft_noreplay_$old_objects"; do
    stamp "val $m"
    validate "$out/$m/weights/last.safetensors" "$out/old_test/data.yaml" "$out/val_old_$m.log"
    validate "$out/$m/weights/last.safetensors" "$new/data.yaml" "$out/val_new_$m.log"
done

# mAP50 (the 6th number of a table row) of a class row in a val log; "-" when absent
map50() { awk -v name="$2" '$1 == name && NF == 7 { v = $6 } END { print (v == "" ? "-" : v) }' "$1"; }
names=$(awk '/^ *[0-9]+: / { gsub(/"/, "", $2); printf "%s ", $2 }' "$out/old/data.yaml")
{
    echo "replay experiment: n_old=$n_old n_new=$n_new n_test=$n_test imgsz=$imgsz base_epochs=$base_epochs ft_epochs=$ft_epochs" \
        "batch=$batch shift=$shift new_class=$new_class old_objects=$old_objects seed=$seed"
    echo "new data: $(find "$new/images/train" -type f | wc -l) train and $(find "$new/images/val" -type f | wc -l) val images," \
        "$(cat "$new"/labels/train/*.txt | wc -l) train boxes"
    echo "mAP50 on the OLD-distribution test set (shift 0, all classes labelled, $(awk '$1 == "all" && NF == 7 { print $2 " images, " $3 " boxes" }' "$out/val_old_base.log"))"
    printf '%-14s %10s %12s %14s %12s %14s\n' class before "with replay" "without replay" "delta replay" "delta no-repl"
    for c in all $names; do
        b=$(map50 "$out/val_old_base.log" "$c")
        r=$(map50 "$out/val_old_ft_replay_$old_objects.log" "$c")
        n=$(map50 "$out/val_old_ft_noreplay_$old_objects.log" "$c")
        printf '%-14s %10s %12s %14s %12s %14s\n' "$c" "$b" "$r" "$n" \
            "$(awk -v a="$r" -v b="$b" 'BEGIN { printf "%+.3f", a - b }')" \
            "$(awk -v a="$n" -v b="$b" 'BEGIN { printf "%+.3f", a - b }')"
    done
    c=$(echo $names | cut -d' ' -f$(( new_class + 1 )))
    echo "mAP50 of the new class ($c) on the NEW validation set (shift $shift):" \
        "before $(map50 "$out/val_new_base_$old_objects.log" all)," \
        "with replay $(map50 "$out/val_new_ft_replay_$old_objects.log" all)," \
        "without replay $(map50 "$out/val_new_ft_noreplay_$old_objects.log" all)"
} | tee "$out/summary_$old_objects.txt"
