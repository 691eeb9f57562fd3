/* field_ref.c — the float64 reference evaluation of every drift field (docs/MATH.md §3).
 *
 * A plain transcription of the formulas, written to be obviously right rather than fast:
 * explicit distances, explicit loops, all sums of exponentials taken with the maximum
 * subtracted. The fast path (field_fast.c) is tested against this file, and the CLI's
 * `--precision f64` runs it. Memory: O(n·(p + m)) doubles for the distance tables. */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "field/field_internal.h"

/* The packed working copy of a batch: queries, positives, negatives (own rows or given
 * rows, then extra rows), weights, all in working units (divided by s). */
typedef struct {
    int64_t n, d, p, q;  /* q = negatives in all, including the masked self rows */
    int self_masked;     /* negatives 0..n-1 are the queries themselves */
    double *x, *pos, *neg, *wp, *wq;
    double *rp, *rq;     /* n × p and n × q distances */
} ref_batch;

static void ref_batch_free(ref_batch *rb)
{
    drift_free(rb->x); drift_free(rb->pos); drift_free(rb->neg);
    drift_free(rb->wp); drift_free(rb->wq); drift_free(rb->rp); drift_free(rb->rq);
}

static double dist(const double *a, const double *b, int64_t d)
{
    double s = 0;
    for (int64_t k = 0; k < d; k++) {
        double t = a[k] - b[k];
        s += t * t;
    }
    return sqrt(s);
}

static int masked(const ref_batch *rb, int64_t i, int64_t l) { return rb->self_masked && l == i; }

/* An exponent known to an absolute error no better than this is refused when its term
 * matters (within FIELD_TERM_WINDOW of the largest one it is normalized with): the field would
 * be off by about as much, relative. */
#define REF_EXPONENT_TOL 1e-6
#define FIELD_TERM_WINDOW 40.0

/* log Σ exp(v[j]) over j != skip, as *mx (the largest term) + the returned log Σ exp(v − mx),
 * kept apart so that v[j] − log-sum can be taken as (v[j] − mx) − rest without losing the rest
 * to the rounding of a huge mx. *mx = -inf (and 0 returned) for an empty set. */
static double log_sum_exp_split(const double *v, int64_t count, int64_t skip, double *mx_out)
{
    double mx = -INFINITY;
    for (int64_t j = 0; j < count; j++)
        if (j != skip && v[j] > mx) mx = v[j];
    *mx_out = mx;
    if (mx == -INFINITY) return 0.0;
    double s = 0;
    for (int64_t j = 0; j < count; j++)
        if (j != skip) s += exp(v[j] - mx);
    return log(s);
}

static double log_sum_exp(const double *v, int64_t count, int64_t skip)
{
    double mx;
    double rest = log_sum_exp_split(v, count, skip, &mx);
    return mx + rest;
}

/* Whether a row (or column) of kernel logs v[0], v[stride], ... has two or more terms within
 * FIELD_TERM_WINDOW of its largest whose logs, rounded at relative (d + 4)·2^-53 (the distance's
 * error), are off by more than REF_EXPONENT_TOL: then their ratio is not known. */
static int ill_conditioned(const double *v, int64_t count, int64_t stride, double mx, int64_t d)
{
    int64_t near = 0;
    double worst = 0;
    for (int64_t j = 0; j < count; j++) {
        const double x = v[j * stride];
        if (x == -INFINITY || x < mx - FIELD_TERM_WINDOW) continue;
        near++;
        worst = fmax(worst, (double)(d + 4) * 0x1p-53 * fabs(x));
    }
    return near > 1 && worst > REF_EXPONENT_TOL;
}

