/* test_fit.c — the power-law slope fit and the Student-t quantile behind its interval. */
#include "test.h"

#include "drift/error.h"
#include "drift/rng.h"
#include "drift/sim.h"

static void test_t_quantiles(void)
{
    /* reference values (scipy.stats.t.ppf) */
    CHECK_CLOSE(drift_student_t_quantile(0.975, 1), 12.706204736432095, 0, 1e-9);
    CHECK_CLOSE(drift_student_t_quantile(0.975, 2), 4.302652729911275, 0, 1e-9);
    CHECK_CLOSE(drift_student_t_quantile(0.975, 10), 2.2281388519649385, 0, 1e-9);
    CHECK_CLOSE(drift_student_t_quantile(0.95, 16), 1.74588367627624, 0, 1e-9);
    CHECK_CLOSE(drift_student_t_quantile(0.975, 1e7), 1.959964, 0, 1e-5);
    CHECK_CLOSE(drift_student_t_quantile(0.025, 10), -2.2281388519649385, 0, 1e-9);
    CHECK(drift_student_t_quantile(0.5, 3) == 0.0);
    CHECK(isnan(drift_student_t_quantile(1.0, 3)));
    CHECK(isnan(drift_student_t_quantile(0.9, 0)));
}

static void test_exact_power_law(void)
{
    double x[6], y[6];
    for (int i = 0; i < 6; i++) {
        x[i] = 64.0 * (1 << i);
        y[i] = 3.0 * pow(x[i], -0.2);
    }
    drift_fit f;
    CHECK_OK(drift_fit_power_law(x, y, 6, 0.95, &f));
    CHECK_CLOSE(f.slope, -0.2, 1e-12, 0);
    CHECK_CLOSE(f.intercept, log(3.0), 1e-12, 0);
    CHECK(f.slope_se < 1e-12);
    CHECK_CLOSE(f.r2, 1.0, 1e-12, 0);
    CHECK(f.n == 6);
}

/* Noisy synthetic runs like a sweep's: 6 sizes × 3 seeds, log-normal scatter. The fitted
 * exponent must be near the truth, and over many repetitions the 95% interval must cover it
 * about 95% of the time (a wrong t quantile or standard error shows up here). */
static void test_noisy_power_law(void)
{
    drift_rng r;
    drift_rng_init(&r, 7, 0);
    const double truth = -1.0 / 6.0;
    int covered = 0, reps = 400;
    double worst = 0;
    for (int rep = 0; rep < reps; rep++) {
        double x[18], y[18];
        for (int s = 0; s < 6; s++)
            for (int k = 0; k < 3; k++) {
                x[s * 3 + k] = 64.0 * (1 << s);
                y[s * 3 + k] = 0.5 * pow(x[s * 3 + k], truth) * exp(0.1 * drift_rng_normal(&r));
            }
        drift_fit f;
        CHECK_OK(drift_fit_power_law(x, y, 18, 0.95, &f));
        if (f.slope_lo <= truth && truth <= f.slope_hi) covered++;
        if (fabs(f.slope - truth) > worst) worst = fabs(f.slope - truth);
        /* the interval from first principles: least squares of log y on log x here, and the
         * half-width t(0.975, n − 2) · se with t from scipy.stats.t.ppf(0.975, 16) */
        double mx = 0, my = 0, sxx = 0, sxy = 0, sse = 0;
        for (int i = 0; i < 18; i++) mx += log(x[i]) / 18, my += log(y[i]) / 18;
        for (int i = 0; i < 18; i++) {
            sxx += (log(x[i]) - mx) * (log(x[i]) - mx);
            sxy += (log(x[i]) - mx) * (log(y[i]) - my);
        }
        const double b = sxy / sxx, a = my - b * mx;
        for (int i = 0; i < 18; i++) sse += pow(log(y[i]) - a - b * log(x[i]), 2);
        const double se = sqrt(sse / 16 / sxx), half = 2.1199052992210112 * se;
        CHECK_CLOSE(f.slope, b, 1e-12, 1e-9);
        CHECK_CLOSE(f.slope_se, se, 1e-15, 1e-9);
        CHECK_CLOSE(f.slope_hi - f.slope, half, 1e-15, 1e-9);
        CHECK_CLOSE(f.slope - f.slope_lo, half, 1e-15, 1e-9);
    }
    double cover = (double)covered / reps;
    CHECK_MSG(cover > 0.92 && cover < 0.98, "coverage %.3f", cover);
    CHECK_MSG(worst < 0.12, "worst slope error %.3f", worst);
}

static void test_fit_errors(void)
{
    double x[3] = {1, 2, 4}, y[3] = {1, 0.5, 0.25}, bad[3] = {1, 0, 1}, same[3] = {2, 2, 2};
    drift_fit f;
    CHECK(drift_fit_power_law(x, y, 2, 0.95, &f) == DRIFT_EINVAL);
    CHECK(drift_fit_power_law(x, bad, 3, 0.95, &f) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "positive") != NULL);
    CHECK(drift_fit_power_law(same, y, 3, 0.95, &f) == DRIFT_EINVAL);
    CHECK(drift_fit_power_law(x, y, 3, 1.5, &f) == DRIFT_EINVAL);
    CHECK_OK(drift_fit_power_law(x, y, 3, 0.9, &f));
    CHECK_CLOSE(f.slope, -1.0, 1e-12, 0);
}

int main(void)
{
    RUN(test_t_quantiles);
    RUN(test_exact_power_law);
    RUN(test_noisy_power_law);
    RUN(test_fit_errors);
    return TEST_SUMMARY();
}
