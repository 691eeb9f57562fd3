#!/bin/sh
# bench/train_step/run.sh — one training step of the conv generator (forward, backward from
# a given dL/dx, grad clipping, AdamW), drift against the same network in PyTorch, measured
# in the same run, alternating per batch size so both see the same machine load.
#
#   bench/train_step/run.sh                      # batches 256 and 640, 2 threads, 10 steps
#   BATCH=640 THREADS=1 STEPS=20 bench/train_step/run.sh
#   BUILD_DIR=build-foo bench/train_step/run.sh  # build directory (default: build)
#   MODEL=dit-t BATCH=320 bench/train_step/run.sh # the DiT (dit-t | dit-s; PATCH=7 for patch 7)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$root/build}
case $build in /*) ;; *) build=$root/$build ;; esac
threads=${THREADS:-2}
steps=${STEPS:-10}
python=${DRIFT_PYTHON:-/usr/bin/python3}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target bench_train_step >/dev/null

model=${MODEL:-conv}
patch=${PATCH:-0}
if [ "$model" = conv ]; then
    echo "train step, conv generator (widths 64,32, 10 classes + alpha), $threads threads, median of $steps steps"
else
    echo "train step, $model generator (patch ${PATCH:-default}, 10 classes + alpha), $threads threads, median of $steps steps"
fi
for b in $(echo "${BATCH:-256,640}" | tr ',' ' '); do
    d=$("$build/bench_train_step" --batch "$b" --steps "$steps" --threads "$threads" --model "$model" --patch "$patch")
    t=$(OMP_NUM_THREADS=$threads "$python" "$here/peer.py" --batch "$b" --steps "$steps" --threads "$threads" --model "$model" --patch "$patch")
    echo "$d"
    echo "$t"
    echo "$d
$t" | awk -v b="$b" '
        { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[$1, kv[1]] = kv[2] } }
        END {
            if (v["drift", "params"] != v["torch", "params"])
                printf "WARNING: parameter counts differ (%s vs %s)\n", v["drift", "params"], v["torch", "params"]
            printf "batch=%s  drift %.1f ms  torch %.1f ms  speedup %.2fx  (CPU time per step: drift %.1f ms  torch %.1f ms  ratio %.2fx)\n", b,
                   v["drift", "median_ms"], v["torch", "median_ms"], v["torch", "median_ms"] / v["drift", "median_ms"],
                   v["drift", "cpu_ms"], v["torch", "cpu_ms"], v["torch", "cpu_ms"] / v["drift", "cpu_ms"]
        }'
done
