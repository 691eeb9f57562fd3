/* model.c — the generic model object: config validation and (de)serialization, the layout
 * builder, parameter initialization, and forward/backward dispatch to the kinds. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/rng.h"
#include "models/model_internal.h"

/* ---------------------------------------------------------------------------------- */
/* config                                                                              */

static const char *const kind_names[] = {
    [DRIFT_MODEL_MLP] = "mlp", [DRIFT_MODEL_CONV] = "conv",
    [DRIFT_MODEL_CLASSIFIER] = "classifier", [DRIFT_MODEL_DIT] = "dit",
    [DRIFT_MODEL_ENCODER] = "encoder"};
#define N_KIND_NAMES ((int)(sizeof kind_names / sizeof *kind_names))

const char *drift_model_kind_name(drift_model_kind kind)
{
    return (unsigned)kind < (unsigned)N_KIND_NAMES && kind_names[kind] ? kind_names[kind] : "unknown";
}

int drift_model_kind_parse(const char *name, drift_model_kind *kind)
{
    char list[128] = "";
    size_t n = 0;
    for (int k = 0; k < N_KIND_NAMES; k++) {
        if (!kind_names[k]) continue;
        if (name && strcmp(name, kind_names[k]) == 0) {
            *kind = (drift_model_kind)k;
            return DRIFT_OK;
        }
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", kind_names[k]);
    }
    return drift_error(DRIFT_EINVAL, "unknown model kind '%s' (expected one of: %s)",
                       name ? name : "(null)", list);
}

int drift_model_config_default(drift_model_kind kind, drift_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = kind;
    cfg->alpha_freqs = 8;
    switch (kind) {
    case DRIFT_MODEL_MLP: /* the toy 2-D generator of Deng et al. */
        cfg->noise_dim = 32, cfg->out_dim = 2;
        cfg->n_widths = 3, cfg->widths[0] = cfg->widths[1] = cfg->widths[2] = 256;
        return DRIFT_OK;
    case DRIFT_MODEL_CONV:
        cfg->noise_dim = 64, cfg->channels = 1, cfg->height = cfg->width = 28;
        cfg->n_widths = 2, cfg->widths[0] = 64, cfg->widths[1] = 32;
        cfg->depth = 1, cfg->groups = 8, cfg->cond_dim = 128, cfg->out_tanh = 1;
        return DRIFT_OK;
    case DRIFT_MODEL_CLASSIFIER:
        cfg->channels = 1, cfg->height = cfg->width = 28;
        cfg->n_widths = 3, cfg->widths[0] = 32, cfg->widths[1] = 64, cfg->widths[2] = 128;
        cfg->n_classes = 10;
        return DRIFT_OK;
    case DRIFT_MODEL_DIT:
        return drift_model_config_dit("dit-t", cfg);
    case DRIFT_MODEL_ENCODER: /* 2.9 MFLOP per 28×28 image (docs/ENCODER.md) */
        cfg->channels = 1, cfg->height = cfg->width = 28;
        cfg->n_widths = 3, cfg->widths[0] = 8, cfg->widths[1] = 16, cfg->widths[2] = 32;
        cfg->depth = 1, cfg->groups = 8;
        return DRIFT_OK;
    }
    return drift_error(DRIFT_EINVAL, "unknown model kind %d", (int)kind);
}

/* The encoder: an image, widths = conv1 then one per stride-2 stage, nothing generator-like.
 * out_dim is derived: the sum of the maps' sizes. */
static int encoder_config_check(drift_model_config *c)
{
    if (c->channels <= 0) return drift_error(DRIFT_EINVAL, "encoder: image shape required");
    if (c->depth < 1 || c->depth > DRIFT_MODEL_MAX_DEPTH)
        return drift_error(DRIFT_EINVAL, "encoder: depth must be 1..%d, got %d",
                           DRIFT_MODEL_MAX_DEPTH, c->depth);
    int scale = 1 << (c->n_widths - 1);
    if (c->height % scale || c->width % scale)
        return drift_error(DRIFT_EINVAL, "encoder: image %dx%d must be divisible by 2^%d (one "
                                         "stride-2 stage per width after the first)",
                           c->height, c->width, c->n_widths - 1);
    if (c->groups < 1) return drift_error(DRIFT_EINVAL, "encoder: groups must be >= 1, got %d", c->groups);
    for (int i = 0; i < c->n_widths; i++)
        if (c->widths[i] % c->groups)
            return drift_error(DRIFT_EINVAL, "encoder: width %d (%d) is not divisible by %d groups",
                               i, c->widths[i], c->groups);
    if (c->n_classes || c->use_alpha || c->out_tanh)
        return drift_error(DRIFT_EINVAL, "encoder: takes no classes, alpha or tanh");
    long long total = 0;
    for (int i = 0; i < c->n_widths; i++)
        total += (long long)c->widths[i] * (c->height >> i) * (c->width >> i);
    if (total > (1 << 28)) return drift_error(DRIFT_EINVAL, "encoder: %lld output floats per image", total);
    if (c->out_dim != 0 && c->out_dim != total)
        return drift_error(DRIFT_EINVAL, "encoder: out_dim %d does not match the maps' %lld floats",
                           c->out_dim, total);
    c->noise_dim = 0, c->cond_dim = 0, c->out_dim = (int)total;
    return DRIFT_OK;
}