/* Kernel logs are taken apart as log f(r) = E(r) + P(r) for f = κ, κ# or g: the exponent E
 * (−r²/2τ² gaussian, −r/τ laplace, 0 rq), which can be huge (r ≫ τ), and a moderate log
 * prefactor P (0 for κ of gaussian and laplace; the whole log for rq). A normalized sum needs
 * only differences of E between targets, and these are taken from the difference of squares
 *     r_j² − r_a² = Σ_k (y_jk − y_ak)·((y_jk + y_ak) − 2x_k)
 * against an anchor target a (the nearest), in double-double arithmetic (diff_sq): its error
 * is then relative to the difference itself, not to r², so a query 1e18 away from targets 1
 * apart still resolves them. Adding P to a huge E first would lose it (log r is below the ulp
 * of r/τ at 1e15), so the two are added only after the largest E is subtracted. */
enum { KF_KAPPA = 0, KF_SHARP, KF_GRAD };

static double kernel_exponent(drift_kernel k, double r, double tau)
{
    return k == DRIFT_KERNEL_GAUSSIAN ? -r * r / (2.0 * tau * tau) : k == DRIFT_KERNEL_LAPLACE ? -r / tau : 0.0;
}

static double kernel_prefactor(drift_kernel k, int what, double r, double tau, double alpha)
{
    switch (k) {
    case DRIFT_KERNEL_GAUSSIAN: return what == KF_KAPPA ? 0.0 : what == KF_SHARP ? 2.0 * log(tau) : -2.0 * log(tau);
    case DRIFT_KERNEL_LAPLACE:
        if (what == KF_KAPPA) return 0.0;
        if (what == KF_SHARP) return log(tau) + log(r + tau);
        return r > 0 ? -log(tau) - log(r) : -INFINITY; /* g(0) taken as 0 */
    default:
        return what == KF_KAPPA ? drift_kernel_log(k, r, tau, alpha)
             : what == KF_SHARP ? drift_kernel_log_sharp(k, r, tau, alpha)
                                : drift_kernel_log_grad(k, r, tau, alpha);
    }
}

/* Error-free transformations: a + b = s + e, a·b = p + e exactly. */
static void two_sum(double a, double b, double *s, double *e)
{
    const double x = a + b, z = x - a;
    *s = x;
    *e = (a - (x - z)) + (b - z);
}

static void two_prod(double a, double b, double *p, double *e)
{
    *p = a * b;
    *e = fma(a, b, -*p);
}

/* r_j² − r_a² = Σ_k (y_jk − y_ak)·((y_jk + y_ak) − 2x_k), every difference, sum and product
 * carried as a double-double (about 106 bits), so the result is good to a few ulps of itself
 * plus ~d²·2^-106 of cond = Σ_k |(y_jk − y_ak)·((y_jk + y_ak) − 2x_k)|. */
static double diff_sq(const double *yj, const double *ya, const double *x, int64_t d, double *cond)
{
    double hi = 0, lo = 0, c = 0;
    for (int64_t k = 0; k < d; k++) {
        double dh, dl, sh, sl, th, tl, p, pe, s, se;
        two_sum(yj[k], -ya[k], &dh, &dl);     /* y_j − y_a */
        two_sum(yj[k], ya[k], &sh, &sl);      /* y_j + y_a */
        two_sum(sh, -2.0 * x[k], &th, &tl);   /* ... − 2x (2x is exact) */
        tl += sl;
        two_prod(dh, th, &p, &pe);
        pe += dh * tl + dl * th;
        two_sum(hi, p, &s, &se);
        hi = s;
        lo += se + pe;
        c += fabs(p);
    }
    *cond = c;
    return hi + lo;
}

/* E(r_j) − E(r_a) from dsq = r_j² − r_a² (diff_sq), and a bound on its rounding error. */
static double exponent_diff(drift_kernel k, double rj, double ra, double dsq, double cond, double tau, int64_t d,
                            double *err)
{
    const double e = 4.0 * 0x1p-53 * fabs(dsq) + (double)((d + 4) * (d + 4)) * 0x1p-104 * cond;
    if (k == DRIFT_KERNEL_GAUSSIAN) {
        *err = e / (2.0 * tau * tau);
        return -dsq / (2.0 * tau * tau);
    }
    if (k == DRIFT_KERNEL_LAPLACE && rj + ra > 0) {
        const double dE = -dsq / (rj + ra) / tau;
        *err = e / ((rj + ra) * tau) + (double)(d + 4) * 0x1p-53 * fabs(dE); /* and r's own rounding */
        return dE;
    }
    *err = 0;
    return 0.0;
}

