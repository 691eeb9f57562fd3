/* model_internal.h — what the model kinds share: the layout builder (parameter tensors
 * and activation tensors as offsets into flat buffers), the conditioning vector of the
 * generators, and the per-kind layouts. Not part of the public API. */
#ifndef DRIFT_MODEL_INTERNAL_H
#define DRIFT_MODEL_INTERNAL_H

#include <stddef.h>

#include "drift/error.h"
#include "drift/models.h"
#include "drift/nn.h"

/* How drift_model_init_params fills a tensor. */
enum { INIT_ZERO, INIT_ONE, INIT_FAN_IN, INIT_NORMAL };

typedef struct tensor_init {
    int kind;
    float scale; /* INIT_NORMAL: the standard deviation */
} tensor_init;

/* An activation tensor: `per` floats per sample, max_batch samples from `off` on. */
typedef struct act {
    size_t off, per;
} act;

/* ---- generator conditioning: c = class_emb[label] + alpha_mlp(sinusoid(log α)) ---- */
typedef struct cond_layout {
    int on, dim, n_classes, use_alpha, freqs;
    size_t emb;                     /* params: (n_classes + 1, dim) */
    size_t a_w1, a_b1, a_w2, a_b2;  /* params: alpha MLP (dim, 2F), (dim), (dim, dim), (dim) */
    act log_alpha, feat, h, hs, aout, c;
} cond_layout;

typedef struct mlp_layout {
    cond_layout cond;
    int n_layers;                        /* linear layers: hidden widths + output */
    int dims[DRIFT_MODEL_MAX_WIDTHS + 2];
    size_t w[DRIFT_MODEL_MAX_WIDTHS + 1], b[DRIFT_MODEL_MAX_WIDTHS + 1];
    act x, pre[DRIFT_MODEL_MAX_WIDTHS + 1], post[DRIFT_MODEL_MAX_WIDTHS];
    act out; /* tanh output (when out_tanh) */
} mlp_layout;

typedef struct conv_block {
    drift_conv2d_shape shape;
    int groups, upsample_before;     /* upsample the block's input ×2 first */
    act in;                          /* the block input (after the upsampling, if any) */
    act up_src;                      /* what was upsampled (upsample_before only) */
    size_t w, b, gn_g, gn_b, film_w, film_b;
    act conv, mean, rstd, gn, mod, film, out;
} conv_block;

typedef struct convgen_layout {
    cond_layout cond;
    act cs;                          /* SiLU(c), the input of every FiLM projection */
    act zin;                         /* [noise | c] */
    size_t proj_w, proj_b;
    act h0;
    int n_blocks;
    conv_block blocks[DRIFT_MODEL_MAX_WIDTHS * DRIFT_MODEL_MAX_DEPTH];
    act up_last;                     /* the last block upsampled to full resolution */
    drift_conv2d_shape out_shape;
    size_t out_w, out_b;
    act pre, out;
} convgen_layout;

typedef struct classifier_layout {
    drift_conv2d_shape s1, s2;
    size_t w1, b1, w2, b2, w3, b3, w4, b4;
    act x, c1, r1, p1, c2, r2, f, feat, logits;
    int pool_h, pool_w;
} classifier_layout;

/* ---- encoder (encoder.c) ---- */
typedef struct enc_norm {          /* a group norm: affine parameters, per-sample statistics */
    int groups;
    size_t g, b;                   /* params (C), (C) */
    act mean, rstd;                /* (groups) per sample */
} enc_norm;

typedef struct enc_block {         /* ResNet basic block */
    drift_conv2d_shape s1, s2, sp; /* conv a (may stride), conv b, 1×1 projection */
    int proj;                      /* shape changes: the skip goes through sp + np */
    act in;                        /* the block input (the previous tensor, not a copy) */
    size_t w1, w2, wp;
    enc_norm n1, n2, np;
    act c1, g1, r1, c2, g2, cp, gp, out; /* out = ReLU(g2 + (proj ? gp : in)) */
} enc_block;

