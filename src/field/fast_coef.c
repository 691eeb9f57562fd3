/* fast_coef.c — coefficient rows of the fast path (docs/MATH.md §3 in float32).
 *
 * For one query x_i and one temperature, every family is written as
 *     V(x_i) = Σ_j C_ij (t_j − x_i)
 * over the targets t = [negatives; positives]. A row is built in log space: kernel logs of
 * the distance row, the largest one subtracted (so the largest term is exactly 1 and a row
 * whose kernel mass underflows still gets the field of its nearest targets), vexpf, then
 * the family's normalization as one double-precision factor per side folded into the
 * row. These are the same formulas as field_ref.c, rearranged:
 *   meanshift  C = ±s·e / Σe                      e = exp(log w + log κ − max)
 *   sharp      C = ±s·e / Σ e·(κ#/κ)              (κ#/κ is a polynomial in r)
 *   kdegrad    C = ±s·e·(g/κ) / Σe                (g/κ is rational in r; 0 at r = 0 for laplace)
 *   mmd        C = ±s·e·(g/κ) · e^max / Σw        (unnormalized: underflow gives 0)
 *   deng       C = A_ij w_j · (other side's Σ A w), A from the row and column log-sums.
 * Every loop over a row is branch-free so that it vectorizes; sums are taken in double. */
#include <math.h>

#include "field/fast_internal.h"
#include "field/field_internal.h"
#include "field/vexp.h"

/* lk[j] = log κ(z[j]), clamped at FAST_LK_MIN */
static void kernel_log(const fast_plan *pl, const fast_tau *tc, const float *z, int64_t count, float *lk)
{
    const float c = tc->c;
    if (pl->cfg->kernel == DRIFT_KERNEL_RQ) {
        const float a = tc->alpha;
        for (int64_t j = 0; j < count; j++) {
            float u = vmin_nonnegf(c * z[j], 1e37f);
            lk[j] = vmax_negf(-a * vlogf(1.0f + u), FAST_LK_MIN);
        }
    } else {
        for (int64_t j = 0; j < count; j++) lk[j] = vmax_negf(-c * z[j], FAST_LK_MIN);
    }
}

static float row_max(const float *v, int64_t count)
{
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < count; j++) m = v[j] > m ? v[j] : m;
    return m;
}

/* e[j] = exp(v[j] − m); returns Σ e in double. */
static double exp_shifted(const float *v, int64_t count, float m, float *e)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < count; j++) {
        float x = vexpf(v[j] - m);
        e[j] = x;
        s += x;
    }
    return s;
}

static double sum_sq(const float *e, int64_t count)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < count; j++) s += (double)e[j] * e[j];
    return s;
}

static double sum_f(const float *e, int64_t count)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < count; j++) s += e[j];
    return s;
}

/* Σ e[j]·(h0 + h1·z[j]) */
static double sum_poly(const float *e, const float *z, int64_t count, float h0, float h1)
{
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < count; j++) s += e[j] * (h0 + h1 * z[j]);
    return s;
}

/* e[j] *= scale / (g0 + g1·z[j]); with g0 = 0 (laplace) the pair at r = 0 gets 0. */
static void scale_rational(float *e, const float *z, int64_t count, float scale, float g0, float g1)
{
    if (g0 > 0) {
        for (int64_t j = 0; j < count; j++) e[j] *= scale / (g0 + g1 * z[j]);
    } else {
        for (int64_t j = 0; j < count; j++)
            e[j] = vkeepf(e[j] * (scale / (g1 * z[j])), vexp_float_to_bits(z[j]) != 0);
    }
}

static void scale_row(float *e, int64_t count, float scale)
{
    for (int64_t j = 0; j < count; j++) e[j] *= scale;
}

/* log Σ_j exp(L[j]) and the effective count (Σe)²/Σe² of a weighted side (diagnostics). */
static void side_mass(const float *L, int64_t count, float *e, double *log_mass, double *ess)
{
    float m = row_max(L, count);
    if (m == -INFINITY) {
        *log_mass = -INFINITY;
        if (ess) *ess = 0.0;
        return;
    }
    double se = exp_shifted(L, count, m, e);
    *log_mass = m + log(se);
    if (ess) *ess = se * se / sum_sq(e, count);
}

/* Per-row diagnostics of drift_field_result from weighted kernel logs L (self entry already
 * −inf): log-mass of each side and the positives' effective sample size. */
static void row_diagnostics(const fast_batch *fb, const float *L, float *e, fast_row_info *info)
{
    side_mass(L + fb->q, fb->p, e + fb->q, &info->log_pos_mass, &info->pos_ess);
    side_mass(L, fb->q, e, &info->log_neg_mass, NULL);
}

