#!/bin/sh
# fuzz/run.sh — build the libFuzzer harnesses with ASan + UBSan and run each for a while.
#
#   fuzz/run.sh [seconds-per-target] [target ...]     (default: 30 s, every target)
#
# Targets: the in-memory parsers npy safetensors png json idx, and the file-level readers
# npyfile stfile idxfile (the same formats read from real files), dataset (IDX / NPY dataset
# files with labels), checkpoint (drift_checkpoint_load + drift_generator_load) and classifier
# (drift_classifier_load). docs/TESTING.md lists what each reaches and the runs so far.
#
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev). Builds into build-fuzz/
# (or $FUZZ_OUT), keeps each target's growing corpus there between runs, and stops with
# a non-zero status at the first crash, leaving the input as build-fuzz/crash-<target>-*.
set -eu
secs=${1:-30}
[ $# -gt 0 ] && shift
targets=${*:-"npy safetensors png json idx npyfile stfile idxfile dataset checkpoint classifier"}
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
libs="-llapacke -lopenblas -lz -lm"
# every library source but the ones in $common (the loaders reach models, train, eval, ...)
all_srcs=$(ls "$root"/src/*/*.c | grep -v -e '/src/cli/' -e '/core/error\.c$' -e '/core/core\.c$' -e '/io/atomic\.c$')

# The loaders' harnesses link all of that: compiled once per run into one archive.
biglib=
build_biglib() {
    [ -n "$biglib" ] && return 0
    echo "== building the library for the loader harnesses"
    mkdir -p "$out/obj"
    rm -f "$out"/obj/*.o "$out/libdrift-fuzz.a"
    libflags=$(echo "$flags" | sed 's/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,/')
    for s in $all_srcs; do
        m=$(basename "$(dirname "$s")")
        # shellcheck disable=SC2086
        $cc $libflags -w -c "$s" -o "$out/obj/${m}_$(basename "$s" .c).o" || exit 1
    done
    ar rcs "$out/libdrift-fuzz.a" "$out"/obj/*.o
    biglib="$out/libdrift-fuzz.a"
}

python3 "$root/fuzz/make_seeds.py" "$out/seeds"
for t in $targets; do
    case $t in
        npy) srcs="$root/src/io/npy.c" ;;
        safetensors) srcs="$root/src/io/safetensors.c $root/src/io/json.c $root/src/io/npy.c" ;;
        png) srcs="$root/src/io/png.c" ;;
        json) srcs="$root/src/io/json.c" ;;
        idx|idxfile) srcs="$root/src/data/idx.c $root/src/core/rng.c" ;;
        npyfile) srcs="$root/src/io/npy.c" ;;
        stfile) srcs="$root/src/io/safetensors.c $root/src/io/json.c $root/src/io/npy.c" ;;
        dataset|checkpoint|classifier) build_biglib; srcs=$biglib ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    # seeds and dictionary: the file-level readers share their format's
    case $t in
        npyfile) seed=npy dict=npy ;;
        stfile) seed=safetensors dict=safetensors ;;
        checkpoint|classifier) seed=$t dict=safetensors ;;
        idxfile) seed=idx dict= ;;
        *) seed=$t dict=$t ;;
    esac
    [ -f "$root/fuzz/$dict.dict" ] && dictopt="-dict=$root/fuzz/$dict.dict" || dictopt=
    maxlen=4096
    case $t in checkpoint|classifier) maxlen=16384 ;; esac
    echo "== fuzz_$t: building"
    # shellcheck disable=SC2086
    $cc $flags "$root/fuzz/fuzz_$t.c" $srcs $common $libs -o "$out/fuzz_$t"
    mkdir -p "$out/corpus/$t" "$out/seeds/$seed"
    echo "== fuzz_$t: running ${secs}s"
    # shellcheck disable=SC2086
    DRIFT_FUZZ_SEED_DIR="$out/seeds/$seed" ASAN_OPTIONS=allocator_may_return_null=1 "$out/fuzz_$t" \
        -max_total_time="$secs" -max_len=$maxlen -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        $dictopt -artifact_prefix="$out/crash-$t-" \
        "$out/corpus/$t" "$out/seeds/$seed" 2>&1 | grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|ERROR|SUMMARY|==[0-9]+==|Test unit written" || true
    if ls "$out"/crash-"$t"-* >/dev/null 2>&1; then
        echo "fuzz_$t: crash inputs in $out/crash-$t-*" >&2
        exit 1
    fi
done
echo "fuzzing done: no crashes"