/* One side (positives or negatives) of a meanshift/sharp/kdegrad/mmd field at query xi:
 *   out = Σ_j a_j (y_j − xi) / B, a_j = w_j·(κ or g), B = Σ_j w_j·(κ, κ#, or 1),
 * and the potential term (log of the normalized KDE, or the kernel mean for mmd). la and lb
 * are scratch of 3·count and 2·count doubles. */
static int side_field(const drift_field_config *cfg, double tau, const double *xi, const double *Y,
                      const double *w, const double *r, int64_t count, int64_t skip, int64_t d,
                      double *la, double *lb, double *out, double *phi)
{
    const drift_family fam = cfg->family;
    const drift_kernel ker = cfg->kernel;
    const double alpha = cfg->rq_alpha;
    const int fa = fam == DRIFT_FAMILY_KDEGRAD || fam == DRIFT_FAMILY_MMD ? KF_GRAD : KF_KAPPA;
    const int fb = fam == DRIFT_FAMILY_SHARP ? KF_SHARP : KF_KAPPA;
    memset(out, 0, (size_t)d * sizeof *out);
    *phi = 0;
    double wsum = 0;
    int64_t anchor = -1;
    for (int64_t j = 0; j < count; j++) {
        if (j == skip || !(w[j] > 0)) continue;
        wsum += w[j];
        if (anchor < 0 || r[j] < r[anchor]) anchor = j;
    }
    if (!(wsum > 0)) return DRIFT_OK; /* nothing on this side: no force, no potential */

    if (fam == DRIFT_FAMILY_MMD) { /* unnormalized: weighted kernel mean and its gradient */
        double kmean = 0;
        for (int64_t j = 0; j < count; j++) {
            if (j == skip || !(w[j] > 0)) continue;
            const double E = kernel_exponent(ker, r[j], tau);
            double a = exp(E + kernel_prefactor(ker, KF_GRAD, r[j], tau, alpha)) * (w[j] / wsum);
            kmean += exp(E + kernel_prefactor(ker, KF_KAPPA, r[j], tau, alpha)) * (w[j] / wsum);
            for (int64_t k = 0; k < d; k++) out[k] += a * (Y[j * d + k] - xi[k]);
        }
        *phi = kmean;
        return DRIFT_OK;
    }
    /* la, lb: log w + ΔE (large) and the prefactors' logs relative to the anchor's (moderate),
     * in two arrays, added only after the largest log w + ΔE has been subtracted */
    double *pa = la + count, *pb = lb + count, *errs = la + 2 * count;
    double mx = -INFINITY, pb_a = 0;
    /* anchored at the nearest target by computed distance; when another term turns out to be
     * the largest (the distances tie in double, or the weights differ), once more anchored at
     * that one, so that the terms that matter have small differences and small errors */
    for (int pass = 0; pass < 2; pass++) {
        const double *ya = &Y[anchor * d];
        pb_a = kernel_prefactor(ker, fb, r[anchor], tau, alpha);
        mx = -INFINITY;
        int64_t top = anchor;
        for (int64_t j = 0; j < count; j++) {
            if (j == skip || !(w[j] > 0)) {
                la[j] = -INFINITY;
                continue;
            }
            double dsq = 0, cond = 0, err = 0;
            if (j != anchor) dsq = diff_sq(&Y[j * d], ya, xi, d, &cond);
            la[j] = log(w[j]) + exponent_diff(ker, r[j], r[anchor], dsq, cond, tau, d, &err);
            pa[j] = kernel_prefactor(ker, fa, r[j], tau, alpha) - pb_a;
            pb[j] = kernel_prefactor(ker, fb, r[j], tau, alpha) - pb_a;
            errs[j] = err; /* the error bound, checked once the largest term is known */
            if (la[j] > mx) {
                mx = la[j];
                top = j;
            }
        }
        if (top == anchor || la[top] - la[anchor] < 1.0) break;
        anchor = top;
    }
    double B = 0;
    for (int64_t j = 0; j < count; j++) {
        if (la[j] == -INFINITY) continue;
        const double big = la[j] - mx;
        if (errs[j] > REF_EXPONENT_TOL && big + pb[j] > -FIELD_TERM_WINDOW)
            return drift_error(DRIFT_ENUMERIC, "float64 cannot resolve the kernel here: two targets at distance %.17g "
                               "and %.17g from a query differ by less than their rounding error at tau %g "
                               "(rescale the inputs or use a larger tau)", r[anchor], r[j], tau);
        B += exp(big + pb[j]);
        double a = exp(big + pa[j]);
        for (int64_t k = 0; k < d; k++) out[k] += a * (Y[j * d + k] - xi[k]);
    }
    for (int64_t k = 0; k < d; k++) out[k] /= B;
    *phi = kernel_exponent(ker, r[anchor], tau) + pb_a + mx + log(B) - log(wsum);
    return DRIFT_OK;
}

