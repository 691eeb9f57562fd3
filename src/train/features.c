/* features.c — the authors' multi-key drift loss in a frozen encoder's features
 * (contract: drift/features.h; the release: lambertae/drifting drift_loss.py, train.py,
 * models/mae_model.py get_activations).
 *
 * Layout: a key's values for one class group are (tokens F, rows, S); problem b = group·F + f.
 * drift_release_loss makes three passes over the problems: (1) the weighted mean distance
 * (the feature scale S), (2) per temperature the raw force of every problem and its sum of
 * squares (λ_R), (3) the normalized sum, loss and gradient. Passes (1) and (2) compute the
 * distances twice rather than keep B·G·T of them; every per-problem partial sum is stored and
 * reduced in problem order, so results do not depend on the thread count. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/features.h"
#include "drift/models.h"
#include "field/vexp.h"
#include "loss_internal.h"

/* sqrtf and the clamps below vectorize only without errno and trap semantics; nothing here
 * reads errno or FP exceptions (as src/nn/fastmath.h). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "no-math-errno")
#endif

#define MASK_VAL 100.0f   /* the release's soft self-mask on normalized distances */
#define DIST_EPS 1e-8f    /* cdist clips squared distances here */
#define STD_EPS 1e-6      /* safe_std */

/* Distances of the G generated rows to the T = G + N + P targets of one problem, clipped and
 * square-rooted as the release's cdist. dist: G×T. Targets in three contiguous segments. */
static void problem_dist(const float *gen, const float *neg, const float *pos, int64_t G, int64_t N,
                         int64_t P, int64_t S, float *dist)
{
    const int64_t T = G + N + P;
    const float *seg[3] = {gen, neg, pos};
    const int64_t cnt[3] = {G, N, P}, j0[3] = {0, G, G + N};
    for (int64_t i = 0; i < G; i++) {
        const float *a = gen + i * S;
        float *d = dist + i * T;
        for (int q = 0; q < 3; q++)
            for (int64_t jj = 0; jj < cnt[q]; jj++) {
                const float *b = seg[q] + jj * S;
                float s2 = 0;
#pragma omp simd reduction(+ : s2)
                for (int64_t k = 0; k < S; k++) {
                    float t = a[k] - b[k];
                    s2 += t * t;
                }
                d[j0[q] + jj] = sqrtf(s2 > DIST_EPS ? s2 : DIST_EPS);
            }
    }
}

/* The raw force of one temperature on the G rows of one problem, in scaled units:
 * F_i = Σ_j c_ij (t_j − x_i)/s_in, c_ij = −a_ij Σ_pos a (j generated or negative), a_ij Σ_neg a
 * (j positive), a = sqrt(softmax_row ⊙ softmax_col (floored)) · w_j, logits −dist/(sc·R).
 * Scratch: aff and ec (G×T each); colmax, colsum, er, wj, c (T each). Two exponentials per pair;
 * the loops run over whole rows without branches, so that they vectorize. */
