/* field_fast.c — drift_field_compute, the float32 fast path (contract: drift/field.h).
 *
 * Same semantics as the float64 reference (field_ref.c), organized for speed:
 *
 *   scan      mean, spread and range of all rows: decides whether the GEMM path can use
 *             the caller's arrays or needs a centered, power-of-two-scaled copy;
 *   pass 0    (feature_norm) the weighted mean distance μ, and/or (cache) all distances;
 *   pass 1    (deng, both) column log-sums of every temperature, over blocks of targets;
 *   pass 2    per block of B queries: distances, coefficient rows of every temperature
 *             (fast_coef.c), one SGEMM  G = C·T  of (n_tau·B) × T by T × d, and
 *             V_τ(x_i) = G_τi − (Σ_j C_τij) x_i; for small d, direct loops instead.
 *             When no V_τ is needed on its own (no drift normalization, and the caller
 *             waived the per-temperature RMS: cfg->skip_tau_rms), the rows are summed over τ
 *             first, V = (Σ_τ C_τ)·T − (Σ_τ Σ_j C_τij) x_i: one GEMM of B × T by T × d, which
 *             is most of the flops saved at large d (the field product was n_tau of n_tau + 1
 *             GEMMs of the same size);
 *   finish    per-temperature RMS, drift normalization, potentials, checks.
 *
 * Memory: O(B·T) per thread for B queries against all T targets (B = cfg->block_rows, or
 * chosen from a working-set target), plus the batch copy when one is needed; in automatic
 * mode, when a pass needs the distances twice and they fit in 64 MiB, they are computed
 * once and kept. All of it is carved from one scratch slab of the caller's context (drift/ctx.h),
 * kept there for the next call: a training loop calls with the same sizes every step, and fresh
 * pages cost (faults and zeroing were a quarter of a call's time when every buffer was
 * allocated per call). Without a context the slab is allocated for the call.
 *
 * Determinism: each query row, each column log-sum and each block's partial sum is
 * computed by one thread in a fixed order, and blocks are reduced in block order, so the
 * result does not depend on the thread count or scheduling. The block size (which the
 * thread count does not change) moves only the last bits. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "core/ctx_internal.h"
#include "drift/core.h"
#include "drift/ctx.h"
#include "drift/error.h"
#include "field/fast_internal.h"
#include "field/field_internal.h"
#include "field/vexp.h"

#define FAST_BLOCK_BYTES ((int64_t)8 << 20) /* per-thread working set of a query block */
#define FAST_BLOCK_MAX_ROWS 256
#define FAST_CACHE_BYTES ((int64_t)64 << 20) /* largest whole-batch distance table kept */
/* Below this much work (≈ flops) a call runs on one thread: waking a team costs more. */
#define FAST_PARALLEL_WORK 200000

/* ---- scratch memory --------------------------------------------------------------- */

/* Buffers are carved out of one block, 64-byte aligned. With base == NULL the carver only
 * adds up the sizes (the same code then measures and lays out). */
typedef struct carver {
    char *base;
    size_t off;
} carver;

static void *carve(carver *c, int64_t count, size_t size)
{
    void *p = c->base ? c->base + c->off : NULL;
    c->off += ((size_t)count * size + 63) & ~(size_t)63;
    return p;
}

/* ---- the run ---------------------------------------------------------------------- */

typedef struct row_ws {  /* one thread's buffers */
    float *tile;         /* pass 0 and 2: B × T distances (without the cache) */
    float *r;            /* pass 0: one row of distances */
    float *ctile, *lk;   /* pass 1: n × J distances (without the cache) and kernel logs */
    double *sums;        /* pass 1: J column sums */
    float *c;            /* pass 2: coefficient rows, (rows·B) × T on the GEMM path, else T */
    float *ct;           /* pass 2, combined: T, one temperature's row before it is added in */
    float *scratch;      /* pass 2: 2·T */
    float *g;            /* pass 2: (rows·B) × d, the block's fields */
    double *csum;        /* pass 2: rows·B row sums of the coefficients */
    int64_t *near;       /* pass 2: T, the near targets of one query */
} row_ws;

typedef struct fast_run {
    const drift_field_config *cfg;
    const drift_field_batch *in;
    drift_field_result *res;
    fast_batch fb;
    fast_plan pl;
    int copy;            /* working copy of the batch (centered, scaled) */
    double *mean;        /* d: the batch mean (scan and pack only) */
    float *lo, *hi;      /* d: per-coordinate range (scan only) */
    float *xcopy, *tcopy;
    int64_t B, nblocks, J;
    int combine;         /* temperatures summed in the coefficient rows (one field GEMM) */
    int rows;            /* coefficient rows per query in pass 2: 1 combined, else n_tau */
    int parallel, nws;   /* worth a thread team; workspaces (one per thread) */
    int threads;         /* the team's size when parallel (the context's thread count) */
    int cached;
    float *cache;        /* n × T distances of the whole batch */
    float *lc;           /* deng both: n_tau × T column log-sums */
    float *lc_weight;    /* deng both: n_tau × T, see fast_plan.lc_weight */
    double *block_sums;  /* nblocks × n_tau partial sums (μ in pass 0, Σ‖V_τ‖² in pass 2) */
    double *phi;         /* n × n_tau potential terms (when asked for) */
    float *vt;           /* n_tau × n × d per-temperature fields (drift normalization) */
    row_ws *ws;
    float *v;            /* the output */
    double ill;          /* > 0: some row's (or column's) kernel ratios are lost; its exponent error */
    int64_t ill_row;     /* the first such query (−1: a column) */
} fast_run;

/* Record a row whose kernel ratios float32 cannot resolve (rare: taken under a lock). */
static void note_ill(fast_run *run, double err, int64_t row)
{
    if (!(err > 0)) return;
#pragma omp critical(drift_field_ill)
    if (err > run->ill) {
        run->ill = err;
        run->ill_row = row;
    }
}

