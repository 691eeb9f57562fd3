/* cli.h — shared helpers for the subcommands: a small option parser and error exits.
 * Nothing here is library logic: a library user never needs these. */
#ifndef DRIFT_CLI_H
#define DRIFT_CLI_H

#include <stdio.h>

#include "drift/blas.h"
#include "drift/version.h"

/* The CLI reports the library's version (include/drift/version.h). */
#define DRIFT_VERSION_STRING drift_version_string()

/* Subcommands. Each returns the process exit code (0 ok, 1 failure, 2 usage error). */
int cmd_field(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_classifier(int argc, char **argv);
int cmd_encoder(int argc, char **argv);
int cmd_curl(int argc, char **argv);
int cmd_particles(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_study(int argc, char **argv);

/* At the start of main: restart the command once with OPENBLAS_CORETYPE set when OpenBLAS
 * fell back to a kernel below this CPU's class (src/cli/blas_select.c, drift/blas.h). */
void cli_blas_select(char **argv);
/* At the start of main: OMP_WAIT_POLICY=passive when the machine is busy (load + threads above
 * the cores) and the user set none (src/cli/wait_policy.c). cli_wait_policy sets the variables
 * and returns 1 when drift must restart for OpenMP to see them (cli_wait_restart does, unless
 * cli_blas_select restarted first); cli_wait_banner prints one line saying what was chosen and why. */
int cli_wait_policy(char **argv);
void cli_wait_restart(char **argv);
void cli_wait_banner(FILE *f);
/* Who chose the kernel in use: "OpenBLAS", "OPENBLAS_CORETYPE", "drift" or
 * "drift (DRIFT_BLAS_CORETYPE)"; and a one-line "blas: ..." summary for banners. */
const char *cli_blas_chooser(const drift_blas_info *b);
void cli_blas_banner(FILE *f);

/* Option table: every subcommand declares its options once; the parser fills values,
 * rejects unknown options and missing values, and prints --help from the same table. */
typedef enum { OPT_FLAG, OPT_STRING, OPT_INT, OPT_DOUBLE } cli_opt_kind;

typedef struct {
    const char *name;   /* "--tau" */
    cli_opt_kind kind;
    void *target;       /* int* (flag/int), const char** (string), double* */
    const char *meta;   /* value placeholder shown in help, e.g. "LIST" */
    const char *help;
    int seen;           /* set by the parser */
} cli_opt;

/* Parses argv[1..] (argv[0] is the subcommand name). Returns 0 ok, 1 when --help was
 * printed or under DRIFT_DRY_RUN (caller returns 0), -1 on error (message already printed; caller returns 2).
 * Options are --name VALUE or --name=VALUE; an on/off option (OPT_FLAG) is --name alone (on) or
 * --name=0|1 (yes|no, true|false, on|off too). --threads T is understood by every command: one
 * that does not list it itself gets drift_set_threads(T) here. */
int cli_parse(int argc, char **argv, cli_opt *opts, int nopts, const char *usage_line,
              const char *description);

/* At the start of main: descriptors 0, 1, 2 that are closed are filled with /dev/null opened
 * read-only, so that no file drift opens lands on them (and writes to a closed stdout still fail). */
void cli_std_fds_open(void);
/* At the end of main: flush and close stdout; on any write error print one line and return
 * a failure status (rc when it is already one, else 1). */
int cli_close_stdout(int rc);

/* Refuse two outputs of one command that name the same file (compared after resolving: the
 * same inode when both exist, else the same real directory and name; character devices such
 * as /dev/null may repeat). names[i] is the option, paths[i] its value or NULL. Returns 0, or
 * prints one line and returns 2. */
int cli_distinct_outputs(const char *cmd, int n, const char *const *names, const char *const *paths);

/* The run directory of drift train (src/cli/rundir.c). cli_rundir_scan counts in *n_own the
 * files drift train writes there (metrics.jsonl, checkpoints, config.json, grids, plots; not its
 * lock file) and returns how many other entries it holds (the first one's name in `unknown`);
 * an absent directory holds nothing; < 0: unreadable (drift_last_error). cli_rundir_clear
 * removes drift's own files, under the directory's lock (so never under a running run). */
int cli_rundir_scan(const char *dir, int *n_own, char *unknown, size_t size);
int cli_rundir_clear(const char *dir);
/* At start: DRIFT_DATA_DIR = the source tree's data/ (where scripts/setup puts MNIST) when it is
 * unset and the current directory has no data/, so that --data mnist works from anywhere. */
void cli_data_dir_default(void);

/* DRIFT_DRY_RUN=1 (tests/docs/test_doc_commands.py): every command parses and checks its options
 * and exits 0 without doing anything (cli_parse then returns 1, as after --help; drift train
 * also resolves and checks its whole configuration, without reading a checkpoint). */
int cli_dry_run(void);

/* Print "drift <cmd>: <msg>: <library message>" to stderr and return 1. */
int cli_fail(const char *cmd, const char *what);

/* An on/off value: 0|1, or the aliases yes|no, true|false, on|off. Returns 0, or -1 on anything else. */
int cli_parse_onoff(const char *s, int *on);

/* Parse "0.02,0.05,0.2" into vals (max n). Returns count, or -1 on a bad list. */
int cli_parse_double_list(const char *s, double *vals, int max);
/* Parse "64,128,256" into ints. Returns count or -1. */
int cli_parse_int_list(const char *s, int *vals, int max);

#endif