static void problem_force(const float *dist, const float *gen, const float *neg, const float *pos,
                          float neg_w, int64_t G, int64_t N, int64_t P, int64_t S, float sc, float s_in,
                          double R, int floor, int drop, float *aff, float *ec, float *colmax, float *colsum,
                          float *er, float *wj, float *cf, float *force)
{
    const int64_t T = G + N + P, GN = G + N;
    /* drop: negatives of weight 0 leave the softmaxes (drift's pixel rule) instead of staying in */
    const int dropped = drop && neg_w == 0.f && N > 0;
    const float inv = (float)(1.0 / ((double)sc * R));
    const float mask = (float)(MASK_VAL / R);
    for (int64_t j = 0; j < T; j++) wj[j] = j < G ? 1.f : j < GN ? neg_w : 1.f;
    for (int64_t i = 0; i < G; i++) {
        float *a = aff + i * T;
        const float *dr = dist + i * T;
        for (int64_t j = 0; j < T; j++) a[j] = -dr[j] * inv;
        a[i] -= mask;
        if (dropped)
            for (int64_t j = G; j < GN; j++) a[j] = -INFINITY;
    }
    for (int64_t j = 0; j < T; j++) colmax[j] = -INFINITY, colsum[j] = 0;
    for (int64_t i = 0; i < G; i++) {
        const float *a = aff + i * T;
        for (int64_t j = 0; j < T; j++) colmax[j] = a[j] > colmax[j] ? a[j] : colmax[j];
    }
    if (dropped)
        for (int64_t j = G; j < GN; j++) colmax[j] = 0; /* dropped columns: exp(−inf) = 0 */
    for (int64_t i = 0; i < G; i++) {
        float *e = ec + i * T;
        const float *a = aff + i * T;
        for (int64_t j = 0; j < T; j++) e[j] = vexpf(a[j] - colmax[j]);
        for (int64_t j = 0; j < T; j++) colsum[j] += e[j];
    }
    if (dropped)
        for (int64_t j = G; j < GN; j++) colsum[j] = 1;
    for (int64_t j = 0; j < T; j++) colsum[j] = 1.f / colsum[j];
    const float fl = floor ? 1e-6f : 0.f;
    const float is = 1.f / s_in;
    for (int64_t i = 0; i < G; i++) {
        float *row = aff + i * T;
        const float *e = ec + i * T;
        float m = -INFINITY;
#pragma omp simd reduction(max : m)
        for (int64_t j = 0; j < T; j++) m = row[j] > m ? row[j] : m;
        float z = 0;
#pragma omp simd reduction(+ : z)
        for (int64_t j = 0; j < T; j++) {
            er[j] = vexpf(row[j] - m);
            z += er[j];
        }
        const float iz = 1.f / z;
        for (int64_t j = 0; j < T; j++) {
            float p = er[j] * iz * (e[j] * colsum[j]);
            p = p > fl ? p : fl;
            row[j] = sqrtf(p) * wj[j];
        }
        float sum_neg = 0, sum_pos = 0;
#pragma omp simd reduction(+ : sum_neg)
        for (int64_t j = 0; j < GN; j++) sum_neg += row[j];
#pragma omp simd reduction(+ : sum_pos)
        for (int64_t j = GN; j < T; j++) sum_pos += row[j];
        /* the coefficients c_ij replace the affinities in the row; Σ_j c_ij in colmax[i] */
        float csum = 0;
        for (int64_t j = 0; j < GN; j++) cf[j] = -row[j] * sum_pos;
        for (int64_t j = GN; j < T; j++) cf[j] = row[j] * sum_neg;
#pragma omp simd reduction(+ : csum)
        for (int64_t j = 0; j < T; j++) csum += cf[j];
        memcpy(row, cf, (size_t)T * sizeof(float));
        colmax[i] = csum;
    }
    /* F = (C·[gen; neg; pos] − diag(csum)·X)/s_in: one GEMM per target segment */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)G, (int)S, (int)G, 1.f, aff, (int)T, gen, (int)S,
                0.f, force, (int)S);
    if (N > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)G, (int)S, (int)N, 1.f, aff + G, (int)T, neg,
                    (int)S, 1.f, force, (int)S);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)G, (int)S, (int)P, 1.f, aff + GN, (int)T, pos, (int)S,
                1.f, force, (int)S);
    for (int64_t i = 0; i < G; i++) {
        float *f = force + i * S;
        const float *xi = gen + i * S;
        const float cs = colmax[i];
        for (int64_t k = 0; k < S; k++) f[k] = (f[k] - cs * xi[k]) * is;
    }
}

