/* Tests for the toy 2-D distributions: each sampler's statistics against its definition in
 * drift/data.h (computed in float64), reproducibility by seed, the prefix property, and the
 * name lookup. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "drift/core.h"
#include "drift/data.h"
#include "test.h"

enum { N = 40000 };
static float xy[2 * N];
static int32_t lab[N];

static void draw(const char *name, uint64_t seed, int64_t n)
{
    drift_rng r;
    drift_rng_init(&r, seed, 0);
    CHECK_OK(drift_toy_sample(name, &r, n, xy, lab));
}

static void test_swiss_roll_on_the_curve(void)
{
    enum { M = 4000, GRID = 8000 };
    draw("swiss_roll", 1, M);
    /* Noiseless curve c(t) = (t cos t, t sin t) / (9 pi / 2) on a fine grid; check its scale
     * constant is the max absolute coordinate, i.e. the curve fills [-1, 1]. */
    static double cx[GRID], cy[GRID];
    double maxabs = 0;
    for (int g = 0; g < GRID; g++) {
        double t = 0.5 * M_PI + 4 * M_PI * g / (GRID - 1.0);
        cx[g] = t * cos(t) / DRIFT_SWISS_ROLL_SCALE;
        cy[g] = t * sin(t) / DRIFT_SWISS_ROLL_SCALE;
        maxabs = fmax(maxabs, fmax(fabs(cx[g]), fabs(cy[g])));
    }
    CHECK_CLOSE(maxabs, 1.0, 1e-9, 0);
    /* Each sample lies near the curve (gaussian noise 0.03 per axis: the normal component of
     * the offset has RMS 0.03), and the nearest curve parameter is uniform: half the points
     * on each half of the t range. */
    double sq = 0, rmin = 1e9, rmax = 0;
    int first_half = 0;
    for (int i = 0; i < M; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1], best = 1e9;
        int bestg = 0;
        for (int g = 0; g < GRID; g++) {
            double d = (x - cx[g]) * (x - cx[g]) + (y - cy[g]) * (y - cy[g]);
            if (d < best) best = d, bestg = g;
        }
        sq += best;
        first_half += bestg < GRID / 2;
        double r = sqrt(x * x + y * y);
        rmin = fmin(rmin, r);
        rmax = fmax(rmax, r);
    }
    double rms = sqrt(sq / M);
    CHECK_MSG(rms > 0.024 && rms < 0.032, "rms distance to the curve %g", rms);
    CHECK_CLOSE(first_half, M / 2, 4 * sqrt(M / 4.0), 0);
    CHECK_MSG(rmin > 1.0 / 9 - 0.12 && rmin < 1.0 / 9 + 0.03, "rmin %g", rmin);
    CHECK_MSG(rmax > 0.97 && rmax < 1.12, "rmax %g", rmax);
}

static void test_checkerboard_occupancy(void)
{
    draw("checkerboard", 2, N);
    int count[4][4] = {{0}};
    int inside = 1, label_ok = 1;
    for (int i = 0; i < N; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        inside &= x >= -1 && x < 1 && y >= -1 && y < 1;
        int col = (int)floor((x + 1) / 0.5), row = (int)floor((y + 1) / 0.5);
        if (col < 0 || col > 3 || row < 0 || row > 3) continue;
        count[row][col]++;
        /* label = index of the filled square in row-major order from the bottom row */
        label_ok &= lab[i] == 2 * row + col / 2;
    }
    CHECK(inside);
    CHECK(label_ok);
    double sd = sqrt(N * (1.0 / 8) * (7.0 / 8));
    for (int row = 0; row < 4; row++)
        for (int col = 0; col < 4; col++) {
            if ((row + col) % 2 == 0)
                CHECK_CLOSE(count[row][col], N / 8.0, 4 * sd, 0);
            else
                CHECK(count[row][col] == 0);
        }
    /* uniform inside a square: the mean of the bottom-left square is its centre */
    double mx = 0, my = 0;
    int m = 0;
    for (int i = 0; i < N; i++)
        if (lab[i] == 0) mx += xy[2 * i], my += xy[2 * i + 1], m++;
    CHECK_CLOSE(mx / m, -0.75, 0.01, 0);
    CHECK_CLOSE(my / m, -0.75, 0.01, 0);
}

/* Per-label mean, per-axis std and share for the gaussian mixtures, against the table. */
static void check_mixture(const char *name, uint64_t seed)
{
    drift_toy_mixture mix;
    CHECK_OK(drift_toy_mixture_params(name, &mix));
    draw(name, seed, N);
    double wsum = 0;
    for (int j = 0; j < mix.k; j++) wsum += mix.weight[j];
    CHECK_CLOSE(wsum, 1.0, 1e-12, 0);
    for (int j = 0; j < mix.k; j++) {
        double s[2] = {0, 0}, s2[2] = {0, 0};
        int m = 0;
        for (int i = 0; i < N; i++) {
            if (lab[i] != j) continue;
            m++;
            for (int a = 0; a < 2; a++) s[a] += xy[2 * i + a], s2[a] += (double)xy[2 * i + a] * xy[2 * i + a];
        }
        CHECK_CLOSE(m, N * mix.weight[j], 4 * sqrt(N * mix.weight[j]), 0);
        for (int a = 0; a < 2; a++) {
            double mean = s[a] / m, var = s2[a] / m - mean * mean;
            CHECK_CLOSE(mean, mix.mean[j][a], 5 * mix.std[j] / sqrt(m), 0);
            CHECK_CLOSE(sqrt(var), mix.std[j], 0.05 * mix.std[j], 0);
        }
    }
}

