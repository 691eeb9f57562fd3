/* loss.c — the objective of one drifting step (docs/MATH.md §4): field per class group, dL/dx, stats.
 *
 * Conventions: the drift objective is the mean over samples *and dimensions* of
 * ‖x/s − sg(x/s + V/s)‖² (s = the feature scale, 1 without feature normalization), exactly
 * the authors' released loss; its value is mean ‖V‖²/(s²D), which stays near the number of
 * temperatures when drift normalization is on — hence the raw |V| and per-temperature norms
 * in the stats, which do move as training progresses. */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/train.h"
#include "train/loss_internal.h"

int drift_objective_parse(const char *s, drift_objective *out)
{
    if (s && !strcmp(s, "drift")) { *out = DRIFT_OBJECTIVE_DRIFT; return DRIFT_OK; }
    if (s && !strcmp(s, "potential")) { *out = DRIFT_OBJECTIVE_POTENTIAL; return DRIFT_OK; }
    return drift_error(DRIFT_EINVAL, "unknown objective '%s' (valid: drift, potential)", s ? s : "(null)");
}

const char *drift_objective_name(drift_objective o)
{
    return o == DRIFT_OBJECTIVE_POTENTIAL ? "potential" : "drift";
}

double drift_guidance_weight(double alpha, int64_t n_neg, int64_t n_unc)
{
    if (n_unc <= 0 || n_neg <= 1 || alpha <= 1.0) return 0.0;
    return (alpha - 1.0) * (double)(n_neg - 1) / (double)n_unc;
}

double drift_guidance_sample_alpha(double u, double alpha_max)
{
    /* p(α) ∝ α^−3 on [1, A]: CDF F(α) = (1 − α^−2)/(1 − A^−2), so α = (1 − u(1 − A^−2))^−1/2 */
    if (alpha_max <= 1.0) return 1.0;
    double c = 1.0 - 1.0 / (alpha_max * alpha_max);
    return 1.0 / sqrt(1.0 - u * c);
}

/* Mean pairwise distance among rows, and the count of rows whose nearest other row is closer
 * than `close` (near-duplicates). O(n²d): groups are small (tens to hundreds of rows). */
double loss_spread(const float *x, int64_t n, int64_t d, double close, int64_t *n_close)
{
    double sum = 0;
    int64_t pairs = 0, dup = 0;
    for (int64_t i = 0; i < n; i++) {
        double nearest = INFINITY;
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double r2 = 0;
            for (int64_t k = 0; k < d; k++) {
                double t = (double)x[i * d + k] - x[j * d + k];
                r2 += t * t;
            }
            double r = sqrt(r2);
            if (j > i) { sum += r; pairs++; }
            if (r < nearest) nearest = r;
        }
        if (nearest < close) dup++;
    }
    if (n_close) *n_close = dup;
    return pairs ? sum / (double)pairs : 0.0;
}

/* The groups' share of a step (loss_internal.h): the whole step has step_rows generated rows in
 * step_groups groups, which normalize dL/dx and the per-group means; sums[] gets this share's
 * additive statistics (summed over ranks, then drift_loss_finish). */
