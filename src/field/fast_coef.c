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
    if (pl->cfg->kernel == DRIFT_KERNEL_RQ && tc->rq_big) {
        /* log(1 + c·z) = log c + log(z + 1/c): c·z would overflow (or be clamped) */
        const float a = tc->alpha, lc = tc->rq_log_c, ic = tc->rq_inv_c;
        for (int64_t j = 0; j < count; j++) lk[j] = vmax_negf(-a * (lc + vlogf(z[j] + ic)), FAST_LK_MIN);
    } else if (pl->cfg->kernel == DRIFT_KERNEL_RQ) {
        const float a = tc->alpha;
        for (int64_t j = 0; j < count; j++) {
            float u = vmin_nonnegf(c * z[j], 1e37f);
            lk[j] = vmax_negf(-a * vlogf(1.0f + u), FAST_LK_MIN);
        }
    } else {
        for (int64_t j = 0; j < count; j++) lk[j] = vmax_negf(-c * z[j], FAST_LK_MIN);
    }
}

double fast_exp_ties(const fast_plan *pl, int t, const float *L, int64_t count, int64_t stride, float m, double shift,
                     float xn)
{
    const fast_batch *fb = pl->fb;
    const fast_tau *tc = &pl->tau[t];
    const double c = tc->c_d, lk = fabs((double)m) + shift + fb->lw_absmax; /* |log κ| of the largest term, at most */
    if (!(c > 0)) return 0.0;
    /* its distance r (tile units) and the slope |d log κ / dr| there */
    double r, slope;
    switch (pl->cfg->kernel) {
    case DRIFT_KERNEL_LAPLACE: r = lk / c; slope = c; break;
    case DRIFT_KERNEL_GAUSSIAN: r = sqrt(lk / c); slope = 2.0 * c * r; break;
    default: r = sqrt(expm1(lk / tc->alpha) / c); slope = 2.0 * tc->alpha * c * r / (1.0 + c * r * r); break;
    }
    /* typical rounding of r: the working copy's, the GEMM's (unless the pair is near and was
     * recomputed directly), and the direct sum's */
    double dr = fb->dr_copy + r * sqrt((double)fb->d) * 0x1p-23;
    if (!fb->direct && r * r >= FAST_NEAR_RATIO * ((double)xn + fb->tn_max))
        dr += fb->dr_gemm * ((double)xn + fb->tn_max) / (2.0 * r);
    const double err = isfinite(slope) ? slope * dr : INFINITY;
    if (!(err > FAST_EXP_ERR_CHECK)) return 0.0;
    const float lo = (float)((double)m - 2.0 * err - 40.0);
    int64_t near = 0;
    for (int64_t j = 0; j < count; j++)
        if (L[j * stride] >= lo && L[j * stride] > -INFINITY) near++;
    return near > 1 ? err : 0.0;
}

/* the caller's row of target j */
static const float *orig_target(const fast_batch *fb, int64_t j)
{
    int s = 0;
    while (j >= fb->orig_start[s + 1]) s++;
    return fb->orig_rows[s] + (j - fb->orig_start[s]) * fb->d;
}

static void two_sum(double a, double b, double *s, double *e)
{
    const double x = a + b, z = x - a;
    *s = x;
    *e = (a - (x - z)) + (b - z);
}

/* ‖y_j − x‖² − ‖y_a − x‖² = Σ_k (y_jk − y_ak)((y_jk + y_ak) − 2x_k) in double-double (the
 * float inputs are exact in double, so the differences and sums are too; the products are
 * split by fma), with cond = Σ_k |term_k| for the error bound (as field_ref.c diff_sq). */
static double diff_sq_f32(const float *yj, const float *ya, const float *x, int64_t d, double *cond)
{
    double hi = 0, lo = 0, c = 0;
    for (int64_t k = 0; k < d; k++) {
        const double dy = (double)yj[k] - ya[k]; /* exact: 24-bit operands */
        double sh, sl, p, pe, s, se;
        two_sum((double)yj[k] + ya[k], -2.0 * x[k], &sh, &sl); /* the first sum is exact too */
        p = dy * sh;
        pe = fma(dy, sh, -p) + dy * sl;
        two_sum(hi, p, &s, &se);
        hi = s;
        lo += se + pe;
        c += fabs(p);
    }
    *cond = c;
    return hi + lo;
}

