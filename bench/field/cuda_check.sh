#!/usr/bin/env bash
# bench/field/cuda_check.sh — the CUDA backend on a GPU machine, in one run: its test
# (tests/cuda/test_field_cuda.c) and the field's timings on the GPU against the CPU engine and
# against PyTorch on the same GPU (bench/field/peer.py --device cuda). Not a test of CI (CI has
# no GPU). Run from the repository root:
#
#   BIN=build-cuda bench/field/cuda_check.sh        # a build made with -DDRIFT_CUDA=ON
#
# BIN holds cuda_test_field_cuda and bench_field; LD_LIBRARY_PATH must find cuBLAS (the CUDA
# toolkit's lib64 is added) and OpenBLAS. OUT (default /tmp) receives the peer's inputs.
set -uo pipefail
BIN=${BIN:-build-cuda}
OUT=${OUT:-/tmp}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-$(nproc)}
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}:/usr/local/cuda/lib64
# the OpenBLAS kernel the drift command would run (drift/blas.h): a Debian OpenBLAS falls back
# to generic kernels on CPUs newer than itself
rec=$("$BIN/bench_field" --kernels | tr ' ' '\n' | sed -n 's/^recommended=//p')
[ -z "${OPENBLAS_CORETYPE:-}" ] && [ -n "$rec" ] && export OPENBLAS_CORETYPE=$rec
echo "OpenBLAS: $("$BIN/bench_field" --kernels)  (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-})"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== test"
"$BIN/cuda_test_field_cuda" 2>&1 | grep -v "^ok " ; test_rc=${PIPESTATUS[0]}
echo "test exit status: $test_rc"
echo "== timings (medians of 9 calls after a warm-up), CPU on $THREADS threads"
for shape in "512 512 1" "4096 4096 1" "16384 16384 1" "640 640 20" "4096 4096 64"; do
  set -- $shape
  for be in cuda cpu; do
    [ "$be" = cpu ] && [ "$1" -gt 4096 ] && continue
    "$BIN/bench_field" --backend $be --n $1 --p $2 --groups $3 --d 784 --per-tau --repeats 9 --threads "$THREADS" \
      $([ "$3" = 1 ] && [ "$be" = cuda ] && mkdir -p "$OUT/pf_$1" && echo "--out $OUT/pf_$1") || echo "bench_field failed ($be $shape)"
  done
  if [ "$3" = 1 ] && [ -f "$OUT/pf_$1/v.npy" ]; then
    echo -n "torch on the GPU, n=$1 p=$2: "
    "$PYTHON" bench/field/peer.py "$OUT/pf_$1" --repeats 9 --device cuda || echo "peer failed"
  fi
done
exit $test_rc
