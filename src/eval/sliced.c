/* sliced.c — sliced Wasserstein-2 between two point sets.
 *
 * Each direction θ reduces the sets to 1-D, where W2 has a closed form: the L2 distance
 * between the two quantile functions, ∫₀¹ (F⁻¹(t) − G⁻¹(t))² dt. With sorted values both
 * quantile functions are step functions (steps at i/nx and j/ny); the integral is summed
 * over the pieces between consecutive steps, found by merging in integer arithmetic so that
 * equal step positions are recognised exactly. */
#include <math.h>
#include <stdlib.h>

#include "drift/core.h"
#include "drift/eval.h"
#include "drift/rng.h"
#include "eval/eval_internal.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* W2² between the empirical distributions of sorted x (nx) and sorted y (ny). */
static double w2sq_sorted_1d(const float *x, int64_t nx, const float *y, int64_t ny)
{
    /* Positions are measured in units of 1 / (nx · ny): x's steps at i · ny, y's at j · nx. */
    const double unit = 1.0 / ((double)nx * (double)ny);
    int64_t i = 0, j = 0, t = 0;
    double s = 0;
    while (i < nx && j < ny) {
        int64_t ex = (i + 1) * ny, ey = (j + 1) * nx;
        int64_t end = ex < ey ? ex : ey;
        double d = (double)x[i] - (double)y[j];
        s += (double)(end - t) * d * d;
        t = end;
        if (ex == end) i++;
        if (ey == end) j++;
    }
    return s * unit;
}

int drift_sliced_w2(const float *x, int64_t nx, const float *y, int64_t ny, int dim, int n_proj,
                    uint64_t seed, double *sw2)
{
    if (!sw2) return drift_error(DRIFT_EINVAL, "sliced W2: output is NULL");
    if (n_proj < 1)
        return drift_error(DRIFT_EINVAL, "sliced W2: needs >= 1 projection, got %d", n_proj);
    int st = eval_check_set(x, nx, dim, 1, "first set");
    if (st == DRIFT_OK) st = eval_check_set(y, ny, dim, 1, "second set");
    if (st) return drift_error_context(st, "sliced W2");
    float *px = drift_alloc((size_t)nx, sizeof(float));
    float *py = drift_alloc((size_t)ny, sizeof(float));
    double *dirs = drift_alloc((size_t)n_proj * dim, sizeof(double));
    double *per_dir = drift_alloc((size_t)n_proj, sizeof(double));
    if (!px || !py || !dirs || !per_dir) {
        drift_free(px), drift_free(py), drift_free(dirs), drift_free(per_dir);
        return DRIFT_ENOMEM;
    }
    if (dim == 2) {
        for (int l = 0; l < n_proj; l++) {
            double a = M_PI * (l + 0.5) / n_proj;
            dirs[2 * l] = cos(a);
            dirs[2 * l + 1] = sin(a);
        }
    } else {
        drift_rng rng;
        drift_rng_init(&rng, seed, 0);
        for (int l = 0; l < n_proj; l++) {
            double *u = dirs + (size_t)l * dim, norm = 0;
            while (norm < 1e-12) { /* a zero gaussian vector is practically impossible */
                norm = 0;
                for (int k = 0; k < dim; k++) {
                    u[k] = drift_rng_normal(&rng);
                    norm += u[k] * u[k];
                }
            }
            norm = sqrt(norm);
            for (int k = 0; k < dim; k++) u[k] /= norm;
        }
    }
    for (int l = 0; l < n_proj; l++) {
        const double *u = dirs + (size_t)l * dim;
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < nx; i++) {
            double s = 0;
            for (int k = 0; k < dim; k++) s += u[k] * x[(size_t)i * dim + k];
            px[i] = (float)s;
        }
#pragma omp parallel for schedule(static)
        for (int64_t j = 0; j < ny; j++) {
            double s = 0;
            for (int k = 0; k < dim; k++) s += u[k] * y[(size_t)j * dim + k];
            py[j] = (float)s;
        }
        qsort(px, (size_t)nx, sizeof(float), cmp_float);
        qsort(py, (size_t)ny, sizeof(float), cmp_float);
        per_dir[l] = w2sq_sorted_1d(px, nx, py, ny);
    }
    double mean = 0;
    for (int l = 0; l < n_proj; l++) mean += per_dir[l];
    *sw2 = sqrt(mean / n_proj);
    drift_free(px), drift_free(py), drift_free(dirs), drift_free(per_dir);
    return DRIFT_OK;
}
