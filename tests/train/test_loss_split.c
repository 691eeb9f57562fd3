/* Data parallelism without MPI (docs/SCALE.md): the loss of a step computed in shares of its class
 * groups (drift_loss_partial, as each rank does) gives the same dL/dx as the whole step, bit for
 * bit, and its summed statistics the same drift_loss_stats; the serial communicator is the
 * identity; a trainer split over "ranks" by hand plans the same step whatever the split. */
#include <stdlib.h>
#include <string.h>

#include "drift/comm.h"
#include "drift/core.h"
#include "drift/rng.h"
#include "drift/train.h"
#include "test.h"
#include "train/loss_internal.h"

enum { D = 4, NP = 12, NU = 6, NGROUPS = 4 };

static void test_shares_give_the_whole_step(void)
{
    const int n_gen[NGROUPS] = {9, 7, 9, 5};
    int64_t total = 0;
    for (int g = 0; g < NGROUPS; g++) total += n_gen[g];
    drift_rng r;
    drift_rng_init(&r, 11, 0);
    float *x = malloc(sizeof(float) * (size_t)(total * D)), pos[NGROUPS][NP * D], unc[NU * D];
    float *whole = malloc(sizeof(float) * (size_t)(total * D)), *split = malloc(sizeof(float) * (size_t)(total * D));
    drift_rng_fill_normal(&r, x, (size_t)(total * D), 0, 1);
    drift_rng_fill_normal(&r, unc, NU * D, 0, 1);
    drift_class_group groups[NGROUPS];
    for (int g = 0; g < NGROUPS; g++) {
        drift_rng_fill_normal(&r, pos[g], NP * D, (float)g - 1.5f, 1);
        groups[g] = (drift_class_group){n_gen[g], NP, pos[g], g % 2 ? NU : 0, g % 2 ? unc : NULL, 0.4f * (float)g};
    }
    for (int obj = 0; obj < 2; obj++) {
        drift_field_config c;
        drift_field_config_init(&c);
        if (obj == 0) {
            drift_field_config_deng_released(&c);
            c.kernel = DRIFT_KERNEL_LAPLACE;
            c.n_tau = 3; c.tau[0] = 0.02; c.tau[1] = 0.05; c.tau[2] = 0.2;
        } else {
            c.family = DRIFT_FAMILY_SHARP;
            c.n_tau = 1; c.tau[0] = 0.7;
        }
        const drift_objective o = obj ? DRIFT_OBJECTIVE_POTENTIAL : DRIFT_OBJECTIVE_DRIFT;
        drift_loss_stats ref;
        CHECK_OK(drift_drift_loss(&c, o, x, D, groups, NGROUPS, whole, &ref));
        /* three "ranks": groups {0}, {1, 2}, {3}; their sums added as the allreduce would */
        const int cut[4] = {0, 1, 3, 4};
        double sums[LOSS_SUM_N] = {0}, part[LOSS_SUM_N];
        int64_t off = 0;
        for (int k = 0; k < 3; k++) {
            const int g0 = cut[k], g1 = cut[k + 1];
            CHECK_OK(drift_loss_partial(NULL, &c, o, x + off * D, D, groups + g0, g1 - g0, total, NGROUPS, split + off * D, part));
            int64_t rows = 0;
            for (int g = g0; g < g1; g++) rows += n_gen[g];
            CHECK(part[LOSS_SUM_ROWS] == (double)rows);
            for (int i = 0; i < LOSS_SUM_N; i++) sums[i] += part[i];
            off += rows;
        }
        CHECK_MSG(memcmp(whole, split, sizeof(float) * (size_t)(total * D)) == 0, "objective %d: dL/dx of the shares", obj);
        drift_loss_stats got;
        drift_loss_finish(sums, c.n_tau, total, &got);
        CHECK_CLOSE(got.loss, ref.loss, 0, 1e-12);
        CHECK(ref.loss != 0);
        CHECK_CLOSE(got.v_rms, ref.v_rms, 0, 1e-12);
        for (int t = 0; t < c.n_tau; t++) CHECK_CLOSE(got.tau_rms[t], ref.tau_rms[t], 0, 1e-12);
        CHECK_CLOSE(got.feature_scale, ref.feature_scale, 0, 1e-12);
        CHECK_CLOSE(got.diversity, ref.diversity, 0, 1e-12);
        CHECK_CLOSE(got.dup_frac, ref.dup_frac, 0, 1e-12);
    }
    /* a share's group counts must fit the step's */
    double part[LOSS_SUM_N];
    drift_field_config c;
    drift_field_config_init(&c);
    CHECK(drift_loss_partial(NULL, &c, DRIFT_OBJECTIVE_DRIFT, x, D, groups, 2, total, 1, split, part) == DRIFT_EINVAL);
    free(x); free(whole); free(split);
}

static void test_serial_comm(void)
{
    drift_comm *c = NULL;
    CHECK_OK(drift_comm_init(DRIFT_COMM_SERIAL, &c));
    CHECK(c == drift_comm_serial());
    CHECK(drift_comm_rank(c) == 0 && drift_comm_size(c) == 1);
    float f[3] = {1.5f, -2.f, 3.25f};
    double v[2] = {0.1, 1e300};
    CHECK_OK(drift_comm_allreduce_sum_f32(c, f, 3));
    CHECK_OK(drift_comm_allreduce_sum_f64(c, v, 2));
    CHECK(f[0] == 1.5f && f[1] == -2.f && f[2] == 3.25f && v[0] == 0.1 && v[1] == 1e300);
    CHECK(drift_comm_allreduce_sum_f32(c, NULL, 3) == DRIFT_EINVAL);
    CHECK(drift_comm_seconds(c) == 0.0);
    CHECK_OK(drift_comm_finalize(c));
    /* AUTO outside a launcher: serial, MPI or not */
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    CHECK(drift_comm_launched() == 0);
    CHECK_OK(drift_comm_init(DRIFT_COMM_AUTO, &c));
    CHECK(c == drift_comm_serial());
    if (!drift_comm_has_mpi()) {
        /* a build without MPI refuses to be K copies of one run */
        setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
        CHECK(drift_comm_launched() == 2);
        CHECK(drift_comm_init(DRIFT_COMM_AUTO, &c) == DRIFT_EUNSUPPORTED);
        CHECK(strstr(drift_last_error(), "without MPI") != NULL);
        CHECK(drift_comm_init(DRIFT_COMM_MPI, &c) == DRIFT_EUNSUPPORTED);
        setenv("OMPI_COMM_WORLD_SIZE", "1", 1); /* mpirun -np 1: a serial run */
        CHECK_OK(drift_comm_init(DRIFT_COMM_AUTO, &c));
        CHECK(drift_comm_size(c) == 1);
        unsetenv("OMPI_COMM_WORLD_SIZE");
    } else {
        setenv("PMI_SIZE", "3", 1);
        CHECK(drift_comm_launched() == 3);
        unsetenv("PMI_SIZE");
    }
}

int main(void)
{
    RUN(test_shares_give_the_whole_step);
    RUN(test_serial_comm);
    return TEST_SUMMARY();
}