/* log w_j κ_j − log w_a κ_a for targets j0 + j and j0 + a of query i, from the caller's rows,
 * and a bound on its error (*err). */
static double tie_diff(const fast_plan *pl, int t, int64_t i, int64_t j0, int64_t a, int64_t j, const float *z,
                       double *err)
{
    const fast_batch *fb = pl->fb;
    const fast_tau *tc = &pl->tau[t];
    const int64_t d = fb->d;
    const double u = fb->unit, c = tc->c_d;
    /* distances in data units from the tile values (only their relative precision is used) */
    const double ra = fb->tile_holds_r ? z[a] * u : sqrt((double)z[a]) * u;
    const double rj = fb->tile_holds_r ? z[j] * u : sqrt((double)z[j]) * u;
    double cond, dE;
    const double dsq = diff_sq_f32(orig_target(fb, j0 + j), orig_target(fb, j0 + a), fb->orig_x + i * d, d, &cond);
    const double e = 4.0 * 0x1p-53 * fabs(dsq) + (double)((d + 4) * (d + 4)) * 0x1p-104 * cond;
    switch (pl->cfg->kernel) {
    case DRIFT_KERNEL_GAUSSIAN: /* log κ = −c·r²/u² */
        dE = -c * dsq / (u * u);
        *err = c * e / (u * u);
        break;
    case DRIFT_KERNEL_LAPLACE: /* log κ = −c·r/u, Δr = Δ(r²)/(r_j + r_a) */
        dE = rj + ra > 0 ? -c * dsq / ((rj + ra) * u) : 0.0;
        *err = rj + ra > 0 ? c * e / ((rj + ra) * u) + 1e-6 * fabs(dE) : 0.0; /* r from float tiles */
        break;
    default: { /* log κ = −α log(1 + c·r²/u²) */
        const double ua = c * ra * ra / (u * u);
        dE = -tc->alpha * log1p(c * dsq / (u * u) / (1.0 + ua));
        *err = tc->alpha * c * e / (u * u) / (1.0 + ua);
        break;
    }
    }
    return (double)fb->lw[j0 + j] - fb->lw[j0 + a] + dE;
}