/* Lay out every buffer of the run in c (measuring when c->base is NULL). */
static void layout(fast_run *run, carver *c)
{
    const drift_field_config *cfg = run->cfg;
    fast_batch *fb = &run->fb;
    const int64_t n = fb->n, d = fb->d, T = fb->T, B = run->B, J = run->J, nt = cfg->n_tau;
    run->xcopy = run->copy ? carve(c, n * d, sizeof(float)) : NULL;
    run->tcopy = run->copy && !fb->direct && !fb->self_masked ? carve(c, T * d, sizeof(float))
               : run->copy && !fb->direct ? carve(c, (T - n) * d, sizeof(float)) : NULL;
    fb->tt = fb->direct ? carve(c, d * T, sizeof(float)) : NULL;
    fb->xn = fb->direct ? NULL : carve(c, n, sizeof(float));
    fb->tn = fb->direct ? NULL : carve(c, T, sizeof(float));
    fb->w = carve(c, T, sizeof(float));
    fb->lw = carve(c, T, sizeof(float));
    run->cache = run->cached ? carve(c, n * T, sizeof(float)) : NULL;
    const int deng_both = cfg->family == DRIFT_FAMILY_DENG && cfg->deng_norm == DRIFT_DENG_BOTH;
    run->lc = deng_both ? carve(c, nt * T, sizeof(float)) : NULL;
    run->lc_weight = deng_both ? carve(c, nt * T, sizeof(float)) : NULL;
    run->block_sums = carve(c, run->nblocks * nt, sizeof(double));
    run->phi = run->res->potential ? carve(c, n * nt, sizeof(double)) : NULL;
    run->vt = cfg->drift_norm ? carve(c, nt * n * d, sizeof(float)) : NULL;
    run->ws = carve(c, run->nws, sizeof(row_ws));
    for (int k = 0; k < run->nws; k++) {
        row_ws w;
        w.tile = run->cached ? NULL : carve(c, B * T, sizeof(float));
        w.r = carve(c, T, sizeof(float));
        w.ctile = run->cached || !deng_both ? NULL : carve(c, n * J, sizeof(float));
        w.lk = deng_both ? carve(c, n * J, sizeof(float)) : NULL;
        w.sums = deng_both ? carve(c, J, sizeof(double)) : NULL;
        w.c = carve(c, fb->direct ? T : run->rows * B * T, sizeof(float));
        w.ct = run->combine ? carve(c, T, sizeof(float)) : NULL;
        w.scratch = carve(c, 2 * T, sizeof(float));
        w.g = carve(c, run->rows * B * d, sizeof(float));
        w.csum = carve(c, run->rows * B, sizeof(double));
        w.near = fb->direct ? NULL : carve(c, T, sizeof(int64_t));
        if (run->ws) run->ws[k] = w;
    }
}

/* ---- scan and pack ---------------------------------------------------------------- */

/* The distinct input rows in target order: queries (= the self negatives), given
 * negatives, extra negatives, positives. */
typedef struct {
    const float *rows[4];
    const float *w[4];
    int64_t count[4];
} input_rows;

static input_rows inputs_of(const drift_field_batch *b)
{
    const int self = b->neg == NULL;
    input_rows in = {{b->x, self ? NULL : b->neg, b->extra, b->pos},
                     {NULL, self ? NULL : b->neg_w, b->extra_w, b->pos_w},
                     {b->n, self ? 0 : b->m, b->e, b->p}};
    return in;
}

/* Mean, range and mean squared norm of all rows; decides run->copy and fb->unit. Threads take
 * fixed chunks of columns (each chunk's sums run over the rows in order, and the chunks' sums
 * of squares are added in chunk order), so the result does not depend on the thread count. */
#define SCAN_CHUNK 256
static void scan_batch(fast_run *run)
{
    fast_batch *fb = &run->fb;
    const int64_t d = fb->d;
    const input_rows in = inputs_of(run->in);
    int64_t total = 0;
    for (int s = 0; s < 4; s++) total += in.count[s];
    const int64_t nchunks = (d + SCAN_CHUNK - 1) / SCAN_CHUNK;
    double chunk_sq[64], *csq = nchunks <= 64 ? chunk_sq : drift_alloc((size_t)nchunks, sizeof(double));
    const int par = csq && nchunks > 1 && run->threads > 1 && (double)total * (double)d > FAST_PARALLEL_WORK;
#pragma omp parallel for schedule(static) if (par) num_threads(run->threads)
    for (int64_t c = 0; c < nchunks; c++) {
        const int64_t k0 = c * SCAN_CHUNK, k1 = k0 + SCAN_CHUNK < d ? k0 + SCAN_CHUNK : d;
        double *mean = run->mean;
        float *lo = run->lo, *hi = run->hi;
        for (int64_t k = k0; k < k1; k++) {
            mean[k] = 0;
            lo[k] = INFINITY;
            hi[k] = -INFINITY;
        }
        double sq = 0;
        for (int s = 0; s < 4; s++)
            for (int64_t r = 0; r < in.count[s]; r++) {
                const float *row = in.rows[s] + r * d;
#pragma omp simd reduction(+ : sq)
                for (int64_t k = k0; k < k1; k++) {
                    float v = row[k];
                    mean[k] += v;
                    sq += (double)v * v;
                    lo[k] = v < lo[k] ? v : lo[k];
                    hi[k] = v > hi[k] ? v : hi[k];
                }
            }
        if (csq) csq[c] = sq;
    }
    double sumsq = 0;
    if (csq) {
        for (int64_t c = 0; c < nchunks; c++) sumsq += csq[c];
        if (csq != chunk_sq) drift_free(csq);
    } else { /* no memory for the chunk sums: one serial pass for them */
        for (int s = 0; s < 4; s++)
            for (int64_t r = 0; r < in.count[s] * d; r++) sumsq += (double)in.rows[s][r] * in.rows[s][r];
    }
    double mean_sq = 0, maxabs_raw = 0, maxabs_centered = 0;
    for (int64_t k = 0; k < d; k++) {
        run->mean[k] /= (double)total;
        mean_sq += run->mean[k] * run->mean[k];
        maxabs_raw = fmax(maxabs_raw, fmax(fabs(run->lo[k]), fabs(run->hi[k])));
        maxabs_centered = fmax(maxabs_centered, fmax(fabs(run->lo[k] - run->mean[k]), fabs(run->hi[k] - run->mean[k])));
    }
    /* GEMM distances cancel in proportion to ‖x‖² + ‖t‖²: as the caller's rows they are
     * fine when the mean is no farther from the origin than the rows are from the mean
     * (mean square deviation = mean square norm − ‖mean‖²), and the values are far from
     * float overflow and underflow of r² */
    const double spread = sumsq / (double)total - mean_sq;
    run->copy = fb->direct || !(mean_sq <= spread && maxabs_raw <= 0x1p40 && maxabs_raw >= 0x1p-40);
    const int ex = run->copy && maxabs_centered > 0 ? ilogb(maxabs_centered) : 0;
    fb->unit = ldexp(1.0, ex);
}

