/* cmd_particles.c — `drift particles`: finite-particle flows x ← x + η v(x) toward a target
 * (docs/MATH.md §5), one run with its trace, CSV and pictures, or a sweep over N that measures how
 * the final residual velocity decays (Balasubramanian: N^(−1/(d+4)) for the KDE-gradient
 * velocity with h ∝ N^(−1/(d+4))). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/json.h"
#include "drift/npy.h"
#include "drift/rng.h"
#include "drift/sim.h"
#include "io/atomic.h"

static const char *USAGE =
    "drift particles [--target SPEC] [--init SPEC] [--dim D] [--n N | --sweep-n LIST] [--family F] [--kernel K] [--json]";

static const char *DESCRIPTION =
    "Moves N particles by explicit Euler steps x <- x + eta v(x), v = data side - particle side of\n"
    "a drift field (any family), the particles being the negatives. Default: the KDE-gradient\n"
    "velocity (kdegrad, gaussian kernel) whose data side grad log(p * K_h) is exact for a gaussian-\n"
    "mixture target (gaussian[:STD[:SHIFT]], mixture:K[:STD], two_mode, 8gaussians); other\n"
    "families and targets (toys, NPY files) use --n-target target samples as positives. The\n"
    "particle's own kernel term is included (docs/MATH.md §5) unless --no-self.\n"
    "Bandwidth h = --h, or c N^(-1/(d+4)) with c = --bw-c (default 1). Step eta = --eta, or\n"
    "--eta-h2 times h^2 (default 0.2; explicit Euler needs eta of order h^2). Steps = --steps, or\n"
    "--time / eta (default time 10), so runs with different N cover the same flow time; or\n"
    "--time-h2 t / (h^2 eta) for displacement fields (meanshift, deng), whose speed is ~h^2.\n"
    "Logged per step: R = sqrt(mean |v(x_i)|^2), the unbiased gaussian MMD^2 to the target samples\n"
    "(median-heuristic bandwidth) and the fewest neighbours within h of any particle.\n"
    "--sweep-n 64,128,... runs --seeds seeds per N and fits log R_final = a + b log N (OLS over\n"
    "all runs, Student-t interval), next to the theory's -1/(d+4).";

static int sweep_progress(void *ctx, int64_t n, uint64_t seed, double residual, double seconds)
{
    (void)ctx;
    fprintf(stderr, "  N = %6" PRId64 "  seed %2" PRIu64 "  R = %.4e  (%.1f s)\n", n, seed, residual, seconds);
    return 0;
}

/* CSV files go through the library's atomic writer (temp file + rename, never a symlink). */
static int csv_done(drift_atomic_file *af)
{
    if (drift_atomic_commit(af)) return cli_fail("particles", "cannot write the CSV"); /* removes the temp on failure */
    return 0;
}

static int write_trace_csv(const char *path, const drift_particles_trace *tr, double eta)
{
    drift_atomic_file af;
    if (drift_atomic_open(&af, path)) return cli_fail("particles", "cannot write the CSV");
    drift_atomic_printf(&af, "step,time,residual,mmd2,min_occupancy\n");
    for (int64_t k = 0; k < tr->rows; k++)
        drift_atomic_printf(&af, "%" PRId64 ",%.9g,%.9g,%.9g,%" PRId64 "\n", tr->step[k], eta * (double)tr->step[k],
                            tr->residual[k], tr->mmd2[k], tr->min_occupancy[k]);
    return csv_done(&af);
}

static int write_sweep_csv(const char *path, const drift_sweep_result *r, uint64_t seed0)
{
    drift_atomic_file af;
    if (drift_atomic_open(&af, path)) return cli_fail("particles", "cannot write the CSV");
    drift_atomic_printf(&af, "n,seed,h,eta,steps,residual,mmd2\n");
    for (int s = 0; s < r->n_sizes; s++)
        for (int k = 0; k < r->n_seeds; k++)
            drift_atomic_printf(&af, "%" PRId64 ",%" PRIu64 ",%.9g,%.9g,%d,%.9g,%.9g\n", r->sizes[s], seed0 + (uint64_t)k,
                                r->h[s], r->eta[s], r->steps[s], r->residual[s * r->n_seeds + k],
                                r->mmd2[s * r->n_seeds + k]);
    return csv_done(&af);
}