int drift_model_config_dit(const char *size, drift_model_config *cfg)
{
    int small = size && (!strcmp(size, "dit-s"));
    if (!size || (!small && strcmp(size, "dit-t") && strcmp(size, "dit")))
        return drift_error(DRIFT_EINVAL, "unknown DiT size '%s' (valid: dit-t, dit-s; dit = dit-t)",
                           size ? size : "(null)");
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = DRIFT_MODEL_DIT;
    cfg->alpha_freqs = 8;
    cfg->channels = 1, cfg->height = cfg->width = 28, cfg->out_tanh = 1;
    cfg->n_widths = 2;
    cfg->widths[0] = small ? 256 : 128;
    cfg->widths[1] = small ? 688 : 352; /* ≈ 8/3 · hidden (SwiGLU at the parameters of a 4× MLP) */
    cfg->depth = small ? 6 : 4;
    cfg->heads = 4, cfg->patch = 4, cfg->tokens = 4, cfg->style = 32, cfg->style_vocab = 64;
    return DRIFT_OK;
}

/* The DiT: an image, widths = {hidden, SwiGLU hidden}; noise_dim and cond_dim are derived
 * (0 or the derived value is accepted, anything else is an error). */
static int dit_config_check(drift_model_config *c)
{
    long long chw = (long long)c->channels * c->height * c->width;
    if (c->channels <= 0) return drift_error(DRIFT_EINVAL, "dit: image shape required");
    if (c->n_widths != 2)
        return drift_error(DRIFT_EINVAL, "dit: needs 2 widths (hidden, SwiGLU hidden), got %d", c->n_widths);
    if (c->depth < 1 || c->depth > DIT_MAX_BLOCKS)
        return drift_error(DRIFT_EINVAL, "dit: depth must be 1..%d blocks, got %d", DIT_MAX_BLOCKS, c->depth);
    if (c->patch < 1 || c->height % c->patch || c->width % c->patch)
        return drift_error(DRIFT_EINVAL, "dit: patch %d must divide the image %dx%d", c->patch,
                           c->height, c->width);
    if (c->heads < 1 || c->widths[0] % c->heads || (c->widths[0] / c->heads) % 4)
        return drift_error(DRIFT_EINVAL, "dit: %d heads must divide width %d into head sizes that are multiples of 4",
                           c->heads, c->widths[0]);
    if (c->tokens < 0 || c->tokens > 256)
        return drift_error(DRIFT_EINVAL, "dit: tokens must be 0..256, got %d", c->tokens);
    long long S = c->tokens + (long long)(c->height / c->patch) * (c->width / c->patch);
    if (S > 4096) return drift_error(DRIFT_EINVAL, "dit: %lld tokens (more than 4096): use a larger patch", S);
    if (c->style < 0 || c->style > 1024 || (c->style && (c->style_vocab < 1 || c->style_vocab > (1 << 16))))
        return drift_error(DRIFT_EINVAL, "dit: style must be 0..1024 with style_vocab 1..65536, got %d and %d",
                           c->style, c->style_vocab);
    if (c->use_alpha && (c->alpha_freqs < 1 || c->alpha_freqs > 256))
        return drift_error(DRIFT_EINVAL, "dit: alpha_freqs must be 1..256, got %d", c->alpha_freqs);
    if (c->out_tanh != 0 && c->out_tanh != 1) return drift_error(DRIFT_EINVAL, "dit: out_tanh must be 0 or 1");
    if (chw + c->style > (1 << 20)) return drift_error(DRIFT_EINVAL, "dit: image too large");
    const int nd = (int)chw + c->style;
    if (c->noise_dim != 0 && c->noise_dim != nd)
        return drift_error(DRIFT_EINVAL, "dit: noise_dim is C·H·W + style = %d, got %d", nd, c->noise_dim);
    if (c->cond_dim != 0 && c->cond_dim != c->widths[0])
        return drift_error(DRIFT_EINVAL, "dit: cond_dim is the width %d, got %d", c->widths[0], c->cond_dim);
    if (c->out_dim != 0 && c->out_dim != chw)
        return drift_error(DRIFT_EINVAL, "dit: out_dim %d does not match the image %dx%dx%d",
                           c->out_dim, c->channels, c->height, c->width);
    c->noise_dim = nd, c->cond_dim = c->widths[0], c->out_dim = (int)chw, c->groups = 0;
    return DRIFT_OK;
}

