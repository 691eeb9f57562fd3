/* occupancy.c — the local occupancy of a particle cloud: how many neighbours the sparsest
 * particle has within the bandwidth. The finite-particle analysis controls its reciprocal-KDE
 * self-interaction term through exactly this (local-occupancy conditions), so the flows log
 * it. An O(n²) loop in double precision, parallel over rows. */
#include <math.h>

#include "drift/error.h"
#include "drift/sim.h"

int drift_min_occupancy(const float *x, int64_t n, int64_t d, double radius, int64_t *out)
{
    if (!x || !out || n < 1 || d < 1) return drift_error(DRIFT_EINVAL, "occupancy: bad arguments");
    if (!(radius >= 0)) return drift_error(DRIFT_EINVAL, "occupancy radius must be >= 0, got %g", radius);
    const double r2 = radius * radius;
    int64_t best = n;
#pragma omp parallel for reduction(min : best) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        int64_t cnt = 0;
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double s = 0;
            for (int64_t k = 0; k < d; k++) {
                double t = (double)x[i * d + k] - (double)x[j * d + k];
                s += t * t;
            }
            if (s <= r2) cnt++;
        }
        if (cnt < best) best = cnt;
    }
    *out = n == 1 ? 0 : best;
    return DRIFT_OK;
}