/* Weights, working copies (centered, scaled), segments, norms. */
static void pack_batch(fast_run *run)
{
    fast_batch *fb = &run->fb;
    const drift_field_batch *b = run->in;
    const int64_t n = fb->n, d = fb->d, T = fb->T, q = fb->q;
    const input_rows in = inputs_of(b);
    const double inv = 1.0 / fb->unit, *mean = run->mean;

    int64_t j = 0;
    for (int s = 0; s < 4; s++) {
        const int64_t count = s == 0 && !fb->self_masked ? 0 : in.count[s]; /* queries are targets when self-masked */
        for (int64_t r = 0; r < count; r++, j++) fb->w[j] = in.w[s] ? in.w[s][r] : 1.0f;
    }
    double wq = 0, wp = 0, we = 0;
    for (j = 0; j < T; j++) {
        fb->lw[j] = fb->w[j] > 0 ? logf(fb->w[j]) : -INFINITY;
        if (j < q) wq += fb->w[j]; else wp += fb->w[j];
        if (j >= n && j < q) we += fb->w[j];
    }
    fb->wq_total = wq;
    fb->wp_total = wp;
    float lwmax = 0.0f;
    for (j = 0; j < T; j++)
        if (fb->w[j] > 0) lwmax = fmaxf(lwmax, fabsf(fb->lw[j]));
    fb->lw_absmax = lwmax;
    /* typical rounding of a distance: the copy's values (|v| < 2) are rounded to float; the
     * GEMM form's r² to about √d ulps of ‖x‖² + ‖t‖² */
    fb->dr_copy = run->copy ? 0x1p-22 : 0.0;
    fb->dr_gemm = fb->direct ? 0.0 : sqrt((double)d) * 0x1p-23;
    /* what one self-masked query sees: the other n − 1 queries (weight 1) and the extras */
    fb->wq_row = fb->self_masked ? (double)(n - 1) + we : wq;

    /* segments: the caller's arrays, or copies (the self negatives are the query copy) */
    fb->nseg = 0;
    int64_t start = 0, copied = 0;
    for (int s = 0; s < 4; s++) {
        const int64_t count = s == 0 && !fb->self_masked ? 0 : in.count[s];
        if (count == 0) continue;
        const float *rows = in.rows[s];
        if (run->copy && !fb->direct) rows = s == 0 ? run->xcopy : run->tcopy + (copied += count, (copied - count) * d);
        if (run->copy && !fb->direct && fb->nseg > 0 && rows == fb->seg_rows[fb->nseg - 1] +
                                                                  (start - fb->seg_start[fb->nseg - 1]) * d) {
            start += count; /* contiguous in the copy: extend the previous segment */
            continue;
        }
        fb->seg_rows[fb->nseg] = rows;
        fb->seg_start[fb->nseg++] = start;
        start += count;
    }
    fb->seg_start[fb->nseg] = T;
    fb->orig_x = b->x;
    fb->orig_start[0] = 0;
    for (int s = 0; s < 4; s++) {
        const int64_t count = s == 0 && !fb->self_masked ? 0 : in.count[s];
        fb->orig_rows[s] = in.rows[s];
        fb->orig_start[s + 1] = fb->orig_start[s] + count;
    }

    const int par = run->parallel;
    if (run->copy) {
        float *xc = run->xcopy;
#pragma omp parallel for schedule(static) if (par) num_threads(run->threads)
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < d; k++) xc[i * d + k] = (float)((b->x[i * d + k] - mean[k]) * inv);
        fb->x = xc;
        if (!fb->direct) { /* the other target rows, in order */
            int64_t dst = 0;
            for (int s = 1; s < 4; s++) {
                const float *src = in.rows[s];
                float *out = run->tcopy + dst * d;
#pragma omp parallel for schedule(static) if (par) num_threads(run->threads)
                for (int64_t r = 0; r < in.count[s]; r++)
                    for (int64_t k = 0; k < d; k++) out[r * d + k] = (float)((src[r * d + k] - mean[k]) * inv);
                dst += in.count[s];
            }
        }
    } else {
        fb->x = b->x;
    }

    if (fb->direct) {
        /* transposed targets; the self negatives are the query copy */
        int64_t j0 = 0;
        for (int s = 0; s < 4; s++) {
            const int64_t count = s == 0 && !fb->self_masked ? 0 : in.count[s];
            for (int64_t r = 0; r < count; r++)
                for (int64_t k = 0; k < d; k++)
                    fb->tt[k * T + j0 + r] = s == 0 ? fb->x[r * d + k] : (float)((in.rows[s][r * d + k] - mean[k]) * inv);
            j0 += count;
        }
    } else {
        float *xn = fb->xn, *tn = fb->tn;
#pragma omp parallel for schedule(static) if (par) num_threads(run->threads)
        for (int64_t i = 0; i < n; i++) {
            const float *row = fb->x + i * d;
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t k = 0; k < d; k++) s += (double)row[k] * row[k];
            xn[i] = (float)s;
        }
