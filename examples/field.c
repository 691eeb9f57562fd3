/* field.c — a drift field on small arrays through the public API of libdrift.
 *
 *   cc field.c $(pkg-config --cflags --libs drift) -o field && ./field
 *
 * Four 2-D queries are pulled toward six data points (positives) and pushed apart from each
 * other (the negatives default to the queries, each row without itself). Prints V per row. */
#include <stdio.h>

#include <drift/drift.h>

int main(void)
{
    const float x[4 * 2] = {0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, -1.0f, -1.0f};
    const float pos[6 * 2] = {2.0f, 2.0f, 2.5f, 1.5f, 1.5f, 2.5f, -2.0f, 2.0f, 2.0f, -2.0f, 3.0f, 3.0f};
    float v[4 * 2];

    drift_field_config cfg;
    drift_field_config_init(&cfg);             /* meanshift, gaussian, tau = 1 */
    cfg.family = DRIFT_FAMILY_SHARP;           /* a gradient field: it has a potential */
    cfg.kernel = DRIFT_KERNEL_LAPLACE;
    cfg.n_tau = 2, cfg.tau[0] = 0.5, cfg.tau[1] = 2.0;

    drift_field_batch b = {.n = 4, .d = 2, .x = x, .p = 6, .pos = pos};
    double phi[4];
    drift_field_result res = {.v = v, .potential = phi};
    if (drift_field_compute(&cfg, &b, &res) != DRIFT_OK) {
        fprintf(stderr, "field: %s\n", drift_last_error());
        return 1;
    }
    printf("libdrift %s (headers %d.%d.%d), %s field, %s kernel\n", drift_version_string(), DRIFT_VERSION_MAJOR,
           DRIFT_VERSION_MINOR, DRIFT_VERSION_PATCH, drift_family_name(cfg.family), drift_kernel_name(cfg.kernel));
    for (int i = 0; i < 4; i++)
        printf("x = (%5.2f, %5.2f)  V = (%8.5f, %8.5f)  phi = %8.5f\n", x[2 * i], x[2 * i + 1], v[2 * i], v[2 * i + 1],
               phi[i]);
    printf("rms %.6f\n", res.rms);
    return 0;
}