static void json_array_d(drift_jsonw *w, const char *key, const double *v, int n)
{
    drift_jsonw_key(w, key);
    drift_jsonw_begin_array(w);
    for (int i = 0; i < n; i++) drift_jsonw_double(w, v[i]);
    drift_jsonw_end_array(w);
}

/* Final MMD² above this (median-bandwidth gaussian kernel, values in [0, 2]) is not noise. */
#define PARTICLES_STUCK_MMD2 0.05

/* ---- output (the command's own text and JSON) ------------------------------------------------ */

static int print_sweep_json(const drift_particles_config *cfgp, int dim, const char *target_s, const char *init_s,
                            int exact, int seeds, double conf, const drift_sweep_result *sr)
{
    const drift_particles_config cfg = *cfgp;
    const int ns = sr->n_sizes;
    drift_jsonw w;
    drift_jsonw_init(&w);
    drift_jsonw_begin_object(&w);
    drift_jsonw_key(&w, "d"), drift_jsonw_int(&w, dim);
    drift_jsonw_key(&w, "family"), drift_jsonw_string(&w, drift_family_name(cfg.field.family));
    drift_jsonw_key(&w, "kernel"), drift_jsonw_string(&w, drift_kernel_name(cfg.field.kernel));
    drift_jsonw_key(&w, "target"), drift_jsonw_string(&w, target_s);
    drift_jsonw_key(&w, "init"), drift_jsonw_string(&w, init_s);
    drift_jsonw_key(&w, "exact_score"), drift_jsonw_bool(&w, exact);
    drift_jsonw_key(&w, "self_term"), drift_jsonw_bool(&w, cfg.self_term);
    drift_jsonw_key(&w, "seeds"), drift_jsonw_int(&w, seeds);
    drift_jsonw_key(&w, "n"), drift_jsonw_begin_array(&w);
    for (int s = 0; s < ns; s++) drift_jsonw_int(&w, sr->sizes[s]);
    drift_jsonw_end_array(&w);
    json_array_d(&w, "residual", sr->residual_mean, ns);
    drift_jsonw_key(&w, "residual_runs"), drift_jsonw_begin_array(&w);
    for (int s = 0; s < ns; s++) {
        drift_jsonw_begin_array(&w);
        for (int k = 0; k < seeds; k++) drift_jsonw_double(&w, sr->residual[s * seeds + k]);
        drift_jsonw_end_array(&w);
    }
    drift_jsonw_end_array(&w);
    drift_jsonw_key(&w, "mmd2_runs"), drift_jsonw_begin_array(&w);
    for (int s = 0; s < ns; s++) {
        drift_jsonw_begin_array(&w);
        for (int k = 0; k < seeds; k++) drift_jsonw_double(&w, sr->mmd2[s * seeds + k]);
        drift_jsonw_end_array(&w);
    }
    drift_jsonw_end_array(&w);
    json_array_d(&w, "h", sr->h, ns);
    json_array_d(&w, "eta", sr->eta, ns);
    drift_jsonw_key(&w, "steps"), drift_jsonw_begin_array(&w);
    for (int s = 0; s < ns; s++) drift_jsonw_int(&w, sr->steps[s]);
    drift_jsonw_end_array(&w);
    drift_jsonw_key(&w, "slope"), drift_jsonw_double(&w, sr->fit.slope);
    drift_jsonw_key(&w, "slope_ci"), drift_jsonw_begin_array(&w);
    drift_jsonw_double(&w, sr->fit.slope_lo), drift_jsonw_double(&w, sr->fit.slope_hi);
    drift_jsonw_end_array(&w);
    drift_jsonw_key(&w, "slope_se"), drift_jsonw_double(&w, sr->fit.slope_se);
    drift_jsonw_key(&w, "conf"), drift_jsonw_double(&w, conf);
    drift_jsonw_key(&w, "r2"), drift_jsonw_double(&w, sr->fit.r2);
    drift_jsonw_key(&w, "theory"), drift_jsonw_double(&w, sr->theory);
    drift_jsonw_key(&w, "seconds"), drift_jsonw_double(&w, sr->seconds);
    drift_jsonw_end_object(&w);
    if (drift_jsonw_status(&w)) { drift_jsonw_free(&w); return cli_fail("particles", "json"); }
    printf("%s\n", w.buf);
    drift_jsonw_free(&w);
    return 0;
}

