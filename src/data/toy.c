/* toy.c — 2-D toy distributions (definitions in drift/data.h).
 *
 * Each sampler draws point after point from the rng (uniforms first, then the noise), in
 * double precision, and stores float32. The gaussian mixtures are sampled from the same
 * drift_toy_mixture tables that drift_toy_mixture_params hands out, so that exact densities
 * computed elsewhere describe exactly these samples.
 */
#include <math.h>
#include <string.h>

#include "drift/data.h"
#include "drift/error.h"

static int check_args(const char *who, drift_rng *rng, int64_t n, float *xy)
{
    if (!rng) return drift_error(DRIFT_EINVAL, "%s: rng is NULL", who);
    if (n < 0) return drift_error(DRIFT_EINVAL, "%s: n must be >= 0, got %lld", who, (long long)n);
    if (n > 0 && !xy) return drift_error(DRIFT_EINVAL, "%s: output buffer is NULL", who);
    return DRIFT_OK;
}

int drift_toy_swiss_roll(drift_rng *rng, int64_t n, float *xy, int32_t *labels)
{
    int st = check_args("swiss_roll", rng, n, xy);
    if (st) return st;
    for (int64_t i = 0; i < n; i++) {
        double t = 0.5 * M_PI + 4.0 * M_PI * drift_rng_uniform(rng);
        double nx = drift_rng_normal(rng), ny = drift_rng_normal(rng);
        xy[2 * i + 0] = (float)(t * cos(t) / DRIFT_SWISS_ROLL_SCALE + 0.03 * nx);
        xy[2 * i + 1] = (float)(t * sin(t) / DRIFT_SWISS_ROLL_SCALE + 0.03 * ny);
        if (labels) labels[i] = 0;
    }
    return DRIFT_OK;
}

int drift_toy_checkerboard(drift_rng *rng, int64_t n, float *xy, int32_t *labels)
{
    int st = check_args("checkerboard", rng, n, xy);
    if (st) return st;
    for (int64_t i = 0; i < n; i++) {
        /* Square s in 0..7: row = s / 2 (from the bottom), and within the row the two
         * squares whose column has the row's parity: column = 2 (s % 2) + row % 2. */
        int s = (int)drift_rng_below(rng, 8);
        int row = s / 2, col = 2 * (s % 2) + row % 2;
        double u = drift_rng_uniform(rng), v = drift_rng_uniform(rng);
        xy[2 * i + 0] = (float)(-1.0 + 0.5 * (col + u));
        xy[2 * i + 1] = (float)(-1.0 + 0.5 * (row + v));
        if (labels) labels[i] = s;
    }
    return DRIFT_OK;
}

/* ---- gaussian mixtures ------------------------------------------------------------------ */

static void mixture_gaussian(drift_toy_mixture *m)
{
    memset(m, 0, sizeof *m);
    m->k = 1;
    m->weight[0] = 1.0;
    m->std[0] = 1.0;
}

static void mixture_two_mode(drift_toy_mixture *m)
{
    memset(m, 0, sizeof *m);
    m->k = 2;
    for (int j = 0; j < 2; j++) {
        m->weight[j] = 0.5;
        m->mean[j][0] = j == 0 ? -0.6 : 0.6;
        m->mean[j][1] = 0.0;
        m->std[j] = 0.15;
    }
}

static void mixture_8gaussians(drift_toy_mixture *m)
{
    memset(m, 0, sizeof *m);
    m->k = 8;
    for (int j = 0; j < 8; j++) {
        m->weight[j] = 1.0 / 8.0;
        m->mean[j][0] = cos(2.0 * M_PI * j / 8.0);
        m->mean[j][1] = sin(2.0 * M_PI * j / 8.0);
        m->std[j] = 0.02;
    }
}

/* Component by inverse CDF on one uniform, then an isotropic gaussian around its mean. */
static void sample_mixture(const drift_toy_mixture *m, drift_rng *rng, int64_t n, float *xy,
                           int32_t *labels, int labelled)
{
    for (int64_t i = 0; i < n; i++) {
        int j = 0;
        if (m->k > 1) {
            double u = drift_rng_uniform(rng), acc = 0.0;
            for (j = 0; j < m->k - 1; j++) {
                acc += m->weight[j];
                if (u < acc) break;
            }
        }
        double nx = drift_rng_normal(rng), ny = drift_rng_normal(rng);
        xy[2 * i + 0] = (float)(m->mean[j][0] + m->std[j] * nx);
        xy[2 * i + 1] = (float)(m->mean[j][1] + m->std[j] * ny);
        if (labels) labels[i] = labelled ? j : 0;
    }
}

