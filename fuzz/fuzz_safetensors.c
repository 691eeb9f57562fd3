/* libFuzzer harness: the safetensors parser (and with it the JSON reader) on arbitrary
 * bytes. On success every tensor's bytes and every metadata string are read back, so ASan
 * catches any offset the validation let through; pointers must be aligned. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "drift/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drift_safetensors *st;
    if (drift_safetensors_parse(data, size, "fuzz.safetensors", &st) != 0) {
        if (st != NULL) __builtin_trap();
        return 0;
    }
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < drift_safetensors_count(st); i++) {
        const drift_st_tensor *t = drift_safetensors_tensor(st, i);
        size_t count = 1, item = drift_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) count *= (size_t)t->shape[d];
        if (count && (uintptr_t)t->data % item != 0) __builtin_trap();
        for (size_t b = 0; b < count * item; b++) sink ^= ((const uint8_t *)t->data)[b];
        const drift_st_tensor *found;
        if (drift_safetensors_find(st, t->name, &found) != 0) __builtin_trap();
    }
    for (size_t i = 0; i < drift_safetensors_meta_count(st); i++) {
        const drift_st_meta *m = drift_safetensors_meta_at(st, i);
        sink ^= (uint8_t)(strlen(m->key) + strlen(m->value));
    }
    (void)sink;
    drift_safetensors_free(st);
    return 0;
}