static void print_sweep_table(const drift_sweep_result *sr, int seeds, double conf, int exact, const char *csv,
                              const char *sweep_plot)
{
    const int ns = sr->n_sizes;
    printf("%8s %10s %10s %8s %12s %12s   %s\n", "N", "h", "eta", "steps", "R (geo mean)", "MMD^2 (mean)", "R per seed");
    for (int s = 0; s < ns; s++) {
        double mm = 0;
        for (int k = 0; k < seeds; k++) mm += sr->mmd2[s * seeds + k] / seeds;
        printf("%8" PRId64 " %10.4g %10.4g %8d %12.4e %12.4e  ", sr->sizes[s], sr->h[s], sr->eta[s], sr->steps[s],
               sr->residual_mean[s], mm);
        for (int k = 0; k < seeds; k++) printf(" %.3e", sr->residual[s * seeds + k]);
        printf("\n");
    }
    printf("slope of log R vs log N: %.4f  (%.0f%% CI [%.4f, %.4f], se %.4f, r2 %.3f, %d runs)\n", sr->fit.slope,
           100 * conf, sr->fit.slope_lo, sr->fit.slope_hi, sr->fit.slope_se, sr->fit.r2, sr->fit.n);
    printf("theory -1/(d+4) = %.4f%s   (%.1f s)\n", sr->theory,
           exact ? "" : "   [the rate is proven for the KDE-gradient velocity with the exact data score]", sr->seconds);
    if (csv) printf("wrote %s\n", csv);
    if (sweep_plot) printf("wrote %s\n", sweep_plot);
}

static int print_run_json(const drift_particles_config *cfgp, int n, int dim, const char *target_s, const char *init_s,
                          const drift_particles_trace *tr)
{
    const drift_particles_config cfg = *cfgp;
    const int64_t last = tr->rows - 1;
    drift_jsonw w;
    drift_jsonw_init(&w);
    drift_jsonw_begin_object(&w);
    drift_jsonw_key(&w, "n"), drift_jsonw_int(&w, n);
    drift_jsonw_key(&w, "d"), drift_jsonw_int(&w, dim);
    drift_jsonw_key(&w, "family"), drift_jsonw_string(&w, drift_family_name(cfg.field.family));
    drift_jsonw_key(&w, "kernel"), drift_jsonw_string(&w, drift_kernel_name(cfg.field.kernel));
    drift_jsonw_key(&w, "target"), drift_jsonw_string(&w, target_s);
    drift_jsonw_key(&w, "init"), drift_jsonw_string(&w, init_s);
    drift_jsonw_key(&w, "h"), drift_jsonw_double(&w, cfg.field.tau[0]);
    drift_jsonw_key(&w, "eta"), drift_jsonw_double(&w, cfg.eta);
    drift_jsonw_key(&w, "steps"), drift_jsonw_int(&w, cfg.steps);
    drift_jsonw_key(&w, "exact_score"), drift_jsonw_bool(&w, tr->exact);
    drift_jsonw_key(&w, "self_term"), drift_jsonw_bool(&w, cfg.self_term);
    drift_jsonw_key(&w, "n_target"), drift_jsonw_int(&w, tr->n_target);
    drift_jsonw_key(&w, "mmd_bandwidth"), drift_jsonw_double(&w, tr->mmd_bandwidth);
    drift_jsonw_key(&w, "residual"), drift_jsonw_double(&w, tr->residual[last]);
    drift_jsonw_key(&w, "mmd2"), drift_jsonw_double(&w, tr->mmd2[last]);
    drift_jsonw_key(&w, "min_occupancy"), drift_jsonw_int(&w, tr->min_occupancy[last]);
    drift_jsonw_key(&w, "seconds"), drift_jsonw_double(&w, tr->seconds);
    drift_jsonw_key(&w, "trace"), drift_jsonw_begin_array(&w);
    for (int64_t k = 0; k < tr->rows; k++) {
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "step"), drift_jsonw_int(&w, tr->step[k]);
        drift_jsonw_key(&w, "residual"), drift_jsonw_double(&w, tr->residual[k]);
        drift_jsonw_key(&w, "mmd2"), drift_jsonw_double(&w, tr->mmd2[k]);
        drift_jsonw_key(&w, "min_occupancy"), drift_jsonw_int(&w, tr->min_occupancy[k]);
        drift_jsonw_end_object(&w);
    }
    drift_jsonw_end_array(&w);
    drift_jsonw_end_object(&w);
    if (drift_jsonw_status(&w)) { drift_jsonw_free(&w); return cli_fail("particles", "json"); }
    printf("%s\n", w.buf);
    drift_jsonw_free(&w);
    return 0;
}

