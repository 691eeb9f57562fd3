/* test_figure.c — the pictures: the curl figure colours non-conservative panels and leaves
 * conservative ones white; snapshot and line-plot files are written and readable. */
#include "test.h"

#include <unistd.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/image.h"
#include "drift/rng.h"
#include "drift/sim.h"

static char tmp_path[128];
static const char *tmp(const char *name)
{
    snprintf(tmp_path, sizeof tmp_path, "/tmp/drift_test_sim_fig_%d_%s", (int)getpid(), name);
    return tmp_path;
}

/* Pixels of a clearly red or blue hue inside the rectangle. */
static long saturated(const uint8_t *rgb, int w, int x0, int y0, int x1, int y1)
{
    long n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const uint8_t *p = &rgb[3 * ((size_t)y * w + x)];
            if (abs((int)p[0] - (int)p[2]) > 60) n++;
        }
    return n;
}

static void test_curl_figure(void)
{
    double pos[40 * 2], neg[30 * 2];
    drift_rng r;
    drift_rng_init(&r, 3, 0);
    for (int i = 0; i < 80; i++) pos[i] = 0.6 * drift_rng_normal(&r) + (i % 2 ? 0.2 : -0.3);
    for (int i = 0; i < 60; i++) neg[i] = 0.5 * drift_rng_normal(&r);
    drift_sim_clouds c = {.d = 2, .p = 40, .pos = pos, .m = 30, .neg = neg};
    drift_curl_grid g[2];
    const drift_family fam[2] = {DRIFT_FAMILY_KDEGRAD, DRIFT_FAMILY_MEANSHIFT};
    const char *titles[2] = {"kdegrad / laplace", "meanshift / laplace"};
    for (int k = 0; k < 2; k++) {
        drift_field_config cfg;
        drift_field_config_init(&cfg);
        cfg.family = fam[k];
        cfg.kernel = DRIFT_KERNEL_LAPLACE;
        cfg.tau[0] = 0.4;
        CHECK_OK(drift_curl_grid_compute(&cfg, &c, -2, 2, -2, 2, 41, 41, 0, &g[k]));
    }
    const char *path = tmp("curl.png");
    CHECK_OK(drift_curl_figure_png(path, g, titles, 1, 2, &c, "test"));
    int w, h, ch;
    uint8_t *px = NULL;
    CHECK_OK(drift_png_read(path, &w, &h, &ch, &px));
    CHECK(ch == 3 && w > 600 && h > 300);
    if (px && ch == 3) {
        /* panel k spans x in [20 + 324 k, 320 + 324 k), y in [96, 396) (figure.c's layout) */
        long left = saturated(px, w, 20, 96, 320, 396), right = saturated(px, w, 344, 96, 644, 396);
        CHECK_MSG(left < 300, "conservative panel has %ld coloured pixels", left);
        CHECK_MSG(right > 5000, "non-conservative panel has only %ld coloured pixels", right);
    }
    drift_free(px);
    remove(path);
    CHECK(drift_curl_figure_png(path, g, titles, 0, 2, &c, NULL) == DRIFT_EINVAL);
    for (int k = 0; k < 2; k++) drift_curl_grid_free(&g[k]);
}

static void test_run_pictures(void)
{
    drift_sim_dist target, init;
    CHECK_OK(drift_sim_dist_open("two_mode", 2, &target));
    CHECK_OK(drift_sim_dist_open("gaussian:0.3", 2, &init));
    drift_particles_config cfg;
    drift_particles_config_init(&cfg);
    cfg.field.tau[0] = 0.2;
    cfg.eta = 0.008;
    cfg.steps = 40;
    cfg.n_snapshots = 4;
    float x[128 * 2];
    drift_rng r;
    drift_rng_init(&r, 1, 0);
    CHECK_OK(drift_sim_dist_sample(&init, &r, 128, x));
    drift_particles_trace tr;
    CHECK_OK(drift_particles_run(&cfg, &target, x, 128, 2, 1, &tr));
    int w, h, ch;
    uint8_t *px = NULL;
    CHECK_OK(drift_particles_snapshots_png(tmp("snap.png"), &tr, cfg.eta, "snapshots"));
    CHECK_OK(drift_png_read(tmp("snap.png"), &w, &h, &ch, &px));
    CHECK(w > 4 * 300 && h > 300);
    drift_free(px);
    remove(tmp("snap.png"));
    CHECK_OK(drift_particles_trace_plot(tmp("trace.svg"), &tr, "trace"));
    FILE *f = fopen(tmp("trace.svg"), "r");
    CHECK(f != NULL);
    if (f) {
        char buf[8192] = "";
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = 0;
        CHECK(strstr(buf, "<svg") != NULL);
        fclose(f);
    }
    remove(tmp("trace.svg"));
    drift_particles_trace_free(&tr);
    cfg.n_snapshots = 0;
    drift_rng_init(&r, 1, 0);
    CHECK_OK(drift_sim_dist_sample(&init, &r, 128, x));
    CHECK_OK(drift_particles_run(&cfg, &target, x, 128, 2, 1, &tr));
    CHECK(drift_particles_snapshots_png(tmp("none.png"), &tr, cfg.eta, NULL) == DRIFT_EINVAL);
    drift_particles_trace_free(&tr);
    drift_sim_dist_free(&target);
    drift_sim_dist_free(&init);
}

static void test_sweep_plot(void)
{
    drift_sweep_result res;
    memset(&res, 0, sizeof res);
    res.n_sizes = 3;
    res.n_seeds = 2;
    res.d = 2;
    res.theory = -1.0 / 6.0;
    double resid[6] = {0.1, 0.11, 0.08, 0.085, 0.06, 0.065}, mean[3] = {0.105, 0.082, 0.062};
    res.residual = resid;
    res.residual_mean = mean;
    for (int s = 0; s < 3; s++) res.sizes[s] = 64 << s;
    double xs[6] = {64, 64, 128, 128, 256, 256};
    CHECK_OK(drift_fit_power_law(xs, resid, 6, 0.95, &res.fit));
    CHECK_OK(drift_sweep_plot(tmp("sweep.svg"), &res, "sweep"));
    FILE *f = fopen(tmp("sweep.svg"), "r");
    CHECK(f != NULL);
    if (f) {
        static char buf[1 << 16];
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = 0;
        CHECK(strstr(buf, "theory") != NULL && strstr(buf, "fit: slope") != NULL);
        fclose(f);
    }
    remove(tmp("sweep.svg"));
    CHECK_OK(drift_sweep_plot(tmp("sweep.png"), &res, "sweep"));
    int w, h, ch;
    uint8_t *px = NULL;
    CHECK_OK(drift_png_read(tmp("sweep.png"), &w, &h, &ch, &px));
    drift_free(px);
    remove(tmp("sweep.png"));
}

int main(void)
{
    RUN(test_curl_figure);
    RUN(test_run_pictures);
    RUN(test_sweep_plot);
    return TEST_SUMMARY();
}