#pragma omp parallel for schedule(static) if (par) num_threads(run->threads)
        for (int64_t jj = 0; jj < T; jj++) {
            const float *row = fast_target_row(fb, jj);
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t k = 0; k < d; k++) s += (double)row[k] * row[k];
            tn[jj] = (float)s;
        }
        float xm = 0.0f, tm = 0.0f;
        for (int64_t i = 0; i < n; i++) xm = fmaxf(xm, xn[i]);
        for (int64_t jj = 0; jj < T; jj++) tm = fmaxf(tm, tn[jj]);
        fb->xn_max = xm;
        fb->tn_max = tm;
    }
}

/* ---- plan ------------------------------------------------------------------------- */

/* Kernel constants per temperature, in working units (docs/MATH.md §3.2 feature normalization: τ is
 * relative to the mean distance there, τ_w = τ·√d) expressed on tile values. */
static int plan_temperatures(const drift_field_config *cfg, const fast_batch *fb, double s, fast_plan *pl)
{
    const double a1 = fb->unit / s; /* tile units → working units */
    const double root_d = sqrt((double)fb->d), alpha = cfg->rq_alpha;
    const double soft_add = DENG_SOFT_MASK * (cfg->feature_norm ? root_d : 1.0);
    for (int t = 0; t < cfg->n_tau; t++) {
        fast_tau *tc = &pl->tau[t];
        const double tw = cfg->feature_norm ? cfg->tau[t] * root_d : cfg->tau[t], tw2 = tw * tw;
        memset(tc, 0, sizeof *tc);
        tc->tau_w = tw;
        tc->alpha = (float)alpha;
        switch (cfg->kernel) {
        case DRIFT_KERNEL_GAUSSIAN: /* z = r²: log κ = −r²/2τ², κ#/κ = τ², g/κ = 1/τ² */
            tc->c = (float)(a1 * a1 / (2.0 * tw2));
            tc->h0 = (float)tw2;
            tc->g0 = (float)tw2;
            break;
        case DRIFT_KERNEL_LAPLACE: /* z = r: log κ = −r/τ, κ#/κ = τ(r + τ), g/κ = 1/(τr) */
            tc->c = (float)(a1 / tw);
            tc->h0 = (float)tw2;
            tc->h1 = (float)(tw * a1);
            tc->g1 = (float)(tw * a1);
            break;
        default: { /* rq, z = r², u = r²/(2ατ²): log κ = −α log(1 + u), κ#/κ = ατ²/(α−1)·(1 + u),
                      g/κ = 1/(τ²(1 + u)) */
            const double c = a1 * a1 / (2.0 * alpha * tw2);
            tc->c = (float)c;
            if (alpha > 1) {
                tc->h0 = (float)(alpha * tw2 / (alpha - 1.0));
                tc->h1 = (float)(alpha * tw2 / (alpha - 1.0) * c);
            }
            tc->g0 = (float)tw2;
            tc->g1 = (float)(tw2 * c);
            break;
        }
        }
        tc->lk_self = (float)drift_kernel_log(cfg->kernel, soft_add, tw, alpha);
        /* the same constants in double, to see whether float32 holds them: c may flush to 0
         * (τ huge: every kernel value is 1 to float precision, which is right), but c, h and g
         * must not overflow, nor h and g become denormal (τ tiny next to the data's scale) */
        double cd, hg[4] = {0, 0, 0, 0};
        switch (cfg->kernel) {
        case DRIFT_KERNEL_GAUSSIAN: cd = a1 * a1 / (2.0 * tw2); hg[0] = hg[2] = tw2; break;
        case DRIFT_KERNEL_LAPLACE: cd = a1 / tw; hg[0] = tw2; hg[1] = hg[3] = tw * a1; break;
        default:
            cd = a1 * a1 / (2.0 * alpha * tw2);
            if (alpha > 1) { hg[0] = alpha * tw2 / (alpha - 1.0); hg[1] = hg[0] * cd; }
            hg[2] = tw2; hg[3] = tw2 * cd;
            break;
        }
        tc->c_d = cd;
        tc->rq_big = cfg->kernel == DRIFT_KERNEL_RQ && cd > FAST_RQ_BIG_C;
        tc->rq_log_c = (float)log(cd);
        tc->rq_inv_c = (float)(1.0 / cd);
        int bad = !(cd <= FLT_MAX);
        for (int k = 0; k < 4; k++) bad = bad || hg[k] > FLT_MAX || (hg[k] > 0 && hg[k] < FLT_MIN);
        if (bad)
            return drift_error(DRIFT_ENUMERIC, "tau %g is out of float32 range next to the data's scale: "
                               "its kernel constants overflow or underflow; use --precision f64 (the float64 "
                               "reference) or rescale the inputs", cfg->tau[t]);
    }
    return DRIFT_OK;
}

/* Queries per block: the configured value, or enough rows to fill the working-set target
 * (which also makes the GEMM tall: rows·B rows, rows = n_tau or 1 when combined) while
 * leaving a few blocks per thread. Never a function of the thread count, so results do not
 * depend on it. */
