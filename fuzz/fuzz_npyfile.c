/* libFuzzer harness: the .npy file readers (drift_npy_read, _read_f32, _read_f64,
 * _read_labels) on a real file holding the fuzzer's bytes. Successes must be consistent
 * (rows x cols = the values, finite floats, labels in int32) and fully readable. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "drift/core.h"
#include "drift/npy.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_write_file("in.npy", data, size);
    drift_array a;
    if (drift_npy_read(p, &a) == 0) {
        size_t count = 1;
        for (int i = 0; i < a.ndim; i++) count *= (size_t)a.shape[i];
        if (count != a.count) __builtin_trap();
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < a.count * drift_dtype_size(a.dtype); i++) sink ^= ((const uint8_t *)a.data)[i];
        (void)sink;
        drift_array_free(&a);
    } else if (a.data) {
        __builtin_trap();
    }
    float *f = NULL;
    int64_t rows = -1, cols = -1;
    if (drift_npy_read_f32(p, &f, &rows, &cols) == 0) {
        if (rows < 0 || cols < 0) __builtin_trap();
        for (int64_t i = 0; i < rows * cols; i++)
            if (!isfinite(f[i])) __builtin_trap();
        drift_free(f);
    } else if (f) {
        __builtin_trap();
    }
    double *d = NULL;
    if (drift_npy_read_f64(p, &d, &rows, &cols) == 0) {
        for (int64_t i = 0; i < rows * cols; i++)
            if (!isfinite(d[i])) __builtin_trap();
        drift_free(d);
    }
    int32_t *labels = NULL;
    int64_t n = -1;
    if (drift_npy_read_labels(p, &labels, &n) == 0) {
        volatile int32_t s = 0;
        for (int64_t i = 0; i < n; i++) s ^= labels[i];
        (void)s;
        drift_free(labels);
    }
    return 0;
}