/* Validates and fills derived fields (out_dim, cond_dim) in place. */
static int config_check(drift_model_config *c)
{
    const char *k = drift_model_kind_name(c->kind);
    if ((unsigned)c->kind >= (unsigned)N_KIND_NAMES || !kind_names[c->kind])
        return drift_error(DRIFT_EINVAL, "unknown model kind %d", (int)c->kind);
    if (c->n_widths < 1 || c->n_widths > DRIFT_MODEL_MAX_WIDTHS)
        return drift_error(DRIFT_EINVAL, "%s: need 1..%d widths, got %d", k,
                           DRIFT_MODEL_MAX_WIDTHS, c->n_widths);
    for (int i = 0; i < c->n_widths; i++)
        if (c->widths[i] <= 0 || c->widths[i] > (1 << 16))
            return drift_error(DRIFT_EINVAL, "%s: width %d is %d (must be 1..65536)", k, i,
                               c->widths[i]);
    if (c->n_classes < 0 || c->n_classes > (1 << 20))
        return drift_error(DRIFT_EINVAL, "%s: bad number of classes %d", k, c->n_classes);
    if (c->use_alpha != 0 && c->use_alpha != 1)
        return drift_error(DRIFT_EINVAL, "%s: use_alpha must be 0 or 1", k);
    int image = c->channels > 0 || c->height > 0 || c->width > 0;
    if (image && (c->channels <= 0 || c->height <= 0 || c->width <= 0 || c->channels > 4096 ||
                  c->height > 4096 || c->width > 4096))
        return drift_error(DRIFT_EINVAL, "%s: bad image shape %dx%dx%d", k, c->channels,
                           c->height, c->width);
    long long chw = (long long)c->channels * c->height * c->width;

    if (c->kind == DRIFT_MODEL_CLASSIFIER) {
        if (!image) return drift_error(DRIFT_EINVAL, "classifier: image shape required");
        if (c->n_widths != 3)
            return drift_error(DRIFT_EINVAL, "classifier: needs 3 widths (conv1, conv2, features), got %d",
                               c->n_widths);
        if (c->n_classes < 2)
            return drift_error(DRIFT_EINVAL, "classifier: needs at least 2 classes, got %d", c->n_classes);
        if (c->height < 2 || c->width < 2)
            return drift_error(DRIFT_EINVAL, "classifier: image %dx%d too small for pooling",
                               c->height, c->width);
        if (c->use_alpha) return drift_error(DRIFT_EINVAL, "classifier: takes no alpha input");
        c->noise_dim = 0, c->out_dim = c->n_classes, c->cond_dim = 0, c->out_tanh = 0;
        return DRIFT_OK;
    }
    if (c->kind == DRIFT_MODEL_ENCODER) return encoder_config_check(c);
    if (c->kind == DRIFT_MODEL_DIT) return dit_config_check(c);

    if (c->noise_dim <= 0 || c->noise_dim > (1 << 20))
        return drift_error(DRIFT_EINVAL, "%s: noise_dim must be positive, got %d", k, c->noise_dim);
    int cond = c->n_classes > 0 || c->use_alpha;
    if (c->use_alpha && (c->alpha_freqs < 1 || c->alpha_freqs > 256))
        return drift_error(DRIFT_EINVAL, "%s: alpha_freqs must be 1..256, got %d", k, c->alpha_freqs);
    if (c->out_tanh != 0 && c->out_tanh != 1)
        return drift_error(DRIFT_EINVAL, "%s: out_tanh must be 0 or 1", k);

    if (c->kind == DRIFT_MODEL_MLP) {
        if (c->out_dim <= 0)
            return drift_error(DRIFT_EINVAL, "mlp: out_dim must be positive, got %d", c->out_dim);
        if (image && chw != c->out_dim)
            return drift_error(DRIFT_EINVAL, "mlp: image shape %dx%dx%d does not match out_dim %d",
                               c->channels, c->height, c->width, c->out_dim);
        c->cond_dim = cond ? c->widths[0] : 0; /* added to the first hidden layer */
        c->depth = 0, c->groups = 0;
        return DRIFT_OK;
    }

    /* conv generator */
    if (!image) return drift_error(DRIFT_EINVAL, "conv: image shape required");
    if (c->depth < 1 || c->depth > DRIFT_MODEL_MAX_DEPTH)
        return drift_error(DRIFT_EINVAL, "conv: depth must be 1..%d, got %d", DRIFT_MODEL_MAX_DEPTH,
                           c->depth);
    int scale = 1 << c->n_widths;
    if (c->height % scale || c->width % scale)
        return drift_error(DRIFT_EINVAL,
                           "conv: image %dx%d must be divisible by 2^%d (one upsampling per width)",
                           c->height, c->width, c->n_widths);
    if (c->groups < 1) return drift_error(DRIFT_EINVAL, "conv: groups must be >= 1, got %d", c->groups);
    for (int i = 0; i < c->n_widths; i++)
        if (c->widths[i] % c->groups)
            return drift_error(DRIFT_EINVAL, "conv: width %d (%d) is not divisible by %d groups", i,
                               c->widths[i], c->groups);
    if (cond && (c->cond_dim <= 0 || c->cond_dim > (1 << 16)))
        return drift_error(DRIFT_EINVAL, "conv: cond_dim must be positive, got %d", c->cond_dim);
    if (!cond) c->cond_dim = 0;
    if (c->out_dim != 0 && c->out_dim != chw)
        return drift_error(DRIFT_EINVAL, "conv: out_dim %d does not match the image %dx%dx%d",
                           c->out_dim, c->channels, c->height, c->width);
    c->out_dim = (int)chw;
    return DRIFT_OK;
}

