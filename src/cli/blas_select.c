/* blas_select.c — at start, run drift on the right OpenBLAS kernel: when OpenBLAS fell back to
 * a generic kernel below what this CPU runs (or DRIFT_BLAS_CORETYPE names one), restart the
 * same command once with OPENBLAS_CORETYPE set. OpenBLAS reads that variable only while it
 * initialises, before main, hence the restart. See include/drift/blas.h. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cblas.h>

#include "cli/cli.h"
#include "drift/blas.h"

void cli_blas_select(char **argv)
{
    const char *env_openblas = getenv("OPENBLAS_CORETYPE"), *env_drift = getenv("DRIFT_BLAS_CORETYPE");
    drift_cpu_info cpu;
    drift_cpu_detect(&cpu);
    const char *corename = openblas_get_corename(), *note = NULL;
    const char *target = drift_blas_restart_coretype(&cpu, corename, openblas_get_config(), env_openblas,
                                                     env_drift, getenv("DRIFT_BLAS_REEXEC"), &note);
    if (note) fprintf(stderr, "drift: DRIFT_BLAS_CORETYPE=%s ignored: %s\n", env_drift, note);
    if (!target || !argv || !argv[0]) return;
    if (setenv("OPENBLAS_CORETYPE", target, 1) || setenv("DRIFT_BLAS_REEXEC", corename, 1)) return;
    execv("/proc/self/exe", argv);
    execvp(argv[0], argv);
    /* Still here: run on with OpenBLAS's kernel, and say what it costs. */
    if (env_openblas) setenv("OPENBLAS_CORETYPE", env_openblas, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    unsetenv("DRIFT_BLAS_REEXEC");
    fprintf(stderr,
            "drift: OpenBLAS runs its %s kernel on this CPU and drift could not restart itself with "
            "OPENBLAS_CORETYPE=%s; matrix products run several times slower (set OPENBLAS_CORETYPE=%s)\n",
            corename, target, target);
}
