/* libFuzzer harness: drift_safetensors_read on a real file holding the fuzzer's bytes (the
 * file path: fstat sizes, header length against the file size, short reads). On success every
 * tensor byte and metadata string is read back. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drift/safetensors.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = fuzz_write_file("in.safetensors", data, size);
    drift_safetensors *st = NULL;
    if (drift_safetensors_read(p, &st) != 0) {
        if (st) __builtin_trap();
        return 0;
    }
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < drift_safetensors_count(st); i++) {
        const drift_st_tensor *t = drift_safetensors_tensor(st, i);
        size_t count = 1, item = drift_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) count *= (size_t)t->shape[d];
        if (count && (uintptr_t)t->data % item) __builtin_trap();
        for (size_t b = 0; b < count * item; b++) sink ^= ((const uint8_t *)t->data)[b];
    }
    for (size_t i = 0; i < drift_safetensors_meta_count(st); i++) {
        const drift_st_meta *m = drift_safetensors_meta_at(st, i);
        sink ^= (uint8_t)(strlen(m->key) + strlen(m->value));
    }
    (void)sink;
    drift_safetensors_free(st);
    return 0;
}