/* Deng et al.'s joint normalization over the targets T = [negatives; positives] (docs/MATH.md §3). */
static int deng_field(const drift_field_config *cfg, const ref_batch *rb, double tau, double soft_add,
                      double *vt)
{
    const int64_t n = rb->n, d = rb->d, p = rb->p, q = rb->q, T = q + p;
    double *logk = drift_alloc((size_t)(n * T), sizeof(double));
    double *lr = drift_alloc((size_t)n, sizeof(double)), *rmx = drift_alloc((size_t)n, sizeof(double));
    double *lc = drift_alloc((size_t)T, sizeof(double)), *cmx = drift_alloc((size_t)T, sizeof(double));
    double *col = drift_alloc((size_t)n, sizeof(double));
    if (!logk || !lr || !rmx || !lc || !cmx || !col) {
        drift_free(logk); drift_free(lr); drift_free(rmx); drift_free(lc); drift_free(cmx); drift_free(col);
        return DRIFT_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < T; j++) {
            double r = j < q ? rb->rq[i * q + j] : rb->rp[i * p + (j - q)];
            double *lk = &logk[i * T + j];
            if (j < q && masked(rb, i, j))
                *lk = cfg->deng_soft_mask ? drift_kernel_log(cfg->kernel, r + soft_add, tau, cfg->rq_alpha) : -INFINITY;
            else
                *lk = drift_kernel_log(cfg->kernel, r, tau, cfg->rq_alpha);
        }
    /* row and column log-sums, each as its largest term + the log-sum of the rest, so that
     * log K − log-sum is (log K − max) − rest: no huge numbers meet */
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        lr[i] = log_sum_exp_split(&logk[i * T], T, -1, &rmx[i]);
        bad = bad || ill_conditioned(&logk[i * T], T, 1, rmx[i], rb->d);
    }
    for (int64_t j = 0; j < T; j++) {
        for (int64_t i = 0; i < n; i++) col[i] = logk[i * T + j];
        lc[j] = log_sum_exp_split(col, n, -1, &cmx[j]);
        bad = bad || ill_conditioned(col, n, 1, cmx[j], rb->d);
    }
    if (bad) {
        drift_free(logk); drift_free(lr); drift_free(rmx); drift_free(lc); drift_free(cmx); drift_free(col);
        return drift_error(DRIFT_ENUMERIC, "float64 cannot resolve the deng kernel at tau %g: distances are too large "
                           "next to tau for their rounding error (rescale the inputs, use a larger tau or --feature-norm)",
                           tau);
    }
    for (int64_t i = 0; i < n; i++) {
        double spos = 0, sneg = 0;
        double *a = &logk[i * T]; /* reuse the row: log K -> A */
        for (int64_t j = 0; j < T; j++) {
            double lk = a[j], aij;
            const double row = (lk - rmx[i]) - lr[i], colw = (lk - cmx[j]) - lc[j]; /* log softmax_row, _col */
            if (lk == -INFINITY) {
                aij = 0; /* removed self entry */
            } else if (cfg->deng_norm == DRIFT_DENG_BOTH && cfg->deng_floor) {
                double prod = exp(row) * exp(colw);
                aij = sqrt(prod > DENG_AFFINITY_FLOOR ? prod : DENG_AFFINITY_FLOOR);
            } else if (cfg->deng_norm == DRIFT_DENG_BOTH) {
                aij = exp(0.5 * (row + colw));
            } else if (cfg->deng_norm == DRIFT_DENG_ROW) {
                aij = exp(row);
            } else {
                aij = exp(lk);
            }
            aij *= j < q ? rb->wq[j] : rb->wp[j - q];
            a[j] = aij;
            if (j < q) sneg += aij; else spos += aij;
        }
        const double *xi = &rb->x[i * d];
        double *vi = &vt[i * d];
        for (int64_t j = 0; j < T; j++) {
            const double *y = j < q ? &rb->neg[j * d] : &rb->pos[(j - q) * d];
            double c = j < q ? -cfg->neg_scale * spos * a[j] : cfg->pos_scale * sneg * a[j];
            if (c == 0) continue;
            for (int64_t k = 0; k < d; k++) vi[k] += c * (y[k] - xi[k]);
        }
    }
    drift_free(logk); drift_free(lr); drift_free(rmx); drift_free(lc); drift_free(cmx); drift_free(col);
    return DRIFT_OK;
}

