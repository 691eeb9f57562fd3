/* drift/comm.h — the communication seam for data-parallel training (docs/SCALE.md).
 *
 * A drift_comm is a group of processes ("ranks") that sum buffers together. Two kinds:
 *   serial   rank 0 of 1; every sum is the identity. Always available, and what every
 *            program gets unless it asks for MPI: a plain `drift train` never touches MPI.
 *   MPI      MPI_COMM_WORLD of an `mpirun -np K` launch, when libdrift was built with MPI
 *            (CMake option DRIFT_MPI=AUTO|ON|OFF; drift_comm_has_mpi() says which).
 *
 * The library never initializes MPI on its own: a program asks with drift_comm_init
 * (the drift CLI does so only when it finds itself started by an MPI launcher), and a program
 * that initialized MPI itself gets a comm over MPI_COMM_WORLD without a second MPI_Init.
 *
 * The sums are collectives: every rank must make the same calls, in the same order, with
 * the same n. A rank that cannot go on must not simply return (the others would wait in the
 * next sum forever): it calls drift_comm_abort, which ends every rank of the run.
 *
 *   drift_comm *c;
 *   drift_comm_init(DRIFT_COMM_AUTO, &c);                // serial outside mpirun
 *   ... drift_comm_allreduce_sum_f32(c, grads, n) ...   // the same sum on every rank
 *   if (error) drift_comm_abort(c, 1);                  // ends all ranks, never returns
 *   drift_comm_finalize(c);
 */
#ifndef DRIFT_COMM_H
#define DRIFT_COMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drift_comm drift_comm;

typedef enum {
    DRIFT_COMM_AUTO = 0, /* MPI when started by an MPI launcher (drift_comm_launched) and built with it */
    DRIFT_COMM_SERIAL,   /* one process, no MPI */
    DRIFT_COMM_MPI,      /* MPI_COMM_WORLD; DRIFT_EUNSUPPORTED when built without MPI */
} drift_comm_mode;

/* 1 when libdrift was built with MPI. */
int drift_comm_has_mpi(void);
/* The number of processes an MPI launcher started this one among (OMPI_COMM_WORLD_SIZE,
 * or PMI_SIZE in the environment), 0 when none did. */
int drift_comm_launched(void);

/* The communicator for `mode`. MPI: initializes MPI (MPI_Init_thread, funneled) unless the
 * program already did, and finalizes it in drift_comm_finalize only if it initialized it.
 * AUTO started by a launcher in a build without MPI is DRIFT_EUNSUPPORTED (K copies of one
 * serial run would write the same files). The serial comm needs no finalize but accepts one. */
int drift_comm_init(drift_comm_mode mode, drift_comm **out);
/* The serial communicator (static; never NULL). */
drift_comm *drift_comm_serial(void);
int drift_comm_rank(const drift_comm *c);
int drift_comm_size(const drift_comm *c);

/* buf[i] = the sum over ranks of buf[i], on every rank, in place. One collective call.
 * The order of the additions is MPI's: results agree across ranks but may differ from a
 * serial sum in the last bits. */
int drift_comm_allreduce_sum_f32(drift_comm *c, float *buf, size_t n);
int drift_comm_allreduce_sum_f64(drift_comm *c, double *vals, size_t n);
/* Seconds this comm has spent inside its collectives so far (waiting for the slowest rank
 * included): the communication share of a step. */
double drift_comm_seconds(const drift_comm *c);

/* Ends every rank of the run with exit status `code` (MPI_Abort); the serial comm exits this
 * process. Never returns. For a rank that cannot continue: the others may be waiting in a
 * collective and would otherwise hang. */
void drift_comm_abort(drift_comm *c, int code);
/* Finalizes MPI if drift_comm_init initialized it; then c is gone. */
int drift_comm_finalize(drift_comm *c);

#ifdef __cplusplus
}
#endif
#endif
