/* drift/drift.h — the whole public API of libdrift in one include.
 *
 *   #include <drift/drift.h>
 *   cc prog.c $(pkg-config --cflags --libs drift)
 *
 * Every function declared by these headers is exported by libdrift.so, and nothing else is
 * (tests/install checks both directions). Module by module, from the bottom up (docs/ARCHITECTURE.md):
 */
#ifndef DRIFT_DRIFT_H
#define DRIFT_DRIFT_H

#include "drift/version.h"     /* DRIFT_VERSION_*, drift_version() */
#include "drift/error.h"       /* status codes, drift_last_error() */
#include "drift/core.h"        /* allocation, clock, threads */
#include "drift/ctx.h"         /* compute contexts: threads, scratch, backend (CPU, CUDA) */
#include "drift/rng.h"         /* counter-based random streams */
#include "drift/blas.h"        /* which OpenBLAS kernel runs the GEMMs */
#include "drift/comm.h"        /* ranks and sums for data-parallel training (MPI or serial) */

#include "drift/npy.h"         /* NumPy .npy arrays */
#include "drift/safetensors.h" /* safetensors files (checkpoints) */
#include "drift/json.h"        /* JSON reader and writer */
#include "drift/log.h"         /* metrics logs (JSON lines, CSV) */
#include "drift/image.h"       /* PNG, sample grids, canvas */
#include "drift/plot.h"        /* SVG/PNG line plots */
#include "drift/progress.h"    /* progress display */
#include "drift/data.h"        /* datasets: toys, MNIST, Fashion-MNIST, .npy */

#include "drift/field.h"       /* the drift-field engine */
#include "drift/nn.h"          /* layers as forward/backward pairs */
#include "drift/optim.h"       /* AdamW, schedules, EMA */
#include "drift/models.h"      /* generators and the classifier */

#include "drift/train.h"       /* the drifting loss, the trainer, checkpoints, sampling */
#include "drift/study.h"       /* plans of training runs: cells, locks, result tables */
#include "drift/features.h"    /* feature-space drifting: the released multi-key loss */
#include "drift/encoder.h"     /* the frozen feature encoder: training and files */
#include "drift/eval.h"        /* FID, precision/recall, MMD, ... */
#include "drift/sim.h"         /* conservatism diagnostics, particle flows */

#endif