static int64_t plan_block_rows(const drift_field_config *cfg, const fast_batch *fb, int cached, int rows)
{
    const int64_t n = fb->n, T = fb->T, d = fb->d;
    if (cfg->block_rows > 0) return cfg->block_rows < n ? cfg->block_rows : n;
    int64_t row_bytes = 4 * ((cached ? 0 : T) + (fb->direct ? 0 : rows * (T + d)));
    if (row_bytes < 4 * 64) row_bytes = 4 * 64;
    int64_t bmax = FAST_BLOCK_BYTES / row_bytes;
    if (bmax > FAST_BLOCK_MAX_ROWS) bmax = FAST_BLOCK_MAX_ROWS;
    if (bmax < 1) bmax = 1;
    int64_t nb = (n + bmax - 1) / bmax;
    if (n >= 32 && nb < 4) nb = 4;        /* work for a few threads */
    if (nb > 1) nb = (nb + 3) / 4 * 4;    /* and in multiples of 4, so 2 or 4 share evenly */
    if (nb > n) nb = n;
    return (n + nb - 1) / nb;
}

/* Targets per column block in pass 1: about the memory of a query block. */
static int64_t plan_column_block(const drift_field_config *cfg, const fast_batch *fb, int64_t B)
{
    const int64_t n = fb->n, T = fb->T;
    int64_t J = cfg->block_rows > 0 ? B * T / n : FAST_BLOCK_BYTES / (8 * n);
    J = J < 16 ? 16 : J;
    return J > T ? T : J;
}

/* ---- passes ----------------------------------------------------------------------- */

static row_ws *my_ws(const fast_run *run) { return &run->ws[omp_get_thread_num() % run->nws]; }

/* Pass 0: distances of each query block, kept in the cache and/or summed for μ. */
static double pass_distances(fast_run *run, int want_mean)
{
    const fast_batch *fb = &run->fb;
    const int64_t T = fb->T, B = run->B;
#pragma omp parallel for schedule(dynamic, 1) if (run->parallel) num_threads(run->threads)
    for (int64_t blk = 0; blk < run->nblocks; blk++) {
        row_ws *ws = my_ws(run);
        const int64_t i0 = blk * B, i1 = i0 + B < fb->n ? i0 + B : fb->n;
        float *z = run->cache ? run->cache + i0 * T : ws->tile;
        fast_dist_tile(fb, i0, i1, 0, T, z, T);
        if (!want_mean) continue;
        double s = 0;
        for (int64_t i = 0; i < i1 - i0; i++) {
            float *r = ws->r;
            memcpy(r, z + i * T, (size_t)T * sizeof(float));
            if (!fb->tile_holds_r) vsqrt_row(r, T);
            double si = 0;
#pragma omp simd reduction(+ : si)
            for (int64_t j = 0; j < T; j++) si += (double)fb->w[j] * r[j];
            s += si;
        }
        run->block_sums[blk] = s;
    }
    double s = 0;
    for (int64_t blk = 0; want_mean && blk < run->nblocks; blk++) s += run->block_sums[blk];
    return s * fb->unit;
}

/* Pass 1 (deng, both): column log-sums over all queries, by blocks of target columns. */
static void pass_columns(fast_run *run)
{
    const fast_batch *fb = &run->fb;
    const int64_t n = fb->n, T = fb->T, J = run->J, ncol = (T + J - 1) / J;
#pragma omp parallel for schedule(dynamic, 1) if (run->parallel) num_threads(run->threads)
    for (int64_t cb = 0; cb < ncol; cb++) {
        row_ws *ws = my_ws(run);
        const int64_t j0 = cb * J, j1 = j0 + J < T ? j0 + J : T;
        const float *z = run->cache ? run->cache + j0 : ws->ctile;
        const int64_t ldz = run->cache ? T : j1 - j0;
        if (!run->cache) fast_dist_tile(fb, 0, n, j0, j1, ws->ctile, ldz);
        for (int t = 0; t < run->pl.ntau; t++) {
            double ill = 0;
            fast_deng_column_lse(&run->pl, t, j0, j1, z, ldz, ws->lk, ws->sums, run->lc + t * T + j0, &ill);
            note_ill(run, ill, -1);
        }
    }
}

/* The column weights of the one-exponential deng row, for each temperature whose column
 * log-sums are close enough together (fast_plan.lc_weight). */
static void plan_column_weights(fast_run *run)
{
    const int64_t T = run->fb.T;
    for (int t = 0; t < run->pl.ntau; t++) {
        const float *lc = run->lc + t * T;
        float *h = run->lc_weight + t * T;
        float hi = -INFINITY, lo = INFINITY;
        for (int64_t j = 0; j < T; j++)
            if (lc[j] > -INFINITY) {
                hi = lc[j] > hi ? lc[j] : hi;
                lo = lc[j] < lo ? lc[j] : lo;
            }
        run->pl.lc_weight[t] = NULL;
        if (!(hi - lo <= FAST_LC_SPREAD)) continue;
        for (int64_t j = 0; j < T; j++) h[j] = (float)exp(0.5 * ((double)lc[j] - hi));
        run->pl.lc_weight[t] = h;
        run->pl.lc_max[t] = hi;
    }
}

/* out[k] = Σ_j c[j] (t_jk − x_ik): the small-d path, displacements taken exactly. */
static void apply_direct(const fast_batch *fb, int64_t i, const float *c, float *out)
{
    const int64_t T = fb->T;
    for (int64_t k = 0; k < fb->d; k++) {
        const float xk = fb->x[i * fb->d + k], *tk = fb->tt + k * T;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < T; j++) acc += c[j] * (tk[j] - xk);
        out[k] = acc;
    }
}

/* One finished coefficient row of query i: on the small-d path its field, g = Σ_j c_j
 * (t_j − x_i) by direct loops; on the GEMM path the near targets' share of it (their
 * displacements taken exactly, and their coefficients zeroed so that the GEMM leaves them
 * out), and the row sum for V = G − (Σ_j c_j) x_i. */