int fast_refine_ties(const fast_plan *pl, int t, int64_t i, int64_t j0, int64_t count, float *L, const float *z,
                     float m, double err, float *tmp)
{
    const float lo = (float)((double)m - 2.0 * err - 40.0);
    int64_t top = 0;
    for (int64_t j = 1; j < count; j++)
        if (L[j] > L[top]) top = j;
    /* anchored at the largest float term; if another candidate turns out larger, once more at
     * that one, so that the terms that matter have small differences (and small errors) */
    double e_top = 0, best = 0, derr;
    int64_t next = top;
    for (int64_t j = 0; j < count; j++) {
        if (j == top || !(L[j] >= lo)) continue;
        const double v = tie_diff(pl, t, i, j0, top, j, z, &derr);
        if (v > best) {
            best = v;
            next = j;
        }
    }
    top = next;
    int bad = 0;
    for (int64_t j = 0; j < count; j++) {
        if (!(L[j] >= lo)) {
            tmp[j] = L[j] == -INFINITY ? -INFINITY : FAST_LK_MIN; /* negligible (or nothing) */
            continue;
        }
        const double v = j == top ? e_top : tie_diff(pl, t, i, j0, top, j, z, &derr);
        if (j != top && v > -40.0 && derr > 1e-3) bad = 1;
        tmp[j] = (float)v;
    }
    for (int64_t j = 0; j < count; j++) L[j] = tmp[j];
    return bad ? -1 : 0;
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
    info->ill = 0;
    for (int side = 0; side < 2; side++) {
        const int64_t j0 = side ? q : 0, count = side ? fb->p : q;
        const double sign_scale = side ? cfg->pos_scale : -cfg->neg_scale;
        const double wsum = side ? fb->wp_total : fb->wq_row;
        float *e = crow + j0, *Ls = L + j0;
        const float *zs = z + j0;
        float m = row_max(Ls, count);
        /* nothing on this side (no weight, or only the masked self): no force, no
         * potential, mass log 0 */
        if (!(wsum > 0) || m == -INFINITY) {
            for (int64_t j = 0; j < count; j++) e[j] = 0.0f;
            continue;
        }
        /* float32 distances too coarse for the exponents (inputs far apart next to τ) and
         * terms tied within that: recompute those from the caller's rows (rare) */
        double m_abs = m; /* the largest log-term, also after the repair (which shifts L by it) */
        const double ill = cfg->family == DRIFT_FAMILY_MMD && m < -120.0f /* all of it underflows */ ? 0.0
                         : fast_exp_ties(pl, t, Ls, count, 1, m, 0.0, fb->direct ? 0.0f : fb->xn[i]);
        if (ill > 0) {
            if (fast_refine_ties(pl, t, i, j0, count, Ls, zs, m, ill, e)) {
                if (ill > info->ill) info->ill = ill;
            } else {
                const float m2 = row_max(Ls, count);
                m_abs = (double)m + m2;
                m = m2;
            }
        }
        double se = exp_shifted(Ls, count, m, e), phi = 0;
        if (pl->want_diag) { /* the diagnostics are these same sums */
            if (side) {
                info->log_pos_mass = m_abs + log(se);
                info->pos_ess = se * se / sum_sq(e, count);
            } else {
                info->log_neg_mass = m_abs + log(se);
            }
        }
        switch (cfg->family) {
        case DRIFT_FAMILY_MEANSHIFT:
            scale_row(e, count, (float)(sign_scale / se));
            break;
        case DRIFT_FAMILY_SHARP: {
            double sb = sum_poly(e, zs, count, tc->h0, tc->h1);
            phi = m_abs + log(sb) - log(wsum);
            scale_row(e, count, (float)(sign_scale / sb));
            break;
        }
        case DRIFT_FAMILY_KDEGRAD:
            phi = m_abs + log(se) - log(wsum);
            scale_rational(e, zs, count, (float)(sign_scale / se), tc->g0, tc->g1);
            break;
        default: { /* mmd */
            double em = exp(m_abs);
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
    const float xn = fb->direct ? 0.0f : fb->xn[i];

    if (cfg->deng_norm == DRIFT_DENG_BOTH && pl->lc_weight[t]) {
        /* one exponential per entry: e = exp(L − m) with L = lk − lc/2 gives both A (= e·F)
         * and the row log-sum, Σ_j κ_ij = e^(m + max lc/2) · Σ_j e_j·exp((lc_j − max lc)/2)
         * (see fast_plan.lc_weight for when this is exact to float precision) */
        const float *lc = pl->lc + (int64_t)t * T, *h = pl->lc_weight[t];
        for (int64_t j = 0; j < T; j++) lk[j] -= 0.5f * lc[j];
        const float m = row_max(lk, T);
        /* ties among lk − lc/2 (what A is made of); |lk| exceeds |m| by at most |lc|/2 */
        info->ill = fast_exp_ties(pl, t, lk, T, 1, m, 0.5 * fmax(fabs(pl->lc_max[t]), fabs(pl->lc_max[t] - FAST_LC_SPREAD)), xn);
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
        info->ill = fast_exp_ties(pl, t, lk, T, 1, rm, 0.0, xn);
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
        info->ill = fast_exp_ties(pl, t, lk, T, 1, rm, 0.0, xn);
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
                          float *lk, double *sums, float *lc, double *ill)
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
    *ill = 0;
    for (int64_t j = 0; j < J; j++) {
        if (lc[j] == -INFINITY) lc[j] = 0.0f; /* a column of nothing (a lone masked self): Σ = 0 */
        sums[j] = 0.0;
        const double e = fast_exp_ties(pl, t, lk + j, n, J, lc[j], 0.0, fb->direct ? 0.0f : fb->xn_max);
        if (e > *ill) *ill = e;
    }
    for (int64_t i = 0; i < n; i++) {
        const float *row = lk + i * J;
        for (int64_t j = 0; j < J; j++) sums[j] += vexpf(row[j] - lc[j]);
    }
    for (int64_t j = 0; j < J; j++) lc[j] = (float)(lc[j] + log(sums[j]));
}
