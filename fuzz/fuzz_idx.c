/* fuzz_idx.c — libFuzzer harness for the IDX parser (raw and gzip images in memory).
 *
 * Build and run (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *     -I/usr/include/x86_64-linux-gnu/openblas-openmp fuzz/fuzz_idx.c src/data/idx.c \
 *     src/io/atomic.c src/core/error.c src/core/core.c src/core/rng.c -lz -lopenblas -fopenmp -lm -o build-fuzz/fuzz_idx
 *   build-fuzz/fuzz_idx -max_total_time=60 -rss_limit_mb=2048
 * Any input must either parse into a consistent drift_idx or fail with an error message;
 * never crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "drift/data.h"
#include "drift/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drift_idx idx;
    int st = drift_idx_parse(data, size, "fuzz", &idx);
    if (st == DRIFT_OK) {
        size_t count = 1;
        for (int i = 0; i < idx.ndim; i++) count *= (size_t)idx.dims[i];
        if (idx.ndim < 1 || idx.ndim > DRIFT_IDX_MAX_DIM || count != idx.count || !idx.data)
            abort();
        volatile uint8_t sink = idx.data[0] ^ idx.data[idx.count - 1]; /* touch both ends */
        (void)sink;
        drift_idx_free(&idx);
    } else if (drift_last_error()[0] == '\0') {
        abort(); /* every failure must explain itself */
    }
    return 0;
}