int drift_release_loss(const drift_release_opts *o, int64_t B, int64_t block, int64_t G, int64_t N,
                       int64_t P, int64_t S, const float *gen, const float *neg, const float *neg_w,
                       const float *pos, float *grad, drift_release_result *res)
{
    if (!o || !gen || !pos || !grad || !res || (N > 0 && (!neg || !neg_w)))
        return drift_error(DRIFT_EINVAL, "release loss: missing arguments");
    if (B < 1 || G < 1 || P < 1 || S < 1 || N < 0 || block < 1 || B % block)
        return drift_error(DRIFT_EINVAL, "release loss: bad shape (B %lld, block %lld, G %lld, N %lld, P %lld, S %lld)",
                           (long long)B, (long long)block, (long long)G, (long long)N, (long long)P,
                           (long long)S);
    if (o->n_r < 1 || o->n_r > DRIFT_MAX_TAU)
        return drift_error(DRIFT_EINVAL, "release loss: 1..%d temperatures, not %d", DRIFT_MAX_TAU, o->n_r);
    for (int t = 0; t < o->n_r; t++)
        if (!(o->r[t] > 0) || !isfinite(o->r[t]))
            return drift_error(DRIFT_EINVAL, "release loss: temperature %g is not positive", o->r[t]);
    memset(res, 0, sizeof *res);
    const int64_t T = G + N + P, nb = B / block, GS = G * S;
    const int nr = o->n_r;
    double *part = drift_alloc((size_t)B * (size_t)(nr + 2), sizeof(double));
    double *wsum = drift_alloc((size_t)B, sizeof(double));
    float *force = drift_alloc((size_t)(B * GS) * (size_t)nr, sizeof(float));
    double *bscale = drift_alloc((size_t)nb, sizeof(double));
    double *blam = drift_alloc((size_t)nb * (size_t)nr, sizeof(double));
    int nth = omp_get_max_threads();
    float *scratch = drift_alloc((size_t)nth * (size_t)(3 * G * T + 5 * T), sizeof(float));
    if (!part || !wsum || !force || !bscale || !blam || !scratch) {
        drift_free(part); drift_free(wsum); drift_free(force); drift_free(bscale); drift_free(blam);
        drift_free(scratch);
        return DRIFT_ENOMEM;
    }
    /* pass 1: Σ_ij d_ij w_j and Σ_j w_j per problem */
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t b = 0; b < B; b++) {
        float *dist = scratch + (size_t)omp_get_thread_num() * (size_t)(3 * G * T + 5 * T);
        const float *gb = gen + b * GS, *nbp = N ? neg + b * N * S : NULL, *pb = pos + b * P * S;
        const float w = N ? neg_w[b] : 0.f;
        problem_dist(gb, nbp, pb, G, N, P, S, dist);
        double s = 0;
        for (int64_t i = 0; i < G; i++)
            for (int64_t j = 0; j < T; j++) {
                double wj = j < G ? 1.0 : j < G + N ? w : 1.0;
                s += (double)dist[i * T + j] * wj;
            }
        part[b] = s;
        wsum[b] = (double)G + (double)P + (double)N * w;
    }
    const int64_t Btot = o->total_problems > 0 ? o->total_problems : B;
    /* across ranks only the step scope has shared scalars (a group's block lives on one rank) */
    drift_comm *comm = o->comm && drift_comm_size(o->comm) > 1 && block == B ? o->comm : NULL;
    const int64_t per_block = comm ? Btot : block;
    int st = DRIFT_OK;
    for (int64_t k = 0; k < nb; k++) {
        double s = 0, ws = 0;
        for (int64_t b = k * block; b < (k + 1) * block; b++) s += part[b], ws += wsum[b];
        if (comm) {
            double v[2] = {s, ws};
            if ((st = drift_comm_allreduce_sum_f64(comm, v, 2))) goto out;
            s = v[0], ws = v[1];
        }
        /* the release: mean(d·w) / mean(w) = Σ d w / (G Σ w) */
        bscale[k] = ws > 0 ? s / ((double)G * ws) : 0;
        res->scale += bscale[k] / (double)nb;
    }
    /* pass 2: the raw forces and their squares per temperature */
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t b = 0; b < B; b++) {
        float *dist = scratch + (size_t)omp_get_thread_num() * (size_t)(3 * G * T + 5 * T);
        float *aff = dist + G * T, *ec = aff + G * T, *colmax = ec + G * T, *colsum = colmax + T, *er = colsum + T,
              *wj = er + T, *cf = wj + T;
        const float *gb = gen + b * GS, *nbp = N ? neg + b * N * S : NULL, *pb = pos + b * P * S;
        const double scale = bscale[b / block];
        const float sc = (float)(scale > 1e-3 ? scale : 1e-3);
        double si = scale / sqrt((double)S);
        const float s_in = (float)(si > 1e-3 ? si : 1e-3);
        problem_dist(gb, nbp, pb, G, N, P, S, dist);
        for (int t = 0; t < nr; t++) {
            float *f = force + ((size_t)t * (size_t)B + (size_t)b) * (size_t)GS;
            problem_force(dist, gb, nbp, pb, N ? neg_w[b] : 0.f, G, N, P, S, sc, s_in, o->r[t], o->floor,
                          o->drop_zero, aff, ec, colmax, colsum, er, wj, cf, f);
            double q = 0;
            for (int64_t k = 0; k < GS; k++) q += (double)f[k] * f[k];
            part[b * (nr + 2) + t] = q;
        }
    }
    for (int64_t k = 0; k < nb; k++) {
        double q[DRIFT_MAX_TAU] = {0};
        for (int t = 0; t < nr; t++)
            for (int64_t b = k * block; b < (k + 1) * block; b++) q[t] += part[b * (nr + 2) + t];
        if (comm && (st = drift_comm_allreduce_sum_f64(comm, q, (size_t)nr))) goto out;
        for (int t = 0; t < nr; t++) {
            double fn = q[t] / ((double)per_block * (double)GS); /* f_norm_val: mean over (b, i, s) */
            blam[k * nr + t] = sqrt(fn > 1e-8 ? fn : 1e-8);
            res->r_rms[t] += sqrt(fn) / (double)nb;
        }
    }
    /* pass 3: total force, loss, gradient: L = mean_b mean_{i,s} F², ∂L/∂x = −2F/(s_in·G·S·B) */
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; b++) {
        const double scale = bscale[b / block];
        double si = scale / sqrt((double)S);
        const double s_in = si > 1e-3 ? si : 1e-3;
        const double c = -2.0 / (s_in * (double)GS * (double)Btot);
        double q = 0, raw = 0;
        float *gb = grad + b * GS;
        for (int64_t k = 0; k < GS; k++) {
            double tot = 0, r = 0;
            for (int t = 0; t < nr; t++) {
                double f = force[((size_t)t * (size_t)B + (size_t)b) * (size_t)GS + (size_t)k];
                tot += f / blam[(b / block) * nr + t];
                r += f;
            }
            q += tot * tot;
            raw += r * r * s_in * s_in;
            gb[k] = (float)(c * tot);
        }
        part[b * (nr + 2) + nr] = q / (double)GS;
        part[b * (nr + 2) + nr + 1] = raw;
    }
    double sums[2] = {0, 0};
    for (int64_t b = 0; b < B; b++) sums[0] += part[b * (nr + 2) + nr], sums[1] += part[b * (nr + 2) + nr + 1];
    if (o->comm && drift_comm_size(o->comm) > 1 && (st = drift_comm_allreduce_sum_f64(o->comm, sums, 2))) goto out;
    res->loss = sums[0] / (double)Btot;
    res->v_rms = sqrt(sums[1] / ((double)Btot * (double)GS));
