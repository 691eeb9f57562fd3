/* drift/ctx.h — a compute context: threads, scratch memory and the compute backend.
 *
 * What a heavy call needs beyond its arguments lives in a drift_ctx, not in the process:
 *   - the number of threads its parallel loops use;
 *   - the scratch memory kept between calls (a training loop calls the field engine with the
 *     same sizes every step; pages faulted and zeroed once, not every call);
 *   - the compute backend: the CPU, or CUDA (cuBLAS and kernels of drift's own) in a build made
 *     with -DDRIFT_CUDA=ON, on a machine with an NVIDIA GPU.
 *
 * There is no process-global mutable state in the engines: two contexts share nothing, so two
 * threads with a context each run fully in parallel and get exactly the results one thread gets.
 * One context used by two threads at once is safe as well (a call that finds the scratch busy
 * takes private memory for that call), only slower. Passing NULL where a context is taken means
 * "a CPU context for this call alone" (the thread count of drift_get_threads(), memory per call).
 *
 * The backend seam: the field engine's batched entry point (drift_field_compute_many) is the
 * call a backend implements; a backend that cannot do a configuration (the CUDA backend
 * implements the deng family, which training uses, and not the potentials or per-row
 * diagnostics) answers DRIFT_EUNSUPPORTED, and the call runs on the CPU instead, unless the
 * context was made with fallback = 0 (then the call fails with that status and a message).
 * drift_ctx_get_info counts the calls each side ran. docs/ARCHITECTURE.md has the map.
 */
#ifndef DRIFT_CTX_H
#define DRIFT_CTX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DRIFT_BACKEND_CPU = 0,
    DRIFT_BACKEND_CUDA = 1,
} drift_backend;

typedef struct drift_ctx drift_ctx;

typedef struct drift_ctx_options {
    int threads;           /* threads of the parallel loops; 0 = drift_get_threads() at creation */
    drift_backend backend; /* DRIFT_BACKEND_CPU (default) or DRIFT_BACKEND_CUDA */
    int device;            /* CUDA device ordinal (default 0) */
    int fallback;          /* 1 (default): a call the backend cannot do runs on the CPU; 0: it fails */
} drift_ctx_options;

void drift_ctx_options_init(drift_ctx_options *opt);

/* *out = a new context. DRIFT_EINVAL for threads < 0 or an unknown backend;
 * DRIFT_EUNSUPPORTED for CUDA in a build without it, or when no device can be opened (the
 * message says which). opt NULL = the defaults. */
int drift_ctx_create(const drift_ctx_options *opt, drift_ctx **out);
void drift_ctx_free(drift_ctx *ctx);

/* "cpu", "cuda"; the parser returns DRIFT_EINVAL with the valid names. */
const char *drift_backend_name(drift_backend b);
int drift_backend_parse(const char *s, drift_backend *out);
/* 1 when this build has the backend (for CUDA: built with it; a device may still be missing). */
int drift_backend_built(drift_backend b);

typedef struct drift_ctx_info {
    drift_backend backend;
    int threads;
    int fallback;
    char device[128];          /* "cpu", or the GPU's name */
    size_t scratch_bytes;      /* host scratch held now */
    long long calls_backend;   /* field batches the backend computed */
    long long calls_cpu;       /* field batches computed on the CPU (the CPU backend, or fallback) */
} drift_ctx_info;

void drift_ctx_get_info(const drift_ctx *ctx, drift_ctx_info *out);
int drift_ctx_threads(const drift_ctx *ctx); /* NULL: drift_get_threads() */

#ifdef __cplusplus
}
#endif
#endif