static void print_run_table(const drift_particles_config *cfgp, const char *title, const char *init_s,
                            const drift_particles_trace *tr, const char *csv, const char *png, const char *plot,
                            const char *save)
{
    const drift_particles_config cfg = *cfgp;
    const int64_t last = tr->rows - 1;
    printf("%s\n", title);
    printf("init %s, eta %.4g, %d steps (t = %.3g), self term %s, data side %s, MMD bandwidth %.3g\n", init_s, cfg.eta,
           cfg.steps, cfg.eta * cfg.steps, cfg.self_term ? "in" : "out",
           tr->exact ? "exact smoothed score" : "target samples", tr->mmd_bandwidth);
    printf("%8s %10s %12s %12s %10s\n", "step", "t", "R", "MMD^2", "min occ.");
    for (int64_t k = 0; k < tr->rows; k++)
        printf("%8" PRId64 " %10.4g %12.4e %12.4e %10" PRId64 "\n", tr->step[k], cfg.eta * (double)tr->step[k], tr->residual[k],
               tr->mmd2[k], tr->min_occupancy[k]);
    printf("final R = %.4e, MMD^2 = %.4e (%.1f s)\n", tr->residual[last], tr->mmd2[last], tr->seconds);
    if (csv) printf("wrote %s\n", csv);
    if (png) printf("wrote %s\n", png);
    if (plot) printf("wrote %s\n", plot);
    if (save) printf("wrote %s\n", save);
}

/* 1 when the option called `name` was given (it must be in the table: a misspelt name is a
 * programming error caught by the CLI tests, which give every alternative) */
static int option_seen(const cli_opt *opts, int n, const char *name)
{
    for (int k = 0; k < n; k++)
        if (!strcmp(opts[k].name, name)) return opts[k].seen;
    fprintf(stderr, "drift particles: internal error: no option %s\n", name);
    return 0;
}

