/* main.c — the `drift` command: dispatches to one file per subcommand (cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    /* SUBCOMMANDS: keep one line per command, in the order shown by --help */
    {"train", cmd_train, "train a one-step generator with a drift field (images or toy 2-D data)"},
    {"sample", cmd_sample, "draw samples from a trained generator (one forward pass each)"},
    {"study", cmd_study, "run a plan of training runs (axes x seeds), resumably, and tabulate the results"},
    {"field", cmd_field, "evaluate a drift field on NPY inputs (any family, kernel, temperatures)"},
    {"eval", cmd_eval, "score generated samples: FID, precision/recall, MMD (images); MMD, energy, SW2 (toys)"},
    {"classifier", cmd_classifier, "train / inspect the feature network that drift eval measures in"},
    {"encoder", cmd_encoder, "train / inspect the frozen encoder whose features feature-space drifting uses"},
    {"curl", cmd_curl, "is a drift field conservative? curl, Jacobian asymmetry, circulation (+ 2-D figure)"},
    {"particles", cmd_particles, "finite-particle flows toward a target; residual-vs-N sweeps against theory"},
    {"info", cmd_info, "version, CPU, BLAS library and kernel in use, threads, a 1-second SGEMM probe"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "drift %s — drifting models: one-step generators trained with drift fields\n\n"
               "usage: drift <command> [options]    (drift <command> --help for details)\n\n"
               "commands:\n", DRIFT_VERSION_STRING);
    for (const subcommand *c = subcommands; c->name; c++) fprintf(f, "  %-12s %s\n", c->name, c->summary);
    fprintf(f, "\nEvery command takes --threads T (0: all cores; or OMP_NUM_THREADS). On/off options are 0|1\n"
               "(a bare --name means 1). On a busy machine drift sets OMP_WAIT_POLICY=passive and says so\n"
               "(drift info). DRIFT_DRY_RUN=1: a command checks its options and does nothing.\n");
}

static int run_command(int argc, char **argv)
{
    const int restart = cli_wait_policy(argv); /* OMP_WAIT_POLICY=passive on a busy machine */
    cli_blas_select(argv); /* may restart drift on a better OpenBLAS kernel (drift/blas.h) */
    if (restart) cli_wait_restart(argv);
    cli_data_dir_default(); /* --data mnist from any directory */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("drift %s\n", DRIFT_VERSION_STRING);
        return 0;
    }
    for (const subcommand *c = subcommands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "drift: unknown command '%s' (see drift --help)\n", argv[1]);
    return 2;
}

int main(int argc, char **argv)
{
    cli_std_fds_open();
    /* every command's stdout (--json, tables, --help) is checked once here: a full disk, a
     * closed stdout or a failed flush is an error, not a silent success */
    return cli_close_stdout(run_command(argc, argv));
}
