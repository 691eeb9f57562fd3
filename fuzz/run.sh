#!/bin/sh
# fuzz/run.sh — build the libFuzzer harnesses with ASan + UBSan and run each for a while.
#
#   fuzz/run.sh [seconds-per-target] [target ...]     (default: 30 s; npy safetensors png json)
#
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev). Builds into build-fuzz/
# (or $FUZZ_OUT), keeps each target's growing corpus there between runs, and stops with
# a non-zero status at the first crash, leaving the input as build-fuzz/crash-<target>-*.
set -eu
secs=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-"npy safetensors png json"}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$root/build-fuzz}
cc=${CC_FUZZ:-clang}
mkdir -p "$out"

# cblas.h (core.c includes it) lives in a multiarch OpenBLAS directory on Debian.
cblas_dir=$(dirname "$(ls /usr/include/*/openblas-openmp/cblas.h /usr/include/openblas/cblas.h \
                        /usr/include/cblas.h 2>/dev/null | head -n 1)")
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-omit-frame-pointer -fopenmp -I$root/include -I$root/src -I$cblas_dir"
common="$root/src/core/error.c $root/src/core/core.c $root/src/io/atomic.c"
libs="-lopenblas -lz -lm"

python3 "$root/fuzz/make_seeds.py" "$out/seeds"
for t in $targets; do
    case $t in
        npy) srcs="$root/src/io/npy.c" ;;
        safetensors) srcs="$root/src/io/safetensors.c $root/src/io/json.c $root/src/io/npy.c" ;;
        png) srcs="$root/src/io/png.c" ;;
        json) srcs="$root/src/io/json.c" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    echo "== fuzz_$t: building"
    # shellcheck disable=SC2086
    $cc $flags "$root/fuzz/fuzz_$t.c" $srcs $common $libs -o "$out/fuzz_$t"
    mkdir -p "$out/corpus/$t"
    echo "== fuzz_$t: running ${secs}s"
    ASAN_OPTIONS=allocator_may_return_null=1 "$out/fuzz_$t" -max_total_time="$secs" \
        -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict="$root/fuzz/$t.dict" -artifact_prefix="$out/crash-$t-" \
        "$out/corpus/$t" "$out/seeds/$t" 2>&1 | grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|ERROR|SUMMARY|==[0-9]+==|Test unit written" || true
    if ls "$out"/crash-"$t"-* >/dev/null 2>&1; then
        echo "fuzz_$t: crash inputs in $out/crash-$t-*" >&2
        exit 1
    fi
done
echo "fuzzing done: no crashes"