out:
    drift_free(part); drift_free(wsum); drift_free(force); drift_free(bscale); drift_free(blam);
    drift_free(scratch);
    if (st) return st;
    if (!isfinite(res->loss))
        return drift_error(DRIFT_ENUMERIC, "release loss: the loss is not finite");
    return DRIFT_OK;
}

/* ---- keys ---------------------------------------------------------------------------------- */
static const struct {
    const char *name;
    int win, std;
} pools[] = {{"tokens", 1, 0}, {"mean", 0, 0}, {"std", 0, 1}, {"mean2", 2, 0},
             {"std2", 2, 1},   {"mean4", 4, 0}, {"std4", 4, 1}};
#define N_POOLS ((int)(sizeof pools / sizeof pools[0]))

static int key_add(drift_feature_key *keys, int max_keys, int *n, const drift_feature_map *maps, int m, int p)
{
    if (*n >= max_keys) return drift_error(DRIFT_EINVAL, "feature keys: more than %d keys", max_keys);
    for (int i = 0; i < *n; i++)
        if (keys[i].map == m && keys[i].win == pools[p].win && keys[i].std == pools[p].std)
            return DRIFT_OK; /* a key named twice counts once */
    drift_feature_key *k = &keys[(*n)++];
    memset(k, 0, sizeof *k);
    const drift_feature_map *f = &maps[m];
    k->map = m;
    k->win = pools[p].win;
    k->std = pools[p].std;
    k->dim = f->c;
    if (k->win == 1) {
        k->tokens = (int64_t)f->h * f->w;
        snprintf(k->name, sizeof k->name, "%s", f->name);
    } else if (k->win == 0) {
        k->tokens = 1;
        snprintf(k->name, sizeof k->name, "%s_%s", f->name, k->std ? "std" : "mean");
    } else {
        k->tokens = (int64_t)(f->h / k->win) * (f->w / k->win);
        snprintf(k->name, sizeof k->name, "%s_%s_%d", f->name, k->std ? "std" : "mean", k->win);
    }
    return DRIFT_OK;
}

