/* trainer_util.h — what the trainer tests share: one run of the trainer, and one float32
 * tensor of a checkpoint read back (for bitwise comparisons of resumed runs). */
#ifndef DRIFT_TESTS_TRAINER_UTIL_H
#define DRIFT_TESTS_TRAINER_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "drift/safetensors.h"
#include "drift/train.h"

/* The tensor `name` of a safetensors file as a malloc'd float array (*n values), or NULL. */
static inline float *read_tensor(const char *path, const char *name, size_t *n)
{
    drift_safetensors *st = NULL;
    if (drift_safetensors_read(path, &st)) return NULL;
    const drift_st_tensor *t;
    float *out = NULL;
    if (!drift_safetensors_find(st, name, &t)) {
        *n = (size_t)t->shape[0];
        out = malloc(*n * sizeof(float));
        if (out) memcpy(out, t->data, *n * sizeof(float));
    }
    drift_safetensors_free(st);
    return out;
}

/* Create (or resume) a trainer and run it to its configured steps. */
static inline int run(const drift_train_config *c, const char *resume)
{
    drift_trainer *t = NULL;
    int st = drift_trainer_create(c, resume, &t);
    if (!st) st = drift_trainer_run(t);
    drift_trainer_free(t);
    return st;
}

#endif
