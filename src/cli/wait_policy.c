/* wait_policy.c — at start, choose how idle OpenMP threads wait. libgomp's default lets a thread
 * that finished its share spin for a while before it sleeps; on a machine whose cores are all
 * busy with other processes, those spinning threads take the cores that the threads still
 * working need, and a step costs several times more (measured: docs/PERFORMANCE.md, "Busy
 * machines"). With OMP_WAIT_POLICY=passive they sleep at once. OpenMP reads the variable only
 * while it initialises, before main, hence a restart, as for OPENBLAS_CORETYPE (blas_select.c).
 *
 * The choice: OMP_WAIT_POLICY as the user set it; else passive when the machine is busy (the
 * 1-minute load average plus this run's threads above the cores online); else OpenMP's default.
 * DRIFT_WAIT_POLICY=auto|passive|active overrides the choice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include "cli/cli.h"

int cli_wait_policy(char **argv)
{
    if (getenv("OMP_WAIT_POLICY")) return 0; /* the user's (or already ours, after the restart) */
    const char *want = getenv("DRIFT_WAIT_POLICY");
    double load[1] = {0};
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int have_load = getloadavg(load, 1) == 1;
    const int threads = omp_get_max_threads();
    char why[160];
    const char *policy = NULL;
    if (want && !strcmp(want, "passive")) {
        policy = "passive";
        snprintf(why, sizeof why, "DRIFT_WAIT_POLICY=passive");
    } else if (want && !strcmp(want, "active")) {
        policy = "active";
        snprintf(why, sizeof why, "DRIFT_WAIT_POLICY=active");
    } else if (have_load && cores > 0 && load[0] + threads > (double)cores + 0.5) {
        policy = "passive";
        snprintf(why, sizeof why, "load %.1f on %ld cores", load[0], cores);
    }
    if (!policy || !argv || !argv[0]) return 0;
    if (setenv("OMP_WAIT_POLICY", policy, 1) || setenv("DRIFT_WAIT_CHOSEN", why, 1)) return 0;
    return 1; /* restart (main: after cli_blas_select, which may restart for both) */
}

void cli_wait_restart(char **argv)
{
    execv("/proc/self/exe", argv);
    execvp(argv[0], argv);
    /* still here: run on with OpenMP's default wait policy (and say nothing else about it) */
    unsetenv("DRIFT_WAIT_CHOSEN");
    unsetenv("OMP_WAIT_POLICY");
}

void cli_wait_banner(FILE *f)
{
    const char *policy = getenv("OMP_WAIT_POLICY"), *why = getenv("DRIFT_WAIT_CHOSEN");
    if (why)
        fprintf(f, "openmp: OMP_WAIT_POLICY=%s chosen by drift (%s; %s); set OMP_WAIT_POLICY to choose yourself\n",
                policy ? policy : "?", why,
                policy && !strcmp(policy, "passive") ? "idle threads sleep instead of spinning on busy cores"
                                                     : "idle threads spin");
    else if (policy)
        fprintf(f, "openmp: OMP_WAIT_POLICY=%s (yours)\n", policy);
    else
        fprintf(f, "openmp: idle threads spin briefly (OpenMP's default: the machine is not busy; drift "
                   "chooses OMP_WAIT_POLICY=passive when the load exceeds the cores)\n");
}
