/* libFuzzer harness: the dataset file readers, drift_dataset_from_idx (images + labels IDX,
 * raw or gzip) and drift_dataset_from_npy (samples + labels NPY), on real files.
 * Input: byte 0 picks the reader (bit 0: npy, else idx) and whether there is a labels file
 * (bit 1); bytes 1-2 (u16 LE, modulo the rest) where the rest splits into the two files.
 * A success must be a consistent dataset: finite samples, labels in [0, n_classes). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drift/data.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    const int npy = data[0] & 1, with_labels = (data[0] >> 1) & 1;
    const size_t rest = size - 3, cut = (size_t)(data[1] | data[2] << 8) % (rest + 1);
    const uint8_t *a = data + 3, *b = a + cut;
    drift_dataset ds;
    memset(&ds, 0, sizeof ds);
    int st;
    if (npy) {
        const char *x = fuzz_write_file("x.npy", a, cut);
        const char *l = with_labels ? fuzz_write_file("labels.npy", b, rest - cut) : NULL;
        st = drift_dataset_from_npy(x, l, &ds);
    } else {
        const char *x = fuzz_write_file("images-idx3-ubyte", a, cut);
        const char *l = with_labels ? fuzz_write_file("labels-idx1-ubyte", b, rest - cut) : NULL;
        st = drift_dataset_from_idx(x, l, &ds);
    }
    if (st) {
        if (ds.x || ds.labels) __builtin_trap();
        return 0;
    }
    if (ds.n < 1 || ds.dim < 1 || !ds.x) __builtin_trap();
    if ((ds.h || ds.w || ds.c) && (int64_t)ds.h * ds.w * ds.c != ds.dim) __builtin_trap();
    for (int64_t i = 0; i < ds.n * ds.dim; i++)
        if (!isfinite(ds.x[i])) __builtin_trap();
    if (ds.labels) {
        for (int64_t i = 0; i < ds.n; i++)
            if (ds.labels[i] < 0 || ds.labels[i] >= ds.n_classes) __builtin_trap();
    } else if (ds.n_classes) {
        __builtin_trap();
    }
    drift_dataset_free(&ds);
    return 0;
}
