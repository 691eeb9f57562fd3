/* cuda_backend.h — the CUDA compute backend behind drift/ctx.h (built with -DDRIFT_CUDA=ON).
 *
 * Plain C declarations, included by core/ctx.c (which puts them in a context's device
 * operations, core/ctx_internal.h) and implemented in field_cuda.cu. The module depends on the
 * CUDA runtime and cuBLAS only: it reports failures as a status and a message in the caller's
 * buffer, never through drift_error (core sits above it).
 *
 * What it computes: drift_field_compute_many for the deng family (every kernel, deng
 * normalization, the released loss's options, weights, self-masking, extra negatives, several
 * temperatures, feature and drift normalization) — the field a training step needs. Anything
 * else (the other families, potentials, per-row diagnostics) answers DRIFT_EUNSUPPORTED, and
 * the engine runs it on the CPU (or fails, if the context was made without fallback). */
#ifndef DRIFT_CUDA_BACKEND_H
#define DRIFT_CUDA_BACKEND_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct drift_field_config;
struct drift_field_batch;
struct drift_field_result;

/* Opens device `device` (a cuBLAS handle, a stream, workspace grown on demand); its name goes
 * to name. Non-zero with a reason in msg when there is no such device or the driver is missing. */
int cuda_backend_open(int device, void **dev, char *name, size_t namelen, char *msg, size_t msglen);
void cuda_backend_close(void *dev);
/* The batches have been checked by the engine (shapes, finite values, weights). */
int cuda_backend_field_many(void *dev, const struct drift_field_config *cfg, int count,
                            const struct drift_field_batch *b, struct drift_field_result *res, char *msg,
                            size_t msglen);

#ifdef __cplusplus
}
#endif
#endif
