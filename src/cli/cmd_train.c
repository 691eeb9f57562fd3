/* cmd_train.c — `drift train`: parse options into a drift_train_config and run the trainer. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drift/comm.h"
#include "drift/core.h"
#include "drift/train.h"
#include "drift/progress.h"

static void usage(void)
{
    printf("usage: drift train --data NAME [--preset default|quick] [options]\n"
           "       drift train --resume RUN/checkpoint.safetensors [--steps N] [--out DIR]\n\n"
           "Trains a one-step generator with a drift field (docs/TRAINING.md). Each step generates\n"
           "n-neg samples for each of classes-per-step classes, computes the drift field against\n"
           "n-pos data samples of the class (and n-unc unconditional samples as guidance negatives),\n"
           "and moves the generator toward x + V(x). Writes into the run directory (--out):\n"
           "metrics.jsonl (loss, raw |V|, per-temperature norms, diversity, FID/MMD when evaluated),\n"
           "loss/diversity/fid plots (SVG + PNG), samples_<step>.png grids (one row per class) and\n"
           "checkpoint.safetensors (written atomically; --resume continues a killed run exactly).\n"
           "SIGINT (Ctrl-C) or SIGTERM stops the run after the current step with a checkpoint\n"
           "(exit status 130 or 143); a second one stops it at once.\n"
           "A resumed run keeps its checkpoint's configuration; only --steps, --log-every,\n"
           "--sample-every, --ckpt-every, --eval-every, --threads, --data-dir and --out may be given.\n\n"
           "Defaults depend on the dataset: images (fashion-mnist, mnist) train the conv generator,\n"
           "class-conditional with guidance, with the released deng recipe (laplace kernel,\n"
           "tau 0.02,0.05,0.2 relative to the mean distance, feature and drift normalization);\n"
           "toy 2-D data trains Deng et al.'s toy MLP with tau 0.05. --preset quick finishes in about\n"
           "five minutes on 2 cores.\n\n"
           "Under mpirun -np K (a build with MPI), the K processes split each step's class groups,\n"
           "sum their gradients and train the same weights as one process; rank 0 writes the run\n"
           "directory (docs/SCALE.md). --threads 0 then means the cores divided among the local ranks.\n\n"
           "options:\n");
    printf("  %-24s %s\n", "--preset P", "default | quick");
    printf("  %-24s %s\n", "--resume [CKPT]", "continue from a checkpoint (default: OUT/checkpoint.safetensors)");
    printf("  %-24s %s\n", "--quiet", "no progress output");
    int n;
    const drift_train_option *o = drift_train_options(&n);
    for (int i = 0; i < n; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", o[i].key, o[i].meta);
        printf("  %-24s %s\n", left, o[i].help);
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

/* The stop request of a SIGINT or SIGTERM (its number), for drift_trainer_set_stop_flag. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

/* The trainer's reporter: a status line (step, rate, ETA, loss, raw |V|, diversity) and notes. */
typedef struct {
    drift_progress *bar;
    int quiet;
    int64_t start_step; /* the checkpoint's step after a resume, else 0 */
    double step_s, comm_s; /* summed over this run's steps: the ranks' sums' share (MPI) */
} reporter;

/* The status line starts before the first step (so that step is timed) and counts from the
 * resumed step: the rate, the ETA and the final count are this process's steps only. */
static int start_bar(reporter *r, int64_t total)
{
    drift_progress_opts o = drift_progress_defaults();
    o.label = "train";
    o.total = total;
    o.start_step = r->start_step;
    return drift_progress_start_opts(&r->bar, &o);
}

static void report(void *ctx, const drift_step_info *info, int64_t total, const char *note)
{
    reporter *r = ctx;
    if (!note) {
        r->step_s += info->seconds;
        r->comm_s += info->comm_seconds;
    }
    if (r->quiet) return;
    if (!r->bar && start_bar(r, total)) return;
    if (note) {
        drift_progress_note(r->bar, note);
        return;
    }
    char extra[256];
    snprintf(extra, sizeof extra, "loss %.4g  |V| %.4g  diversity %.3f  grad %.3g", info->stats.loss,
             info->stats.v_rms, info->stats.diversity, info->grad_norm);
    drift_progress_update(r->bar, info->step, extra);
}

/* Class groups per step as the trainer forms them (at most classes-per-step). */
static int run_cfg_groups(const drift_train_config *c) { return c->classes_per_step; }

