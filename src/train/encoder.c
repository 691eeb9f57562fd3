/* encoder.c — the feature encoder of feature-space drifting: masked-autoencoder training on a
 * train split, the file (safetensors + metadata + content hash) and the cache (drift/encoder.h).
 *
 * The encoder is a drift_model of kind `encoder`. The decoder lives only here, during training:
 * flat parameter / gradient buffers and plain layer calls (drift/nn.h), reading the encoder's
 * maps out of its output rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drift/core.h"
#include "io/atomic.h"
#include "drift/data.h"
#include "drift/encoder.h"
#include "drift/eval.h"
#include "drift/models.h"
#include "drift/nn.h"
#include "drift/optim.h"
#include "drift/rng.h"
#include "drift/safetensors.h"

/* ---------------------------------------------------------------------------------------- */
/* hashes                                                                                     */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

/* FNV-1a step per 32-bit word (little-endian value of the float's bits): a quarter of the
 * multiplications of the byte-wise hash, so 47M pixels hash in a fraction of a second. */
static uint64_t fnv_words(uint64_t h, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t w;
        memcpy(&w, x + i, 4);
        h = (h ^ w) * FNV_PRIME;
    }
    return h;
}

int drift_encoder_data_hash(const float *x, int64_t n, int64_t dim, char *buf, size_t size)
{
    if (!x || n < 1 || dim < 1 || !buf) return drift_error(DRIFT_EINVAL, "data hash: no data");
    uint64_t h = FNV_OFFSET;
    int64_t head[2] = {n, dim};
    h = fnv_bytes(h, head, sizeof head);
    h = fnv_words(h, x, (size_t)n * (size_t)dim);
    int k = snprintf(buf, size, "fnv1a64:%016" PRIx64, h);
    if (k < 0 || (size_t)k >= size) return drift_error(DRIFT_EINVAL, "data hash: buffer too small");
    return DRIFT_OK;
}

/* The metadata fields the content hash covers, in this order. */
static const char *const HASHED_KEYS[] = {"format", "dataset", "data_hash", "train_images",
                                          "architecture", "training", "steps", "loss_start",
                                          "loss_end", "seconds"};
#define N_HASHED ((int)(sizeof HASHED_KEYS / sizeof *HASHED_KEYS))

static void content_hash(const char *const *values, const drift_model *m, char *out, size_t size)
{
    uint64_t h = FNV_OFFSET;
    for (int i = 0; i < N_HASHED; i++) {
        h = fnv_bytes(h, HASHED_KEYS[i], strlen(HASHED_KEYS[i]) + 1);
        h = fnv_bytes(h, values[i], strlen(values[i]) + 1);
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const drift_param_tensor *t = &m->tensors[i];
        h = fnv_bytes(h, t->name, strlen(t->name) + 1);
        h = fnv_words(h, m->params + t->offset, t->count);
    }
    snprintf(out, size, "fnv1a64:%016" PRIx64, h);
}

/* The hashed metadata values of e, in HASHED_KEYS order, into strings held by v. */
typedef struct meta_values {
    char arch[512], images[32], steps[32], l0[32], l1[32], secs[32];
    const char *v[N_HASHED];
} meta_values;

