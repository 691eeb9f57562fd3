/* dist.c — the distributions a simulation starts from or flows toward, opened by a short spec
 * (see drift_sim_dist_open in drift/sim.h). Mixtures keep their parameters so that their
 * smoothed scores can be computed exactly; other toys are sampled on demand; NPY files are a
 * fixed set of rows. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/error.h"
#include "drift/npy.h"
#include "drift/sim.h"

#define DIST_FORMS "gaussian[:STD[:SHIFT]], mixture:K[:STD], two_mode, 8gaussians, swiss_roll, moons, checkerboard, or a PATH.npy"

/* Parse up to `max` numbers separated by ':' after a prefix. Returns the count or -1. */
static int parse_params(const char *s, double *vals, int max)
{
    int n = 0;
    while (*s) {
        if (*s != ':' || n >= max) return -1;
        s++;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || !isfinite(v)) return -1;
        vals[n++] = v;
        s = end;
    }
    return n;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int open_gaussian(const char *spec, const char *params, int64_t d, drift_sim_dist *out)
{
    double v[2] = {1.0, 0.0};
    int np = parse_params(params, v, 2);
    if (np < 0) return drift_error(DRIFT_EINVAL, "bad distribution '%s': expected gaussian[:STD[:SHIFT]]", spec);
    if (!(v[0] > 0)) return drift_error(DRIFT_EINVAL, "bad distribution '%s': STD must be > 0", spec);
    int st = drift_gmm_init(&out->gmm, 1, d);
    if (st) return st;
    out->gmm.mean[0] = v[1];
    for (int64_t t = 0; t < d; t++) out->gmm.var[t] = v[0] * v[0];
    return DRIFT_OK;
}

static int open_mixture(const char *spec, const char *params, int64_t d, drift_sim_dist *out)
{
    double v[2] = {0.0, 0.5};
    int np = parse_params(params, v, 2);
    if (np < 1) return drift_error(DRIFT_EINVAL, "bad distribution '%s': expected mixture:K[:STD]", spec);
    int k = (int)v[0];
    if ((double)k != v[0] || k < 1 || k > 2 * d)
        return drift_error(DRIFT_EINVAL, "bad distribution '%s': K must be an integer in 1..2d = %lld", spec, (long long)(2 * d));
    if (!(v[1] > 0)) return drift_error(DRIFT_EINVAL, "bad distribution '%s': STD must be > 0", spec);
    int st = drift_gmm_init(&out->gmm, k, d);
    if (st) return st;
    for (int j = 0; j < k; j++) {
        out->gmm.mean[j * d + j / 2] = j % 2 ? -2.0 : 2.0;
        for (int64_t t = 0; t < d; t++) out->gmm.var[j * d + t] = v[1] * v[1];
    }
    return DRIFT_OK;
}

static int open_toy(const char *spec, int64_t d, drift_sim_dist *out)
{
    const drift_toy *toy;
    int st = drift_toy_find(spec, &toy);
    if (st) return st;
    if (d != 2) return drift_error(DRIFT_EINVAL, "distribution '%s' is a 2-D toy but the dimension is %lld", spec, (long long)d);
    drift_toy_mixture m;
    if (drift_toy_mixture_params(spec, &m) == DRIFT_OK) {
        out->kind = DRIFT_DIST_MIXTURE;
        if ((st = drift_gmm_init(&out->gmm, m.k, 2))) return st;
        for (int j = 0; j < m.k; j++) {
            out->gmm.weight[j] = m.weight[j];
            for (int t = 0; t < 2; t++) {
                out->gmm.mean[j * 2 + t] = m.mean[j][t];
                out->gmm.var[j * 2 + t] = m.std[j] * m.std[j];
            }
        }
        return DRIFT_OK;
    }
    drift_clear_error();
    out->kind = DRIFT_DIST_TOY;
    out->toy = toy->name;
    return DRIFT_OK;
}