int drift_toy_8gaussians(drift_rng *rng, int64_t n, float *xy, int32_t *labels)
{
    int st = check_args("8gaussians", rng, n, xy);
    if (st) return st;
    drift_toy_mixture m;
    mixture_8gaussians(&m);
    sample_mixture(&m, rng, n, xy, labels, 1);
    return DRIFT_OK;
}

int drift_toy_two_mode(drift_rng *rng, int64_t n, float *xy, int32_t *labels)
{
    int st = check_args("two_mode", rng, n, xy);
    if (st) return st;
    drift_toy_mixture m;
    mixture_two_mode(&m);
    sample_mixture(&m, rng, n, xy, labels, 1);
    return DRIFT_OK;
}

int drift_toy_gaussian(drift_rng *rng, int64_t n, float *xy, int32_t *labels)
{
    int st = check_args("gaussian", rng, n, xy);
    if (st) return st;
    drift_toy_mixture m;
    mixture_gaussian(&m);
    sample_mixture(&m, rng, n, xy, labels, 0);
    return DRIFT_OK;
}

int drift_toy_moons(drift_rng *rng, int64_t n, float *xy, int32_t *labels)
{
    int st = check_args("moons", rng, n, xy);
    if (st) return st;
    const double r = 2.0 / 3.0;
    for (int64_t i = 0; i < n; i++) {
        int lower = (int)drift_rng_below(rng, 2);
        double s = M_PI * drift_rng_uniform(rng);
        double cx = lower ? 1.0 / 3.0 : -1.0 / 3.0, cy = lower ? 1.0 / 6.0 : -1.0 / 6.0;
        double a = lower ? M_PI + s : s;
        double nx = drift_rng_normal(rng), ny = drift_rng_normal(rng);
        xy[2 * i + 0] = (float)(cx + r * cos(a) + 0.05 * nx);
        xy[2 * i + 1] = (float)(cy + r * sin(a) + 0.05 * ny);
        if (labels) labels[i] = lower;
    }
    return DRIFT_OK;
}

/* ---- registry ------------------------------------------------------------------------ */

static const drift_toy toys[] = {
    {"swiss_roll", "spiral (t cos t, t sin t)/(9pi/2), t in [pi/2, 9pi/2], noise 0.03", 0,
     drift_toy_swiss_roll},
    {"checkerboard", "8 filled squares of a 4x4 board on [-1,1]^2", 8, drift_toy_checkerboard},
    {"8gaussians", "8 gaussians (std 0.02) on the unit circle", 8, drift_toy_8gaussians},
    {"moons", "two interleaved half circles in [-1,1]x[-0.5,0.5], noise 0.05", 2,
     drift_toy_moons},
    {"two_mode", "two gaussians (std 0.15) at (+-0.6, 0), equal weights", 2, drift_toy_two_mode},
    {"gaussian", "standard normal N(0, I)", 0, drift_toy_gaussian},
};
enum { N_TOYS = sizeof toys / sizeof toys[0] };

const drift_toy *drift_toy_list(int *count)
{
    if (count) *count = N_TOYS;
    return toys;
}

int drift_toy_find(const char *name, const drift_toy **out)
{
    for (int i = 0; i < N_TOYS; i++) {
        if (name && strcmp(name, toys[i].name) == 0) {
            *out = &toys[i];
            return DRIFT_OK;
        }
    }
    char list[256] = "";
    for (int i = 0; i < N_TOYS; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, toys[i].name, sizeof list - strlen(list) - 1);
    }
    return drift_error(DRIFT_EINVAL, "unknown toy distribution '%s': expected one of %s",
                       name ? name : "(null)", list);
}

int drift_toy_sample(const char *name, drift_rng *rng, int64_t n, float *xy, int32_t *labels)
{
    const drift_toy *toy;
    int st = drift_toy_find(name, &toy);
    if (st) return st;
    return toy->sample(rng, n, xy, labels);
}

int drift_toy_mixture_params(const char *name, drift_toy_mixture *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "drift_toy_mixture_params: out is NULL");
    if (name && strcmp(name, "gaussian") == 0) {
        mixture_gaussian(out);
    } else if (name && strcmp(name, "two_mode") == 0) {
        mixture_two_mode(out);
    } else if (name && strcmp(name, "8gaussians") == 0) {
        mixture_8gaussians(out);
    } else {
        return drift_error(DRIFT_EINVAL,
                           "toy '%s' is not a gaussian mixture: expected gaussian, two_mode or "
                           "8gaussians",
                           name ? name : "(null)");
    }
    return DRIFT_OK;
}
