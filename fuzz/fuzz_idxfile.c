/* libFuzzer harness: drift_idx_read on a real file holding the fuzzer's bytes: raw IDX or
 * gzip (the file path reads through zlib's gzdopen, with the size from fstat). A success must
 * be consistent and readable end to end. */
#include <stddef.h>
#include <stdint.h>

#include "drift/data.h"
#include "drift/error.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_write_file("in-idx3-ubyte", data, size);
    drift_idx idx;
    if (drift_idx_read(p, &idx) != 0) {
        if (drift_last_error()[0] == '\0') __builtin_trap(); /* failures say why */
        return 0;
    }
    size_t count = 1;
    for (int i = 0; i < idx.ndim; i++) count *= (size_t)idx.dims[i];
    if (idx.ndim < 1 || idx.ndim > DRIFT_IDX_MAX_DIM || count != idx.count || (count && !idx.data)) __builtin_trap();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < idx.count; i++) sink ^= idx.data[i];
    (void)sink;
    drift_idx_free(&idx);
    return 0;
}
