#!/usr/bin/env bash
# bench/field/run.sh — the drift-field engine against a PyTorch CPU implementation of Deng et
# al.'s Algorithm 2, in the same run, at the sizes of the issue. Not a test.
#
#   bench/field/run.sh                 # build dir: build-bench (Release), 5 repeats
#   BUILD=build REPEATS=9 bench/field/run.sh
#
# Prints a markdown table: medians of REPEATS calls (after a warm-up call) for our engine
# (bench_field) and for torch (peer.py), both on THREADS threads (default 2); the ratio
# torch/ours; our GEMM-flop rate (bench_field says what it counts) and the machine's SGEMM
# rate (cblas_sgemm 2048³ on the same threads); and the max relative difference of the two
# fields. Check `uptime` first: the numbers mean little on a busy machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-bench}
REPEATS=${REPEATS:-5}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
SIZES=${SIZES:-"512,512,784 1024,1024,784 4096,4096,2 256,256,16384"}

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release > /dev/null
fi
cmake --build "$BUILD" -j2 --target bench_field > /dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "load before: $(uptime | sed 's/.*load average: //')"
sgemm_line=$("$BUILD/bench_field" --sgemm --threads "$THREADS")
sgemm=$(sed -n 's/.*sgemm_gflops=\([0-9.]*\).*/\1/p' <<< "$sgemm_line")
echo "SGEMM 2048^3 on $THREADS threads: $sgemm GFLOP/s"
echo
echo "| N | P | D | ours ms | torch ms | torch/ours | ours GFLOP/s | ours/SGEMM | max rel diff V |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  IFS=, read -r n p d <<< "$size"
  ours=$("$BUILD/bench_field" --n "$n" --p "$p" --d "$d" --repeats "$REPEATS" --threads "$THREADS" --out "$tmp")
  peer=$("$PYTHON" bench/field/peer.py "$tmp" --repeats "$REPEATS" --threads "$THREADS")
  ms=$(sed -n 's/.* ms=\([0-9.]*\).*/\1/p' <<< "$ours")
  gf=$(sed -n 's/.*gflops=\([0-9.]*\).*/\1/p' <<< "$ours")
  tms=$(sed -n 's/.*torch_ms=\([0-9.]*\).*/\1/p' <<< "$peer")
  rel=$(sed -n 's/.*max_rel_diff=\([0-9.e+-]*\).*/\1/p' <<< "$peer")
  awk -v n="$n" -v p="$p" -v d="$d" -v ms="$ms" -v tms="$tms" -v gf="$gf" -v sg="$sgemm" -v rel="$rel" \
    'BEGIN { printf "| %d | %d | %d | %.1f | %.1f | %.1fx | %.1f | %.0f%% | %s |\n", n, p, d, ms, tms, tms / ms, gf, 100 * gf / sg, rel }'
done
echo
echo "load after: $(uptime | sed 's/.*load average: //')"