int drift_model_config_format(const drift_model_config *c, char *buf, size_t size)
{
    char widths[8 * DRIFT_MODEL_MAX_WIDTHS + 1] = "";
    size_t len = 0;
    for (int i = 0; i < c->n_widths && i < DRIFT_MODEL_MAX_WIDTHS; i++)
        len += (size_t)snprintf(widths + len, sizeof widths - len, i ? ",%d" : "%d", c->widths[i]);
    int n = snprintf(buf, size,
                     "kind=%s noise_dim=%d out_dim=%d image=%dx%dx%d widths=%s depth=%d groups=%d "
                     "classes=%d alpha=%d cond_dim=%d alpha_freqs=%d tanh=%d",
                     drift_model_kind_name(c->kind), c->noise_dim, c->out_dim, c->channels,
                     c->height, c->width, widths, c->depth, c->groups, c->n_classes, c->use_alpha,
                     c->cond_dim, c->alpha_freqs, c->out_tanh);
    if (n >= 0 && (size_t)n < size && c->kind == DRIFT_MODEL_DIT) /* only the dit has these */
        n += snprintf(buf + n, size - (size_t)n, " patch=%d heads=%d tokens=%d style=%d style_vocab=%d",
                      c->patch, c->heads, c->tokens, c->style, c->style_vocab);
    if (n < 0 || (size_t)n >= size)
        return drift_error(DRIFT_EINVAL, "model config: buffer of %zu bytes too small", size);
    return DRIFT_OK;
}

static int parse_int(const char *key, const char *v, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < -(1L << 30) || x > (1L << 30))
        return drift_error(DRIFT_EINVAL, "model config: bad value '%s' for %s", v, key);
    *out = (int)x;
    return DRIFT_OK;
}