static int open_npy(const char *spec, int64_t d, drift_sim_dist *out)
{
    int64_t rows = 0, cols = 0;
    int st = drift_npy_read_f32(spec, &out->rows, &rows, &cols);
    if (st) return st;
    if (d > 0 && cols != d)
        return drift_error(DRIFT_ESHAPE, "%s: rows have %lld columns but the dimension is %lld", spec, (long long)cols, (long long)d);
    if (rows < 1) return drift_error(DRIFT_ESHAPE, "%s: no rows", spec);
    out->kind = DRIFT_DIST_SAMPLES;
    out->n_rows = rows;
    out->d = cols;
    return DRIFT_OK;
}

int drift_sim_dist_open(const char *spec, int64_t d, drift_sim_dist *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "distribution output is NULL");
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) return drift_error(DRIFT_EINVAL, "empty distribution name (expected %s)", DIST_FORMS);
    snprintf(out->name, sizeof out->name, "%s", spec);
    out->d = d;
    int st;
    if (ends_with(spec, ".npy")) {
        st = open_npy(spec, d, out);
    } else {
        if (d < 1) return drift_error(DRIFT_EINVAL, "distribution '%s' needs a dimension >= 1", spec);
        out->kind = DRIFT_DIST_MIXTURE;
        /* "gaussian" in d = 2 is also the toy of that name: the same N(0, I) */
        if (!strncmp(spec, "gaussian", 8) && (spec[8] == ':' || spec[8] == 0))
            st = open_gaussian(spec, spec + 8, d, out);
        else if (!strncmp(spec, "mixture", 7) && (spec[7] == ':' || spec[7] == 0))
            st = open_mixture(spec, spec + 7, d, out);
        else {
            const drift_toy *toy;
            if (drift_toy_find(spec, &toy) != DRIFT_OK)
                return drift_error(DRIFT_EINVAL, "unknown distribution '%s' (expected %s)", spec, DIST_FORMS);
            st = open_toy(spec, d, out);
        }
    }
    if (st) drift_sim_dist_free(out);
    return st;
}

void drift_sim_dist_free(drift_sim_dist *dist)
{
    if (!dist) return;
    drift_gmm_free(&dist->gmm);
    drift_free(dist->rows);
    dist->rows = NULL;
    dist->n_rows = 0;
}

int drift_sim_dist_sample(const drift_sim_dist *dist, drift_rng *rng, int64_t n, float *out)
{
    if (!dist || !rng || n < 0 || (n > 0 && !out)) return drift_error(DRIFT_EINVAL, "distribution sample: bad arguments");
    switch (dist->kind) {
    case DRIFT_DIST_MIXTURE:
        return drift_gmm_sample(&dist->gmm, rng, n, out);
    case DRIFT_DIST_TOY:
        return drift_toy_sample(dist->toy, rng, n, out, NULL);
    case DRIFT_DIST_SAMPLES: {
        const int64_t d = dist->d;
        if (n > dist->n_rows)
            return drift_error(DRIFT_EINVAL, "%s has %lld rows, cannot draw %lld distinct ones", dist->name,
                               (long long)dist->n_rows, (long long)n);
        if (n == dist->n_rows) {
            memcpy(out, dist->rows, (size_t)(n * d) * sizeof(float));
            return DRIFT_OK;
        }
        /* partial Fisher–Yates over row indices */
        int64_t *idx = drift_alloc((size_t)dist->n_rows, sizeof(int64_t));
        if (!idx) return DRIFT_ENOMEM;
        for (int64_t i = 0; i < dist->n_rows; i++) idx[i] = i;
        for (int64_t i = 0; i < n; i++) {
            int64_t j = i + (int64_t)drift_rng_below(rng, (uint64_t)(dist->n_rows - i));
            int64_t t = idx[i]; idx[i] = idx[j]; idx[j] = t;
            memcpy(&out[i * d], &dist->rows[idx[i] * d], (size_t)d * sizeof(float));
        }
        drift_free(idx);
        return DRIFT_OK;
    }
    }
    return drift_error(DRIFT_EINVAL, "distribution of unknown kind");
}
