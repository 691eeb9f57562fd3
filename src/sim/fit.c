/* fit.c — the log–log slope of a power law, with a Student-t confidence interval.
 *
 * Used by the particle sweep: log R = a + b log N fitted by ordinary least squares over every
 * run (each seed is one point), so the interval reflects the seed-to-seed scatter. The t
 * quantile is computed from the regularized incomplete beta function (continued fraction, as
 * in Numerical Recipes §6.4) and inverted by bisection: no table, any degrees of freedom. */
#include <math.h>

#include "drift/error.h"
#include "drift/sim.h"

/* Continued fraction for the incomplete beta function (modified Lentz). */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, dd = 1.0 - qab * x / qap;
    if (fabs(dd) < tiny) dd = tiny;
    dd = 1.0 / dd;
    double h = dd;
    for (int m = 1; m <= 300; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        dd = 1.0 + aa * dd; if (fabs(dd) < tiny) dd = tiny;
        c = 1.0 + aa / c;   if (fabs(c) < tiny) c = tiny;
        dd = 1.0 / dd;
        h *= dd * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        dd = 1.0 + aa * dd; if (fabs(dd) < tiny) dd = tiny;
        c = 1.0 + aa / c;   if (fabs(c) < tiny) c = tiny;
        dd = 1.0 / dd;
        double del = dd * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-15) break;
    }
    return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double inc_beta(double a, double b, double x)
{
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    if (x < (a + 1.0) / (a + b + 2.0)) return exp(lbt) * beta_cf(a, b, x) / a;
    return 1.0 - exp(lbt) * beta_cf(b, a, 1.0 - x) / b;
}

/* P(T <= t) for Student's t with df degrees of freedom. */
static double student_t_cdf(double t, double df)
{
    double tail = 0.5 * inc_beta(0.5 * df, 0.5, df / (df + t * t));
    return t >= 0 ? 1.0 - tail : tail;
}

double drift_student_t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0.0;
    if (p < 0.5) return -drift_student_t_quantile(1.0 - p, df);
    double lo = 0.0, hi = 1.0;
    while (student_t_cdf(hi, df) < p && hi < 1e300) hi *= 2.0;
    for (int it = 0; it < 200 && hi - lo > 1e-14 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        if (student_t_cdf(mid, df) < p) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

int drift_fit_power_law(const double *x, const double *y, int n, double conf, drift_fit *out)
{
    if (!x || !y || !out) return drift_error(DRIFT_EINVAL, "power-law fit: NULL argument");
    if (n < 3) return drift_error(DRIFT_EINVAL, "power-law fit needs at least 3 points, got %d", n);
    if (!(conf > 0 && conf < 1)) return drift_error(DRIFT_EINVAL, "confidence level must be in (0, 1), got %g", conf);
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        if (!(x[i] > 0) || !(y[i] > 0) || !isfinite(x[i]) || !isfinite(y[i]))
            return drift_error(DRIFT_EINVAL, "power-law fit needs finite positive values (point %d is (%g, %g))", i, x[i], y[i]);
        mx += log(x[i]);
        my += log(y[i]);
    }
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        double dx = log(x[i]) - mx, dy = log(y[i]) - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if (!(sxx > 0)) return drift_error(DRIFT_EINVAL, "power-law fit needs at least two distinct x values");
    double b = sxy / sxx, a = my - b * mx, sse = 0;
    for (int i = 0; i < n; i++) {
        double r = log(y[i]) - (a + b * log(x[i]));
        sse += r * r;
    }
    out->n = n;
    out->slope = b;
    out->intercept = a;
    out->slope_se = sqrt(sse / (n - 2) / sxx);
    double t = drift_student_t_quantile(0.5 + 0.5 * conf, n - 2);
    out->slope_lo = b - t * out->slope_se;
    out->slope_hi = b + t * out->slope_se;
    out->r2 = syy > 0 ? 1.0 - sse / syy : 1.0;
    return DRIFT_OK;
}