/* The options a resumed run may change (the rest of its configuration is the checkpoint's). */
static int resumable_option(const char *key)
{
    static const char *const keys[] = {"steps", "log-every", "sample-every", "ckpt-every", "eval-every",
                                       "threads", "data-dir", "out"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        if (!strcmp(key, keys[k])) return 1;
    return 0;
}

int cmd_train(int argc, char **argv)
{
    const char *data = NULL, *preset = "default", *resume = NULL;
    int quiet = 0, want_resume = 0;
    /* first pass: the options that choose the defaults */
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            usage();
            return 0;
        }
        if (!strcmp(argv[a], "--data") && a + 1 < argc) data = argv[a + 1];
        if (!strcmp(argv[a], "--preset") && a + 1 < argc) preset = argv[a + 1];
    }
    drift_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int has_out = 0;
    for (int a = 1; a < argc; a++)
        if (!strcmp(argv[a], "--resume")) want_resume = 1;
    if (!data && !want_resume) {
        fprintf(stderr, "drift train: --data is required (e.g. --data fashion-mnist; see --help)\n");
        return 2;
    }
    if (want_resume && data) {
        fprintf(stderr, "drift train: --data with --resume: a resumed run trains on the checkpoint's dataset "
                        "(--data-dir says where it is now)\n");
        return 2;
    }
    if (drift_train_config_defaults(&cfg, data ? data : "fashion-mnist", preset))
        return cli_fail("train", "bad option");
    if (want_resume) {
        /* everything comes from the checkpoint unless given here (drift_trainer_create) */
        cfg.steps = DRIFT_TRAIN_KEEP;
        cfg.log_every = cfg.sample_every = cfg.ckpt_every = cfg.eval_every = cfg.threads = DRIFT_TRAIN_KEEP;
        cfg.data_dir[0] = 0;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--quiet")) { quiet = 1; continue; }
        if (!strcmp(arg, "--resume")) {
            if (a + 1 < argc && strncmp(argv[a + 1], "--", 2)) resume = argv[++a];
            continue;
        }
        if (strncmp(arg, "--", 2)) {
            fprintf(stderr, "drift train: unexpected argument '%s' (see --help)\n", arg);
            return 2;
        }
        if (a + 1 >= argc) {
            fprintf(stderr, "drift train: option %s needs a value\n", arg);
            return 2;
        }
        const char *key = arg + 2, *val = argv[++a];
        if (!strcmp(key, "preset")) continue;
        if (want_resume && !resumable_option(key)) {
            fprintf(stderr, "drift train: --%s cannot change when resuming (the run keeps its checkpoint's "
                            "configuration; only --steps, --log-every, --sample-every, --ckpt-every, "
                            "--eval-every, --threads, --data-dir and --out may be given)\n", key);
            return 2;
        }
        if (!strcmp(key, "out")) has_out = 1;
        if (drift_train_config_set(&cfg, key, val)) {
            fprintf(stderr, "drift train: %s\n", drift_last_error());
            return 2;
        }
    }
    char resume_buf[1100];
    if (want_resume && !resume) {
        snprintf(resume_buf, sizeof resume_buf, "%s/checkpoint.safetensors", cfg.out);
        resume = resume_buf;
    }
    if (resume && !has_out) {
        /* continue in the checkpoint's own directory */
        const char *slash = strrchr(resume, '/');
        if (slash) snprintf(cfg.out, sizeof cfg.out, "%.*s", (int)(slash - resume), resume);
        else snprintf(cfg.out, sizeof cfg.out, ".");
    }
    if (!resume && drift_train_config_check(&cfg)) return cli_fail("train", "invalid options");
    /* MPI only when started by mpirun (or another launcher); a plain run stays serial */
    drift_comm *comm = NULL;
    if (drift_comm_init(DRIFT_COMM_AUTO, &comm)) return cli_fail("train", "cannot start");
    const int rank = drift_comm_rank(comm), n_ranks = drift_comm_size(comm);
    if (rank > 0) quiet = 1; /* rank 0 speaks for the run; the others only report their errors */
    drift_trainer *t = NULL;
    if (drift_trainer_create(&cfg, resume, &t)) {
        if (n_ranks == 1) return cli_fail("train", "cannot start");
        fprintf(stderr, "drift train: rank %d of %d: cannot start: %s\n", rank, n_ranks, drift_last_error());
        drift_comm_abort(comm, 1); /* the other ranks must not wait for this one */
    }
    drift_trainer_set_comm(t, comm);
    if (n_ranks > 1 && drift_trainer_config(t)->threads == 0) {
        /* all cores: shared among this node's ranks (omp_get_num_procs sees a rank's binding) */
        const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        int per_node = local && atoi(local) > 0 ? atoi(local) : 1;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        drift_set_threads(cores / per_node > 1 ? (int)(cores / per_node) : 1);
    }
    const int64_t start_step = drift_trainer_steps_done(t); /* > 0 after a resume */
    reporter rep = {NULL, quiet, start_step, 0, 0};
    if (!quiet) {
        const drift_train_config *run_cfg = drift_trainer_config(t); /* after a resume: the checkpoint's */
        fprintf(stderr, "drift train: %s, %s generator with %zu parameters, %s/%s field, run directory %s\n",
                run_cfg->data, run_cfg->model, drift_trainer_param_count(t), drift_family_name(run_cfg->field.family),
                drift_kernel_name(run_cfg->field.kernel), run_cfg->out);
        fprintf(stderr, "%s", drift_trainer_model_description(t));
        cli_blas_banner(stderr);
        if (resume) fprintf(stderr, "resuming from %s at step %lld\n", resume, (long long)drift_trainer_steps_done(t));
        if (n_ranks > 1)
            fprintf(stderr, "data-parallel over %d MPI ranks: each step's class groups split among them, %d thread%s each%s\n",
                    n_ranks, drift_get_threads(), drift_get_threads() == 1 ? "" : "s",
                    n_ranks > run_cfg_groups(drift_trainer_config(t)) ? " (more ranks than class groups: some are idle)" : "");
    }
    drift_trainer_set_reporter(t, report, &rep);
    if (!quiet) start_bar(&rep, drift_trainer_config(t)->steps);
    /* SIGINT/SIGTERM: the handler only sets the flag; the run checks it between steps, writes
     * a checkpoint and returns. A second signal takes the default action (SA_RESETHAND). */
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    drift_trainer_set_stop_flag(t, &stop_signal);
    int st = drift_trainer_run(t);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (rep.bar) drift_progress_finish(rep.bar, NULL);
    int rc = 0;
    int64_t ck_step = 0;
    const char *ck = drift_trainer_last_checkpoint(t, &ck_step);
    if (ck && access(ck, R_OK)) ck = NULL; /* removed meanwhile: say nothing about it */
    if (st && rank > 0) {
        fprintf(stderr, "drift train: rank %d of %d stopped: %s\n", rank, n_ranks, drift_last_error());
        sleep(1); /* let rank 0 name the last checkpoint before the abort ends it */
        drift_comm_abort(comm, 1);
    }
    if (st) {
        rc = cli_fail("train", "stopped");
        /* only a checkpoint this run wrote or resumed from, and only if it is there */
        if (ck)
            fprintf(stderr, "drift train: the last good checkpoint is %s (step %lld); continue with drift train --resume %s\n",
                    ck, (long long)ck_step, ck);
        else
            fprintf(stderr, "drift train: no checkpoint was written (the run stopped at step %lld, before its first "
                            "checkpoint)\n", (long long)drift_trainer_steps_done(t));
    } else if (stop_signal) {
        rc = 128 + (int)stop_signal; /* 130 for SIGINT, 143 for SIGTERM, as a shell reports a killed job */
        if (rank == 0)
            fprintf(stderr, "drift train: stopped by %s at step %lld; checkpoint %s; continue with drift train --resume %s\n",
                    stop_signal == SIGINT ? "SIGINT" : "SIGTERM", (long long)drift_trainer_steps_done(t), ck ? ck : "(none)",
                    ck ? ck : "(none)");
    } else if (drift_trainer_steps_done(t) < drift_trainer_config(t)->steps) {
        /* another rank was signalled: every rank stopped after the same step (drift_trainer_set_comm) */
        rc = 128 + SIGTERM;
        if (rank == 0)
            fprintf(stderr, "drift train: stopped at step %lld by a signal to another rank; checkpoint %s; continue with "
                            "drift train --resume %s\n", (long long)drift_trainer_steps_done(t), ck ? ck : "(none)",
                    ck ? ck : "(none)");
    } else if (!quiet) {
        const long long end = (long long)drift_trainer_steps_done(t);
        if (n_ranks > 1 && rep.step_s > 0)
            fprintf(stderr, "drift train: %d ranks; summing over them took %.1f %% of the step time (%.2f ms a step)\n",
                    n_ranks, 100.0 * rep.comm_s / rep.step_s,
                    1e3 * rep.comm_s / (double)(end - start_step > 0 ? end - start_step : 1));
        if (start_step > 0)
            fprintf(stderr, "drift train: done, %lld steps in this run (from step %lld to %lld); samples, plots "
                            "and metrics in %s\n", end - (long long)start_step, (long long)start_step, end, cfg.out);
        else
            fprintf(stderr, "drift train: done, %lld steps; samples, plots and metrics in %s\n", end, cfg.out);
    }
    drift_trainer_free(t);
    /* a failed rank ends every rank: one waiting in a sum would hang */
    if (st && n_ranks > 1) drift_comm_abort(comm, rc);
    drift_comm_finalize(comm);
    return rc;
}
