/* Tests for plot ticks and the SVG / PNG plot writers. */
#include <unistd.h>

#include "drift/core.h"
#include "drift/image.h"
#include "drift/plot.h"
#include "test.h"

static int ticks_equal(const double *t, int n, const double *want, int m)
{
    if (n != m) return 0;
    for (int i = 0; i < n; i++)
        if (fabs(t[i] - want[i]) > 1e-12 * fmax(1, fabs(want[i]))) return 0;
    return 1;
}

static void test_nice_ticks(void)
{
    double t[16];
    int n = drift_plot_nice_ticks(0, 1, 0, t, 16);
    CHECK(ticks_equal(t, n, (double[]){0, 0.2, 0.4, 0.6, 0.8, 1.0}, 6));
    n = drift_plot_nice_ticks(-3.7, 12.2, 0, t, 16);
    CHECK(ticks_equal(t, n, (double[]){-2, 0, 2, 4, 6, 8, 10, 12}, 8));
    n = drift_plot_nice_ticks(1000, 1003, 0, t, 16);
    CHECK(n >= 4 && n <= 8 && t[0] >= 1000 && t[n - 1] <= 1003);
    /* Every linear case gives 4..8 ticks inside the range, equally spaced by 1-2-5 x 10^k. */
    int ok = 1;
    for (int i = 0; i < 200; i++) {
        double lo = -50 + i * 0.37, hi = lo + pow(10, (i % 13) - 5) * (1 + i % 7);
        n = drift_plot_nice_ticks(lo, hi, 0, t, 16);
        ok &= n >= 4 && n <= 8 && t[0] >= lo - 1e-9 && t[n - 1] <= hi + 1e-9;
        double step = t[1] - t[0], mant = step / pow(10, floor(log10(step) + 1e-9));
        ok &= fabs(mant - 1) < 1e-6 || fabs(mant - 2) < 1e-6 || fabs(mant - 5) < 1e-6;
    }
    CHECK(ok);
    n = drift_plot_nice_ticks(1e-3, 10, 1, t, 16);
    CHECK(ticks_equal(t, n, (double[]){1e-3, 1e-2, 1e-1, 1, 10}, 5));
    n = drift_plot_nice_ticks(0.5, 1e20, 1, t, 16);
    CHECK(n >= 5 && n <= 8 && t[0] == 1 && fabs(t[1] / t[0] - 1e3) < 1e-6);
    n = drift_plot_nice_ticks(1.5, 9, 1, t, 16);
    CHECK(ticks_equal(t, n, (double[]){2, 5}, 2));
    n = drift_plot_nice_ticks(1.1, 1.9, 1, t, 16); /* no 1-2-5 inside: linear fallback */
    CHECK(n >= 4 && t[0] >= 1.1 && t[n - 1] <= 1.9);
    CHECK(drift_plot_nice_ticks(0, 10, 1, t, 16) == 0); /* log of 0 */
    CHECK(drift_plot_nice_ticks(1, 1, 0, t, 16) == 0);
    CHECK(drift_plot_nice_ticks(NAN, 1, 0, t, 16) == 0);
}

static int count_substr(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

static void test_svg(void)
{
    char path[] = "/tmp/drift_plot_XXXXXX.svg";
    int fd = mkstemps(path, 4);
    close(fd);
    drift_plot *p;
    CHECK_OK(drift_plot_create(&p, "loss <train & val>", "step", "loss"));
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {1, 0.5, NAN, 0.2, 0.1, 0.05};
    CHECK_OK(drift_plot_add_series(p, "train", x, y, 6, DRIFT_PLOT_LINE));
    CHECK_OK(drift_plot_add_series(p, "ref", NULL, y, 2, DRIFT_PLOT_DASHED));
    CHECK_OK(drift_plot_add_series(p, "pts", x, y, 6, DRIFT_PLOT_MARKERS));
    CHECK(drift_plot_add_series(p, "bad", x, NULL, 3, DRIFT_PLOT_LINE) == DRIFT_EINVAL);
    CHECK(drift_plot_set_size(p, 10, 10) == DRIFT_EINVAL);
    drift_plot_set_log(p, 0, 1);
    CHECK_OK(drift_plot_write_svg(p, path));
    char *s = test_read_file(path, NULL);
    CHECK(s && strstr(s, "<svg") && strstr(s, "</svg>"));
    CHECK(strstr(s, "loss &lt;train &amp; val&gt;") != NULL); /* escaped */
    CHECK(count_substr(s, "<polyline") == 3);  /* train split by NaN into 2, ref 1 */
    CHECK(count_substr(s, "stroke-dasharray") == 2); /* ref's line and its legend entry */
    CHECK(count_substr(s, "<circle") == 5 + 1); /* 5 drawable markers + legend dot */
    CHECK(strstr(s, ">0.1</text>") != NULL && strstr(s, ">1</text>") != NULL); /* decades */
    CHECK(strstr(s, ">train</text>") && strstr(s, ">ref</text>") && strstr(s, ">pts</text>"));
    free(s);
    /* An empty plot still makes a valid picture. */
    drift_plot *e;
    CHECK_OK(drift_plot_create(&e, NULL, NULL, NULL));
    CHECK_OK(drift_plot_write_svg(e, path));
    s = test_read_file(path, NULL);
    CHECK(s && strstr(s, "</svg>") && !strstr(s, "<polyline"));
    free(s);
    drift_plot_free(e);
    CHECK(drift_plot_write_svg(p, "/nonexistent-dir/p.svg") == DRIFT_EIO);
    drift_plot_free(p);
    unlink(path);
}

static void test_png(void)
{
    char path[] = "/tmp/drift_plot_XXXXXX.png";
    int fd = mkstemps(path, 4);
    close(fd);
    drift_plot *p;
    CHECK_OK(drift_plot_create(&p, "rate", "N", "error"));
    CHECK_OK(drift_plot_set_size(p, 400, 300));
    double n[5] = {10, 100, 1000, 1e4, 1e5}, err[5], ref[5];
    for (int i = 0; i < 5; i++) {
        err[i] = 2 / sqrt(n[i]);
        ref[i] = 1 / sqrt(n[i]);
    }
    CHECK_OK(drift_plot_add_series(p, "measured", n, err, 5, DRIFT_PLOT_LINE_MARKERS));
    CHECK_OK(drift_plot_add_series(p, "N^-1/2", n, ref, 5, DRIFT_PLOT_DASHED));
    drift_plot_set_log(p, 1, 1);
    CHECK_OK(drift_plot_write_png(p, path));
    int w, h, c;
    uint8_t *px;
    CHECK_OK(drift_png_read(path, &w, &h, &c, &px));
    CHECK(w == 400 && h == 300 && c == 3);
    /* Both series' colours appear; the measured line (a straight line in log-log) has
     * pixels near the diagonal between its first and last points. */
    int blue = 0, orange = 0;
    for (int i = 0; i < w * h; i++) {
        blue += px[3 * i] == 31 && px[3 * i + 1] == 119 && px[3 * i + 2] == 180;
        orange += px[3 * i] == 255 && px[3 * i + 1] == 127 && px[3 * i + 2] == 14;
    }
    CHECK(blue > 100 && orange > 60);
    drift_free(px);
    drift_plot_free(p);
    unlink(path);
}

int main(void)
{
    RUN(test_nice_ticks);
    RUN(test_svg);
    RUN(test_png);
    return TEST_SUMMARY();
}