/* meanshift, sharp, kdegrad, mmd: the two sides are independent sums. */
static void separable_row(const fast_plan *pl, int t, int64_t i, const float *z, float *crow, float *L,
                          fast_row_info *info)
{
    const drift_field_config *cfg = pl->cfg;
    const fast_batch *fb = pl->fb;
    const fast_tau *tc = &pl->tau[t];
    const int64_t T = fb->T, q = fb->q;
    kernel_log(pl, tc, z, T, L);
    for (int64_t j = 0; j < T; j++) L[j] += fb->lw[j];
    if (fb->self_masked) L[i] = -INFINITY;

    info->phi = 0;
    info->log_neg_mass = info->log_pos_mass = -INFINITY;
    info->pos_ess = 0;
    for (int side = 0; side < 2; side++) {
        const int64_t j0 = side ? q : 0, count = side ? fb->p : q;
        const double sign_scale = side ? cfg->pos_scale : -cfg->neg_scale;
        const double wsum = side ? fb->wp_total : fb->wq_row;
        float *e = crow + j0;
        const float *Ls = L + j0, *zs = z + j0;
        float m = row_max(Ls, count);
        /* nothing on this side (no weight, or only the masked self): no force, no
         * potential, mass log 0 */
        if (!(wsum > 0) || m == -INFINITY) {
            for (int64_t j = 0; j < count; j++) e[j] = 0.0f;
            continue;
        }
        double se = exp_shifted(Ls, count, m, e), phi = 0;
        if (pl->want_diag) { /* the diagnostics are these same sums */
            if (side) {
                info->log_pos_mass = m + log(se);
                info->pos_ess = se * se / sum_sq(e, count);
            } else {
                info->log_neg_mass = m + log(se);
            }
        }
        switch (cfg->family) {
        case DRIFT_FAMILY_MEANSHIFT:
            scale_row(e, count, (float)(sign_scale / se));
            break;
        case DRIFT_FAMILY_SHARP: {
            double sb = sum_poly(e, zs, count, tc->h0, tc->h1);
            phi = m + log(sb) - log(wsum);
            scale_row(e, count, (float)(sign_scale / sb));
            break;
        }
        case DRIFT_FAMILY_KDEGRAD:
            phi = m + log(se) - log(wsum);
            scale_rational(e, zs, count, (float)(sign_scale / se), tc->g0, tc->g1);
            break;
        default: { /* mmd */
            double em = exp((double)m);
            phi = em * se / wsum;
            scale_rational(e, zs, count, (float)(sign_scale * em / wsum), tc->g0, tc->g1);
            break;
        }
        }
        info->phi += sign_scale * phi;
    }
}

/* Deng et al.'s joint normalization: A from row and column log-sums (docs/MATH.md §3), then
 * C_ij = w_j A_ij · (+pos_scale · Σ_neg wA  |  −neg_scale · Σ_pos wA). */