typedef struct encoder_layout {
    drift_conv2d_shape s0;
    size_t w0;
    enc_norm n0;
    act x, c0, g0, f0;             /* f0 = ReLU(GN(conv(x))): the map "conv1" */
    int n_blocks;
    enc_block blocks[DRIFT_MODEL_MAX_WIDTHS * DRIFT_MODEL_MAX_DEPTH];
    enc_norm stage_norm[DRIFT_MODEL_MAX_WIDTHS];
    int n_maps;                    /* 1 + stages */
    act map_act[DRIFT_MODEL_MAX_WIDTHS];     /* f0, then each stage's normalized output */
    drift_feature_map maps[DRIFT_MODEL_MAX_WIDTHS];
} encoder_layout;

/* ---- DiT generator (dit.c) ---- */
#define DIT_MAX_BLOCKS 24
typedef struct dit_block {
    size_t ada_w, ada_b, wq, wk, wv, wo, qn, kn, w1, w3, w2;
    act mod;                         /* (6·DM): shift1 scale1 gate1 shift2 scale2 gate2 */
    act h1, rstd1, q, k, v, qrs, krs, qr, kr, o, lse, a, x1, h2, rstd2, u, g, s, y, x2;
} dit_block;

typedef struct dit_layout {
    cond_layout cond;
    int DM, F, NH, HD, p, T, n_ctx, S, PD, n_style, vocab, n_blocks;
    size_t style_emb, ctx, pe_w, pe_b, fada_w, fada_b, out_w, out_b;
    act sidx, c, cs, pz, e, x0, modf, hf, rstdf, otok, img, out;
    act last;                        /* the last block's output (x0 with no blocks) */
    dit_block blocks[DIT_MAX_BLOCKS];
    float *rope;                     /* (S, HD/2) cos, sin, −sin */
} dit_layout;

struct drift_model_impl {
    float *acts, *dacts;
    int n_acts, cap_acts;
    act *act_list;
    unsigned char *act_needs_grad;
    int cap_tensors;
    tensor_init *inits;              /* how each parameter tensor is initialized */
    int *labels;                     /* the last forward's labels, null mapped to n_classes */
    float *work;                     /* conv scratch */
    size_t work_floats;
    char *description;
    union {
        mlp_layout mlp;
        convgen_layout conv;
        classifier_layout clf;
        dit_layout dit;
        encoder_layout enc;
    } u;
};

/* builder (model.c) */
int model_add_param(drift_model *m, const char *name, int ndim, int d0, int d1, int d2, int d3,
                    int init, float init_scale, int decay, size_t *off);
int model_add_act(drift_model *m, size_t per_sample, int needs_grad, act *a);
void model_need_work(drift_model *m, size_t floats);

static inline float *P(const drift_model *m, size_t off) { return m->params + off; }
static inline float *G(const drift_model *m, size_t off) { return m->grads + off; }
static inline float *A(const drift_model *m, act a) { return m->impl->acts + a.off; }
static inline float *D(const drift_model *m, act a) { return m->impl->dacts + a.off; }

/* conditioning (cond.c) */
int cond_build(drift_model *m, cond_layout *c, int dim);
void cond_forward(drift_model *m, const cond_layout *c, const float *alpha, int B);
void cond_backward(drift_model *m, const cond_layout *c, int B); /* reads D(c->c) */

/* kinds */
int mlp_build(drift_model *m);
void mlp_forward(drift_model *m, const float *input, const float *alpha, int B);
void mlp_backward(drift_model *m, int B);
act mlp_output(const drift_model *m);

int convgen_build(drift_model *m);
void convgen_forward(drift_model *m, const float *input, const float *alpha, int B);
void convgen_backward(drift_model *m, int B);
act convgen_output(const drift_model *m);

int classifier_build(drift_model *m);
void classifier_forward(drift_model *m, const float *input, int B);
void classifier_backward(drift_model *m, int B);
act classifier_output(const drift_model *m);

int dit_build(drift_model *m);
void dit_free(drift_model *m); /* what dit_build allocated outside the flat buffers */
void dit_forward(drift_model *m, const float *input, const float *alpha, int B);
void dit_backward(drift_model *m, int B);
act dit_output(const drift_model *m);

/* The encoder has no output tensor of its own: forward gathers its maps straight into `out`
 * (when not NULL), backward scatters dout into them. param_grads = 0 leaves m->grads alone
 * (input gradient only); dinput (B, in_dim), may be NULL, is overwritten. */
int encoder_build(drift_model *m);
void encoder_forward(drift_model *m, const float *input, int B, float *out);
void encoder_backward(drift_model *m, const float *dout, int B, float *dinput, int param_grads);

#endif