static int prepare(const drift_field_config *cfg, const drift_field_batch64 *b, ref_batch *rb, double *s_out, double *mu_out)
{
    const int64_t n = b->n, d = b->d, p = b->p;
    const int self = b->neg == NULL;
    const int64_t m = self ? n : b->m, q = m + b->e;
    memset(rb, 0, sizeof *rb);
    rb->n = n; rb->d = d; rb->p = p; rb->q = q; rb->self_masked = self;
    rb->x = drift_alloc((size_t)(n * d), sizeof(double));
    rb->pos = drift_alloc((size_t)(p * d), sizeof(double));
    rb->neg = drift_alloc((size_t)(q * d + 1), sizeof(double));
    rb->wp = drift_alloc((size_t)p, sizeof(double));
    rb->wq = drift_alloc((size_t)q + 1, sizeof(double));
    rb->rp = drift_alloc((size_t)(n * p), sizeof(double));
    rb->rq = drift_alloc((size_t)(n * q + 1), sizeof(double));
    if (!rb->x || !rb->pos || !rb->neg || !rb->wp || !rb->wq || !rb->rp || !rb->rq) return DRIFT_ENOMEM;
    memcpy(rb->x, b->x, (size_t)(n * d) * sizeof(double));
    memcpy(rb->pos, b->pos, (size_t)(p * d) * sizeof(double));
    memcpy(rb->neg, self ? b->x : b->neg, (size_t)(m * d) * sizeof(double));
    if (b->e) memcpy(rb->neg + m * d, b->extra, (size_t)(b->e * d) * sizeof(double));
    for (int64_t j = 0; j < p; j++) rb->wp[j] = b->pos_w ? b->pos_w[j] : 1.0;
    for (int64_t l = 0; l < m; l++) rb->wq[l] = (!self && b->neg_w) ? b->neg_w[l] : 1.0;
    for (int64_t l = 0; l < b->e; l++) rb->wq[m + l] = b->extra_w ? b->extra_w[l] : 1.0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++) rb->rp[i * p + j] = dist(&rb->x[i * d], &rb->pos[j * d], d);
        for (int64_t l = 0; l < q; l++) rb->rq[i * q + l] = dist(&rb->x[i * d], &rb->neg[l * d], d);
    }
    double s = 1.0, mu = 0.0;
    if (cfg->feature_norm) {
        /* weighted mean over every query–target pair, the self pairs (distance 0) included,
         * as the authors' released loss computes it */
        double num = 0, wsum = 0;
        for (int64_t j = 0; j < p; j++) wsum += rb->wp[j];
        for (int64_t l = 0; l < q; l++) wsum += rb->wq[l];
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < p; j++) num += rb->wp[j] * rb->rp[i * p + j];
            for (int64_t l = 0; l < q; l++) num += rb->wq[l] * rb->rq[i * q + l];
        }
        mu = num / ((double)n * wsum);
        s = (mu > FEATURE_NORM_FLOOR ? mu : FEATURE_NORM_FLOOR) / sqrt((double)d);
        for (int64_t k = 0; k < n * d; k++) rb->x[k] /= s;
        for (int64_t k = 0; k < p * d; k++) rb->pos[k] /= s;
        for (int64_t k = 0; k < q * d; k++) rb->neg[k] /= s;
        for (int64_t k = 0; k < n * p; k++) rb->rp[k] /= s;
        for (int64_t k = 0; k < n * q; k++) rb->rq[k] /= s;
    }
    *s_out = s;
    *mu_out = mu;
    return DRIFT_OK;
}

