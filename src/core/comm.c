/* comm.c — the serial communicator, and the MPI one when built with DRIFT_HAVE_MPI
 * (CMake option DRIFT_MPI). drift/comm.h is the contract. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drift/comm.h"
#include "drift/core.h"
#include "drift/error.h"

#ifdef DRIFT_HAVE_MPI
#include <mpi.h>
#endif

struct drift_comm {
    int rank, size;
    int is_mpi;
    int owns_mpi;   /* drift_comm_init called MPI_Init: finalize it too */
    double seconds; /* time inside collectives */
};

static drift_comm serial_comm = {0, 1, 0, 0, 0.0};

int drift_comm_has_mpi(void)
{
#ifdef DRIFT_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int drift_comm_launched(void)
{
    /* Open MPI's mpirun, and launchers speaking PMI (MPICH's Hydra, srun --mpi=pmi2) */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return 0;
}

drift_comm *drift_comm_serial(void) { return &serial_comm; }

int drift_comm_init(drift_comm_mode mode, drift_comm **out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "drift_comm_init: no output");
    *out = &serial_comm;
    if (mode == DRIFT_COMM_SERIAL) return DRIFT_OK;
    if (mode == DRIFT_COMM_AUTO && !drift_comm_launched()) return DRIFT_OK;
#ifdef DRIFT_HAVE_MPI
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    /* Waiting ranks spin in their sums (Open MPI yields by itself when a node has more ranks
     * than cores). Forcing OMPI_MCA_mpi_yield_when_idle=1 cost 12x on a loaded machine: a
     * 705,985-float sum took 13.2 ms instead of 1.1 ms (bench_comm, load 12). */
    if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return drift_error(DRIFT_EIO, "MPI_Init failed");
    drift_comm *c = calloc(1, sizeof *c);
    if (!c) return drift_error(DRIFT_ENOMEM, "out of memory");
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->is_mpi = 1;
    c->owns_mpi = !inited;
    *out = c;
    return DRIFT_OK;
#else
    if (mode == DRIFT_COMM_MPI)
        return drift_error(DRIFT_EUNSUPPORTED, "this drift was built without MPI (configure with -DDRIFT_MPI=ON "
                                               "after installing libopenmpi-dev)");
    if (drift_comm_launched() > 1)
        return drift_error(DRIFT_EUNSUPPORTED, "started by mpirun with %d processes, but this drift was built without "
                                               "MPI: each would train the whole run alone (rebuild with libopenmpi-dev "
                                               "installed, or run without mpirun)", drift_comm_launched());
    return DRIFT_OK; /* a launch of one process is a serial run */
#endif
}

int drift_comm_rank(const drift_comm *c) { return c ? c->rank : 0; }
int drift_comm_size(const drift_comm *c) { return c ? c->size : 1; }
double drift_comm_seconds(const drift_comm *c) { return c ? c->seconds : 0.0; }

#ifdef DRIFT_HAVE_MPI
/* MPI counts are ints: large buffers go in pieces (each piece is one more collective; every
 * rank splits the same n the same way). */
static int allreduce(drift_comm *c, void *buf, size_t n, MPI_Datatype type, size_t elem)
{
    const size_t chunk = (size_t)1 << 30;
    double t0 = drift_now();
    for (size_t done = 0; done < n;) {
        size_t m = n - done < chunk ? n - done : chunk;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + done * elem, (int)m, type, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) {
            c->seconds += drift_now() - t0;
            return drift_error(DRIFT_EIO, "MPI_Allreduce of %zu values failed (error %d)", n, rc);
        }
        done += m;
    }
    c->seconds += drift_now() - t0;
    return DRIFT_OK;
}
#endif

int drift_comm_allreduce_sum_f32(drift_comm *c, float *buf, size_t n)
{
    if (!c || (n && !buf)) return drift_error(DRIFT_EINVAL, "allreduce: missing arguments");
#ifdef DRIFT_HAVE_MPI
    if (c->is_mpi && c->size > 1) return allreduce(c, buf, n, MPI_FLOAT, sizeof(float));
#endif
    return DRIFT_OK;
}

int drift_comm_allreduce_sum_f64(drift_comm *c, double *vals, size_t n)
{
    if (!c || (n && !vals)) return drift_error(DRIFT_EINVAL, "allreduce: missing arguments");
#ifdef DRIFT_HAVE_MPI
    if (c->is_mpi && c->size > 1) return allreduce(c, vals, n, MPI_DOUBLE, sizeof(double));
#endif
    return DRIFT_OK;
}

void drift_comm_abort(drift_comm *c, int code)
{
    fflush(stdout);
    fflush(stderr);
#ifdef DRIFT_HAVE_MPI
    if (c && c->is_mpi) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    (void)c;
    _exit(code);
}

int drift_comm_finalize(drift_comm *c)
{
    if (!c || c == &serial_comm) return DRIFT_OK;
#ifdef DRIFT_HAVE_MPI
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (c->owns_mpi && !finalized) MPI_Finalize();
#endif
    free(c);
    return DRIFT_OK;
}