static void settle_row(const fast_batch *fb, const row_ws *ws, int64_t nnear, int64_t i, float *crow, float *g,
                       double *csum)
{
    const int64_t T = fb->T, d = fb->d;
    if (fb->direct) {
        apply_direct(fb, i, crow, g);
        return;
    }
    const float *xi = fb->x + i * d;
    memset(g, 0, (size_t)d * sizeof(float));
    for (int64_t a = 0; a < nnear; a++) {
        const int64_t j = ws->near[a];
        const float cj = crow[j], *tj = fast_target_row(fb, j);
        if (cj == 0.0f) continue;
        for (int64_t k = 0; k < d; k++) g[k] += cj * (tj[k] - xi[k]);
        crow[j] = 0.0f;
    }
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < T; j++) s += crow[j];
    *csum = s;
}

/* Pass 2 for one block of queries: coefficients, field, per-row outputs. Row r of the
 * block's coefficients (and of g, csum) is temperature r / Bb of query i0 + r % Bb, or,
 * combined, the sum over temperatures of query i0 + r. */
static void rows_block(fast_run *run, row_ws *ws, int64_t blk)
{
    const fast_batch *fb = &run->fb;
    const fast_plan *pl = &run->pl;
    drift_field_result *res = run->res;
    const int64_t T = fb->T, d = fb->d, n = fb->n, nt = pl->ntau, rows = run->rows;
    const int64_t i0 = blk * run->B, i1 = i0 + run->B < n ? i0 + run->B : n, Bb = i1 - i0;
    const float *zb = run->cache ? run->cache + i0 * T : ws->tile;
    if (!run->cache) fast_dist_tile(fb, i0, i1, 0, T, ws->tile, T);

    for (int64_t ii = 0; ii < Bb; ii++) {
        const int64_t i = i0 + ii;
        const float *zi = zb + ii * T;
        int64_t nnear = 0;
        if (!fb->direct)
            for (int64_t j = 0; j < T; j++)
                if (fast_is_near(fb, i, j, zi[j]) && !(fb->self_masked && j == i)) ws->near[nnear++] = j;
        for (int t = 0; t < nt; t++) {
            const int64_t r = run->combine ? ii : t * Bb + ii;
            float *crow = fb->direct ? ws->c : ws->c + r * T;
            float *ct = run->combine && t > 0 ? ws->ct : crow; /* where this temperature's row goes */
            fast_row_info info;
            fast_coef_row(pl, t, i, zi, ct, ws->scratch, &info);
            note_ill(run, info.ill, i);
            if (fb->self_masked) ct[i] = 0.0f; /* zero displacement; keeps the GEMM identity exact */
            if (run->phi) run->phi[i * nt + t] = info.phi;
            if (res->log_pos_mass) res->log_pos_mass[i * nt + t] = info.log_pos_mass;
            if (res->log_neg_mass) res->log_neg_mass[i * nt + t] = info.log_neg_mass;
            if (res->pos_ess) res->pos_ess[i * nt + t] = info.pos_ess;
            if (ct != crow) {
                /* same-signed terms (each side's coefficients are of one sign at every τ):
                 * the float sum costs an ulp, never a cancellation */
#pragma omp simd
                for (int64_t j = 0; j < T; j++) crow[j] += ct[j];
            }
            if (!run->combine || t == nt - 1) settle_row(fb, ws, nnear, i, crow, ws->g + r * d, &ws->csum[r]);
        }
    }
    if (!fb->direct) /* G += C·T, one GEMM per target segment */
        for (int s = 0; s < fb->nseg; s++) {
            const int64_t a = fb->seg_start[s], count = fb->seg_start[s + 1] - a;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(rows * Bb), (int)d, (int)count, 1.0f,
                        ws->c + a, (int)T, fb->seg_rows[s], (int)d, 1.0f, ws->g, (int)d);
        }

    const float unit = (float)fb->unit;
    for (int64_t t = 0; t < rows; t++) {
        double ms = 0;
        for (int64_t ii = 0; ii < Bb; ii++) {
            const int64_t i = i0 + ii;
            float *g = ws->g + (t * Bb + ii) * d;
            const float *xi = fb->x + i * d;
            if (fb->direct) {
                for (int64_t k = 0; k < d; k++) g[k] *= unit;
            } else {
                const float cs = (float)ws->csum[t * Bb + ii];
                for (int64_t k = 0; k < d; k++) g[k] = unit * (g[k] - cs * xi[k]);
            }
            float *vi = run->v + i * d;
            if (run->vt)
                memcpy(run->vt + (t * n + i) * d, g, (size_t)d * sizeof(float));
            else if (t == 0)
                memcpy(vi, g, (size_t)d * sizeof(float));
            else
                for (int64_t k = 0; k < d; k++) vi[k] += g[k];
            if (run->combine) continue; /* no V_τ of its own: nothing to take the RMS of */
            double mi = 0;
#pragma omp simd reduction(+ : mi)
            for (int64_t k = 0; k < d; k++) mi += (double)g[k] * g[k];
            ms += mi;
        }
        if (!run->combine) run->block_sums[blk * nt + t] = ms;
    }
}

static void pass_rows(fast_run *run)
{
#pragma omp parallel for schedule(dynamic, 1) if (run->parallel) num_threads(run->threads)
    for (int64_t blk = 0; blk < run->nblocks; blk++) rows_block(run, my_ws(run), blk);
}

