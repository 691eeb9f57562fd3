#!/usr/bin/env bash
# bench/comm/run.sh — the figures of docs/SCALE.md: steps/s of `drift train --data fashion-mnist
# --preset quick` as 1 process x 2 threads, 2 MPI ranks x 1 thread and 1 process x 1 thread
# (median of the logged 10-step windows after the first), the share of a 2-rank step spent in the
# ranks' sums (drift train's closing line), and the gradient allreduce alone (bench_comm).
#   BUILD=build-mpi STEPS=60 bench/comm/run.sh
# Prints the load average before and after: figures from a shared machine must say so; and each
# run's CPU seconds (user + sys, all ranks and threads) per step, which a shared machine distorts less.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-mpi}
STEPS=${STEPS:-60}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 DRIFT_DATA_DIR=${DRIFT_DATA_DIR:-$PWD/data}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=(--data fashion-mnist --preset quick --steps "$STEPS" --eval-every -1 --sample-every 0 --ckpt-every 0 --log-every 10)
median() { /usr/bin/python3 -c "
import json, statistics, sys
r = [json.loads(l)['steps_per_s'] for l in open(sys.argv[1])][2:]   # windows after step 1 and 10
print('%.3f steps/s (median of %d windows: %s)' % (statistics.median(r), len(r), ' '.join('%.2f' % x for x in r)))" "$1"; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
TIMEFORMAT="  wall %R s, CPU %U s user + %S s sys for $STEPS steps (+ start-up and one checkpoint)"
time "$BUILD/drift" train "${args[@]}" --threads 2 --out "$out/a" --quiet
echo "1 process x 2 threads: $(median "$out/a/metrics.jsonl")"
time mpirun -np 2 --oversubscribe --bind-to none "$BUILD/drift" train "${args[@]}" --threads 1 --out "$out/b" 2> "$out/b.err"
echo "2 ranks x 1 thread:    $(median "$out/b/metrics.jsonl")"
grep "summing over them" "$out/b.err" || true
time "$BUILD/drift" train "${args[@]}" --threads 1 --out "$out/c" --quiet
echo "1 process x 1 thread:  $(median "$out/c/metrics.jsonl")"
mpirun -np 2 --oversubscribe --bind-to none "$BUILD/bench_comm" 705985 200
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
