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

/* log Σ exp(v[j]) over j with mask[j] == 0; -inf for an empty set. */
static double log_sum_exp(const double *v, int64_t count, int64_t skip)
{
    double mx = -INFINITY;
    for (int64_t j = 0; j < count; j++)
        if (j != skip && v[j] > mx) mx = v[j];
    if (mx == -INFINITY) return -INFINITY;
    double s = 0;
    for (int64_t j = 0; j < count; j++)
        if (j != skip) s += exp(v[j] - mx);
    return mx + log(s);
}

/* One side (positives or negatives) of a meanshift/sharp/kdegrad/mmd field at query xi:
 *   out = Σ_j a_j (y_j − xi) / B, a_j = w_j·(κ or g), B = Σ_j w_j·(κ, κ#, or 1),
 * and the potential term (log of the normalized KDE, or the kernel mean for mmd). */
static void side_field(const drift_field_config *cfg, double tau, const double *xi, const double *Y,
                       const double *w, const double *r, int64_t count, int64_t skip, int64_t d,
                       double *la, double *lb, double *out, double *phi)
{
    const drift_family fam = cfg->family;
    const double alpha = cfg->rq_alpha;
    memset(out, 0, (size_t)d * sizeof *out);
    *phi = 0;
    double wsum = 0;
    for (int64_t j = 0; j < count; j++) {
        if (j == skip) { la[j] = lb[j] = -INFINITY; continue; }
        double lw = log(w[j]);
        wsum += w[j];
        int grad = fam == DRIFT_FAMILY_KDEGRAD || fam == DRIFT_FAMILY_MMD;
        la[j] = lw + (grad ? drift_kernel_log_grad(cfg->kernel, r[j], tau, alpha)
                           : drift_kernel_log(cfg->kernel, r[j], tau, alpha));
        lb[j] = lw + (fam == DRIFT_FAMILY_SHARP ? drift_kernel_log_sharp(cfg->kernel, r[j], tau, alpha)
                                                : drift_kernel_log(cfg->kernel, r[j], tau, alpha));
    }
    if (!(wsum > 0)) return; /* nothing on this side: no force, no potential */

    if (fam == DRIFT_FAMILY_MMD) { /* unnormalized: weighted kernel mean and its gradient */
        double kmean = 0;
        for (int64_t j = 0; j < count; j++) {
            if (j == skip) continue;
            double a = exp(la[j]) / wsum;
            kmean += exp(lb[j]) / wsum;
            for (int64_t k = 0; k < d; k++) out[k] += a * (Y[j * d + k] - xi[k]);
        }
        *phi = kmean;
        return;
    }
    double mx = -INFINITY;
    for (int64_t j = 0; j < count; j++)
        if (lb[j] > mx) mx = lb[j];
    if (mx == -INFINITY) return;
    double B = 0;
    for (int64_t j = 0; j < count; j++) {
        if (j == skip) continue;
        B += exp(lb[j] - mx);
        double a = exp(la[j] - mx);
        for (int64_t k = 0; k < d; k++) out[k] += a * (Y[j * d + k] - xi[k]);
    }
    for (int64_t k = 0; k < d; k++) out[k] /= B;
    *phi = mx + log(B) - log(wsum);
}

/* Deng et al.'s joint normalization over the targets T = [negatives; positives] (docs/MATH.md §3). */
static int deng_field(const drift_field_config *cfg, const ref_batch *rb, double tau, double soft_add,
                      double *vt)
{
    const int64_t n = rb->n, d = rb->d, p = rb->p, q = rb->q, T = q + p;
    double *logk = drift_alloc((size_t)(n * T), sizeof(double));
    double *lr = drift_alloc((size_t)n, sizeof(double));
    double *lc = drift_alloc((size_t)T, sizeof(double));
    double *col = drift_alloc((size_t)n, sizeof(double));
    if (!logk || !lr || !lc || !col) {
        drift_free(logk); drift_free(lr); drift_free(lc); drift_free(col);
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
    for (int64_t i = 0; i < n; i++) lr[i] = log_sum_exp(&logk[i * T], T, -1);
    for (int64_t j = 0; j < T; j++) {
        for (int64_t i = 0; i < n; i++) col[i] = logk[i * T + j];
        lc[j] = log_sum_exp(col, n, -1);
    }
    for (int64_t i = 0; i < n; i++) {
        double spos = 0, sneg = 0;
        double *a = &logk[i * T]; /* reuse the row: log K -> A */
        for (int64_t j = 0; j < T; j++) {
            double lk = a[j], aij;
            if (lk == -INFINITY) {
                aij = 0; /* removed self entry */
            } else if (cfg->deng_norm == DRIFT_DENG_BOTH && cfg->deng_floor) {
                double prod = exp(lk - lr[i]) * exp(lk - lc[j]);
                aij = sqrt(prod > DENG_AFFINITY_FLOOR ? prod : DENG_AFFINITY_FLOOR);
            } else if (cfg->deng_norm == DRIFT_DENG_BOTH) {
                aij = exp(lk - 0.5 * (lr[i] + lc[j]));
            } else if (cfg->deng_norm == DRIFT_DENG_ROW) {
                aij = exp(lk - lr[i]);
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
    drift_free(logk); drift_free(lr); drift_free(lc); drift_free(col);
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
    double *la = drift_alloc((size_t)(p + q + 1), sizeof(double)), *lb = drift_alloc((size_t)(p + q + 1), sizeof(double));
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
                side_field(cfg, tau, xi, rb.pos, rb.wp, &rb.rp[i * p], p, -1, d, la, lb, fp, &phip);
                side_field(cfg, tau, xi, rb.neg, rb.wq, &rb.rq[i * q], q, rb.self_masked ? i : -1, d, la, lb, fn, &phin);
                for (int64_t k = 0; k < d; k++) vt[i * d + k] = cfg->pos_scale * fp[k] - cfg->neg_scale * fn[k];
                phit[i] = cfg->pos_scale * phip - cfg->neg_scale * phin;
            }
        }
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