int cmd_particles(int argc, char **argv)
{
    const char *target_s = "gaussian", *init_s = "gaussian:0.5:2", *family_s = "kdegrad", *kernel_s = "gaussian";
    const char *deng_norm_s = "both", *csv = NULL, *png = NULL, *plot = NULL, *save = NULL, *sweep_s = NULL, *sweep_plot = NULL;
    int dim = 2, n = 512, seed = 0, steps = 0, log_every = 0, no_self = 0, no_exact = 0, n_target = 0, f64 = 0;
    int snapshots = 6, seeds = 3, json = 0;
    double h = 0, bw_c = 1.0, eta = 0, eta_h2 = 0.2, time = 10.0, time_h2 = 0, alpha = 2.0, mmd_bw = 0, conf = 0.95;
    cli_opt opts[] = {
        {"--target", OPT_STRING, &target_s, "SPEC", "target: gaussian[:STD[:SHIFT]], mixture:K[:STD], a 2-D toy, PATH.npy (default gaussian)", 0},
        {"--init", OPT_STRING, &init_s, "SPEC", "initial particles, same forms (default gaussian:0.5:2)", 0},
        {"--dim", OPT_INT, &dim, "D", "dimension d (default 2)", 0},
        {"--n", OPT_INT, &n, "N", "particles (default 512)", 0},
        {"--seed", OPT_INT, &seed, "S", "seed (sweeps: first of --seeds consecutive seeds; default 0)", 0},
        {"--family", OPT_STRING, &family_s, "F", "field family: kdegrad, meanshift, sharp, mmd, deng (default kdegrad)", 0},
        {"--kernel", OPT_STRING, &kernel_s, "K", "kernel: gaussian, laplace, rq (default gaussian)", 0},
        {"--rq-alpha", OPT_DOUBLE, &alpha, "A", "rq shape alpha (default 2)", 0},
        {"--deng-norm", OPT_STRING, &deng_norm_s, "NAME", "deng normalization: both, row, none", 0},
        {"--h", OPT_DOUBLE, &h, "H", "fixed bandwidth h (instead of the rule c N^(-1/(d+4)))", 0},
        {"--bw-c", OPT_DOUBLE, &bw_c, "C", "bandwidth rule constant c (default 1)", 0},
        {"--eta", OPT_DOUBLE, &eta, "E", "fixed step size eta", 0},
        {"--eta-h2", OPT_DOUBLE, &eta_h2, "C", "step size eta = C h^2 (default 0.2)", 0},
        {"--steps", OPT_INT, &steps, "T", "Euler steps (instead of --time / eta)", 0},
        {"--time", OPT_DOUBLE, &time, "t", "flow time eta*T, the same for every N (default 10)", 0},
        {"--time-h2", OPT_DOUBLE, &time_h2, "t", "flow time t/h^2 instead (displacement fields: meanshift, deng)", 0},
        {"--no-self", OPT_FLAG, &no_self, NULL, "exclude each particle's own kernel term", 0},
        {"--no-exact", OPT_FLAG, &no_exact, NULL, "use target samples even where the smoothed score is exact", 0},
        {"--n-target", OPT_INT, &n_target, "M", "target samples (positives / MMD reference; default max(N, 1024))", 0},
        {"--mmd-bandwidth", OPT_DOUBLE, &mmd_bw, "S", "MMD kernel bandwidth (default: median heuristic)", 0},
        {"--log-every", OPT_INT, &log_every, "K", "log every K steps (default T/20)", 0},
        {"--f64", OPT_FLAG, &f64, NULL, "velocity from the float64 reference engine (slow)", 0},
        {"--csv", OPT_STRING, &csv, "FILE", "write the trace (or, for sweeps, one row per run) as CSV", 0},
        {"--png", OPT_STRING, &png, "FILE", "write snapshots of the particles (first two coordinates)", 0},
        {"--snapshots", OPT_INT, &snapshots, "K", "snapshots in --png (default 6)", 0},
        {"--plot", OPT_STRING, &plot, "FILE", "plot R and MMD^2 against the step (.svg or .png)", 0},
        {"--save", OPT_STRING, &save, "FILE.npy", "write the final particles", 0},
        {"--sweep-n", OPT_STRING, &sweep_s, "LIST", "sweep these particle counts (e.g. 64,128,...,4096)", 0},
        {"--seeds", OPT_INT, &seeds, "K", "runs per N in a sweep (default 3)", 0},
        {"--conf", OPT_DOUBLE, &conf, "P", "confidence level of the slope interval (default 0.95)", 0},
        {"--sweep-plot", OPT_STRING, &sweep_plot, "FILE", "plot final R against N with the fit and theory (.svg or .png)", 0},
        {"--json", OPT_FLAG, &json, NULL, "print the results as JSON", 0},
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int pr = cli_parse(argc, argv, opts, nopts, USAGE, DESCRIPTION);
    if (pr) return pr > 0 ? 0 : 2;
    /* which of the alternatives were given, found by name (not by position in the table) */
    const int seen_h = option_seen(opts, nopts, "--h"), seen_bwc = option_seen(opts, nopts, "--bw-c"),
              seen_eta = option_seen(opts, nopts, "--eta"), seen_etah2 = option_seen(opts, nopts, "--eta-h2"),
              seen_steps = option_seen(opts, nopts, "--steps"), seen_time = option_seen(opts, nopts, "--time"),
              seen_timeh2 = option_seen(opts, nopts, "--time-h2");

    /* ---- options ---- */
    drift_particles_config cfg;
    drift_particles_config_init(&cfg);
    if (drift_family_parse(family_s, &cfg.field.family)) return cli_fail("particles", "--family"), 2;
    if (drift_kernel_parse(kernel_s, &cfg.field.kernel)) return cli_fail("particles", "--kernel"), 2;
    if (drift_deng_norm_parse(deng_norm_s, &cfg.field.deng_norm)) return cli_fail("particles", "--deng-norm"), 2;
    if (seen_h && seen_bwc) { fprintf(stderr, "drift particles: give --h or --bw-c, not both\n"); return 2; }
    if (seen_eta && seen_etah2) { fprintf(stderr, "drift particles: give --eta or --eta-h2, not both\n"); return 2; }
    if (seen_steps + seen_time + seen_timeh2 > 1) {
        fprintf(stderr, "drift particles: give one of --steps, --time, --time-h2, not several\n");
        return 2;
    }
    if (seen_timeh2 && !(time_h2 > 0)) { fprintf(stderr, "drift particles: --time-h2 must be > 0\n"); return 2; }
    if (dim < 1) { fprintf(stderr, "drift particles: --dim must be >= 1\n"); return 2; }
    if (seed < 0) { fprintf(stderr, "drift particles: --seed must be >= 0\n"); return 2; }
    if (seen_h && !(h > 0)) { fprintf(stderr, "drift particles: --h must be > 0\n"); return 2; }
    if (!seen_h && !(bw_c > 0)) { fprintf(stderr, "drift particles: --bw-c must be > 0\n"); return 2; }
    if (seen_eta ? !(eta > 0) : !(eta_h2 > 0)) { fprintf(stderr, "drift particles: the step size must be > 0\n"); return 2; }
    if (seen_steps ? steps < 0 : !(time >= 0)) { fprintf(stderr, "drift particles: --steps / --time must be >= 0\n"); return 2; }
    if (n_target < 0 || log_every < 0) { fprintf(stderr, "drift particles: --n-target and --log-every must be >= 0\n"); return 2; }
    if (!(conf > 0 && conf < 1)) { fprintf(stderr, "drift particles: --conf must be in (0, 1)\n"); return 2; }
    if (sweep_s && (png || plot || save)) { fprintf(stderr, "drift particles: --png, --plot and --save are for single runs (use --sweep-plot)\n"); return 2; }
    if (!sweep_s && sweep_plot) { fprintf(stderr, "drift particles: --sweep-plot needs --sweep-n\n"); return 2; }
    if (png && (snapshots < 2 || snapshots > 12)) { fprintf(stderr, "drift particles: --snapshots must be in 2..12\n"); return 2; }
    const char *const out_names[] = {"--csv", "--png", "--plot", "--save", "--sweep-plot"};
    const char *const out_paths[] = {csv, png, plot, save, sweep_plot};
    if (cli_distinct_outputs("particles", 5, out_names, out_paths)) return 2;
    cfg.field.rq_alpha = alpha;
    cfg.self_term = !no_self;
    cfg.exact_score = !no_exact;
    cfg.n_target = n_target;
    cfg.mmd_bandwidth = mmd_bw;
    cfg.log_every = log_every;
    cfg.precision_f64 = f64;

    drift_sim_dist target, init;
    if (drift_sim_dist_open(target_s, dim, &target)) return cli_fail("particles", "--target"), 2;
    if (drift_sim_dist_open(init_s, dim, &init)) {
        drift_sim_dist_free(&target);
        return cli_fail("particles", "--init"), 2;
    }
    int rc = 1;
    float *x = NULL;
    drift_particles_trace tr = {0};
    drift_sweep_result sr = {0};

    if (sweep_s) {
        /* ---- the sweep ---- */
        int sizes[DRIFT_SWEEP_MAX_SIZES];
        int ns = cli_parse_int_list(sweep_s, sizes, DRIFT_SWEEP_MAX_SIZES);
        if (ns < 2) {
            fprintf(stderr, "drift particles: --sweep-n needs 2 to %d comma-separated integers\n", DRIFT_SWEEP_MAX_SIZES);
            rc = 2;
            goto done;
        }
        drift_sweep_config sc;
        memset(&sc, 0, sizeof sc);
        sc.flow = cfg;
        sc.n_sizes = ns;
        for (int s = 0; s < ns; s++) sc.sizes[s] = sizes[s];
        sc.n_seeds = seeds;
        sc.seed0 = (uint64_t)seed;
        sc.bw_c = seen_h ? 0 : bw_c;
        sc.flow.field.tau[0] = seen_h ? h : 1.0;
        sc.eta_h2 = seen_eta ? 0 : eta_h2;
        sc.flow.eta = seen_eta ? eta : 1.0;
        sc.time = seen_steps || seen_timeh2 ? 0 : time;
        sc.time_h2 = seen_timeh2 ? time_h2 : 0;
        sc.flow.steps = steps;
        sc.conf = conf;
        if (!json)
            printf("sweep: %s/%s toward %s from %s, d = %d, %d seeds, %s, %s, %s, self term %s\n",
                   drift_family_name(cfg.field.family), drift_kernel_name(cfg.field.kernel), target_s, init_s, dim, seeds,
                   seen_h ? "fixed h" : "h = c N^(-1/(d+4))", seen_eta ? "fixed eta" : "eta = C h^2",
                   seen_steps ? "fixed steps" : seen_timeh2 ? "flow time t/h^2" : "fixed flow time",
                   cfg.self_term ? "in" : "out");
        fflush(stdout);
        if (drift_particles_sweep(&sc, &target, &init, dim, sweep_progress, NULL, &sr)) { cli_fail("particles", "sweep"); goto done; }
        if (csv && write_sweep_csv(csv, &sr, (uint64_t)seed)) goto done;
        if (sweep_plot) {
            char title[192];
            snprintf(title, sizeof title, "%s/%s, d = %d: final residual vs N", drift_family_name(cfg.field.family),
                     drift_kernel_name(cfg.field.kernel), dim);
            if (drift_sweep_plot(sweep_plot, &sr, title)) { cli_fail("particles", sweep_plot); goto done; }
        }
        const int exact = drift_particles_exact(&cfg, &target);
        if (json) {
            if (print_sweep_json(&cfg, dim, target_s, init_s, exact, seeds, conf, &sr)) goto done;
        } else {
            print_sweep_table(&sr, seeds, conf, exact, csv, sweep_plot);
        }
        rc = 0;
        goto done;
    }

    /* ---- one run ---- */
    if (n < 2) { fprintf(stderr, "drift particles: --n must be >= 2\n"); rc = 2; goto done; }
    cfg.field.tau[0] = seen_h ? h : bw_c * pow((double)n, -1.0 / (dim + 4.0));
    cfg.eta = seen_eta ? eta : eta_h2 * cfg.field.tau[0] * cfg.field.tau[0];
    if (!seen_steps) {
        double flow_time = seen_timeh2 ? time_h2 / (cfg.field.tau[0] * cfg.field.tau[0]) : time;
        double t = ceil(flow_time / cfg.eta - 1e-9);
        if (t > 1e8) { fprintf(stderr, "drift particles: --time %g / eta %g is too many steps\n", time, cfg.eta); rc = 2; goto done; }
        steps = (int)t;
    }
    cfg.steps = steps;
    cfg.n_snapshots = png ? snapshots : 0;
    x = drift_alloc((size_t)n * (size_t)dim, sizeof(float));
    if (!x) { cli_fail("particles", "allocation"); goto done; }
    drift_rng r;
    drift_rng_init(&r, (uint64_t)seed, 0);
    if (drift_sim_dist_sample(&init, &r, n, x)) { cli_fail("particles", "--init"); goto done; }
    if (drift_particles_run(&cfg, &target, x, n, dim, (uint64_t)seed, &tr)) { cli_fail("particles", "flow"); goto done; }
    if (csv && write_trace_csv(csv, &tr, cfg.eta)) goto done;
    char title[256];
    snprintf(title, sizeof title, "%s/%s to %s, N=%d, d=%d, h=%.3g", drift_family_name(cfg.field.family),
             drift_kernel_name(cfg.field.kernel), target_s, n, dim, cfg.field.tau[0]);
    if (png && drift_particles_snapshots_png(png, &tr, cfg.eta, title)) { cli_fail("particles", png); goto done; }
    if (plot && drift_particles_trace_plot(plot, &tr, title)) { cli_fail("particles", plot); goto done; }
    if (save && drift_npy_write_f32(save, x, n, dim)) { cli_fail("particles", save); goto done; }
    const int64_t last = tr.rows - 1;
    if (json) {
        if (print_run_json(&cfg, n, dim, target_s, init_s, &tr)) goto done;
    } else {
        print_run_table(&cfg, title, init_s, &tr, csv, png, plot, save);
    }
    /* A flow can come to rest away from the target (the commonest case: particles started on
     * one side of a mixture fill the near mode and never see the far one). R alone reads as
     * convergence then, so say it. The MMD² threshold is far above its sampling noise. */
    if (tr.rows > 1 && tr.mmd2[last] > PARTICLES_STUCK_MMD2 && tr.residual[last] < 0.1 * tr.residual[0])
        fprintf(stderr,
                "drift particles: note: the flow has come to rest (R %.3g -> %.3g) but MMD^2 to the target is still "
                "%.3g: the particles settled away from it (an empty mode?); try --init gaussian or a wider --bw-c\n",
                tr.residual[0], tr.residual[last], tr.mmd2[last]);
    rc = 0;
done:
    drift_particles_trace_free(&tr);
    drift_sweep_result_free(&sr);
    drift_free(x);
    drift_sim_dist_free(&target);
    drift_sim_dist_free(&init);
    return rc;
}