int drift_feature_keys_build(const char *spec, const drift_feature_map *maps, int n_maps, int64_t image_dim,
                             drift_feature_key *keys, int max_keys, int *n_keys)
{
    if (!spec || !keys || !n_keys || image_dim < 1 || n_maps < 0 || (n_maps > 0 && !maps))
        return drift_error(DRIFT_EINVAL, "feature keys: missing arguments");
    *n_keys = 0;
    if (!strcmp(spec, "release")) spec = DRIFT_FEATURE_KEYS_RELEASE;
    else if (!strcmp(spec, "light")) spec = DRIFT_FEATURE_KEYS_LIGHT;
    char buf[512];
    if (strlen(spec) >= sizeof buf) return drift_error(DRIFT_EINVAL, "feature keys: spec too long");
    strcpy(buf, spec);
    int st = DRIFT_OK;
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item && !st; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ') item++;
        if (!strcmp(item, "global")) {
            int dup = 0;
            for (int i = 0; i < *n_keys; i++) dup |= keys[i].map < 0;
            if (dup) continue;
            if (*n_keys >= max_keys) return drift_error(DRIFT_EINVAL, "feature keys: more than %d keys", max_keys);
            drift_feature_key *k = &keys[(*n_keys)++];
            memset(k, 0, sizeof *k);
            snprintf(k->name, sizeof k->name, "global");
            k->map = -1;
            k->tokens = 1;
            k->dim = image_dim;
            continue;
        }
        char *dot = strchr(item, '.');
        if (!dot) return drift_error(DRIFT_EINVAL, "feature key '%s': expected global or MAP.POOL (e.g. *.mean2)", item);
        *dot = 0;
        const char *pool = dot + 1;
        int p = -1;
        for (int i = 0; i < N_POOLS; i++)
            if (!strcmp(pool, pools[i].name)) p = i;
        if (p < 0)
            return drift_error(DRIFT_EINVAL, "feature key '%s.%s': unknown pooling (valid: tokens, mean, std, mean2, std2, mean4, std4)",
                               item, pool);
        const int all = !strcmp(item, "*");
        int found = 0;
        for (int m = 0; m < n_maps && !st; m++) {
            if (!all && strcmp(item, maps[m].name)) continue;
            found = 1;
            int w = pools[p].win;
            if (w > 1 && (maps[m].h % w || maps[m].w % w)) {
                if (all) continue;
                return drift_error(DRIFT_EINVAL, "feature key '%s.%s': %dx%d patches do not tile the %dx%d map",
                                   item, pool, w, w, maps[m].h, maps[m].w);
            }
            st = key_add(keys, max_keys, n_keys, maps, m, p);
        }
        if (!st && !found && !all) {
            char names[256] = "";
            for (int m = 0; m < n_maps; m++) {
                size_t l = strlen(names);
                snprintf(names + l, sizeof names - l, "%s%s", m ? ", " : "", maps[m].name);
            }
            return drift_error(DRIFT_EINVAL, "feature key '%s.%s': the encoder has no map '%s' (maps: %s)", item,
                               pool, item, n_maps ? names : "none");
        }
    }
    if (!st && *n_keys == 0) st = drift_error(DRIFT_EINVAL, "feature keys: '%s' selects no key", spec);
    return st;
}

/* Window geometry of token f of a pooled key: top-left corner and size. */
static void key_window(const drift_feature_key *k, const drift_feature_map *f, int64_t t, int *y0, int *x0, int *wy, int *wx)
{
    if (k->win == 0) { *y0 = 0; *x0 = 0; *wy = f->h; *wx = f->w; return; }
    const int per_row = f->w / k->win;
    *y0 = (int)(t / per_row) * k->win;
    *x0 = (int)(t % per_row) * k->win;
    *wy = *wx = k->win;
}

/* Mean and sqrt(var + 1e-6) of one channel's values in a window (float64 sums). */
static void window_stats(const float *mc, int width, int y0, int x0, int wy, int wx, double *mean, double *sd)
{
    const double cnt = (double)wy * wx;
    double s = 0, v = 0;
    for (int y = y0; y < y0 + wy; y++)
        for (int x = x0; x < x0 + wx; x++) s += mc[y * width + x];
    *mean = s / cnt;
    if (!sd) return;
    for (int y = y0; y < y0 + wy; y++)
        for (int x = x0; x < x0 + wx; x++) {
            double dlt = mc[y * width + x] - *mean;
            v += dlt * dlt;
        }
    v /= cnt;
    *sd = sqrt((v > 0 ? v : 0) + STD_EPS);
}

void drift_feature_key_forward(const drift_feature_key *k, const drift_feature_map *maps, const float *rows,
                               int64_t row_len, int64_t n, float *out)
{
    const int64_t F = k->tokens, S = k->dim;
    if (k->map < 0) {
        for (int64_t r = 0; r < n; r++) memcpy(out + r * S, rows + r * row_len, (size_t)S * sizeof(float));
        return;
    }
    const drift_feature_map *f = &maps[k->map];
    const int64_t hw = (int64_t)f->h * f->w;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++) {
        const float *m = rows + r * row_len + f->offset;
        for (int64_t t = 0; t < F; t++) {
            float *o = out + (r * F + t) * S;
            if (k->win == 1) {
                for (int64_t c = 0; c < S; c++) o[c] = m[c * hw + t];
                continue;
            }
            int y0, x0, wy, wx;
            key_window(k, f, t, &y0, &x0, &wy, &wx);
            for (int64_t c = 0; c < S; c++) {
                double mean, sd;
                window_stats(m + c * hw, f->w, y0, x0, wy, wx, &mean, k->std ? &sd : NULL);
                o[c] = (float)(k->std ? sd : mean);
            }
        }
    }
}

