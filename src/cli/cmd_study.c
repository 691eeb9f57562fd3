/* cmd_study.c — `drift study PLAN.json`: run every cell of a plan (drift/study.h) and
 * aggregate the results.
 *
 * Each cell runs as child processes of this same binary (/proc/self/exe): `drift train`
 * (or `drift train --resume` when the cell has a checkpoint), `drift sample`, `drift eval
 * --json`. Children, not in-process calls, because a cell is then exactly the run a person
 * would make by hand (same files, same bytes), a cell that crashes or runs out of memory
 * costs that cell only, and a stop signal reaches one trainer that knows how to checkpoint.
 * The study process only watches: it polls the cell's metrics.jsonl for the progress line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/error.h"
#include "drift/study.h"

static volatile sig_atomic_t stop_signal;
static void on_stop(int sig) { stop_signal = sig; }

/* ---- the progress line ----------------------------------------------------------------- */

typedef struct {
    int quiet, tty;
    double t0, last_print;
    int64_t total_steps, done_steps; /* steps this invocation will train / has trained (finished cells) */
    int cell_no, n_cells;
    const char *cell, *phase;
    int64_t cell_step, cell_steps, cell_start;
} progress;

static void fmt_time(double s, char *buf, size_t size)
{
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, size, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

static void show(progress *p, int force)
{
    if (p->quiet) return;
    double now = drift_now();
    if (!force && now - p->last_print < (p->tty ? 0.5 : 30.0)) return;
    p->last_print = now;
    const int64_t done = p->done_steps + (p->cell_step - p->cell_start > 0 ? p->cell_step - p->cell_start : 0);
    char eta[32], el[32];
    fmt_time(now - p->t0, el, sizeof el);
    /* the study's ETA: the wall time so far (sampling and scoring included) per step trained,
     * times the steps left; before the first cell finishes it leaves out the cells' evaluations */
    if (done > 0) fmt_time((now - p->t0) / (double)done * (double)(p->total_steps - done), eta, sizeof eta);
    else snprintf(eta, sizeof eta, "?");
    char line[512];
    snprintf(line, sizeof line, "study  cell %d/%d %s  %s %lld/%lld  |  steps %lld/%lld  elapsed %s  ETA %s",
             p->cell_no, p->n_cells, p->cell ? p->cell : "", p->phase ? p->phase : "", (long long)p->cell_step,
             (long long)p->cell_steps, (long long)done, (long long)p->total_steps, el, eta);
    if (p->tty) fprintf(stderr, "\r%s\033[K", line);
    else fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

static void note(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(progress *p, const char *fmt, ...)
{
    if (p->quiet) return;
    if (p->tty) fprintf(stderr, "\r\033[K");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* ---- child processes ------------------------------------------------------------------- */

/* Runs argv with stderr (and stdout, unless out_path) appended to log_path; while it runs, the
 * cell's progress is read from metrics (when not NULL) and shown. A stop signal to the study
 * is passed on once (the trainer then checkpoints and exits). Returns the exit status, 128+sig
 * when it died of a signal, or -1 when it could not start. */
static int run_child(char *const argv[], const char *log_path, const char *out_path, const char *metrics, progress *pg)
{
    FILE *log = fopen(log_path, "ae");
    if (log) {
        time_t now = time(NULL);
        fprintf(log, "== drift study, %s", ctime(&now));
        for (int k = 0; argv[k]; k++) fprintf(log, "%s%s", k ? " " : "$ ", argv[k]);
        fprintf(log, "\n");
        fclose(log);
    }
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        /* its own process group: a Ctrl-C at the terminal reaches the study only, which passes
         * it on once (a second SIGINT would stop the trainer without a checkpoint) */
        setpgid(0, 0);
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* the study killed outright: the cell checkpoints and stops */
        if (getppid() == 1) _exit(143);
#endif
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) dup2(fd, 2);
        int ofd = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : fd;
        if (ofd >= 0) dup2(ofd, 1);
        execv(argv[0], argv);
        fprintf(stderr, "drift study: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int forwarded = 0, status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return -1;
        if (stop_signal && !forwarded) {
            kill(pid, (int)stop_signal);
            forwarded = 1;
        }
        if (metrics) pg->cell_step = drift_study_last_step(metrics);
        show(pg, 0);
        usleep(200 * 1000);
    }
    if (metrics) pg->cell_step = drift_study_last_step(metrics);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

/* The last non-empty line of a log that starts with "drift " (the child's error), for a failure. */
static void last_error_line(const char *log_path, char *buf, size_t size)
{
    snprintf(buf, size, "see log.txt");
    FILE *f = fopen(log_path, "re");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "drift ", 6)) snprintf(buf, size, "%s", line);
    }
    fclose(f);
}

/* argv builder */
typedef struct {
    char *v[256];
    int n;
} args;

static void arg(args *a, const char *s)
{
    if (a->n < 254) a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

static void usage(void)
{
    printf("usage: drift study PLAN.json [--out DIR] [--list] [--report] [--retry-failed] [--keep-samples]\n"
           "                             [--max-cells N] [--cells PATTERN]... [--quiet]\n\n"
           "Runs every cell of a plan — a base drift train configuration and axes to vary, their full\n"
           "cross product plus explicit cells (docs/STUDY.md) — as an ordinary drift train run in\n"
           "DIR/<cell>/run, then drift sample (the plan's eval.n samples, default 10000) and drift eval\n"
           "--json into DIR/<cell>/result.json, and writes DIR/results.md and results.json (mean ± sd\n"
           "over seeds), fid.svg/png (FID at each training evaluation, every cell) and rows.png (one\n"
           "row of samples per cell). Finished cells are skipped; a cell with a checkpoint and no\n"
           "result is resumed (drift train --resume). A cell whose training or scoring fails on its\n"
           "own (a non-finite loss, say) is recorded as failed and skipped by reruns.\n\n"
           "Several processes, on one machine or on several sharing DIR, can work through one study:\n"
           "each cell is taken with a lock file DIR/<cell>/lock (host, pid) created exclusively; a lock\n"
           "of this host whose process is gone is reclaimed, one of another host is left alone (remove\n"
           "it by hand if that machine died). Run the same command on each machine; the last one to\n"
           "finish writes the complete tables (or run drift study PLAN --report at the end).\n"
           "SIGINT/SIGTERM: the running cell checkpoints, its lock is released, exit 130/143.\n\n"
           "options:\n"
           "  --out DIR          study directory (default runs/<plan name>)\n"
           "  --threads T        threads of every cell's processes (default 0: all cores, or OMP_NUM_THREADS)\n"
           "  --list             print the cells, their state and options; run nothing\n"
           "  --report           only aggregate the results there are\n"
           "  --retry-failed     run cells recorded as failed again\n"
           "  --keep-samples     keep each cell's samples.npy (default: only row.npy, the figure's row)\n"
           "  --max-cells N      run at most N cells in this invocation, then aggregate\n"
           "  --cells PATTERN    run only cells whose name matches this shell pattern (repeatable),\n"
           "                     e.g. --cells 'seed=1,*' or --cells '*variant=sharp*'\n"
           "  --quiet            no progress line or per-cell notes\n"
           "  --help             show this help\n");
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static const char *state_name(drift_study_state s)
{
    return s == DRIFT_STUDY_DONE ? "done" : s == DRIFT_STUDY_PARTIAL ? "partial" : "new";
}

/* One cell: train (or resume), sample, evaluate, record. Returns 0 when the cell is finished
 * (a result or a recorded failure), 1 when it stopped without a result (signal), -1 on an error
 * of the study itself. */
static int run_cell(const drift_study_plan *plan, int i, const char *exe, const char *host, int keep_samples,
                    progress *pg)
{
    const drift_study_cell *c = &plan->cells[i];
    char log[2048], ckpt[2048], metrics[2048], samples[2048], labels[2048], evj[2048];
    drift_study_cell_path(plan, i, "log.txt", log, sizeof log);
    drift_study_cell_path(plan, i, "run/checkpoint.safetensors", ckpt, sizeof ckpt);
    drift_study_cell_path(plan, i, "run/metrics.jsonl", metrics, sizeof metrics);
    drift_study_cell_path(plan, i, "samples.npy", samples, sizeof samples);
    drift_study_cell_path(plan, i, "samples_labels.npy", labels, sizeof labels);
    drift_study_cell_path(plan, i, "eval.json", evj, sizeof evj);
    const int resume = exists(ckpt);
    pg->cell = c->name;
    pg->cell_steps = c->cfg.steps;
    pg->cell_step = pg->cell_start = resume ? drift_study_last_step(metrics) : 0;
    pg->phase = "train";
    if (resume) note(pg, "drift study: cell %s: resuming from its checkpoint (step %lld)", c->name, (long long)pg->cell_step);
    args a = {{0}, 0};
    char flags[120][72], steps_text[32];
    snprintf(steps_text, sizeof steps_text, "%lld", (long long)c->cfg.steps);
    arg(&a, exe);
    arg(&a, "train");
    if (resume) {
        /* the plan's length, whatever length the checkpoint's run was started with */
        arg(&a, "--resume");
        arg(&a, ckpt);
        arg(&a, "--steps");
        arg(&a, steps_text);
    } else {
        if (c->n_opts > 120) {
            fprintf(stderr, "drift study: cell %s has more than 120 options\n", c->name);
            return -1;
        }
        for (int k = 0; k < c->n_opts; k++) {
            snprintf(flags[k], sizeof flags[k], "--%s", c->keys[k]);
            arg(&a, flags[k]);
            arg(&a, c->vals[k]);
        }
        arg(&a, "--out");
        arg(&a, c->cfg.out);
        /* a cell killed before its first checkpoint left drift train's files there: a new run
         * refuses a non-empty directory unless told to clear them (it refuses other files) */
        arg(&a, "--overwrite");
    }
    arg(&a, "--quiet");
    const double t0 = drift_now();
    int rc = run_child(a.v, log, NULL, metrics, pg);
    const double train_s = drift_now() - t0;
    if (rc < 0) {
        fprintf(stderr, "drift study: cannot run %s train\n", exe);
        return -1;
    }
    if (stop_signal || rc >= 128) return 1; /* stopped or killed: the checkpoint stays, a rerun resumes */
    if (rc != 0) {
        char why[600];
        last_error_line(log, why, sizeof why);
        note(pg, "drift study: cell %s failed in training: %s", c->name, why);
        return drift_study_write_failure(plan, i, why, train_s, host) ? -1 : 0;
    }
    /* sample */
    pg->phase = "sample";
    show(pg, 1);
    char n_text[32], seed_text[32], threads_text[32];
    snprintf(n_text, sizeof n_text, "%lld", (long long)plan->eval_n);
    snprintf(seed_text, sizeof seed_text, "%llu", (unsigned long long)plan->eval_seed);
    snprintf(threads_text, sizeof threads_text, "%d", c->cfg.threads);
    const double t1 = drift_now();
    a.n = 0;
    arg(&a, exe);
    arg(&a, "sample");
    arg(&a, "--ckpt");
    arg(&a, ckpt);
    arg(&a, "--n");
    arg(&a, n_text);
    arg(&a, "--seed");
    arg(&a, seed_text);
    arg(&a, "--out");
    arg(&a, samples);
    if (c->cfg.threads > 0) {
        arg(&a, "--threads");
        arg(&a, threads_text);
    }
    unlink(labels); /* only this sampling's labels may be scored */
    rc = run_child(a.v, log, NULL, NULL, pg);
    if (stop_signal || rc >= 128) return 1;
    if (rc == 0) {
        pg->phase = "eval";
        show(pg, 1);
        a.n = 0;
        arg(&a, exe);
        arg(&a, "eval");
        arg(&a, "--samples");
        arg(&a, samples);
        if (exists(labels)) {
            arg(&a, "--labels");
            arg(&a, labels);
        }
        arg(&a, "--data");
        arg(&a, c->cfg.data);
        if (c->cfg.data_dir[0]) {
            arg(&a, "--data-dir");
            arg(&a, c->cfg.data_dir);
        }
        arg(&a, "--n");
        arg(&a, n_text);
        arg(&a, "--json");
        rc = run_child(a.v, log, evj, NULL, pg);
        if (stop_signal || rc >= 128) return 1;
    }
    const double eval_s = drift_now() - t1;
    int st;
    if (rc != 0) {
        char why[600];
        last_error_line(log, why, sizeof why);
        note(pg, "drift study: cell %s failed in sampling or scoring: %s", c->name, why);
        st = drift_study_write_failure(plan, i, why, train_s, host);
    } else {
        char *text = NULL;
        FILE *f = fopen(evj, "re");
        size_t len = 0;
        if (f) {
            text = calloc(1, 1 << 20);
            if (text) len = fread(text, 1, (1 << 20) - 1, f);
            fclose(f);
        }
        if (!text) return -1;
        text[len] = 0;
        if (drift_study_save_row(plan, i, samples)) {
            fprintf(stderr, "drift study: cell %s: %s\n", c->name, drift_last_error());
            drift_clear_error();
        }
        st = drift_study_write_result(plan, i, text, train_s, eval_s, host);
        free(text);
        if (!st) {
            char tt[32], et[32];
            fmt_time(train_s, tt, sizeof tt);
            fmt_time(eval_s, et, sizeof et);
            note(pg, "drift study: cell %s done (train %s, sample + eval %s)", c->name, tt, et);
        }
    }
    if (st) {
        fprintf(stderr, "drift study: cell %s: %s\n", c->name, drift_last_error());
        return -1;
    }
    if (!keep_samples) {
        unlink(samples);
        unlink(labels);
    }
    return 0;
}

/* Whether a cell is among those --cells asked for (shell patterns on its name; none: all). */
static int selected(const char *name, const char *const *only, int n_only)
{
    for (int k = 0; k < n_only; k++)
        if (!fnmatch(only[k], name, 0)) return 1;
    return n_only == 0;
}

/* Steps a cell still has to train (its checkpointed run's logged steps count as done). */
static int64_t cell_steps_left(const drift_study_plan *plan, int i)
{
    char m[2048];
    int64_t done = 0;
    if (drift_study_cell_state(plan, i) == DRIFT_STUDY_PARTIAL &&
        !drift_study_cell_path(plan, i, "run/metrics.jsonl", m, sizeof m))
        done = drift_study_last_step(m);
    return plan->cells[i].cfg.steps > done ? plan->cells[i].cfg.steps - done : 0;
}

int cmd_study(int argc, char **argv)
{
    const char *plan_path = NULL, *out = NULL, *only[64];
    int n_only = 0;
    int list = 0, report = 0, retry = 0, keep = 0, quiet = 0, max_cells = -1;
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage();
            return 0;
        }
        if (!strcmp(s, "--list")) list = 1;
        else if (!strcmp(s, "--report")) report = 1;
        else if (!strcmp(s, "--retry-failed")) retry = 1;
        else if (!strcmp(s, "--keep-samples")) keep = 1;
        else if (!strcmp(s, "--quiet")) quiet = 1;
        else if (!strcmp(s, "--threads") && a + 1 < argc) {
            /* the global option: the cells' processes inherit it through OMP_NUM_THREADS */
            char *end;
            long v = strtol(argv[++a], &end, 10);
            if (*end || v < 0 || v > 4096) {
                fprintf(stderr, "drift study: --threads needs a count >= 0 (0: all cores)\n");
                return 2;
            }
            if (v > 0) setenv("OMP_NUM_THREADS", argv[a], 1);
            else unsetenv("OMP_NUM_THREADS");
        } else if (!strcmp(s, "--cells") && a + 1 < argc) {
            if (n_only == 64) {
                fprintf(stderr, "drift study: at most 64 --cells patterns\n");
                return 2;
            }
            only[n_only++] = argv[++a];
        } else if ((!strcmp(s, "--out") || !strcmp(s, "--max-cells")) && a + 1 < argc) {
            if (!strcmp(s, "--out")) out = argv[++a];
            else {
                char *end;
                long v = strtol(argv[++a], &end, 10);
                if (*end || v < 0 || v > 1000000) {
                    fprintf(stderr, "drift study: --max-cells needs a count >= 0\n");
                    return 2;
                }
                max_cells = (int)v;
            }
        } else if (!strncmp(s, "--", 2)) {
            fprintf(stderr, "drift study: unknown option or missing value: %s (see --help)\n", s);
            return 2;
        } else if (!plan_path) plan_path = s;
        else {
            fprintf(stderr, "drift study: one plan at a time ('%s' and '%s')\n", plan_path, s);
            return 2;
        }
    }
    if (!plan_path) {
        fprintf(stderr, "drift study: a plan is required: drift study PLAN.json (see --help)\n");
        return 2;
    }
    if (cli_dry_run()) { /* DRIFT_DRY_RUN: the plan loads and checks; nothing runs */
        drift_study_plan *dry = NULL;
        if (drift_study_plan_load(plan_path, "runs/x", &dry)) return cli_fail("study", "bad plan");
        drift_study_plan_free(dry);
        return 0;
    }
    /* the directory needs the plan's name: load once with a placeholder, then for real */
    drift_study_plan *plan = NULL;
    char dir[1024];
    if (!out) {
        if (drift_study_plan_load(plan_path, "runs/x", &plan)) return cli_fail("study", "bad plan");
        snprintf(dir, sizeof dir, "runs/%s", plan->name);
        drift_study_plan_free(plan);
        plan = NULL;
        if (mkdir("runs", 0777) && errno != EEXIST) {
            fprintf(stderr, "drift study: cannot create runs/: %s\n", strerror(errno));
            return 1;
        }
    } else {
        snprintf(dir, sizeof dir, "%s", out);
    }
    if (drift_study_plan_load(plan_path, dir, &plan)) return cli_fail("study", "bad plan");
    if (list) {
        for (int i = 0; i < plan->n_cells; i++) {
            const drift_study_cell *c = &plan->cells[i];
            if (!selected(c->name, only, n_only)) continue;
            drift_study_state s = drift_study_cell_state(plan, i);
            printf("%-8s %s  steps %lld:", s == DRIFT_STUDY_DONE && drift_study_cell_failed(plan, i) ? "failed" : state_name(s),
                   c->name, (long long)c->cfg.steps);
            for (int k = 0; k < c->n_opts; k++) printf(" --%s %s", c->keys[k], c->vals[k]);
            printf("\n");
        }
        drift_study_plan_free(plan);
        return 0;
    }
    int rc = 0, n_done = 0;
    if (!report) {
        if (drift_study_prepare(plan)) {
            drift_study_plan_free(plan);
            return cli_fail("study", "cannot prepare the study directory");
        }
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) {
            fprintf(stderr, "drift study: cannot find this program's path (/proc/self/exe): %s\n", strerror(errno));
            drift_study_plan_free(plan);
            return 1;
        }
        exe[n] = 0;
        char host[256];
        if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "unknown");
        host[sizeof host - 1] = 0;
        progress pg;
        memset(&pg, 0, sizeof pg);
        pg.quiet = quiet;
        pg.tty = isatty(2);
        pg.t0 = drift_now();
        pg.n_cells = plan->n_cells;
        int n_todo = 0;
        for (int i = 0; i < plan->n_cells; i++) {
            drift_study_state s = drift_study_cell_state(plan, i);
            if (s == DRIFT_STUDY_DONE && !(retry && drift_study_cell_failed(plan, i))) continue;
            if (!selected(plan->cells[i].name, only, n_only)) continue;
            if (max_cells < 0 || n_todo < max_cells) pg.total_steps += cell_steps_left(plan, i);
            n_todo++;
        }
        note(&pg, "drift study: plan %s, %d cells (%d to run), study directory %s", plan->name, plan->n_cells, n_todo, dir);
        struct sigaction sa, old_int, old_term;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop;
        sigemptyset(&sa.sa_mask);
        stop_signal = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        int ran = 0, held = 0, failed = 0;
        for (int i = 0; i < plan->n_cells && !stop_signal; i++) {
            if (max_cells >= 0 && ran >= max_cells) break;
            if (!selected(plan->cells[i].name, only, n_only)) continue;
            drift_study_state s = drift_study_cell_state(plan, i);
            if (s == DRIFT_STUDY_DONE && !(retry && drift_study_cell_failed(plan, i))) continue;
            char holder[300];
            int l = drift_study_lock(plan, i, holder, sizeof holder);
            if (l < 0) {
                rc = cli_fail("study", "lock");
                break;
            }
            if (l == 1) {
                note(&pg, "drift study: cell %s is being run by %s: skipped", plan->cells[i].name, holder);
                held++;
                pg.total_steps -= cell_steps_left(plan, i); /* not this process's to train */
                continue;
            }
            /* another process may have finished it between the check and the lock */
            s = drift_study_cell_state(plan, i);
            if (s == DRIFT_STUDY_DONE && !(retry && drift_study_cell_failed(plan, i))) {
                drift_study_unlock(plan, i);
                continue;
            }
            if (s == DRIFT_STUDY_DONE) {
                char r[2048];
                drift_study_cell_path(plan, i, "result.json", r, sizeof r);
                unlink(r);
            }
            pg.cell_no = i + 1;
            int64_t before = pg.done_steps;
            int r = run_cell(plan, i, exe, host, keep, &pg);
            drift_study_unlock(plan, i);
            pg.done_steps = before + (pg.cell_step - pg.cell_start > 0 ? pg.cell_step - pg.cell_start : 0);
            pg.cell_step = pg.cell_start = 0;
            ran++;
            if (r < 0) {
                rc = 1;
                break;
            }
            if (r == 0 && drift_study_cell_failed(plan, i)) failed++;
        }
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        if (pg.tty && !quiet) fprintf(stderr, "\r\033[K");
        if (stop_signal) {
            note(&pg, "drift study: stopped by %s; the running cell kept its checkpoint; rerun the same command to "
                      "continue", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
            rc = 128 + (int)stop_signal;
        }
        if (held) note(&pg, "drift study: %d cell%s held by other processes", held, held == 1 ? "" : "s");
        if (failed) note(&pg, "drift study: %d cell%s failed (recorded; --retry-failed runs them again)", failed,
                         failed == 1 ? "" : "s");
    }
    if (drift_study_aggregate(plan, &n_done)) {
        drift_study_plan_free(plan);
        return cli_fail("study", "cannot write the tables");
    }
    if (!quiet || report)
        fprintf(stderr, "drift study: %d of %d cells finished; tables in %s/results.md and results.json\n", n_done,
                plan->n_cells, dir);
    drift_study_plan_free(plan);
    return rc;
}