/* Per-temperature RMS, drift normalization, the summed field, potentials. */
static int finish(fast_run *run, double s)
{
    const drift_field_config *cfg = run->cfg;
    drift_field_result *res = run->res;
    const int64_t n = run->fb.n, d = run->fb.d, nt = run->pl.ntau;
    double lambda[DRIFT_MAX_TAU];
    for (int t = 0; t < nt; t++) {
        lambda[t] = 1.0;
        res->tau_rms[t] = NAN;
        if (run->combine) continue; /* pass 2 formed no V_τ (and no drift normalization) */
        double ms = 0;
        for (int64_t blk = 0; blk < run->nblocks; blk++) ms += run->block_sums[blk * nt + t];
        ms /= (double)(n * d);
        if (!cfg->skip_tau_rms) res->tau_rms[t] = sqrt(ms); /* data units already */
        const double msw = ms / (s * s); /* λ is taken in working units, as the reference does */
        if (cfg->drift_norm) lambda[t] = sqrt(msw > DRIFT_NORM_FLOOR ? msw : DRIFT_NORM_FLOOR);
    }
    float *v = run->v;
    if (run->vt) {
        const float *vt = run->vt;
        float inv[DRIFT_MAX_TAU];
        for (int t = 0; t < nt; t++) inv[t] = (float)(1.0 / lambda[t]);
#pragma omp parallel for schedule(static) if (run->parallel) num_threads(run->threads)
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < d; k++) {
                float acc = 0.0f;
                for (int t = 0; t < nt; t++) acc += vt[(t * n + i) * d + k] * inv[t];
                v[i * d + k] = acc;
            }
    }
    double ms = 0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++) {
        double mi = 0;
        const float *vi = v + i * d;
#pragma omp simd reduction(+ : mi)
        for (int64_t k = 0; k < d; k++) mi += (double)vi[k] * vi[k];
        ms += mi;
    }
    finite = isfinite(ms);
    res->rms = sqrt(ms / (double)(n * d));
    if (res->potential)
        for (int64_t i = 0; i < n; i++) {
            double phi = 0;
            for (int t = 0; t < nt; t++) phi += run->phi[i * nt + t] / lambda[t];
            res->potential[i] = s * s * phi;
        }
    if (!finite || !drift_all_finite_f32(v, (size_t)(n * d)))
        return drift_error(DRIFT_ENUMERIC, "the field is not finite (inputs too extreme for float32)");
    return DRIFT_OK;
}

/* The checks every entry point makes before computing: shapes, configuration, finite values,
 * valid weights. */
static int check_batch(const drift_field_config *cfg, const drift_field_batch *b, drift_field_result *res)
{
    if (!b) return drift_error(DRIFT_EINVAL, "field batch is NULL");
    int st = field_check_batch_shape(cfg, b->n, b->d, b->p, b->neg ? b->m : 0, b->e, b->x != NULL,
                                     b->pos != NULL, b->neg != NULL, b->extra != NULL, res);
    if (st) return st;
    const int64_t n = b->n, d = b->d, p = b->p;
    if ((st = field_check_values_f32("queries", b->x, n * d)) ||
        (st = field_check_values_f32("positives", b->pos, p * d)) ||
        (b->neg && (st = field_check_values_f32("negatives", b->neg, b->m * d))) ||
        (b->e && (st = field_check_values_f32("extra negatives", b->extra, b->e * d))) ||
        (st = field_check_weights_f32("positive weights", b->pos_w, p, 1)) ||
        (b->neg && (st = field_check_weights_f32("negative weights", b->neg_w, b->m, 0))) ||
        (b->e && (st = field_check_weights_f32("extra negative weights", b->extra_w, b->e, 0))))
        return st;
    const int64_t q = (b->neg ? b->m : n) + b->e, T = q + p;
    if (T > INT_MAX || d > INT_MAX / 2)
        return drift_error(DRIFT_ESHAPE, "batch too large for the fast field (%lld targets of dimension %lld)",
                           (long long)T, (long long)d);
    return DRIFT_OK;
}

/* One checked batch on the CPU, on `threads` threads, with scratch from the context's slot. */
static int fast_compute(drift_ctx *ctx, int slot, int threads, const drift_field_config *cfg,
                        const drift_field_batch *b, drift_field_result *res)
{
    int st;
    const int64_t n = b->n, d = b->d, p = b->p;
    const int64_t q = (b->neg ? b->m : n) + b->e, T = q + p;

    fast_run run;
    memset(&run, 0, sizeof run);
    run.cfg = cfg;
    run.in = b;
    run.res = res;
    run.v = res->v;
    fast_batch *fb = &run.fb;
    fb->n = n; fb->d = d; fb->q = q; fb->p = p; fb->T = T;
    fb->self_masked = b->neg == NULL;
    fb->direct = d <= FAST_DIRECT_MAX_D;
    fb->tile_holds_r = cfg->kernel == DRIFT_KERNEL_LAPLACE;
    const int nt = cfg->n_tau;
    const int deng_both = cfg->family == DRIFT_FAMILY_DENG && cfg->deng_norm == DRIFT_DENG_BOTH;

    /* plan: the whole distance table is kept when a pass would otherwise recompute it by
     * GEMM; blocks; threads */
    run.cached = cfg->block_rows == 0 && !fb->direct && (cfg->feature_norm || deng_both) &&
                 n * T * (int64_t)sizeof(float) <= FAST_CACHE_BYTES;
    run.combine = cfg->skip_tau_rms && !cfg->drift_norm;
    run.rows = run.combine ? 1 : nt;
    run.B = plan_block_rows(cfg, fb, run.cached, run.rows);
    run.nblocks = (n + run.B - 1) / run.B;
    run.J = plan_column_block(cfg, fb, run.B);
    run.parallel = run.nblocks > 1 && (double)n * (double)T * (double)(d + 16) * nt > FAST_PARALLEL_WORK;
    run.threads = threads > 0 ? threads : 1;
    run.parallel = run.parallel && run.threads > 1;
    run.nws = run.parallel ? run.threads : 1;
    run.mean = drift_alloc((size_t)d, sizeof(double));
    run.lo = drift_alloc((size_t)d, sizeof(float));
    run.hi = drift_alloc((size_t)d, sizeof(float));
    if (!run.mean || !run.lo || !run.hi) {
        drift_free(run.mean); drift_free(run.lo); drift_free(run.hi);
        return drift_error(DRIFT_ENOMEM, "out of memory in the fast field (d=%lld)", (long long)d);
    }
    scan_batch(&run);

    carver measure = {NULL, 0};
    layout(&run, &measure);
    int is_private = 0;
    char *mem = ctx_scratch_acquire(ctx, slot, measure.off, &is_private);
    if (!mem) {
        drift_free(run.mean); drift_free(run.lo); drift_free(run.hi);
        return drift_error(DRIFT_ENOMEM, "out of memory in the fast field (n=%lld, targets=%lld, d=%lld: %zu bytes)",
                           (long long)n, (long long)T, (long long)d, measure.off);
    }
    carver cut = {mem, 0};
    layout(&run, &cut);
    pack_batch(&run);
    drift_free(run.mean); drift_free(run.lo); drift_free(run.hi);

    double s = 1.0, mu = 0.0;
    const double wsum_dist = run.cached || cfg->feature_norm ? pass_distances(&run, cfg->feature_norm) : 0.0;
    if (cfg->feature_norm) {
        /* weighted mean over every query–target pair, self pairs (distance 0) included */
        mu = wsum_dist / ((double)n * (fb->wq_total + fb->wp_total));
        s = (mu > FEATURE_NORM_FLOOR ? mu : FEATURE_NORM_FLOOR) / sqrt((double)d);
    }
    fast_plan *pl = &run.pl;
    pl->cfg = cfg;
    pl->fb = fb;
    pl->ntau = nt;
    pl->lc = run.lc;
    pl->want_phi = res->potential != NULL;
    pl->want_diag = res->log_pos_mass || res->log_neg_mass || res->pos_ess;
    if ((st = plan_temperatures(cfg, fb, s, pl))) {
        ctx_scratch_release(ctx, slot, mem, is_private);
        return st;
    }
    if (deng_both) {
        pass_columns(&run);
        plan_column_weights(&run);
    }
    if (!run.ill) pass_rows(&run);
    res->feature_scale = s;
    res->mean_dist = mu;
    if (run.ill > 0)
        st = drift_error(DRIFT_ENUMERIC, "float32 cannot resolve the kernel here: %s nearest targets are tied within "
                         "the rounding of their distances (about %.3g in the kernel exponent; inputs too far apart "
                         "next to tau); use --precision f64 (the float64 reference) or rescale the inputs",
                         run.ill_row >= 0 ? "a query's" : "a target's", run.ill);
    else
        st = finish(&run, s);
    ctx_scratch_release(ctx, slot, mem, is_private);
    return st;
}