int drift_loss_partial(drift_ctx *ctx, const drift_field_config *field, drift_objective obj, const float *x,
                       int64_t d, const drift_class_group *groups, int n_groups, int64_t step_rows, int step_groups,
                       float *grad, double *sums)
{
    if (!field || !x || !groups || !grad || !sums || n_groups < 1 || d < 1 || step_rows < 1 || step_groups < n_groups)
        return drift_error(DRIFT_EINVAL, "drift loss: missing arguments");
    if (obj == DRIFT_OBJECTIVE_POTENTIAL && !drift_family_is_conservative(field->family))
        return drift_error(DRIFT_EINVAL,
                           "the potential objective needs a conservative field (sharp, kdegrad or mmd), not %s",
                           drift_family_name(field->family));
    memset(sums, 0, LOSS_SUM_N * sizeof *sums);
    const int64_t total = step_rows;
    int64_t rows = 0, unc = 0;
    for (int g = 0; g < n_groups; g++) {
        if (groups[g].n_gen < 1 || groups[g].n_pos < 1 || !groups[g].pos)
            return drift_error(DRIFT_EINVAL, "class group %d has no generated rows or no positives", g);
        rows += groups[g].n_gen;
        unc += groups[g].n_unc > 0 ? groups[g].n_unc : 0;
    }
    /* every group's field in one batched call (drift_field_compute_many: the groups spread
     * over the threads, or one backend call), then the per-group gradient and statistics */
    float *v = drift_alloc((size_t)(rows * d), sizeof(float));
    double *phi = drift_alloc((size_t)rows, sizeof(double));
    float *uw = drift_alloc((size_t)unc + 1, sizeof(float));
    drift_field_batch *b = drift_alloc((size_t)n_groups, sizeof *b);
    drift_field_result *r = drift_alloc((size_t)n_groups, sizeof *r);
    double *gs = drift_alloc((size_t)n_groups * 3, sizeof(double));
    int64_t *nd = drift_alloc((size_t)n_groups, sizeof(int64_t));
    if (!v || !phi || !uw || !b || !r || !gs || !nd) {
        drift_free(v); drift_free(phi); drift_free(uw); drift_free(b); drift_free(r); drift_free(gs); drift_free(nd);
        return DRIFT_ENOMEM;
    }
    int64_t off = 0, uoff = 0;
    for (int g = 0; g < n_groups; g++) {
        const drift_class_group *G = &groups[g];
        const int guided = G->n_unc > 0 && G->unc_weight > 0;
        for (int64_t j = 0; j < G->n_unc; j++) uw[uoff + j] = G->unc_weight;
        b[g] = (drift_field_batch){.n = G->n_gen, .d = d, .x = x + off * d, .p = G->n_pos, .pos = G->pos,
                                   .e = guided ? G->n_unc : 0, .extra = G->unc, .extra_w = uw + uoff};
        r[g].v = v + off * d;
        r[g].potential = obj == DRIFT_OBJECTIVE_POTENTIAL ? phi + off : NULL;
        off += G->n_gen;
        uoff += G->n_unc > 0 ? G->n_unc : 0;
    }
    int st = drift_field_compute_many(ctx, field, n_groups, b, r);
    if (st) {
        drift_error_context(st, "class groups");
    } else {
        /* the groups' spreads (O(n²d) each): in parallel, summed below in group order */
#pragma omp parallel for schedule(dynamic, 1) num_threads(drift_ctx_threads(ctx)) if (n_groups > 1)
        for (int g = 0; g < n_groups; g++) {
            int64_t o = 0;
            for (int h = 0; h < g; h++) o += groups[h].n_gen;
            const drift_class_group *G = &groups[g];
            const double ps = loss_spread(G->pos, G->n_pos, d, 0, NULL);
            gs[3 * g] = ps;
            gs[3 * g + 1] = loss_spread(x + o * d, G->n_gen, d, 0.01 * ps, &nd[g]);
        }
    }
    double loss = 0, vsq = 0, gen_spread = 0, pos_spread = 0, dups = 0, scale = 0;
    const int ng_step = step_groups;
    off = 0;
    for (int g = 0; g < n_groups && st == DRIFT_OK; g++) {
        const drift_class_group *G = &groups[g];
        const float *vg = v + off * d;
        const double s = r[g].feature_scale > 0 ? r[g].feature_scale : 1.0;
        float *gg = grad + off * d;
        double gsq = 0;
        for (int64_t k = 0; k < G->n_gen * d; k++) gsq += (double)vg[k] * vg[k];
        if (obj == DRIFT_OBJECTIVE_DRIFT) {
            const double c = -2.0 / (s * s * (double)d * (double)total);
            for (int64_t k = 0; k < G->n_gen * d; k++) gg[k] = (float)(c * vg[k]);
            loss += gsq / (s * s * (double)d);
        } else {
            const double c = -1.0 / (double)total;
            for (int64_t k = 0; k < G->n_gen * d; k++) gg[k] = (float)(c * vg[k]);
            for (int64_t i = 0; i < G->n_gen; i++) loss -= phi[off + i];
        }
        /* raw field size (before drift normalization) from the per-temperature norms */
        double raw = 0;
        for (int t = 0; t < field->n_tau; t++) {
            sums[LOSS_SUM_TAU + t] += r[g].tau_rms[t] / ng_step;
            raw += r[g].tau_rms[t] * r[g].tau_rms[t];
        }
        vsq += field->drift_norm ? raw * (double)G->n_gen : gsq / (double)d;
        scale += s / ng_step;
        gen_spread += gs[3 * g + 1] / ng_step;
        pos_spread += gs[3 * g] / ng_step;
        dups += (double)nd[g];
        off += G->n_gen;
    }
    sums[LOSS_SUM_LOSS] = loss;
    sums[LOSS_SUM_VSQ] = vsq;
    sums[LOSS_SUM_DUPS] = dups;
    sums[LOSS_SUM_SCALE] = scale;
    sums[LOSS_SUM_GEN] = gen_spread;
    sums[LOSS_SUM_POS] = pos_spread;
    sums[LOSS_SUM_ROWS] = (double)off;
    drift_free(v); drift_free(phi); drift_free(uw); drift_free(b); drift_free(r); drift_free(gs); drift_free(nd);
    return st;
}

void drift_loss_finish(const double *sums, int n_tau, int64_t step_rows, drift_loss_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    const double total = (double)step_rows;
    for (int t = 0; t < n_tau && t < DRIFT_MAX_TAU; t++) stats->tau_rms[t] = sums[LOSS_SUM_TAU + t];
    stats->feature_scale = sums[LOSS_SUM_SCALE];
    stats->loss = sums[LOSS_SUM_LOSS] / total;
    stats->v_rms = sqrt(sums[LOSS_SUM_VSQ] / total);
    stats->gen_spread = sums[LOSS_SUM_GEN];
    stats->pos_spread = sums[LOSS_SUM_POS];
    stats->diversity = stats->pos_spread > 0 ? stats->gen_spread / stats->pos_spread : 0;
    stats->dup_frac = sums[LOSS_SUM_DUPS] / total;
}

int drift_drift_loss(const drift_field_config *field, drift_objective obj, const float *x, int64_t d,
                     const drift_class_group *groups, int n_groups, float *grad, drift_loss_stats *stats)
{
    if (!field || !x || !groups || !grad || !stats || n_groups < 1 || d < 1)
        return drift_error(DRIFT_EINVAL, "drift loss: missing arguments");
    memset(stats, 0, sizeof *stats);
    int64_t total = 0;
    for (int g = 0; g < n_groups; g++) total += groups[g].n_gen > 0 ? groups[g].n_gen : 0;
    if (total < 1) return drift_error(DRIFT_EINVAL, "class group 0 has no generated rows or no positives");
    double sums[LOSS_SUM_N];
    int st = drift_loss_partial(NULL, field, obj, x, d, groups, n_groups, total, n_groups, grad, sums);
    if (st) return st;
    drift_loss_finish(sums, field->n_tau, total, stats);
    if (!isfinite(stats->loss) || !drift_all_finite_f32(grad, (size_t)(total * d)))
        return drift_error(DRIFT_ENUMERIC, "the loss or its gradient is not finite");
    return DRIFT_OK;
}