int drift_field_compute_f64(const drift_field_config *cfg, const drift_field_batch64 *b, drift_field_result *res)
{
    if (!b) return drift_error(DRIFT_EINVAL, "field batch is NULL");
    int st = field_check_batch_shape(cfg, b->n, b->d, b->p, b->neg ? b->m : 0, b->e, b->x != NULL,
                                     b->pos != NULL, b->neg != NULL, b->extra != NULL, res);
    if (st) return st;
    const int64_t n = b->n, d = b->d, p = b->p;
    if ((st = field_check_values_f64("queries", b->x, n * d)) ||
        (st = field_check_values_f64("positives", b->pos, p * d)) ||
        (b->neg && (st = field_check_values_f64("negatives", b->neg, b->m * d))) ||
        (b->e && (st = field_check_values_f64("extra negatives", b->extra, b->e * d))) ||
        (st = field_check_weights_f64("positive weights", b->pos_w, p, 1)) ||
        (b->neg && (st = field_check_weights_f64("negative weights", b->neg_w, b->m, 0))) ||
        (b->e && (st = field_check_weights_f64("extra negative weights", b->extra_w, b->e, 0))))
        return st;

    ref_batch rb;
    double s = 1.0, mu = 0.0;
    st = prepare(cfg, b, &rb, &s, &mu);
    const int64_t q = rb.q, nt = cfg->n_tau;
    double *vt = drift_alloc((size_t)(n * d), sizeof(double));
    double *vsum = drift_alloc((size_t)(n * d), sizeof(double));
    double *fp = drift_alloc((size_t)d, sizeof(double)), *fn = drift_alloc((size_t)d, sizeof(double));
    double *phit = drift_alloc((size_t)n, sizeof(double)), *phisum = drift_alloc((size_t)n, sizeof(double));
    double *la = drift_alloc((size_t)(3 * (p + q) + 1), sizeof(double)), *lb = drift_alloc((size_t)(2 * (p + q) + 1), sizeof(double));
    if (st == DRIFT_OK && (!vt || !vsum || !fp || !fn || !phit || !phisum || !la || !lb)) st = DRIFT_ENOMEM;

    const double root_d = sqrt((double)d);
    for (int64_t t = 0; st == DRIFT_OK && t < nt; t++) {
        /* in working units a raw-relative τ becomes τ·√d (mean distance is √d there) */
        const double tau = cfg->feature_norm ? cfg->tau[t] * root_d : cfg->tau[t];
        const double soft_add = DENG_SOFT_MASK * (cfg->feature_norm ? root_d : 1.0);
        memset(vt, 0, (size_t)(n * d) * sizeof(double));
        memset(phit, 0, (size_t)n * sizeof(double));
        if (cfg->family == DRIFT_FAMILY_DENG) {
            st = deng_field(cfg, &rb, tau, soft_add, vt);
        } else {
            for (int64_t i = 0; i < n; i++) {
                double phip, phin;
                const double *xi = &rb.x[i * d];
                if ((st = side_field(cfg, tau, xi, rb.pos, rb.wp, &rb.rp[i * p], p, -1, d, la, lb, fp, &phip)) ||
                    (st = side_field(cfg, tau, xi, rb.neg, rb.wq, &rb.rq[i * q], q, rb.self_masked ? i : -1, d, la, lb, fn, &phin)))
                    break;
                for (int64_t k = 0; k < d; k++) vt[i * d + k] = cfg->pos_scale * fp[k] - cfg->neg_scale * fn[k];
                phit[i] = cfg->pos_scale * phip - cfg->neg_scale * phin;
            }
        }
        if (st) break;
        double ms = 0;
        for (int64_t k = 0; k < n * d; k++) ms += vt[k] * vt[k];
        ms /= (double)(n * d);
        /* computed here either way (λ needs it); skip_tau_rms only drops the report, so that
         * both paths keep one contract */
        res->tau_rms[t] = cfg->skip_tau_rms ? NAN : s * sqrt(ms);
        double lambda = 1.0;
        if (cfg->drift_norm) lambda = sqrt(ms > DRIFT_NORM_FLOOR ? ms : DRIFT_NORM_FLOOR);
        for (int64_t k = 0; k < n * d; k++) vsum[k] += vt[k] / lambda;
        for (int64_t i = 0; i < n; i++) phisum[i] += phit[i] / lambda;

        /* diagnostics: kernel mass on each side and the effective number of positives */
        for (int64_t i = 0; (res->log_pos_mass || res->log_neg_mass || res->pos_ess) && i < n; i++) {
            for (int64_t j = 0; j < p; j++)
                la[j] = log(rb.wp[j]) + drift_kernel_log(cfg->kernel, rb.rp[i * p + j], tau, cfg->rq_alpha);
            double lse = log_sum_exp(la, p, -1);
            if (res->log_pos_mass) res->log_pos_mass[i * nt + t] = lse;
            if (res->pos_ess) {
                for (int64_t j = 0; j < p; j++) lb[j] = 2.0 * la[j];
                double l2 = log_sum_exp(lb, p, -1);
                res->pos_ess[i * nt + t] = lse == -INFINITY ? 0.0 : exp(2.0 * lse - l2);
            }
            if (res->log_neg_mass) {
                for (int64_t l = 0; l < q; l++)
                    la[l] = log(rb.wq[l]) + drift_kernel_log(cfg->kernel, rb.rq[i * q + l], tau, cfg->rq_alpha);
                res->log_neg_mass[i * nt + t] = log_sum_exp(la, q, rb.self_masked ? i : -1);
            }
        }
    }
    if (st == DRIFT_OK) {
        double *v = res->v, ms = 0;
        for (int64_t k = 0; k < n * d; k++) {
            v[k] = s * vsum[k];
            ms += v[k] * v[k];
        }
        res->rms = sqrt(ms / (double)(n * d));
        res->feature_scale = s;
        res->mean_dist = mu;
        if (res->potential)
            for (int64_t i = 0; i < n; i++) res->potential[i] = s * s * phisum[i];
        if (!drift_all_finite_f64(v, (size_t)(n * d)))
            st = drift_error(DRIFT_ENUMERIC, "the field is not finite (inputs too extreme for float64)");
    } else if (st == DRIFT_ENOMEM) {
        drift_error(DRIFT_ENOMEM, "out of memory in the reference field (n=%lld, targets=%lld)", (long long)n, (long long)(p + q));
    }
    ref_batch_free(&rb);
    drift_free(vt); drift_free(vsum); drift_free(fp); drift_free(fn);
    drift_free(phit); drift_free(phisum); drift_free(la); drift_free(lb);
    return st;
}