void drift_feature_key_backward(const drift_feature_key *k, const drift_feature_map *maps, const float *rows,
                                int64_t row_len, int64_t n, const float *dout, float *drows)
{
    const int64_t F = k->tokens, S = k->dim;
    if (k->map < 0) {
        for (int64_t r = 0; r < n; r++)
            for (int64_t s = 0; s < S; s++) drows[r * row_len + s] += dout[r * S + s];
        return;
    }
    const drift_feature_map *f = &maps[k->map];
    const int64_t hw = (int64_t)f->h * f->w;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; r++) {
        const float *m = rows + r * row_len + f->offset;
        float *dm = drows + r * row_len + f->offset;
        for (int64_t t = 0; t < F; t++) {
            const float *g = dout + (r * F + t) * S;
            if (k->win == 1) {
                for (int64_t c = 0; c < S; c++) dm[c * hw + t] += g[c];
                continue;
            }
            int y0, x0, wy, wx;
            key_window(k, f, t, &y0, &x0, &wy, &wx);
            const double cnt = (double)wy * wx;
            for (int64_t c = 0; c < S; c++) {
                const float *mc = m + c * hw;
                float *dc = dm + c * hw;
                if (!k->std) {
                    const float gv = (float)(g[c] / cnt);
                    for (int y = y0; y < y0 + wy; y++)
                        for (int x = x0; x < x0 + wx; x++) dc[y * f->w + x] += gv;
                    continue;
                }
                double mean, sd;
                window_stats(mc, f->w, y0, x0, wy, wx, &mean, &sd);
                /* ∂sd/∂m_k = (m_k − mean)/(cnt·sd) (the mean's own derivative sums to zero) */
                const double cg = g[c] / (cnt * sd);
                for (int y = y0; y < y0 + wy; y++)
                    for (int x = x0; x < x0 + wx; x++)
                        dc[y * f->w + x] += (float)(cg * (mc[y * f->w + x] - mean));
            }
        }
    }
}

/* ---- the step's loss ----------------------------------------------------------------------- */

/* (rows = groups × per, F, S) token values → problems (groups × F, per, S). */
static void to_problems(const float *tok, int64_t groups, int64_t per, int64_t F, int64_t S, float *prob)
{
#pragma omp parallel for schedule(static)
    for (int64_t g = 0; g < groups; g++)
        for (int64_t i = 0; i < per; i++)
            for (int64_t f = 0; f < F; f++)
                memcpy(prob + (((g * F + f) * per) + i) * S, tok + ((g * per + i) * F + f) * S,
                       (size_t)S * sizeof(float));
}

static void from_problems(const float *prob, int64_t groups, int64_t per, int64_t F, int64_t S, float *tok)
{
#pragma omp parallel for schedule(static)
    for (int64_t g = 0; g < groups; g++)
        for (int64_t i = 0; i < per; i++)
            for (int64_t f = 0; f < F; f++)
                memcpy(tok + ((g * per + i) * F + f) * S, prob + (((g * F + f) * per) + i) * S,
                       (size_t)S * sizeof(float));
}

/* Encoder forward over n rows in chunks of its max batch; out (n, out_dim). */
static int encode_rows(drift_model *enc, const float *img, int64_t n, float *out)
{
    for (int64_t r = 0; r < n; r += enc->max_batch) {
        int b = (int)(n - r < enc->max_batch ? n - r : enc->max_batch);
        int st = drift_model_forward(enc, img + r * enc->in_dim, NULL, NULL, b, out + r * enc->out_dim);
        if (st) return drift_error_context(st, "feature encoder");
    }
    return DRIFT_OK;
}

