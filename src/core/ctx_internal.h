/* ctx_internal.h — what a drift_ctx holds, for the engines that use it (contract: drift/ctx.h).
 *
 * Scratch: one slab per thread slot, each kept between calls and guarded by a flag, so that a
 * context used by two threads at once stays correct (the second caller gets private memory).
 * Slot s is used by the s-th worker of a call that spreads independent problems over threads
 * (drift_field_compute_many); a call on the whole team uses slot 0.
 *
 * Device backends: a backend other than the CPU supplies `dev` (its state) and the
 * functions below; core knows nothing of what they compute, only how to open and close them. */
#ifndef DRIFT_CTX_INTERNAL_H
#define DRIFT_CTX_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>

#include "drift/ctx.h"

struct drift_field_config;
struct drift_field_batch;
struct drift_field_result;

typedef struct ctx_slot {
    atomic_flag busy;
    char *mem;
    size_t bytes;
} ctx_slot;

/* The device backend's calls (src/cuda/cuda_backend.h implements them for CUDA). Each returns
 * 0, DRIFT_EUNSUPPORTED (this configuration is not implemented there: run it elsewhere), or
 * another DRIFT_E* status, with a one-line reason in msg. */
typedef struct ctx_device_ops {
    int (*field_many)(void *dev, const struct drift_field_config *cfg, int count,
                      const struct drift_field_batch *b, struct drift_field_result *res, char *msg, size_t msglen);
    void (*close)(void *dev);
} ctx_device_ops;

struct drift_ctx {
    drift_backend backend;
    int threads;
    int fallback;
    int nslots;
    ctx_slot *slots;
    void *dev;                  /* device backend state (NULL for the CPU) */
    const ctx_device_ops *ops;  /* NULL for the CPU */
    char device[128];
    atomic_llong calls_backend, calls_cpu;
};

/* Scratch of at least `bytes` from slot `slot` (taken modulo the slots), or private memory
 * when the slot is busy or ctx is NULL (*is_private = 1). NULL on allocation failure. */
char *ctx_scratch_acquire(drift_ctx *ctx, int slot, size_t bytes, int *is_private);
void ctx_scratch_release(drift_ctx *ctx, int slot, char *p, int is_private);

#endif
