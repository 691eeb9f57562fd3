/* ctx.c — compute contexts: threads, kept scratch, the backend (contract: drift/ctx.h). */
#include "drift/ctx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx_internal.h"
#include "drift/core.h"
#include "drift/error.h"

#ifdef DRIFT_HAVE_CUDA
#include "cuda/cuda_backend.h"
static const ctx_device_ops cuda_ops = {cuda_backend_field_many, cuda_backend_close};
#endif

void drift_ctx_options_init(drift_ctx_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->backend = DRIFT_BACKEND_CPU;
    opt->fallback = 1;
}

const char *drift_backend_name(drift_backend b)
{
    return b == DRIFT_BACKEND_CUDA ? "cuda" : b == DRIFT_BACKEND_CPU ? "cpu" : "unknown";
}

int drift_backend_parse(const char *s, drift_backend *out)
{
    if (s && !strcmp(s, "cpu")) { *out = DRIFT_BACKEND_CPU; return DRIFT_OK; }
    if (s && !strcmp(s, "cuda")) { *out = DRIFT_BACKEND_CUDA; return DRIFT_OK; }
    return drift_error(DRIFT_EINVAL, "unknown backend '%s' (valid: cpu, cuda)", s ? s : "(null)");
}

int drift_backend_built(drift_backend b)
{
    if (b == DRIFT_BACKEND_CPU) return 1;
#ifdef DRIFT_HAVE_CUDA
    if (b == DRIFT_BACKEND_CUDA) return 1;
#endif
    return 0;
}

int drift_ctx_create(const drift_ctx_options *opt_in, drift_ctx **out)
{
    drift_ctx_options opt;
    if (!out) return drift_error(DRIFT_EINVAL, "drift_ctx_create: out is NULL");
    *out = NULL;
    if (opt_in) opt = *opt_in; else drift_ctx_options_init(&opt);
    if (opt.threads < 0 || opt.threads > 4096)
        return drift_error(DRIFT_EINVAL, "context: threads must be 0 (all) .. 4096, not %d", opt.threads);
    if (opt.backend != DRIFT_BACKEND_CPU && opt.backend != DRIFT_BACKEND_CUDA)
        return drift_error(DRIFT_EINVAL, "context: unknown backend %d", (int)opt.backend);
    if (!drift_backend_built(opt.backend))
        return drift_error(DRIFT_EUNSUPPORTED, "this build of drift has no %s backend (configure with -DDRIFT_CUDA=ON "
                           "on a machine with the CUDA toolkit)", drift_backend_name(opt.backend));
    drift_ctx *c = calloc(1, sizeof *c);
    if (!c) return drift_error(DRIFT_ENOMEM, "out of memory for a context");
    c->backend = opt.backend;
    c->threads = opt.threads > 0 ? opt.threads : drift_get_threads();
    c->fallback = opt.fallback != 0;
    c->nslots = c->threads;
    c->slots = calloc((size_t)c->nslots, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return drift_error(DRIFT_ENOMEM, "out of memory for a context");
    }
    for (int s = 0; s < c->nslots; s++) atomic_flag_clear(&c->slots[s].busy);
    atomic_init(&c->calls_backend, 0);
    atomic_init(&c->calls_cpu, 0);
    snprintf(c->device, sizeof c->device, "cpu");
#ifdef DRIFT_HAVE_CUDA
    if (opt.backend == DRIFT_BACKEND_CUDA) {
        char msg[256] = "";
        if (cuda_backend_open(opt.device, &c->dev, c->device, sizeof c->device, msg, sizeof msg) != 0) {
            free(c->slots);
            free(c);
            return drift_error(DRIFT_EUNSUPPORTED, "CUDA backend: %s", msg);
        }
        c->ops = &cuda_ops;
    }
#endif
    *out = c;
    return DRIFT_OK;
}

void drift_ctx_free(drift_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->ops && ctx->ops->close) ctx->ops->close(ctx->dev);
    for (int s = 0; s < ctx->nslots; s++) drift_free(ctx->slots[s].mem);
    free(ctx->slots);
    free(ctx);
}

void drift_ctx_get_info(const drift_ctx *ctx, drift_ctx_info *out)
{
    memset(out, 0, sizeof *out);
    if (!ctx) {
        out->backend = DRIFT_BACKEND_CPU;
        out->threads = drift_get_threads();
        out->fallback = 1;
        snprintf(out->device, sizeof out->device, "cpu");
        return;
    }
    out->backend = ctx->backend;
    out->threads = ctx->threads;
    out->fallback = ctx->fallback;
    snprintf(out->device, sizeof out->device, "%s", ctx->device);
    for (int s = 0; s < ctx->nslots; s++) out->scratch_bytes += ctx->slots[s].bytes;
    out->calls_backend = atomic_load(&((drift_ctx *)ctx)->calls_backend);
    out->calls_cpu = atomic_load(&((drift_ctx *)ctx)->calls_cpu);
}

int drift_ctx_threads(const drift_ctx *ctx) { return ctx ? ctx->threads : drift_get_threads(); }

char *ctx_scratch_acquire(drift_ctx *ctx, int slot, size_t bytes, int *is_private)
{
    *is_private = 1;
    if (ctx && ctx->nslots > 0) {
        ctx_slot *s = &ctx->slots[(slot < 0 ? 0 : slot) % ctx->nslots];
        if (!atomic_flag_test_and_set_explicit(&s->busy, memory_order_acquire)) {
            if (s->bytes < bytes) {
                drift_free(s->mem);
                s->mem = drift_alloc(bytes, 1);
                s->bytes = s->mem ? bytes : 0;
            }
            if (s->mem) {
                *is_private = 0;
                return s->mem;
            }
            atomic_flag_clear_explicit(&s->busy, memory_order_release);
            return NULL;
        }
    }
    return drift_alloc(bytes, 1);
}

void ctx_scratch_release(drift_ctx *ctx, int slot, char *p, int is_private)
{
    if (is_private) {
        drift_free(p);
        return;
    }
    if (ctx && p) atomic_flag_clear_explicit(&ctx->slots[(slot < 0 ? 0 : slot) % ctx->nslots].busy, memory_order_release);
}