int drift_feature_loss(const drift_feature_loss_config *cfg, drift_model *encoder, const float *x, int64_t d,
                       const drift_class_group *groups, int n_groups, float *grad, drift_loss_stats *stats,
                       drift_feature_key_stats *key_stats)
{
    if (!cfg || !x || !groups || !grad || !stats || n_groups < 1 || d < 1 || cfg->n_keys < 1 || !cfg->keys)
        return drift_error(DRIFT_EINVAL, "feature loss: missing arguments");
    const int64_t G = groups[0].n_gen, P = groups[0].n_pos, N = groups[0].n_unc;
    for (int g = 0; g < n_groups; g++) {
        if (groups[g].n_gen != G || groups[g].n_pos != P || groups[g].n_unc != N)
            return drift_error(DRIFT_EINVAL,
                               "feature-space loss: every class group needs the same numbers of generated, "
                               "positive and unconditional rows (group %d differs)", g);
        if (G < 1 || P < 1 || !groups[g].pos || (N > 0 && !groups[g].unc))
            return drift_error(DRIFT_EINVAL, "class group %d has no generated rows or no positives", g);
    }
    int need_enc = 0;
    for (int k = 0; k < cfg->n_keys; k++) {
        if (cfg->keys[k].map >= cfg->n_maps)
            return drift_error(DRIFT_EINVAL, "feature key %s: no such map", cfg->keys[k].name);
        if (cfg->keys[k].map < 0 && cfg->keys[k].dim != d)
            return drift_error(DRIFT_EINVAL, "feature key global: %lld values, the images have %lld",
                               (long long)cfg->keys[k].dim, (long long)d);
        need_enc |= cfg->keys[k].map >= 0;
    }
    if (need_enc && (!encoder || encoder->in_dim != d))
        return drift_error(DRIFT_EINVAL, encoder ? "feature loss: the encoder takes %lld values per image, the images have %lld"
                                                 : "feature loss: keys of encoder maps need an encoder",
                           (long long)(encoder ? encoder->in_dim : 0), (long long)d);
    if (need_enc && encoder->max_batch < n_groups * G)
        return drift_error(DRIFT_EINVAL, "feature loss: the encoder's batch %d is smaller than the %lld generated rows",
                           encoder->max_batch, (long long)(n_groups * G));
    memset(stats, 0, sizeof *stats);
    const int64_t ng = n_groups, n_gen = ng * G, n_fix = ng * (P + N);
    const int64_t L = need_enc ? encoder->out_dim : 0;
    int64_t max_tok = 1;
    for (int k = 0; k < cfg->n_keys; k++)
        if (cfg->keys[k].tokens * cfg->keys[k].dim > max_tok) max_tok = cfg->keys[k].tokens * cfg->keys[k].dim;
    float *fix_img = drift_alloc((size_t)(n_fix * d), sizeof(float));
    float *e_fix = need_enc ? drift_alloc((size_t)(n_fix * L), sizeof(float)) : NULL;
    float *e_gen = need_enc ? drift_alloc((size_t)(n_gen * L), sizeof(float)) : NULL;
    float *de_gen = need_enc ? drift_alloc((size_t)(n_gen * L), sizeof(float)) : NULL;
    float *dx = need_enc ? drift_alloc((size_t)(n_gen * d), sizeof(float)) : NULL;
    float *tok = drift_alloc((size_t)((n_gen > n_fix ? n_gen : n_fix) * max_tok), sizeof(float));
    float *pg = drift_alloc((size_t)(n_gen * max_tok), sizeof(float));
    float *pgrad = drift_alloc((size_t)(n_gen * max_tok), sizeof(float));
    float *pp = drift_alloc((size_t)(ng * P * max_tok), sizeof(float));
    float *pn = N ? drift_alloc((size_t)(ng * N * max_tok), sizeof(float)) : NULL;
    int64_t max_f = 1;
    for (int k = 0; k < cfg->n_keys; k++) max_f = cfg->keys[k].tokens > max_f ? cfg->keys[k].tokens : max_f;
    float *nw = drift_alloc((size_t)(ng * max_f), sizeof(float));
    int st = DRIFT_OK;
    if (!fix_img || !tok || !pg || !pgrad || !pp || (N && !pn) || !nw ||
        (need_enc && (!e_fix || !e_gen || !de_gen || !dx))) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    /* fixed rows: every group's positives, then every group's unconditional negatives */
    for (int64_t g = 0; g < ng; g++) {
        memcpy(fix_img + g * P * d, groups[g].pos, (size_t)(P * d) * sizeof(float));
        if (N) memcpy(fix_img + (ng * P + g * N) * d, groups[g].unc, (size_t)(N * d) * sizeof(float));
    }
    if (need_enc) {
        /* the generated rows last: their forward is the one backward_input goes back through */
        if ((st = encode_rows(encoder, fix_img, n_fix, e_fix))) goto done;
        if ((st = drift_model_forward(encoder, x, NULL, NULL, (int)n_gen, e_gen))) {
            drift_error_context(st, "feature encoder");
            goto done;
        }
    }
    memset(grad, 0, (size_t)(n_gen * d) * sizeof(float));
    int report = 0; /* the key whose scale and temperatures the stats report: global if present */
    for (int k = 0; k < cfg->n_keys; k++)
        if (cfg->keys[k].map < 0) { report = k; break; }
    double loss = 0;
    for (int k = 0; k < cfg->n_keys && !st; k++) {
        const drift_feature_key *K = &cfg->keys[k];
        const int64_t F = K->tokens, S = K->dim, B = ng * F;
        const float *gsrc = K->map < 0 ? x : e_gen, *fsrc = K->map < 0 ? fix_img : e_fix;
        const int64_t rl = K->map < 0 ? d : L;
        drift_feature_key_forward(K, cfg->maps, gsrc, rl, n_gen, tok);
        to_problems(tok, ng, G, F, S, pg);
        drift_feature_key_forward(K, cfg->maps, fsrc, rl, ng * P, tok);
        to_problems(tok, ng, P, F, S, pp);
        if (N) {
            drift_feature_key_forward(K, cfg->maps, fsrc + ng * P * rl, rl, ng * N, tok);
            to_problems(tok, ng, N, F, S, pn);
        }
        for (int64_t g = 0; g < ng; g++)
            for (int64_t f = 0; f < F; f++) nw[g * F + f] = groups[g].unc_weight;
        drift_release_result res;
        drift_release_opts ro = cfg->release;
        ro.comm = cfg->comm;
        ro.total_problems = (cfg->step_groups > 0 ? cfg->step_groups : ng) * F;
        st = drift_release_loss(&ro, B, cfg->scope_group ? F : B, G, N, P, S, pg, pn, N ? nw : NULL, pp, pgrad, &res);
        if (st) {
            drift_error_context(st, "feature key %s", K->name);
            break;
        }
        loss += res.loss;
        if (key_stats) key_stats[k].loss = res.loss, key_stats[k].scale = res.scale;
        if (k == report) {
            for (int t = 0; t < cfg->release.n_r; t++) stats->tau_rms[t] = res.r_rms[t];
            stats->feature_scale = res.scale;
            stats->v_rms = res.v_rms;
        }
        from_problems(pgrad, ng, G, F, S, tok);
        if (K->map < 0) drift_feature_key_backward(K, cfg->maps, x, d, n_gen, tok, grad);
        else drift_feature_key_backward(K, cfg->maps, e_gen, L, n_gen, tok, de_gen); /* de_gen starts zeroed */
    }
    if (!st && need_enc) {
        if ((st = drift_model_backward_input(encoder, de_gen, dx))) {
            drift_error_context(st, "feature encoder backward");
            goto done;
        }
        for (int64_t k = 0; k < n_gen * d; k++) grad[k] += dx[k];
    }
    if (!st) {
        stats->loss = loss;
        /* diversity over the step's groups; a non-finite gradient on any rank fails every rank */
        const int step_groups = cfg->step_groups > 0 ? cfg->step_groups : n_groups;
        double v[4] = {0, 0, 0, !drift_all_finite_f32(grad, (size_t)(n_gen * d))};
        for (int64_t g = 0; g < ng; g++) {
            double p = loss_spread(groups[g].pos, P, d, 0, NULL);
            int64_t nd = 0;
            v[0] += loss_spread(x + g * G * d, G, d, 0.01 * p, &nd) / (double)step_groups;
            v[1] += p / (double)step_groups;
            v[2] += (double)nd;
        }
        if (cfg->comm && drift_comm_size(cfg->comm) > 1 && (st = drift_comm_allreduce_sum_f64(cfg->comm, v, 4)))
            goto done;
        stats->gen_spread = v[0];
        stats->pos_spread = v[1];
        stats->diversity = v[1] > 0 ? v[0] / v[1] : 0;
        stats->dup_frac = v[2] / (double)(step_groups * G);
        if (!isfinite(loss) || v[3] > 0)
            st = drift_error(DRIFT_ENUMERIC, "the feature-space loss or its gradient is not finite");
    }
done:
    drift_free(fix_img); drift_free(e_fix); drift_free(e_gen); drift_free(de_gen); drift_free(dx);
    drift_free(tok); drift_free(pg); drift_free(pgrad); drift_free(pp); drift_free(pn); drift_free(nw);
    return st;
}