int drift_model_config_parse(const char *text, drift_model_config *cfg)
{
    char buf[1024];
    if (!text || strlen(text) >= sizeof buf)
        return drift_error(DRIFT_EINVAL, "model config: missing or too long");
    strcpy(buf, text);
    /* the kind first: it decides the defaults the other keys override */
    const char *kp = strstr(buf, "kind=");
    if (!kp) return drift_error(DRIFT_EINVAL, "model config: no kind= in '%s'", text);
    char kname[32];
    size_t kl = strcspn(kp + 5, " ");
    if (kl >= sizeof kname) return drift_error(DRIFT_EINVAL, "model config: bad kind");
    memcpy(kname, kp + 5, kl), kname[kl] = 0;
    drift_model_kind kind;
    int st = drift_model_kind_parse(kname, &kind);
    if (st) return st;
    drift_model_config c;
    drift_model_config_default(kind, &c);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return drift_error(DRIFT_EINVAL, "model config: '%s' is not key=value", tok);
        *eq = 0;
        const char *key = tok, *v = eq + 1;
        struct { const char *name; int *field; } ints[] = {
            {"noise_dim", &c.noise_dim}, {"out_dim", &c.out_dim}, {"depth", &c.depth},
            {"groups", &c.groups}, {"classes", &c.n_classes}, {"alpha", &c.use_alpha},
            {"cond_dim", &c.cond_dim}, {"alpha_freqs", &c.alpha_freqs}, {"tanh", &c.out_tanh},
            {"patch", &c.patch}, {"heads", &c.heads}, {"tokens", &c.tokens}, {"style", &c.style},
            {"style_vocab", &c.style_vocab}};
        int done = 0;
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            if (strcmp(key, ints[i].name) == 0) {
                if ((st = parse_int(key, v, ints[i].field))) return st;
                done = 1;
            }
        if (done || strcmp(key, "kind") == 0) continue;
        if (strcmp(key, "image") == 0) {
            if (sscanf(v, "%dx%dx%d", &c.channels, &c.height, &c.width) != 3)
                return drift_error(DRIFT_EINVAL, "model config: bad image '%s' (want CxHxW)", v);
        } else if (strcmp(key, "widths") == 0) {
            int n = 0;
            const char *p = v;
            while (*p) {
                char *end;
                long x = strtol(p, &end, 10);
                if (end == p || n >= DRIFT_MODEL_MAX_WIDTHS || x <= 0 || x > (1 << 16))
                    return drift_error(DRIFT_EINVAL, "model config: bad widths '%s'", v);
                c.widths[n++] = (int)x;
                p = *end == ',' ? end + 1 : end;
                if (*end && *end != ',')
                    return drift_error(DRIFT_EINVAL, "model config: bad widths '%s'", v);
            }
            c.n_widths = n;
        } else {
            return drift_error(DRIFT_EINVAL, "model config: unknown key '%s'", key);
        }
    }
    if ((st = config_check(&c))) return st;
    *cfg = c;
    return DRIFT_OK;
}

/* ---------------------------------------------------------------------------------- */
/* layout builder                                                                      */