static void deng_row(const fast_plan *pl, int t, int64_t i, const float *z, float *crow, float *lk,
                     fast_row_info *info)
{
    const drift_field_config *cfg = pl->cfg;
    const fast_batch *fb = pl->fb;
    const fast_tau *tc = &pl->tau[t];
    const int64_t T = fb->T, q = fb->q;
    const float *w = fb->w;
    float *a = crow;
    double F; /* A_ij w_j = F · a[j] */

    if (pl->want_diag) { /* the masses see the plain kernel, the self entry removed */
        kernel_log(pl, tc, z, T, lk);
        for (int64_t j = 0; j < T; j++) lk[j] += fb->lw[j];
        if (fb->self_masked) lk[i] = -INFINITY;
        row_diagnostics(fb, lk, crow, info);
    }
    kernel_log(pl, tc, z, T, lk);
    if (fb->self_masked) lk[i] = cfg->deng_soft_mask ? tc->lk_self : -INFINITY;

    if (cfg->deng_norm == DRIFT_DENG_BOTH && pl->lc_weight[t]) {
        /* one exponential per entry: e = exp(L − m) with L = lk − lc/2 gives both A (= e·F)
         * and the row log-sum, Σ_j κ_ij = e^(m + max lc/2) · Σ_j e_j·exp((lc_j − max lc)/2)
         * (see fast_plan.lc_weight for when this is exact to float precision) */
        const float *lc = pl->lc + (int64_t)t * T, *h = pl->lc_weight[t];
        for (int64_t j = 0; j < T; j++) lk[j] -= 0.5f * lc[j];
        const float m = row_max(lk, T);
        double sh = 0;
#pragma omp simd reduction(+ : sh)
        for (int64_t j = 0; j < T; j++) {
            float e = vexpf(lk[j] - m);
            a[j] = e;
            sh += e * h[j];
        }
        const double lr = m + 0.5 * pl->lc_max[t] + log(sh);
        F = exp((double)m - 0.5 * lr);
        if (cfg->deng_floor) { /* released loss: A = sqrt(max(softmax_row · softmax_col, 1e-6)) */
            const float f = (float)F, floor = (float)sqrt(DENG_AFFINITY_FLOOR);
            for (int64_t j = 0; j < T; j++)
                a[j] = vkeepf(vmax_nonnegf(a[j] * f, floor), vexp_float_to_bits(lk[j]) != 0xff800000u /* −inf */) * w[j];
            F = 1.0;
        } else {
            for (int64_t j = 0; j < T; j++) a[j] *= w[j];
        }
    } else if (cfg->deng_norm == DRIFT_DENG_BOTH) {
        /* column log-sums too far apart for the above: the row log-sum separately */
        const float *lc = pl->lc + (int64_t)t * T;
        const float rm = row_max(lk, T); /* finite: there is at least one positive */
        double lr = rm + log(exp_shifted(lk, T, rm, a));
        if (cfg->deng_floor) {
            /* released loss: A = sqrt(max(softmax_row · softmax_col, 1e-6)); a removed
             * (hard-masked) self entry stays 0 */
            const float half_lr = (float)(0.5 * lr), floor = (float)sqrt(DENG_AFFINITY_FLOOR);
            for (int64_t j = 0; j < T; j++) {
                float v = vmax_nonnegf(vexpf(lk[j] - half_lr - 0.5f * lc[j]), floor);
                a[j] = vkeepf(v, vexp_float_to_bits(lk[j]) != 0xff800000u /* −inf */) * w[j];
            }
            F = 1.0;
        } else {
            /* exp(lk − lr/2 − lc/2) with this row's largest exponent taken out in double */
            for (int64_t j = 0; j < T; j++) lk[j] -= 0.5f * lc[j];
            float m = row_max(lk, T);
            exp_shifted(lk, T, m, a);
            for (int64_t j = 0; j < T; j++) a[j] *= w[j];
            F = exp((double)m - 0.5 * lr);
        }
    } else {
        const float rm = row_max(lk, T); /* finite: there is at least one positive */
        double se = exp_shifted(lk, T, rm, a);
        for (int64_t j = 0; j < T; j++) a[j] *= w[j];
        F = cfg->deng_norm == DRIFT_DENG_ROW ? 1.0 / se : exp((double)rm);
    }
    const double sneg = F * sum_f(a, q), spos = F * sum_f(a + q, fb->p);
    scale_row(a, q, (float)(-cfg->neg_scale * spos * F));
    scale_row(a + q, fb->p, (float)(cfg->pos_scale * sneg * F));
    info->phi = 0;
}

void fast_coef_row(const fast_plan *pl, int t, int64_t i, const float *z, float *crow, float *scratch,
                   fast_row_info *info)
{
    if (pl->cfg->family == DRIFT_FAMILY_DENG)
        deng_row(pl, t, i, z, crow, scratch, info);
    else
        separable_row(pl, t, i, z, crow, scratch, info);
}

void fast_deng_column_lse(const fast_plan *pl, int t, int64_t j0, int64_t j1, const float *z, int64_t ldz,
                          float *lk, double *sums, float *lc)
{
    const fast_batch *fb = pl->fb;
    const fast_tau *tc = &pl->tau[t];
    const int64_t n = fb->n, J = j1 - j0;
    /* kernel logs row by row, the self entry patched, and the column maxima (kept in lc)
     * while the row is in cache; then Σ_i exp(lk − max) in double. Rows are added in
     * order, so the result depends neither on the blocking nor on the threads. */
    for (int64_t j = 0; j < J; j++) lc[j] = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float *row = lk + i * J;
        kernel_log(pl, tc, z + i * ldz, J, row);
        if (fb->self_masked && i >= j0 && i < j1) /* column i holds query i itself */
            row[i - j0] = pl->cfg->deng_soft_mask ? tc->lk_self : -INFINITY;
#pragma omp simd
        for (int64_t j = 0; j < J; j++) lc[j] = row[j] > lc[j] ? row[j] : lc[j];
    }
    for (int64_t j = 0; j < J; j++) {
        if (lc[j] == -INFINITY) lc[j] = 0.0f; /* a column of nothing (a lone masked self): Σ = 0 */
        sums[j] = 0.0;
    }
    for (int64_t i = 0; i < n; i++) {
        const float *row = lk + i * J;
        for (int64_t j = 0; j < J; j++) sums[j] += vexpf(row[j] - lc[j]);
    }
    for (int64_t j = 0; j < J; j++) lc[j] = (float)(lc[j] + log(sums[j]));
}
