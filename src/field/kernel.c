/* kernel.c — radial kernels, their sharp kernels and gradients, in log form (docs/MATH.md §2).
 *
 * Everything is returned as a logarithm so that sums of kernel values can be normalized
 * with the row maximum subtracted: far-apart points then give finite fields instead of
 * 0/0. g(r) = −κ'(r)/r is the factor in ∇_x κ(‖x − y‖) = g(r)·(y − x). */
#include <math.h>

#include "drift/field.h"

double drift_kernel_log(drift_kernel k, double r, double tau, double alpha)
{
    switch (k) {
    case DRIFT_KERNEL_GAUSSIAN: return -r * r / (2.0 * tau * tau);
    case DRIFT_KERNEL_LAPLACE: return -r / tau;
    case DRIFT_KERNEL_RQ: return -alpha * log1p(r * r / (2.0 * alpha * tau * tau));
    default: return -INFINITY;
    }
}

double drift_kernel_log_sharp(drift_kernel k, double r, double tau, double alpha)
{
    switch (k) {
    case DRIFT_KERNEL_GAUSSIAN: /* τ² exp(−r²/2τ²) */
        return 2.0 * log(tau) - r * r / (2.0 * tau * tau);
    case DRIFT_KERNEL_LAPLACE: /* τ (r + τ) exp(−r/τ) */
        return log(tau) + log(r + tau) - r / tau;
    case DRIFT_KERNEL_RQ: /* ατ²/(α−1) (1 + r²/2ατ²)^−(α−1); needs α > 1 */
        return log(alpha * tau * tau / (alpha - 1.0)) -
               (alpha - 1.0) * log1p(r * r / (2.0 * alpha * tau * tau));
    default: return -INFINITY;
    }
}

double drift_kernel_log_grad(drift_kernel k, double r, double tau, double alpha)
{
    switch (k) {
    case DRIFT_KERNEL_GAUSSIAN: /* κ/τ² */
        return -r * r / (2.0 * tau * tau) - 2.0 * log(tau);
    case DRIFT_KERNEL_LAPLACE: /* κ/(τ r); ∇κ is undefined at r = 0 and taken as 0 there */
        return r > 0 ? -r / tau - log(tau) - log(r) : -INFINITY;
    case DRIFT_KERNEL_RQ: /* (1 + u)^−(α+1) / τ² */
        return -(alpha + 1.0) * log1p(r * r / (2.0 * alpha * tau * tau)) - 2.0 * log(tau);
    default: return -INFINITY;
    }
}