int model_add_param(drift_model *m, const char *name, int ndim, int d0, int d1, int d2, int d3,
                    int init, float init_scale, int decay, size_t *off)
{
    struct drift_model_impl *im = m->impl;
    if (m->n_tensors == im->cap_tensors) {
        int cap = im->cap_tensors ? 2 * im->cap_tensors : 32;
        drift_param_tensor *t = drift_alloc((size_t)cap, sizeof *t);
        tensor_init *ti = drift_alloc((size_t)cap, sizeof *ti);
        if (!t || !ti) {
            drift_free(t), drift_free(ti);
            return DRIFT_ENOMEM;
        }
        if (m->tensors) memcpy(t, m->tensors, (size_t)m->n_tensors * sizeof *t);
        if (im->inits) memcpy(ti, im->inits, (size_t)m->n_tensors * sizeof *ti);
        drift_free(m->tensors), drift_free(im->inits);
        m->tensors = t, im->inits = ti, im->cap_tensors = cap;
    }
    im->inits[m->n_tensors] = (tensor_init){init, init_scale};
    drift_param_tensor *t = &m->tensors[m->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    const int dims[4] = {d0, d1, d2, d3};
    t->ndim = ndim, t->count = 1;
    for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? dims[i] : 0;
    for (int i = 0; i < ndim; i++) t->count *= (size_t)dims[i];
    t->offset = m->n_params, t->decay = decay;
    m->n_params += t->count;
    *off = t->offset;
    return DRIFT_OK;
}

int model_add_act(drift_model *m, size_t per_sample, int needs_grad, act *a)
{
    struct drift_model_impl *im = m->impl;
    if (im->n_acts == im->cap_acts) {
        int cap = im->cap_acts ? 2 * im->cap_acts : 64;
        act *l = drift_alloc((size_t)cap, sizeof *l);
        unsigned char *g = drift_alloc((size_t)cap, 1);
        if (!l || !g) {
            drift_free(l), drift_free(g);
            return DRIFT_ENOMEM;
        }
        if (im->act_list) memcpy(l, im->act_list, (size_t)im->n_acts * sizeof *l);
        if (im->act_needs_grad) memcpy(g, im->act_needs_grad, (size_t)im->n_acts);
        drift_free(im->act_list), drift_free(im->act_needs_grad);
        im->act_list = l, im->act_needs_grad = g, im->cap_acts = cap;
    }
    size_t bytes;
    if (drift_mul_size(per_sample, (size_t)m->max_batch, &bytes)) return DRIFT_ENOMEM;
    /* keep every tensor 64-byte aligned */
    a->off = m->act_floats, a->per = per_sample;
    m->act_floats += (bytes + 15) & ~(size_t)15;
    im->act_list[im->n_acts] = *a;
    im->act_needs_grad[im->n_acts++] = (unsigned char)needs_grad;
    return DRIFT_OK;
}

void model_need_work(drift_model *m, size_t floats)
{
    if (floats > m->impl->work_floats) m->impl->work_floats = floats;
}

/* ---------------------------------------------------------------------------------- */
/* parameter initialization                                                            */

int drift_model_init_params(drift_model *m, uint64_t seed)
{
    if (!m) return drift_error(DRIFT_EINVAL, "init_params: no model");
    for (int i = 0; i < m->n_tensors; i++) {
        const drift_param_tensor *t = &m->tensors[i];
        const tensor_init ti = m->impl->inits[i];
        float *p = m->params + t->offset;
        drift_rng r;
        drift_rng_init(&r, seed, DRIFT_STREAM(0x696e6974u, (uint32_t)i));
        switch (ti.kind) {
        case INIT_ZERO: memset(p, 0, t->count * sizeof(float)); break;
        case INIT_ONE:
            for (size_t j = 0; j < t->count; j++) p[j] = 1.0f;
            break;
        case INIT_NORMAL: drift_rng_fill_normal(&r, p, t->count, 0.0f, ti.scale); break;
        default: {
            float bound = 1.0f / sqrtf((float)(t->count / (size_t)t->shape[0]));
            drift_rng_fill_uniform(&r, p, t->count, -bound, bound);
        }
        }
    }
    return DRIFT_OK;
}

/* ---------------------------------------------------------------------------------- */
/* create / free / describe                                                            */

static int build_description(drift_model *m)
{
    const drift_model_config *c = &m->cfg;
    size_t cap = 512 + (size_t)m->n_tensors * 96;
    char *s = drift_alloc(cap, 1);
    if (!s) return DRIFT_ENOMEM;
    size_t n = 0;
#define OUT(...) n += (size_t)snprintf(s + n, cap - n, __VA_ARGS__)
    if (c->kind == DRIFT_MODEL_CLASSIFIER) {
        OUT("classifier: %dx%dx%d image -> %d features -> %d classes", c->channels, c->height,
            c->width, m->feature_dim, c->n_classes);
    } else if (c->kind == DRIFT_MODEL_ENCODER) {
        const encoder_layout *L = &m->impl->u.enc;
        OUT("encoder: %dx%dx%d image -> maps", c->channels, c->height, c->width);
        for (int i = 0; i < L->n_maps; i++)
            OUT("%s %s %dx%dx%d", i ? "," : "", L->maps[i].name, L->maps[i].c, L->maps[i].h, L->maps[i].w);
        OUT(" (%d floats)", m->out_dim);
    } else {
        OUT("%s generator: noise %d -> ", drift_model_kind_name(c->kind), c->noise_dim);
        if (c->channels) OUT("%dx%dx%d image", c->channels, c->height, c->width);
        else OUT("%d values", c->out_dim);
        if (c->out_tanh) OUT(" (tanh)");
        if (c->n_classes) OUT(", %d classes + null", c->n_classes);
        if (c->use_alpha) OUT(", alpha input");
    }
    OUT("; %zu parameters, max batch %d\n", m->n_params, m->max_batch);
    for (int i = 0; i < m->n_tensors; i++) {
        const drift_param_tensor *t = &m->tensors[i];
        char shape[64] = "";
        size_t k = 0;
        for (int d = 0; d < t->ndim; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, d ? " x %d" : "%d", t->shape[d]);
        OUT("  %-28s %-20s %10zu\n", t->name, shape, t->count);
    }
#undef OUT
    m->impl->description = s;
    return DRIFT_OK;
}

int drift_model_create(const drift_model_config *cfg, int max_batch, drift_model **out)
{
    *out = NULL;
    if (!cfg) return drift_error(DRIFT_EINVAL, "model: no config");
    if (max_batch <= 0 || max_batch > (1 << 24))
        return drift_error(DRIFT_EINVAL, "model: max batch must be 1..%d, got %d", 1 << 24, max_batch);
    drift_model_config c = *cfg;
    int st = config_check(&c);
    if (st) return st;
    drift_model *m = drift_alloc(1, sizeof *m);
    if (!m) return DRIFT_ENOMEM;
    m->impl = drift_alloc(1, sizeof *m->impl);
    if (!m->impl) {
        drift_free(m);
        return DRIFT_ENOMEM;
    }
    m->cfg = c, m->max_batch = max_batch;
    m->out_dim = c.out_dim;
    switch (c.kind) {
    case DRIFT_MODEL_MLP: m->in_dim = c.noise_dim, st = mlp_build(m); break;
    case DRIFT_MODEL_CONV: m->in_dim = c.noise_dim, st = convgen_build(m); break;
    case DRIFT_MODEL_DIT: m->in_dim = c.noise_dim, st = dit_build(m); break;
    case DRIFT_MODEL_ENCODER: m->in_dim = c.channels * c.height * c.width, st = encoder_build(m); break;
    default:
        m->in_dim = c.channels * c.height * c.width, m->feature_dim = c.widths[2];
        st = classifier_build(m);
    }
    struct drift_model_impl *im = m->impl;
    if (!st) {
        m->params = drift_alloc(m->n_params, sizeof(float));
        m->grads = drift_alloc(m->n_params, sizeof(float));
        im->acts = drift_alloc(m->act_floats, sizeof(float));
        im->dacts = drift_alloc(m->act_floats, sizeof(float));
        im->labels = drift_alloc((size_t)max_batch, sizeof(int));
        im->work = drift_alloc(im->work_floats ? im->work_floats : 1, sizeof(float));
        if (!m->params || !m->grads || !im->acts || !im->dacts || !im->labels || !im->work)
            st = drift_error(DRIFT_ENOMEM, "model: out of memory for %zu parameters and %zu activation floats",
                             m->n_params, m->act_floats);
    }
    if (!st) st = build_description(m);
    if (st) {
        drift_model_free(m);
        return st;
    }
    *out = m;
    return DRIFT_OK;
}

void drift_model_free(drift_model *m)
{
    if (!m) return;
    if (m->impl) {
        drift_free(m->impl->acts), drift_free(m->impl->dacts);
        drift_free(m->impl->act_list), drift_free(m->impl->act_needs_grad);
        if (m->cfg.kind == DRIFT_MODEL_DIT) dit_free(m);
        drift_free(m->impl->labels), drift_free(m->impl->work);
        drift_free(m->impl->description), drift_free(m->impl->inits);
        drift_free(m->impl);
    }
    drift_free(m->params), drift_free(m->grads), drift_free(m->tensors);
    drift_free(m);
}

size_t drift_model_param_count(const drift_model *m) { return m ? m->n_params : 0; }

const char *drift_model_describe(const drift_model *m)
{
    return m && m->impl->description ? m->impl->description : "";
}

int drift_model_decay_mask(const drift_model *m, unsigned char *mask)
{
    if (!m || !mask) return drift_error(DRIFT_EINVAL, "decay_mask: null argument");
    for (int i = 0; i < m->n_tensors; i++)
        memset(mask + m->tensors[i].offset, m->tensors[i].decay ? 1 : 0, m->tensors[i].count);
    return DRIFT_OK;
}

void drift_model_zero_grad(drift_model *m)
{
    if (m) memset(m->grads, 0, m->n_params * sizeof(float));
}

/* ---------------------------------------------------------------------------------- */
/* forward / backward                                                                  */

static act output_act(const drift_model *m)
{
    switch (m->cfg.kind) {
    case DRIFT_MODEL_MLP: return mlp_output(m);
    case DRIFT_MODEL_CONV: return convgen_output(m);
    case DRIFT_MODEL_DIT: return dit_output(m);
    default: return classifier_output(m);
    }
}

int drift_model_forward(drift_model *m, const float *input, const int *labels,
                        const float *alpha, int batch, float *out)
{
    if (!m || !input) return drift_error(DRIFT_EINVAL, "forward: null model or input");
    const drift_model_config *c = &m->cfg;
    const char *k = drift_model_kind_name(c->kind);
    if (batch < 1 || batch > m->max_batch)
        return drift_error(DRIFT_EINVAL, "%s forward: batch %d outside 1..%d (the model's max batch)",
                           k, batch, m->max_batch);
    if (!drift_all_finite_f32(input, (size_t)batch * m->in_dim))
        return drift_error(DRIFT_ENUMERIC, "%s forward: input contains NaN or Inf", k);
    int conditional = c->kind != DRIFT_MODEL_CLASSIFIER && c->n_classes > 0;
    if (labels && !conditional)
        return drift_error(DRIFT_EINVAL, "%s forward: labels given to a model without class input", k);
    if (alpha && !(c->kind != DRIFT_MODEL_CLASSIFIER && c->use_alpha))
        return drift_error(DRIFT_EINVAL, "%s forward: alpha given to a model without alpha input", k);
    if (conditional) {
        for (int b = 0; b < batch; b++) {
            int y = labels ? labels[b] : DRIFT_LABEL_NULL;
            if (y == DRIFT_LABEL_NULL) y = c->n_classes;
            else if (y < 0 || y >= c->n_classes)
                return drift_error(DRIFT_EINVAL, "%s forward: label %d of row %d outside 0..%d (or %d for null)",
                                   k, labels[b], b, c->n_classes - 1, DRIFT_LABEL_NULL);
            m->impl->labels[b] = y;
        }
    }
    if (alpha)
        for (int b = 0; b < batch; b++)
            if (!(alpha[b] > 0.0f) || !isfinite(alpha[b]))
                return drift_error(DRIFT_EINVAL, "%s forward: alpha %g of row %d must be finite and > 0",
                                   k, alpha[b], b);
    switch (c->kind) {
    case DRIFT_MODEL_MLP: mlp_forward(m, input, alpha, batch); break;
    case DRIFT_MODEL_CONV: convgen_forward(m, input, alpha, batch); break;
    case DRIFT_MODEL_DIT: dit_forward(m, input, alpha, batch); break;
    case DRIFT_MODEL_ENCODER: encoder_forward(m, input, batch, out); break; /* writes out itself */
    default: classifier_forward(m, input, batch);
    }
    m->batch = batch;
    if (out && c->kind != DRIFT_MODEL_ENCODER) memcpy(out, A(m, output_act(m)), (size_t)batch * m->out_dim * sizeof(float));
    return DRIFT_OK;
}

/* every layer's backward accumulates, so activation gradients start at zero */
static void zero_act_grads(drift_model *m, int B)
{
    struct drift_model_impl *im = m->impl;
    for (int i = 0; i < im->n_acts; i++)
        if (im->act_needs_grad[i])
            memset(im->dacts + im->act_list[i].off, 0, (size_t)B * im->act_list[i].per * sizeof(float));
}

int drift_model_backward(drift_model *m, const float *dout)
{
    if (!m || !dout) return drift_error(DRIFT_EINVAL, "backward: null model or gradient");
    if (m->batch == 0) return drift_error(DRIFT_EINVAL, "backward: no forward pass to go back through");
    const int B = m->batch;
    zero_act_grads(m, B);
    if (m->cfg.kind == DRIFT_MODEL_ENCODER) {
        encoder_backward(m, dout, B, NULL, 1);
        return DRIFT_OK;
    }
    memcpy(D(m, output_act(m)), dout, (size_t)B * m->out_dim * sizeof(float));
    switch (m->cfg.kind) {
    case DRIFT_MODEL_MLP: mlp_backward(m, B); break;
    case DRIFT_MODEL_CONV: convgen_backward(m, B); break;
    case DRIFT_MODEL_DIT: dit_backward(m, B); break;
    default: classifier_backward(m, B);
    }
    return DRIFT_OK;
}

int drift_model_backward_input_rows(drift_model *m, const float *dout, int rows, float *dinput)
{
    if (!m || !dout || !dinput) return drift_error(DRIFT_EINVAL, "backward_input: null argument");
    if (m->cfg.kind != DRIFT_MODEL_ENCODER)
        return drift_error(DRIFT_EINVAL, "backward_input: only the encoder has an input-gradient "
                                         "pass (model is %s)", drift_model_kind_name(m->cfg.kind));
    if (m->batch == 0) return drift_error(DRIFT_EINVAL, "backward_input: no forward pass to go back through");
    if (rows < 1 || rows > m->batch)
        return drift_error(DRIFT_EINVAL, "backward_input: rows %d outside 1..%d (the last forward's batch)",
                           rows, m->batch);
    zero_act_grads(m, rows); /* every layer is per sample: the first rows are a batch of their own */
    encoder_backward(m, dout, rows, dinput, 0);
    return DRIFT_OK;
}

int drift_model_backward_input(drift_model *m, const float *dout, float *dinput)
{
    return drift_model_backward_input_rows(m, dout, m ? m->batch : 0, dinput);
}

int drift_model_feature_maps(const drift_model *m, drift_feature_map *maps, int max_maps)
{
    if (!m) return drift_error(DRIFT_EINVAL, "feature_maps: no model");
    if (m->cfg.kind != DRIFT_MODEL_ENCODER) return 0;
    const encoder_layout *L = &m->impl->u.enc;
    for (int i = 0; i < L->n_maps && i < max_maps && maps; i++) maps[i] = L->maps[i];
    return L->n_maps;
}

int drift_model_features(drift_model *m, const float *images, int batch, float *feats,
                         float *logits)
{
    if (!m || !feats) return drift_error(DRIFT_EINVAL, "features: null argument");
    if (m->cfg.kind != DRIFT_MODEL_CLASSIFIER)
        return drift_error(DRIFT_EINVAL, "features: only the classifier has features (model is %s)",
                           drift_model_kind_name(m->cfg.kind));
    int st = drift_model_forward(m, images, NULL, NULL, batch, logits);
    if (st) return st;
    memcpy(feats, A(m, m->impl->u.clf.feat), (size_t)batch * m->feature_dim * sizeof(float));
    return DRIFT_OK;
}