static void test_mixtures(void)
{
    check_mixture("8gaussians", 3);
    check_mixture("two_mode", 4);
    check_mixture("gaussian", 5);
    drift_toy_mixture mix;
    CHECK_OK(drift_toy_mixture_params("8gaussians", &mix));
    CHECK(mix.k == 8);
    CHECK_CLOSE(mix.mean[2][0], 0.0, 1e-12, 0); /* angle pi/2: (0, 1) */
    CHECK_CLOSE(mix.mean[2][1], 1.0, 1e-12, 0);
    CHECK_CLOSE(mix.std[0], 0.02, 0, 0);
    CHECK(drift_toy_mixture_params("moons", &mix) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "not a gaussian mixture") != NULL);
}

static void test_moons(void)
{
    draw("moons", 6, N);
    /* upper moon: centre (-1/3, -1/6) + (2/3)(cos s, sin s), s ~ U[0, pi): mean y offset
     * (2/3)(2/pi); the lower moon is its point reflection through the origin. */
    double sx[2] = {0, 0}, sy[2] = {0, 0}, sr[2] = {0, 0};
    int m[2] = {0, 0};
    double xmin = 1e9, xmax = -1e9;
    int labels_ok = 1;
    for (int i = 0; i < N; i++) {
        int l = lab[i];
        labels_ok &= l == 0 || l == 1;
        if (l != 0 && l != 1) continue;
        double x = xy[2 * i], y = xy[2 * i + 1];
        double cx = l ? 1.0 / 3 : -1.0 / 3, cy = l ? 1.0 / 6 : -1.0 / 6;
        sx[l] += x, sy[l] += y, m[l]++;
        sr[l] += sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy));
        xmin = fmin(xmin, x), xmax = fmax(xmax, x);
    }
    CHECK(labels_ok);
    for (int l = 0; l < 2; l++) {
        double sign = l ? 1 : -1;
        CHECK_CLOSE(m[l], N / 2.0, 4 * sqrt(N / 4.0), 0);
        CHECK_CLOSE(sx[l] / m[l], sign / 3, 0.01, 0);
        CHECK_CLOSE(sy[l] / m[l], sign * (1.0 / 6 - 4 / (3 * M_PI)), 0.01, 0);
        CHECK_CLOSE(sr[l] / m[l], 2.0 / 3, 0.01, 0);
    }
    CHECK(xmin < -0.95 && xmin > -1.3);
    CHECK(xmax > 0.95 && xmax < 1.3);
}

static void test_reproducible_and_prefix(void)
{
    int ntoys;
    const drift_toy *toys = drift_toy_list(&ntoys);
    CHECK(ntoys == 6);
    static float a[2 * 1000], b[2 * 1000], c[2 * 1000];
    for (int t = 0; t < ntoys; t++) {
        drift_rng r;
        drift_rng_init(&r, 11, 0);
        CHECK_OK(toys[t].sample(&r, 1000, a, NULL));
        drift_rng_init(&r, 11, 0);
        CHECK_OK(toys[t].sample(&r, 300, b, NULL)); /* a 300-point draw is a prefix */
        drift_rng_init(&r, 12, 0);
        CHECK_OK(toys[t].sample(&r, 1000, c, NULL));
        CHECK_MSG(memcmp(a, b, sizeof(float) * 600) == 0, "%s prefix", toys[t].name);
        CHECK_MSG(memcmp(a, c, sizeof(float) * 2000) != 0, "%s seeds differ", toys[t].name);
        CHECK(drift_all_finite_f32(a, 2000));
        const drift_toy *found;
        CHECK_OK(drift_toy_find(toys[t].name, &found));
        CHECK(found == &toys[t]);
    }
}

static void test_lookup_errors(void)
{
    const drift_toy *t;
    CHECK(drift_toy_find("spiral", &t) == DRIFT_EINVAL);
    const char *msg = drift_last_error();
    CHECK(strstr(msg, "spiral") && strstr(msg, "swiss_roll") && strstr(msg, "checkerboard") &&
          strstr(msg, "8gaussians") && strstr(msg, "moons") && strstr(msg, "two_mode") &&
          strstr(msg, "gaussian"));
    drift_rng r;
    drift_rng_init(&r, 0, 0);
    CHECK(drift_toy_sample("moons", &r, -1, xy, NULL) == DRIFT_EINVAL);
    CHECK(drift_toy_sample("moons", &r, 5, NULL, NULL) == DRIFT_EINVAL);
    CHECK_OK(drift_toy_sample("moons", &r, 0, NULL, NULL));
}

int main(void)
{
    RUN(test_swiss_roll_on_the_curve);
    RUN(test_checkerboard_occupancy);
    RUN(test_mixtures);
    RUN(test_moons);
    RUN(test_reproducible_and_prefix);
    RUN(test_lookup_errors);
    return TEST_SUMMARY();
}