static int fill_meta(const drift_encoder *e, meta_values *mv)
{
    int st = drift_model_config_format(&e->model->cfg, mv->arch, sizeof mv->arch);
    if (st) return st;
    snprintf(mv->images, sizeof mv->images, "%" PRId64, e->train_images);
    snprintf(mv->steps, sizeof mv->steps, "%" PRId64, e->steps);
    snprintf(mv->l0, sizeof mv->l0, "%.17g", e->loss_start);
    snprintf(mv->l1, sizeof mv->l1, "%.17g", e->loss_end);
    snprintf(mv->secs, sizeof mv->secs, "%.3f", e->seconds);
    const char *v[N_HASHED] = {DRIFT_ENCODER_FORMAT, e->dataset, e->data_hash, mv->images, mv->arch,
                               e->training, mv->steps, mv->l0, mv->l1, mv->secs};
    memcpy(mv->v, v, sizeof v);
    return DRIFT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* options, object                                                                            */

void drift_encoder_opts_default(drift_encoder_opts *o, const char *dataset)
{
    memset(o, 0, sizeof *o);
    o->dataset = dataset;
    drift_model_config_default(DRIFT_MODEL_ENCODER, &o->arch);
    o->steps = 1500;
    o->batch = 64;
    o->lr = 2e-3;
    o->weight_decay = 1e-4;
    o->mask_ratio = 0.75;
    o->patch = 4;
    o->progress_every = 100;
}

void drift_encoder_free(drift_encoder *e)
{
    if (!e) return;
    drift_model_free(e->model);
    drift_free(e);
}

int drift_encoder_resize(drift_encoder *e, int max_batch)
{
    if (!e || !e->model) return drift_error(DRIFT_EINVAL, "encoder resize: no encoder");
    if (max_batch == e->model->max_batch) return DRIFT_OK;
    drift_model *m = NULL;
    int st = drift_model_create(&e->model->cfg, max_batch, &m);
    if (st) return st;
    memcpy(m->params, e->model->params, m->n_params * sizeof(float));
    drift_model_free(e->model);
    e->model = m;
    return DRIFT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* the decoder (training only)                                                                */

typedef struct dec_conv {       /* conv (no bias) → GN → ReLU, or the 1×1 head (bias, no GN) */
    drift_conv2d_shape s;
    size_t w, b, gamma, beta;   /* offsets into the decoder's params / grads */
    float *in, *din;            /* input (B, C, H, W) */
    float *conv, *dconv, *gn, *dgn, *out, *dout, *mean, *rstd;
} dec_conv;

typedef struct decoder {
    int n_maps, groups, B;
    drift_feature_map maps[DRIFT_MODEL_MAX_WIDTHS];
    float *map[DRIFT_MODEL_MAX_WIDTHS], *dmap[DRIFT_MODEL_MAX_WIDTHS]; /* (B, c, h, w) copies */
    float *up[DRIFT_MODEL_MAX_WIDTHS], *dup[DRIFT_MODEL_MAX_WIDTHS];   /* upsampled coarser */
    float *cat[DRIFT_MODEL_MAX_WIDTHS], *dcat[DRIFT_MODEL_MAX_WIDTHS]; /* [up, map] */
    dec_conv bridge, level[DRIFT_MODEL_MAX_WIDTHS], head;
    float *params, *grads;
    size_t n_params;
    unsigned char *decay;
    float *work;
    size_t work_floats;
    float **owned;
    int n_owned;
} decoder;

static void dec_free(decoder *d)
{
    for (int i = 0; i < d->n_owned; i++) drift_free(d->owned[i]);
    drift_free(d->owned), drift_free(d->params), drift_free(d->grads), drift_free(d->decay);
    drift_free(d->work);
    memset(d, 0, sizeof *d);
}

static float *dec_buf(decoder *d, size_t floats)
{
    float *p = drift_alloc(floats ? floats : 1, sizeof(float));
    if (!p) return NULL;
    float **o = realloc(d->owned, (size_t)(d->n_owned + 1) * sizeof *o);
    if (!o) {
        drift_free(p);
        return NULL;
    }
    d->owned = o;
    d->owned[d->n_owned++] = p;
    return p;
}

/* Lays out one conv layer: parameters (counted into n_params) and activations for B rows. */
static int dec_conv_init(decoder *d, dec_conv *l, int C, int H, int W, int OC, int K, int head)
{
    int st = drift_conv2d_shape_init(&l->s, C, H, W, OC, K, 1, K / 2);
    if (st) return st;
    size_t wn = (size_t)OC * C * K * K, an = (size_t)d->B * OC * H * W;
    l->w = d->n_params, d->n_params += wn;
    if (head) {
        l->b = d->n_params, d->n_params += (size_t)OC;
    } else {
        l->gamma = d->n_params, d->n_params += (size_t)OC;
        l->beta = d->n_params, d->n_params += (size_t)OC;
    }
    size_t wf = drift_conv2d_work_floats(&l->s, omp_get_max_threads());
    if (wf > d->work_floats) d->work_floats = wf;
    l->conv = dec_buf(d, an), l->dconv = dec_buf(d, an);
    if (!head) {
        l->gn = dec_buf(d, an), l->dgn = dec_buf(d, an);
        l->out = dec_buf(d, an), l->dout = dec_buf(d, an);
        l->mean = dec_buf(d, (size_t)d->B * d->groups), l->rstd = dec_buf(d, (size_t)d->B * d->groups);
        if (!l->gn || !l->dgn || !l->out || !l->dout || !l->mean || !l->rstd) return DRIFT_ENOMEM;
    } else {
        l->out = l->conv, l->dout = l->dconv;
    }
    return l->conv && l->dconv ? DRIFT_OK : DRIFT_ENOMEM;
}

static int dec_create(decoder *d, const drift_model *enc, int B, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->B = B, d->groups = enc->cfg.groups;
    d->n_maps = drift_model_feature_maps(enc, d->maps, DRIFT_MODEL_MAX_WIDTHS);
    const int L = d->n_maps - 1;
    int st = DRIFT_OK;
    for (int i = 0; i <= L && !st; i++) {
        const drift_feature_map *f = &d->maps[i];
        size_t n = (size_t)B * f->c * f->h * f->w;
        d->map[i] = dec_buf(d, n), d->dmap[i] = dec_buf(d, n);
        if (!d->map[i] || !d->dmap[i]) st = DRIFT_ENOMEM;
    }
    const drift_feature_map *top = &d->maps[L];
    if (!st) st = dec_conv_init(d, &d->bridge, top->c, top->h, top->w, top->c, 3, 0);
    if (!st) d->bridge.in = d->map[L], d->bridge.din = d->dmap[L];
    int below_c = top->c;
    for (int i = L - 1; i >= 0 && !st; i--) {
        const drift_feature_map *f = &d->maps[i];
        const size_t hw = (size_t)f->h * f->w;
        d->up[i] = dec_buf(d, (size_t)B * below_c * hw), d->dup[i] = dec_buf(d, (size_t)B * below_c * hw);
        d->cat[i] = dec_buf(d, (size_t)B * (below_c + f->c) * hw);
        d->dcat[i] = dec_buf(d, (size_t)B * (below_c + f->c) * hw);
        if (!d->up[i] || !d->dup[i] || !d->cat[i] || !d->dcat[i]) st = DRIFT_ENOMEM;
        if (!st) st = dec_conv_init(d, &d->level[i], below_c + f->c, f->h, f->w, f->c, 3, 0);
        if (!st) d->level[i].in = d->cat[i], d->level[i].din = d->dcat[i];
        below_c = f->c;
    }
    const drift_model_config *c = &enc->cfg;
    if (!st) st = dec_conv_init(d, &d->head, d->maps[0].c, c->height, c->width, c->channels, 1, 1);
    if (!st) d->head.in = L > 0 ? d->level[0].out : d->bridge.out;
    if (!st) d->head.din = L > 0 ? d->level[0].dout : d->bridge.dout;
    if (st) return st;
    d->params = drift_alloc(d->n_params, sizeof(float));
    d->grads = drift_alloc(d->n_params, sizeof(float));
    d->decay = drift_alloc(d->n_params, 1);
    d->work = drift_alloc(d->work_floats, sizeof(float));
    if (!d->params || !d->grads || !d->decay || !d->work) return DRIFT_ENOMEM;
    /* init as the models module does: conv weights U(±1/sqrt(fan_in)) (decayed), norm scales
     * 1, shifts and the head's bias 0 */
    dec_conv *all[DRIFT_MODEL_MAX_WIDTHS + 2];
    int n = 0;
    all[n++] = &d->bridge;
    for (int i = L - 1; i >= 0; i--) all[n++] = &d->level[i];
    all[n++] = &d->head;
    for (int k = 0; k < n; k++) {
        dec_conv *l = all[k];
        const int fan = l->s.C * l->s.K * l->s.K;
        const size_t wn = (size_t)l->s.OC * fan;
        drift_rng r;
        drift_rng_init(&r, seed, DRIFT_STREAM(0x646563u, (uint32_t)k));
        drift_rng_fill_uniform(&r, d->params + l->w, wn, -1.0f / sqrtf((float)fan), 1.0f / sqrtf((float)fan));
        memset(d->decay + l->w, 1, wn);
        if (l == &d->head) continue;
        for (int o = 0; o < l->s.OC; o++) d->params[l->gamma + o] = 1.0f;
    }
    return DRIFT_OK;
}

static void dec_conv_forward(decoder *d, dec_conv *l, int B, int head)
{
    const int HW = l->s.OH * l->s.OW;
    drift_conv2d_forward(l->conv, l->in, d->params + l->w, head ? d->params + l->b : NULL, B, &l->s,
                         d->work, d->work_floats);
    if (head) return;
    drift_groupnorm_forward(l->gn, l->mean, l->rstd, l->conv, d->params + l->gamma,
                            d->params + l->beta, B, l->s.OC, HW, d->groups);
    drift_relu_forward(l->out, l->gn, (size_t)B * l->s.OC * HW);
}

/* expects l->dout complete; adds into l->din */
static void dec_conv_backward(decoder *d, dec_conv *l, int B, int head)
{
    const int HW = l->s.OH * l->s.OW;
    const size_t n = (size_t)B * l->s.OC * HW;
    if (!head) {
        memset(l->dgn, 0, n * sizeof(float));
        drift_relu_backward(l->dgn, l->dout, l->gn, n);
        memset(l->dconv, 0, n * sizeof(float));
        drift_groupnorm_backward(l->dconv, d->grads + l->gamma, d->grads + l->beta, l->dgn, l->conv,
                                 l->mean, l->rstd, d->params + l->gamma, B, l->s.OC, HW, d->groups);
    }
    drift_conv2d_backward(l->din, d->grads + l->w, head ? d->grads + l->b : NULL, l->dconv, l->in,
                          d->params + l->w, B, &l->s, d->work, d->work_floats);
}

/* concat (B, ca, hw) and (B, cb, hw) → (B, ca + cb, hw) */
static void cat_forward(float *out, const float *a, int ca, const float *b, int cb, int B, size_t hw)
{
    for (int s = 0; s < B; s++) {
        memcpy(out + (size_t)s * (ca + cb) * hw, a + (size_t)s * ca * hw, (size_t)ca * hw * sizeof(float));
        memcpy(out + ((size_t)s * (ca + cb) + ca) * hw, b + (size_t)s * cb * hw, (size_t)cb * hw * sizeof(float));
    }
}

static void cat_backward(float *da, int ca, float *db, int cb, const float *dout, int B, size_t hw)
{
    for (int s = 0; s < B; s++) {
        const float *g = dout + (size_t)s * (ca + cb) * hw;
        float *x = da + (size_t)s * ca * hw, *y = db + (size_t)s * cb * hw;
        for (size_t i = 0; i < (size_t)ca * hw; i++) x[i] += g[i];
        for (size_t i = 0; i < (size_t)cb * hw; i++) y[i] += g[(size_t)ca * hw + i];
    }
}

/* feats (B, out_dim) rows of the encoder → recon (B, C·H·W) */
static const float *dec_forward(decoder *d, const float *feats, int od, int B)
{
    const int L = d->n_maps - 1;
    for (int i = 0; i <= L; i++) {
        const drift_feature_map *f = &d->maps[i];
        const size_t per = (size_t)f->c * f->h * f->w;
        for (int s = 0; s < B; s++)
            memcpy(d->map[i] + (size_t)s * per, feats + (size_t)s * od + f->offset, per * sizeof(float));
    }
    dec_conv_forward(d, &d->bridge, B, 0);
    const float *below = d->bridge.out;
    int below_c = d->maps[L].c;
    for (int i = L - 1; i >= 0; i--) {
        const drift_feature_map *f = &d->maps[i];
        drift_upsample2x_forward(d->up[i], below, B, below_c, f->h / 2, f->w / 2);
        cat_forward(d->cat[i], d->up[i], below_c, d->map[i], f->c, B, (size_t)f->h * f->w);
        dec_conv_forward(d, &d->level[i], B, 0);
        below = d->level[i].out, below_c = f->c;
    }
    dec_conv_forward(d, &d->head, B, 1);
    return d->head.out;
}

/* drecon (B, C·H·W) → dfeats (B, out_dim); adds the decoder's parameter gradients */
static void dec_backward(decoder *d, const float *drecon, float *dfeats, int od, int B)
{
    const int L = d->n_maps - 1;
    for (int i = 0; i <= L; i++)
        memset(d->dmap[i], 0, (size_t)B * d->maps[i].c * d->maps[i].h * d->maps[i].w * sizeof(float));
    dec_conv *top = L > 0 ? &d->level[0] : &d->bridge;
    memset(top->dout, 0, (size_t)B * top->s.OC * top->s.OH * top->s.OW * sizeof(float));
    memcpy(d->head.dconv, drecon, (size_t)B * d->head.s.OC * d->head.s.OH * d->head.s.OW * sizeof(float));
    dec_conv_backward(d, &d->head, B, 1);
    for (int i = 0; i < L; i++) {
        const drift_feature_map *f = &d->maps[i];
        const int below_c = d->maps[i + 1].c;
        const size_t hw = (size_t)f->h * f->w;
        memset(d->dcat[i], 0, (size_t)B * (below_c + f->c) * hw * sizeof(float));
        dec_conv_backward(d, &d->level[i], B, 0);
        memset(d->dup[i], 0, (size_t)B * below_c * hw * sizeof(float));
        cat_backward(d->dup[i], below_c, d->dmap[i], f->c, d->dcat[i], B, hw);
        dec_conv *coarser = i + 1 < L ? &d->level[i + 1] : &d->bridge;
        memset(coarser->dout, 0, (size_t)B * below_c * (hw / 4) * sizeof(float));
        drift_upsample2x_backward(coarser->dout, d->dup[i], B, below_c, f->h / 2, f->w / 2);
    }
    dec_conv_backward(d, &d->bridge, B, 0);
    for (int i = 0; i <= L; i++) {
        const drift_feature_map *f = &d->maps[i];
        const size_t per = (size_t)f->c * f->h * f->w;
        for (int s = 0; s < B; s++)
            memcpy(dfeats + (size_t)s * od + f->offset, d->dmap[i] + (size_t)s * per, per * sizeof(float));
    }
}

/* ---------------------------------------------------------------------------------------- */
/* training                                                                                   */

static int check_opts(const drift_encoder_opts *o, const drift_dataset *train)
{
    if (train->h <= 0 || train->c != 1)
        return drift_error(DRIFT_EINVAL, "encoder train: %s is not a single-channel image dataset",
                           train->name);
    if (o->steps < 1 || o->batch < 2 || !(o->lr > 0) || !(o->weight_decay >= 0))
        return drift_error(DRIFT_EINVAL, "encoder train: steps >= 1, batch >= 2, lr > 0 and "
                                         "weight_decay >= 0 needed (got %" PRId64 ", %d, %g, %g)",
                           o->steps, o->batch, o->lr, o->weight_decay);
    if (!(o->mask_ratio > 0 && o->mask_ratio < 1))
        return drift_error(DRIFT_EINVAL, "encoder train: mask ratio must be in (0, 1), got %g",
                           o->mask_ratio);
    if (o->patch < 1 || train->h % o->patch || train->w % o->patch)
        return drift_error(DRIFT_EINVAL, "encoder train: patch %d must divide the %dx%d image",
                           o->patch, train->h, train->w);
    if (o->arch.kind != DRIFT_MODEL_ENCODER)
        return drift_error(DRIFT_EINVAL, "encoder train: architecture must be of kind encoder");
    if (train->n < 2) return drift_error(DRIFT_EINVAL, "encoder train: %s has fewer than 2 rows", train->name);
    return DRIFT_OK;
}

/* One batch's mask (B, H·W): 1 where the pixel is hidden; whole patches, each with
 * probability ratio (the release's make_patch_mask), from stream (seed, 3, step). */
static void make_mask(float *mask, int B, int H, int W, int p, double ratio, uint64_t seed, int64_t step)
{
    drift_rng r;
    drift_rng_init(&r, seed, DRIFT_STREAM(3, (uint32_t)step));
    const int nh = H / p, nw = W / p;
    for (int b = 0; b < B; b++) {
        float *mk = mask + (size_t)b * H * W;
        for (int i = 0; i < nh; i++)
            for (int j = 0; j < nw; j++) {
                float v = drift_rng_uniform(&r) < ratio ? 1.0f : 0.0f;
                for (int y = 0; y < p; y++)
                    for (int x = 0; x < p; x++) mk[(size_t)(i * p + y) * W + j * p + x] = v;
            }
    }
}

int drift_encoder_train_on(const drift_dataset *train, const drift_encoder_opts *o, drift_encoder **out)
{
    if (!train || !o || !out) return drift_error(DRIFT_EINVAL, "encoder train: NULL argument");
    *out = NULL;
    int st = check_opts(o, train);
    if (st) return st;
    const double t0 = drift_now();
    drift_model_config cfg = o->arch;
    cfg.channels = train->c, cfg.height = train->h, cfg.width = train->w, cfg.out_dim = 0;
    const int B = o->batch < train->n ? o->batch : (int)train->n;
    drift_encoder *e = drift_alloc(1, sizeof *e);
    if (!e) return DRIFT_ENOMEM;
    decoder dec = {0};
    drift_adamw opt_e = {0}, opt_d = {0};
    float *x = NULL, *xin = NULL, *mask = NULL, *feats = NULL, *dfeats = NULL, *drec = NULL;
    int64_t *rows = NULL;
    int *perm = NULL;
    unsigned char *decay_e = NULL;
    if ((st = drift_model_create(&cfg, B, &e->model))) goto done;
    drift_model *m = e->model;
    if ((st = drift_model_init_params(m, o->seed))) goto done;
    if ((st = dec_create(&dec, m, B, o->seed))) goto done;
    const int d = m->in_dim, od = m->out_dim;
    x = drift_alloc((size_t)B * d, sizeof(float));
    xin = drift_alloc((size_t)B * d, sizeof(float));
    mask = drift_alloc((size_t)B * d, sizeof(float));
    drec = drift_alloc((size_t)B * d, sizeof(float));
    feats = drift_alloc((size_t)B * od, sizeof(float));
    dfeats = drift_alloc((size_t)B * od, sizeof(float));
    rows = drift_alloc((size_t)B, sizeof(int64_t));
    perm = drift_alloc((size_t)train->n, sizeof(int));
    decay_e = drift_alloc(m->n_params, 1);
    if (!x || !xin || !mask || !drec || !feats || !dfeats || !rows || !perm || !decay_e) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    if ((st = drift_model_decay_mask(m, decay_e))) goto done;
    if ((st = drift_adamw_init(&opt_e, m->n_params, 0.9f, 0.999f, 1e-8f, (float)o->weight_decay))) goto done;
    if ((st = drift_adamw_init(&opt_d, dec.n_params, 0.9f, 0.999f, 1e-8f, (float)o->weight_decay))) goto done;
    const int64_t total = o->steps;
    drift_lr_schedule sched = {.base_lr = o->lr, .warmup_steps = total >= 20 ? total / 20 : 0,
                               .decay = DRIFT_LR_COSINE, .total_steps = total, .min_lr = o->lr / 20};
    if ((st = drift_lr_schedule_check(&sched))) goto done;

    /* loss_start / loss_end: means over the first and last 5 % of the steps (at least one) */
    const int64_t edge = total / 20 > 0 ? total / 20 : 1;
    double sum_start = 0, sum_end = 0, sum_report = 0;
    int64_t n_report = 0, pos = train->n; /* pos: next row of the current shuffled pass */
    int epoch = -1;
    for (int64_t step = 0; step < total; step++) {
        for (int r = 0; r < B; r++) {
            if (pos >= train->n) { /* a new pass over the rows, reshuffled */
                drift_rng sh;
                drift_rng_init(&sh, o->seed, DRIFT_STREAM(1, (uint32_t)++epoch));
                for (int64_t i = 0; i < train->n; i++) perm[i] = (int)i;
                drift_rng_shuffle(&sh, perm, (size_t)train->n);
                pos = 0;
            }
            rows[r] = perm[pos++];
        }
        if ((st = drift_dataset_gather(train, rows, B, x, NULL))) goto done;
        make_mask(mask, B, train->h, train->w, o->patch, o->mask_ratio, o->seed, step);
        for (size_t i = 0; i < (size_t)B * d; i++) xin[i] = x[i] * (1.0f - mask[i]);
        if ((st = drift_model_forward(m, xin, NULL, NULL, B, feats))) goto done;
        const float *rec = dec_forward(&dec, feats, od, B);
        /* loss_b = Σ mask·(rec − x)² / (Σ mask + 1e-8); loss = mean_b loss_b */
        double loss = 0;
        for (int b = 0; b < B; b++) {
            const float *mk = mask + (size_t)b * d, *xr = x + (size_t)b * d, *rr = rec + (size_t)b * d;
            float *g = drec + (size_t)b * d;
            double se = 0, cnt = 0;
            for (int i = 0; i < d; i++) {
                double diff = (double)rr[i] - xr[i];
                se += mk[i] * diff * diff;
                cnt += mk[i];
            }
            const double den = cnt + 1e-8;
            loss += se / den;
            for (int i = 0; i < d; i++) g[i] = (float)(2.0 * mk[i] * ((double)rr[i] - xr[i]) / den / B);
        }
        loss /= B;
        if (!isfinite(loss)) {
            st = drift_error(DRIFT_ENUMERIC, "encoder training diverged at step %" PRId64, step);
            goto done;
        }
        memset(dec.grads, 0, dec.n_params * sizeof(float));
        dec_backward(&dec, drec, dfeats, od, B);
        drift_model_zero_grad(m);
        if ((st = drift_model_backward(m, dfeats))) goto done;
        double norm;
        if (drift_clip_grad_norm(m->grads, m->n_params, 5.0f, &norm) ||
            drift_clip_grad_norm(dec.grads, dec.n_params, 5.0f, &norm)) {
            st = drift_error(DRIFT_ENUMERIC, "encoder training: non-finite gradient at step %" PRId64, step);
            goto done;
        }
        const float lr = (float)drift_lr_at(&sched, step);
        if ((st = drift_adamw_step(&opt_e, m->params, m->grads, lr, decay_e))) goto done;
        if ((st = drift_adamw_step(&opt_d, dec.params, dec.grads, lr, dec.decay))) goto done;
        if (step < edge) sum_start += loss;
        if (step >= total - edge) sum_end += loss;
        sum_report += loss, n_report++;
        const int last = step + 1 == total;
        if (o->progress && ((o->progress_every > 0 && (step + 1) % o->progress_every == 0) || last)) {
            o->progress(o->progress_ctx, step + 1, total, sum_report / n_report);
            sum_report = 0, n_report = 0;
        }
    }
    e->loss_start = sum_start / edge;
    e->loss_end = sum_end / edge;
    e->steps = total;
    e->train_images = train->n;
    snprintf(e->dataset, sizeof e->dataset, "%s", o->dataset ? o->dataset : train->name);
    if ((st = drift_encoder_data_hash(train->x, train->n, train->dim, e->data_hash, sizeof e->data_hash)))
        goto done;
    snprintf(e->training, sizeof e->training,
             "steps=%" PRId64 " batch=%d lr=%g weight_decay=%g mask_ratio=%g patch=%d seed=%" PRIu64,
             total, B, o->lr, o->weight_decay, o->mask_ratio, o->patch, o->seed);
    e->seconds = drift_now() - t0;
    if ((st = drift_encoder_resize(e, DRIFT_ENCODER_LOAD_BATCH))) goto done;
    meta_values mv;
    if ((st = fill_meta(e, &mv))) goto done;
    content_hash(mv.v, e->model, e->hash, sizeof e->hash);
done:
    dec_free(&dec);
    drift_adamw_free(&opt_e), drift_adamw_free(&opt_d);
    drift_free(x), drift_free(xin), drift_free(mask), drift_free(drec), drift_free(feats);
    drift_free(dfeats), drift_free(rows), drift_free(perm), drift_free(decay_e);
    if (st) {
        drift_encoder_free(e);
        return st;
    }
    *out = e;
    return DRIFT_OK;
}

int drift_encoder_train(const drift_encoder_opts *o, drift_encoder **out)
{
    if (!o || !o->dataset || !out) return drift_error(DRIFT_EINVAL, "encoder train: no dataset");
    *out = NULL;
    drift_dataset train = {0};
    drift_dataset_opts dopts = {.split = "train", .data_dir = o->data_dir, .n = o->train_limit};
    if (o->train_limit < 0) return drift_error(DRIFT_EINVAL, "encoder train: train_limit must be >= 0");
    int st = drift_dataset_open(o->dataset, &dopts, &train);
    if (st) return st;
    st = drift_encoder_train_on(&train, o, out);
    drift_dataset_free(&train);
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* files                                                                                      */

int drift_encoder_save(const drift_encoder *e, const char *path)
{
    if (!e || !e->model || !path) return drift_error(DRIFT_EINVAL, "encoder save: NULL argument");
    const drift_model *m = e->model;
    meta_values mv;
    int st = fill_meta(e, &mv);
    if (!st) st = drift_mkdir_parents(path);
    if (st) return st;
    char hash[40];
    content_hash(mv.v, m, hash, sizeof hash);
    drift_st_tensor *t = drift_alloc((size_t)m->n_tensors, sizeof *t);
    if (!t) return DRIFT_ENOMEM;
    for (int i = 0; i < m->n_tensors; i++) {
        const drift_param_tensor *p = &m->tensors[i];
        t[i].name = p->name;
        t[i].dtype = DRIFT_DTYPE_F32;
        t[i].ndim = p->ndim;
        for (int j = 0; j < p->ndim; j++) t[i].shape[j] = p->shape[j];
        t[i].data = m->params + p->offset;
    }
    drift_st_meta meta[N_HASHED + 1];
    for (int i = 0; i < N_HASHED; i++) meta[i].key = HASHED_KEYS[i], meta[i].value = mv.v[i];
    meta[N_HASHED].key = "hash", meta[N_HASHED].value = hash;
    st = drift_safetensors_write(path, t, (size_t)m->n_tensors, meta, N_HASHED + 1);
    drift_free(t);
    return st;
}

int drift_encoder_load(const char *path, const char *expect_dataset, const char *expect_data_hash,
                       drift_encoder **out)
{
    if (!path || !out) return drift_error(DRIFT_EINVAL, "encoder load: NULL argument");
    *out = NULL;
    drift_safetensors *f = NULL;
    int st = drift_safetensors_read(path, &f);
    if (st) return st;
    drift_encoder *e = NULL;
    const char *vals[N_HASHED];
    const char *format = drift_safetensors_meta(f, "format");
    const char *hash = drift_safetensors_meta(f, "hash");
    int missing = !hash;
    for (int i = 0; i < N_HASHED; i++) missing |= !(vals[i] = drift_safetensors_meta(f, HASHED_KEYS[i]));
    if (!format || strcmp(format, DRIFT_ENCODER_FORMAT) || missing) {
        st = drift_error(DRIFT_EFORMAT, "%s: not a drift encoder (metadata format \"%s\", expected "
                                        "\"%s\" with dataset, data_hash, architecture, training, hash)",
                         path, format ? format : "(none)", DRIFT_ENCODER_FORMAT);
        goto done;
    }
    const char *dataset = vals[1], *data_hash = vals[2];
    if (expect_dataset && strcmp(dataset, expect_dataset)) {
        st = drift_error(DRIFT_EINVAL, "%s: this encoder was trained on %s, not %s", path, dataset,
                         expect_dataset);
        goto done;
    }
    if (expect_data_hash && strcmp(data_hash, expect_data_hash)) {
        st = drift_error(DRIFT_EINVAL, "%s: this encoder was trained on other %s data (data hash %s, "
                                       "the data given has %s): train it again with 'drift encoder "
                                       "train'", path, dataset, data_hash, expect_data_hash);
        goto done;
    }
    drift_model_config cfg;
    if ((st = drift_model_config_parse(vals[4], &cfg))) {
        st = drift_error_context(st, "%s: architecture", path);
        goto done;
    }
    if (cfg.kind != DRIFT_MODEL_ENCODER) {
        st = drift_error(DRIFT_EFORMAT, "%s: architecture is a %s, not an encoder", path,
                         drift_model_kind_name(cfg.kind));
        goto done;
    }
    if (!(e = drift_alloc(1, sizeof *e))) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    if ((st = drift_model_create(&cfg, DRIFT_ENCODER_LOAD_BATCH, &e->model))) goto done;
    drift_model *m = e->model;
    if (drift_safetensors_count(f) != (size_t)m->n_tensors) {
        st = drift_error(DRIFT_EFORMAT, "%s: %zu tensors, the architecture has %d", path,
                         drift_safetensors_count(f), m->n_tensors);
        goto done;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const drift_param_tensor *p = &m->tensors[i];
        if ((st = drift_safetensors_copy(f, p->name, DRIFT_DTYPE_F32, m->params + p->offset, p->count))) {
            st = drift_error_context(st, "%s", path);
            goto done;
        }
    }
    char got[40];
    content_hash(vals, m, got, sizeof got);
    if (strcmp(got, hash)) {
        st = drift_error(DRIFT_EFORMAT, "%s: content hash %s does not match the recorded %s: the "
                                        "file was changed after it was written", path, got, hash);
        goto done;
    }
    if (!drift_all_finite_f32(m->params, m->n_params)) {
        st = drift_error(DRIFT_ENUMERIC, "%s: parameters hold NaN or Inf", path);
        goto done;
    }
    snprintf(e->dataset, sizeof e->dataset, "%s", dataset);
    snprintf(e->data_hash, sizeof e->data_hash, "%s", data_hash);
    snprintf(e->hash, sizeof e->hash, "%s", hash);
    snprintf(e->training, sizeof e->training, "%s", vals[5]);
    e->train_images = strtoll(vals[3], NULL, 10);
    e->steps = strtoll(vals[6], NULL, 10);
    e->loss_start = strtod(vals[7], NULL);
    e->loss_end = strtod(vals[8], NULL);
    e->seconds = strtod(vals[9], NULL);
done:
    drift_safetensors_free(f);
    if (st) {
        drift_encoder_free(e);
        return st;
    }
    *out = e;
    return DRIFT_OK;
}

int drift_encoder_path(const char *cache_dir, const char *dataset, char *buf, size_t size)
{
    if (!dataset || !*dataset || strchr(dataset, '/'))
        return drift_error(DRIFT_EINVAL, "encoder path: bad dataset name '%s'", dataset ? dataset : "(null)");
    char dir[4096];
    int st = drift_cache_dir(cache_dir, dir, sizeof dir);
    if (st) return st;
    int n = snprintf(buf, size, "%s/encoder-%s.safetensors", dir, dataset);
    if (n < 0 || (size_t)n >= size) return drift_error(DRIFT_EINVAL, "encoder path too long");
    return DRIFT_OK;
}

static void say(const drift_encoder_get_opts *o, const char *fmt, ...)
{
    if (!o->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->log(o->log_ctx, line);
}

int drift_encoder_get(const drift_encoder_get_opts *o, drift_encoder **out)
{
    if (!o || !out || !o->dataset) return drift_error(DRIFT_EINVAL, "encoder: no dataset");
    *out = NULL;
    char path[4096];
    int st;
    if (o->path) {
        say(o, "loading encoder %s", o->path);
        return drift_encoder_load(o->path, o->dataset, o->expect_data_hash, out);
    }
    if ((st = drift_encoder_path(o->cache_dir, o->dataset, path, sizeof path))) return st;
    if (access(path, F_OK) == 0) {
        say(o, "loading encoder %s", path);
        return drift_encoder_load(path, o->dataset, o->expect_data_hash, out);
    }
    if (!o->train_if_missing)
        return drift_error(DRIFT_EIO, "no encoder for %s at %s: train one with 'drift encoder train "
                                      "--data %s'", o->dataset, path, o->dataset);
    drift_encoder_opts defaults;
    const drift_encoder_opts *to = o->train_opts;
    if (!to) {
        drift_encoder_opts_default(&defaults, o->dataset);
        defaults.data_dir = o->data_dir;
        to = &defaults;
    }
    say(o, "no encoder for %s at %s: training one now (%" PRId64 " steps of masked-image "
           "reconstruction, a few minutes on 2 cores)", o->dataset, path, to->steps);
    drift_encoder *e = NULL;
    if ((st = drift_encoder_train(to, &e))) return st;
    if (o->expect_data_hash && strcmp(e->data_hash, o->expect_data_hash)) {
        st = drift_error(DRIFT_EINVAL, "the encoder just trained on %s has data hash %s, not the "
                                       "expected %s", o->dataset, e->data_hash, o->expect_data_hash);
        drift_encoder_free(e);
        return st;
    }
    if ((st = drift_encoder_save(e, path))) {
        drift_encoder_free(e);
        return st;
    }
    say(o, "trained the %s encoder in %.0f s (masked MSE %.4f -> %.4f), saved to %s", o->dataset,
        e->seconds, e->loss_start, e->loss_end, path);
    *out = e;
    return DRIFT_OK;
}
