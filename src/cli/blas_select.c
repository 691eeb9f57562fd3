/* blas_select.c — at start, run drift on the right OpenBLAS kernel: when OpenBLAS fell back to
 * a generic kernel below what this CPU runs (or DRIFT_BLAS_CORETYPE names one), restart the
 * same command once with OPENBLAS_CORETYPE set. OpenBLAS reads that variable only while it
 * initialises, before main, hence the restart. See include/drift/blas.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

const char *cli_blas_chooser(const drift_blas_info *b)
{
    if (b->chosen_from) {
        const char *env_drift = getenv("DRIFT_BLAS_CORETYPE");
        const int asked = env_drift && *env_drift && strcasecmp(env_drift, "auto");
        return asked ? "drift (DRIFT_BLAS_CORETYPE)" : "drift";
    }
    return b->env_coretype ? "OPENBLAS_CORETYPE" : "OpenBLAS";
}

void cli_blas_banner(FILE *f)
{
    drift_blas_info b;
    drift_blas_get_info(&b);
    int version_len = 0; /* "OpenBLAS 0.3.21" from the configuration string */
    if (b.config) {
        const char *sp = strchr(b.config, ' ');
        version_len = (int)(sp ? strcspn(sp + 1, " ") + (size_t)(sp + 1 - b.config) : strlen(b.config));
    }
    fprintf(f, "blas: %.*s, kernel %s chosen by %s, threads %d%s\n", version_len, b.config ? b.config : "?",
            b.corename ? b.corename : "?", cli_blas_chooser(&b), b.threads,
            b.recommended && !b.chosen_from ? "; a generic fallback for this CPU: see drift info" : "");
}
