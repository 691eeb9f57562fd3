/* libFuzzer harness: the .npy parser on arbitrary bytes. A successful parse must describe
 * a consistent array (count = prod(shape), a supported dtype), and every element must be
 * readable (ASan checks the bounds). Build and run with fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>

#include "drift/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drift_array a;
    if (drift_npy_parse(data, size, "fuzz.npy", &a) != 0) {
        if (a.data != NULL) __builtin_trap(); /* failures leave nothing to free */
        return 0;
    }
    size_t count = 1;
    if (a.ndim < 0 || a.ndim > DRIFT_NPY_MAX_DIM) __builtin_trap();
    for (int i = 0; i < a.ndim; i++) {
        if (a.shape[i] < 0) __builtin_trap();
        count *= (size_t)a.shape[i];
    }
    if (count != a.count || drift_dtype_size(a.dtype) == 0) __builtin_trap();
    volatile uint8_t sink = 0;
    const uint8_t *bytes = a.data;
    for (size_t i = 0; i < a.count * drift_dtype_size(a.dtype); i++) sink ^= bytes[i];
    (void)sink;
    drift_array_free(&a);
    return 0;
}
