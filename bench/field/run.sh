#!/usr/bin/env bash
# bench/field/run.sh — the drift-field engine against a PyTorch CPU implementation of Deng et
# al.'s Algorithm 2, in the same run, at the sizes of the issue. Not a test.
#
#   bench/field/run.sh                 # build dir: build-bench (Release), 5 repeats
#   BUILD=build REPEATS=9 bench/field/run.sh
#
# Prints a markdown table: medians of REPEATS calls (after a warm-up call) for our engine
# (bench_field) and for torch (peer.py), both on THREADS threads (default 2); the ratio
# torch/ours; our GEMM-flop rate (bench_field says what it counts) against the best SGEMM rate
# this machine offers (cblas_sgemm 2048³ on the same threads under every OpenBLAS kernel the
# CPU runs, measured before and after the table; the field runs on the kernel the drift command
# would run: OpenBLAS's choice, or drift's when OpenBLAS fell back, drift/blas.h); the GEMM
# lower bound at that rate; and the max relative difference of the two fields. Check `uptime`
# first: the numbers mean little on a busy machine.
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

rows=()
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "load before: $(uptime | sed 's/.*load average: //')"
# The kernel the drift command would run (it restarts itself when OpenBLAS fell back).
IFS=' ' read -r kernel_kv rec_kv cand_kv <<< "$("$BUILD/bench_field" --kernels)"
recommended=${rec_kv#recommended=}
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ -n "$recommended" ]; then
  export OPENBLAS_CORETYPE=$recommended
fi
# The best SGEMM among every kernel this CPU runs (the chosen one included).
best=0
best_kernel=
sgemm_all=()
sgemm_probe() {
  local k line rate kern
  local cands=${cand_kv#candidates=}
  for k in "" ${cands//,/ }; do
    line=$(if [ -n "$k" ]; then OPENBLAS_CORETYPE=$k "$BUILD/bench_field" --sgemm --threads "$THREADS"; \
           else "$BUILD/bench_field" --sgemm --threads "$THREADS"; fi)
    rate=$(sed -n 's/.*sgemm_gflops=\([0-9.]*\).*/\1/p' <<< "$line")
    kern=$(sed -n 's/.*kernel=\([A-Za-z0-9_]*\).*/\1/p' <<< "$line")
    [ -n "$k" ] || chosen_rates+=("$rate")
    sgemm_all+=("${k:-chosen}:$kern=$rate")
    if awk -v a="$rate" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$rate; best_kernel=$kern; fi
  done
}
chosen_rates=()
sgemm_probe
chosen_kernel=$("$BUILD/bench_field" --kernels | sed -n 's/^kernel=\([A-Za-z0-9_]*\).*/\1/p')
echo "kernel: $chosen_kernel (OpenBLAS: ${kernel_kv#kernel=}; drift: ${recommended:-keeps it}); SGEMM 2048^3 on $THREADS threads: ${sgemm_all[*]}"
echo
echo "| N | P | D | ours ms | torch ms | torch/ours | ours GFLOP/s | GEMM bound ms | ours/best SGEMM | max rel diff V |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
  IFS=, read -r n p d <<< "$size"
  ours=$("$BUILD/bench_field" --n "$n" --p "$p" --d "$d" --repeats "$REPEATS" --threads "$THREADS" --out "$tmp")
  peer=$("$PYTHON" bench/field/peer.py "$tmp" --repeats "$REPEATS" --threads "$THREADS")
  ms=$(sed -n 's/.* ms=\([0-9.]*\).*/\1/p' <<< "$ours")
  gf=$(sed -n 's/.*gflops=\([0-9.]*\).*/\1/p' <<< "$ours")
  tms=$(sed -n 's/.*torch_ms=\([0-9.]*\).*/\1/p' <<< "$peer")
  rel=$(sed -n 's/.*max_rel_diff=\([0-9.e+-]*\).*/\1/p' <<< "$peer")
  rows+=("$n $p $d $ms $tms $gf $rel")
done
# SGEMM again after the field runs: the best of both passes is the denominator (the ratio is
# then, if anything, understated on a noisy machine).
sgemm_probe
for row in "${rows[@]}"; do
  read -r n p d ms tms gf rel <<< "$row"
  awk -v n="$n" -v p="$p" -v d="$d" -v ms="$ms" -v tms="$tms" -v gf="$gf" -v sg="$best" -v rel="$rel" \
    'BEGIN { bound = gf * ms / sg; if (d <= 16) printf "| %d | %d | %d | %.1f | %.1f | %.1fx | (direct loops) | — | — | %s |\n", n, p, d, ms, tms, tms / ms, rel;
             else printf "| %d | %d | %d | %.1f | %.1f | %.1fx | %.1f | %.1f | %.0f%% | %s |\n", n, p, d, ms, tms, tms / ms, gf, bound, 100 * gf / sg, rel }'
done
echo
echo "best SGEMM: $best GFLOP/s ($best_kernel); chosen kernel's: ${chosen_rates[*]} GFLOP/s (before, after); all: ${sgemm_all[*]}"
echo "load after: $(uptime | sed 's/.*load average: //')"