/* ---- entry points ------------------------------------------------------------------ */

int drift_field_compute(const drift_field_config *cfg, const drift_field_batch *b, drift_field_result *res)
{
    int st = check_batch(cfg, b, res);
    return st ? st : fast_compute(NULL, 0, drift_get_threads(), cfg, b, res);
}

int drift_field_compute_ctx(drift_ctx *ctx, const drift_field_config *cfg, const drift_field_batch *b,
                            drift_field_result *res)
{
    return drift_field_compute_many(ctx, cfg, 1, b, res);
}

/* Several independent batches on the CPU. With at least as many batches as threads, each
 * thread takes whole batches (its own scratch slot, one thread inside): the class groups of a
 * training step are too small to split (one block of queries each), so this is what keeps
 * every core busy. Otherwise the batches run one after another, each on the whole team. Either
 * way every batch gets exactly the result of a call of its own: the engine's result does not
 * depend on the thread count. */
static int cpu_many(drift_ctx *ctx, const drift_field_config *cfg, int count, const drift_field_batch *b,
                    drift_field_result *res)
{
    const int threads = drift_ctx_threads(ctx);
    if (count < 2 || threads < 2 || count < threads) {
        for (int k = 0; k < count; k++) {
            int st = fast_compute(ctx, 0, threads, cfg, &b[k], &res[k]);
            if (st) return count > 1 ? drift_error_context(st, "field batch %d", k) : st;
        }
        return DRIFT_OK;
    }
    int first_bad = count, first_st = DRIFT_OK;
    char msg[512] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int k = 0; k < count; k++) {
        int st = fast_compute(ctx, omp_get_thread_num(), 1, cfg, &b[k], &res[k]);
        if (st) {
            /* the message is thread-local: keep the first failing batch's for the caller */
#pragma omp critical(drift_field_many_error)
            if (k < first_bad) {
                first_bad = k;
                first_st = st;
                snprintf(msg, sizeof msg, "%s", drift_last_error());
            }
        }
    }
    if (first_st) return drift_error(first_st, "field batch %d: %s", first_bad, msg);
    return DRIFT_OK;
}

int drift_field_compute_many(drift_ctx *ctx, const drift_field_config *cfg, int count, const drift_field_batch *b,
                             drift_field_result *res)
{
    if (count < 1 || !b || !res)
        return drift_error(DRIFT_EINVAL, "field: %s", count < 1 ? "no batches (count < 1)" : "batches or results are NULL");
    for (int k = 0; k < count; k++) {
        int st = check_batch(cfg, &b[k], &res[k]);
        if (st) return count > 1 ? drift_error_context(st, "field batch %d", k) : st;
        if (k > 0 && b[k].d != b[0].d)
            return drift_error(DRIFT_ESHAPE, "field batch %d has dimension %lld, batch 0 has %lld", k,
                               (long long)b[k].d, (long long)b[0].d);
    }
    if (ctx && ctx->ops && ctx->ops->field_many) {
        char msg[256] = "";
        int st = ctx->ops->field_many(ctx->dev, cfg, count, b, res, msg, sizeof msg);
        if (st == DRIFT_OK) {
            atomic_fetch_add(&ctx->calls_backend, count);
            return DRIFT_OK;
        }
        if (st != DRIFT_EUNSUPPORTED || !ctx->fallback)
            return drift_error(st, "%s backend: %s", drift_backend_name(ctx->backend), msg);
        /* not implemented there: the CPU computes it */
    }
    int st = cpu_many(ctx, cfg, count, b, res);
    if (st == DRIFT_OK && ctx) atomic_fetch_add(&ctx->calls_cpu, count);
    return st;
}
