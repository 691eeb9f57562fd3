/* cmd_curl.c — `drift curl`: is a drift field conservative? Evaluates every requested
 * family × kernel against two point clouds, prints the Jacobian asymmetry and loop circulation
 * (any dimension) and, for 2-D clouds, draws the curl figure of Franz et al. (Fig. 1). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/json.h"
#include "drift/rng.h"
#include "drift/sim.h"

static const char *USAGE = "drift curl [--pos SPEC] [--neg SPEC] [--dim D] [--families LIST] [--kernels LIST] [--tau T] [--png FIG.png] [--grid-points N] [--json]";

static const char *DESCRIPTION =
    "Measures whether drift fields are gradients of a potential (docs/MATH.md §6; Franz et al.).\n"
    "Positives and negatives are point clouds: a distribution spec (gaussian[:STD[:SHIFT]],\n"
    "mixture:K[:STD], a 2-D toy such as two_mode or swiss_roll) sampled --n-pos/--n-neg times,\n"
    "or an (n, D) NPY file. For every family x kernel it reports, at random probe points near\n"
    "the data, the relative Jacobian asymmetry |J - J^T|_F / S and the circulation of V\n"
    "around small circles in random planes divided by (pi r^2 S), where S = |J|_F + |V|/tau\n"
    "(|J|_F alone vanishes where the two sides' Jacobians cancel), both from central\n"
    "differences of the float64 reference field: ~1e-9 for conservative fields, order 0.1-1\n"
    "for the others. In 2-D, --png draws the curl dVy/dx - dVx/dy on a grid (one panel per\n"
    "family x kernel, shared diverging scale, the field's arrows). Convention for deng: each\n"
    "probe is evaluated as a batch of one query against the given clouds.";

#define MAX_NAMES 8

/* Split "a,b,c" and parse each with `parse`; returns the count or -1 (message printed). */
static int parse_names(const char *list, const char *what, int *out, int (*parse)(const char *, int *))
{
    char buf[256];
    if (strlen(list) >= sizeof buf) {
        fprintf(stderr, "drift curl: %s list too long\n", what);
        return -1;
    }
    strcpy(buf, list);
    int n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (n >= MAX_NAMES) {
            fprintf(stderr, "drift curl: at most %d %s\n", MAX_NAMES, what);
            return -1;
        }
        if (parse(tok, &out[n])) {
            cli_fail("curl", what);
            return -1;
        }
        for (int k = 0; k < n; k++)
            if (out[k] == out[n]) {
                fprintf(stderr, "drift curl: '%s' is listed twice in the %s\n", tok, what);
                return -1;
            }
        n++;
    }
    if (n == 0) fprintf(stderr, "drift curl: empty %s list\n", what);
    return n ? n : -1;
}

static int parse_family(const char *s, int *v)
{
    drift_family f;
    int st = drift_family_parse(s, &f);
    *v = (int)f;
    return st;
}

static int parse_kernel(const char *s, int *v)
{
    drift_kernel k;
    int st = drift_kernel_parse(s, &k);
    *v = (int)k;
    return st;
}

/* Draw a cloud (all rows of an NPY file unless n was given) as float64. */
static int load_cloud(const char *spec, int64_t d, int n_given, int64_t n, uint64_t seed, uint64_t stream,
                      double **out, int64_t *rows)
{
    drift_sim_dist dist;
    if (drift_sim_dist_open(spec, d, &dist)) return -1;
    if (dist.kind == DRIFT_DIST_SAMPLES && !n_given) n = dist.n_rows;
    float *x = drift_alloc((size_t)(n * d), sizeof(float));
    *out = drift_alloc((size_t)(n * d), sizeof(double));
    drift_rng r;
    drift_rng_init(&r, seed, stream);
    int st = (!x || !*out) ? -1 : drift_sim_dist_sample(&dist, &r, n, x);
    for (int64_t k = 0; st == 0 && k < n * d; k++) (*out)[k] = x[k];
    *rows = n;
    drift_free(x);
    drift_sim_dist_free(&dist);
    return st;
}

int cmd_curl(int argc, char **argv)
{
    const char *pos_spec = "two_mode", *neg_spec = "gaussian:0.5", *families_s = "meanshift,deng,sharp,kdegrad";
    const char *kernels_s = "gaussian,laplace,rq", *out_path = NULL, *range_s = NULL, *deng_norm_s = "both";
    int dim = 2, n_pos = 48, n_neg = 48, seed = 0, grid = 101, probes = 64, json = 0, loop_points = 0;
    double tau = 0.3, alpha = 2.0, step = 0, loop_radius = 0;
    cli_opt opts[] = {
        {"--pos", OPT_STRING, &pos_spec, "SPEC", "positives: distribution spec or PATH.npy (default two_mode; mixture:2 when --dim is not 2)", 0},
        {"--neg", OPT_STRING, &neg_spec, "SPEC", "negatives: distribution spec or PATH.npy (default gaussian:0.5)", 0},
        {"--n-pos", OPT_INT, &n_pos, "N", "positives drawn from a spec (default 48; NPY: all rows)", 0},
        {"--n-neg", OPT_INT, &n_neg, "N", "negatives drawn from a spec (default 48; NPY: all rows)", 0},
        {"--dim", OPT_INT, &dim, "D", "dimension of the clouds (default 2; the figure needs 2)", 0},
        {"--seed", OPT_INT, &seed, "S", "seed of the clouds and probes (default 0)", 0},
        {"--families", OPT_STRING, &families_s, "LIST", "families (default meanshift,deng,sharp,kdegrad; also mmd)", 0},
        {"--kernels", OPT_STRING, &kernels_s, "LIST", "kernels (default gaussian,laplace,rq)", 0},
        {"--tau", OPT_DOUBLE, &tau, "T", "kernel bandwidth (default 0.3)", 0},
        {"--rq-alpha", OPT_DOUBLE, &alpha, "A", "rq shape alpha (default 2; sharp needs > 1)", 0},
        {"--deng-norm", OPT_STRING, &deng_norm_s, "NAME", "deng normalization: both, row, none (default both)", 0},
        {"--probes", OPT_INT, &probes, "N", "probe points for asymmetry and circulation (default 64)", 0},
        {"--step", OPT_DOUBLE, &step, "H", "central-difference step (default 1e-5 tau)", 0},
        {"--loop-radius", OPT_DOUBLE, &loop_radius, "R", "circulation loop radius (default 0.05 tau)", 0},
        {"--loop-points", OPT_INT, &loop_points, "K", "points per loop (default 64)", 0},
        {"--png", OPT_STRING, &out_path, "FIG.png", "write the curl figure (2-D only)", 0},
        {"--grid-points", OPT_INT, &grid, "N", "curl grid points per side of the figure (default 101)", 0},
        {"--range", OPT_STRING, &range_s, "X0,X1,Y0,Y1", "figure window (default: the clouds' box + 15%)", 0},
        {"--json", OPT_FLAG, &json, NULL, "print the results as JSON", 0},
    };
    int pr = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), USAGE, DESCRIPTION);
    if (pr) return pr > 0 ? 0 : 2;
    /* two_mode is 2-D: in other dimensions the default positives are its D-dimensional cousin */
    if (!opts[0].seen && dim != 2) pos_spec = "mixture:2";

    int fams[MAX_NAMES], kers[MAX_NAMES];
    int nf = parse_names(families_s, "families", fams, parse_family);
    if (nf < 0) return 2;
    int nk = parse_names(kernels_s, "kernels", kers, parse_kernel);
    if (nk < 0) return 2;
    drift_deng_norm deng_norm;
    if (drift_deng_norm_parse(deng_norm_s, &deng_norm)) return cli_fail("curl", "--deng-norm"), 2;
    if (dim < 1) { fprintf(stderr, "drift curl: --dim must be >= 1\n"); return 2; }
    if (n_pos < 1 || n_neg < 1) { fprintf(stderr, "drift curl: --n-pos and --n-neg must be >= 1\n"); return 2; }
    if (probes < 1) { fprintf(stderr, "drift curl: --probes must be >= 1\n"); return 2; }
    if (!(tau > 0) || !isfinite(tau)) { fprintf(stderr, "drift curl: --tau must be > 0\n"); return 2; }
    if (seed < 0) { fprintf(stderr, "drift curl: --seed must be >= 0\n"); return 2; }
    if (out_path && dim != 2) { fprintf(stderr, "drift curl: --png draws 2-D fields; --dim is %d\n", dim); return 2; }
    if (grid < 5 || grid > 1001) { fprintf(stderr, "drift curl: --grid-points must be in 5..1001\n"); return 2; }
    double range[4] = {0};
    if (range_s && (cli_parse_double_list(range_s, range, 4) != 4 || !(range[1] > range[0]) || !(range[3] > range[2]))) {
        fprintf(stderr, "drift curl: --range needs X0,X1,Y0,Y1 with X0 < X1 and Y0 < Y1\n");
        return 2;
    }

    double *pos = NULL, *neg = NULL;
    int64_t p = 0, m = 0;
    int rc = 1;
    drift_curl_grid *grids = NULL;
    drift_asym_stats *stats = NULL;
    /* opts[2], opts[3]: --n-pos, --n-neg (an NPY file gives all its rows unless they are set) */
    if (load_cloud(pos_spec, dim, opts[2].seen, n_pos, (uint64_t)seed, 0, &pos, &p)) { cli_fail("curl", "positives"); goto done; }
    if (load_cloud(neg_spec, dim, opts[3].seen, n_neg, (uint64_t)seed, 1, &neg, &m)) { cli_fail("curl", "negatives"); goto done; }
    drift_sim_clouds clouds = {.d = dim, .p = p, .pos = pos, .m = m, .neg = neg};
    if (dim == 2 && !range_s) {
        double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
        for (int64_t i = 0; i < p + m; i++)
            for (int t = 0; t < 2; t++) {
                double v = i < p ? pos[i * 2 + t] : neg[(i - p) * 2 + t];
                if (v < lo[t]) lo[t] = v;
                if (v > hi[t]) hi[t] = v;
            }
        double half = 0.5 * fmax(hi[0] - lo[0], hi[1] - lo[1]) * 1.15 + 1e-6;
        range[0] = 0.5 * (lo[0] + hi[0]) - half; range[1] = 0.5 * (lo[0] + hi[0]) + half;
        range[2] = 0.5 * (lo[1] + hi[1]) - half; range[3] = 0.5 * (lo[1] + hi[1]) + half;
    }

    const int np = nf * nk;
    grids = drift_alloc((size_t)np, sizeof *grids);
    stats = drift_alloc((size_t)np, sizeof *stats);
    if (!grids || !stats) { cli_fail("curl", "allocation"); goto done; }
    const char *titles[MAX_NAMES * MAX_NAMES];
    char title_buf[MAX_NAMES * MAX_NAMES][64];
    for (int f = 0; f < nf; f++)
        for (int k = 0; k < nk; k++) {
            const int i = f * nk + k;
            drift_field_config cfg;
            drift_field_config_init(&cfg);
            cfg.family = (drift_family)fams[f];
            cfg.kernel = (drift_kernel)kers[k];
            cfg.tau[0] = tau;
            cfg.rq_alpha = alpha;
            cfg.deng_norm = deng_norm;
            snprintf(title_buf[i], sizeof title_buf[i], "%s / %s", drift_family_name(cfg.family), drift_kernel_name(cfg.kernel));
            titles[i] = title_buf[i];
            drift_asym_options o;
            drift_asym_options_init(&o);
            o.n_probes = probes;
            o.seed = (uint64_t)seed;
            o.step = step;
            o.loop_radius = loop_radius;
            o.loop_points = loop_points;
            if (drift_sim_asymmetry(&cfg, &clouds, &o, &stats[i], NULL, NULL)) {
                char what[96];
                snprintf(what, sizeof what, "%s", title_buf[i]);
                cli_fail("curl", what);
                goto done;
            }
            if (dim == 2 && drift_curl_grid_compute(&cfg, &clouds, range[0], range[1], range[2], range[3],
                                                    out_path ? grid : 31, out_path ? grid : 31, step, &grids[i])) {
                cli_fail("curl", "curl grid");
                goto done;
            }
        }
    if (out_path) {
        char heading[256];
        snprintf(heading, sizeof heading, "curl of V: positives %s (%" PRId64 "), negatives %s (%" PRId64 "), tau %g",
                 pos_spec, p, neg_spec, m, tau);
        if (drift_curl_figure_png(out_path, grids, titles, nf, nk, &clouds, heading)) { cli_fail("curl", out_path); goto done; }
    }

    if (json) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "dim"), drift_jsonw_int(&w, dim);
        drift_jsonw_key(&w, "positives"), drift_jsonw_string(&w, pos_spec);
        drift_jsonw_key(&w, "negatives"), drift_jsonw_string(&w, neg_spec);
        drift_jsonw_key(&w, "n_pos"), drift_jsonw_int(&w, p);
        drift_jsonw_key(&w, "n_neg"), drift_jsonw_int(&w, m);
        drift_jsonw_key(&w, "tau"), drift_jsonw_double(&w, tau);
        drift_jsonw_key(&w, "probes"), drift_jsonw_int(&w, probes);
        drift_jsonw_key(&w, "seed"), drift_jsonw_int(&w, seed);
        drift_jsonw_key(&w, "results"), drift_jsonw_begin_array(&w);
        for (int i = 0; i < np; i++) {
            drift_jsonw_begin_object(&w);
            drift_jsonw_key(&w, "family"), drift_jsonw_string(&w, drift_family_name((drift_family)fams[i / nk]));
            drift_jsonw_key(&w, "kernel"), drift_jsonw_string(&w, drift_kernel_name((drift_kernel)kers[i % nk]));
            drift_jsonw_key(&w, "asym_median"), drift_jsonw_double(&w, stats[i].asym_median);
            drift_jsonw_key(&w, "asym_max"), drift_jsonw_double(&w, stats[i].asym_max);
            drift_jsonw_key(&w, "circ_median"), drift_jsonw_double(&w, stats[i].circ_median);
            drift_jsonw_key(&w, "circ_max"), drift_jsonw_double(&w, stats[i].circ_max);
            drift_jsonw_key(&w, "jacobian_norm_median"), drift_jsonw_double(&w, stats[i].jnorm_median);
            drift_jsonw_key(&w, "curl_max_rel");
            if (dim == 2) drift_jsonw_double(&w, grids[i].max_rel_curl); else drift_jsonw_null(&w);
            drift_jsonw_key(&w, "conservative"), drift_jsonw_bool(&w, stats[i].asym_max < 1e-6);
            drift_jsonw_end_object(&w);
        }
        drift_jsonw_end_array(&w);
        drift_jsonw_key(&w, "figure");
        if (out_path) drift_jsonw_string(&w, out_path); else drift_jsonw_null(&w);
        drift_jsonw_end_object(&w);
        if (drift_jsonw_status(&w)) { drift_jsonw_free(&w); cli_fail("curl", "json"); goto done; }
        printf("%s\n", w.buf);
        drift_jsonw_free(&w);
    } else {
        printf("positives %s (%" PRId64 "), negatives %s (%" PRId64 "), D = %d, tau = %g, %d probes\n",
               pos_spec, p, neg_spec, m, dim, tau, probes);
        printf("%-10s %-9s %12s %12s %12s %12s %14s  %s\n", "family", "kernel", "asym median", "asym max",
               "circ median", "circ max", dim == 2 ? "max|curl|/|J|" : "", "verdict (asym max < 1e-6)");
        for (int i = 0; i < np; i++) {
            char curl_s[32] = "";
            if (dim == 2) snprintf(curl_s, sizeof curl_s, "%.3e", grids[i].max_rel_curl);
            printf("%-10s %-9s %12.3e %12.3e %12.3e %12.3e %14s  %s\n", drift_family_name((drift_family)fams[i / nk]),
                   drift_kernel_name((drift_kernel)kers[i % nk]), stats[i].asym_median, stats[i].asym_max,
                   stats[i].circ_median, stats[i].circ_max, curl_s,
                   stats[i].asym_max < 1e-6 ? "conservative" : "NOT conservative");
        }
        printf("asym = |J - J^T|_F / S; circ = |loop integral of V| / (pi r^2 S); S = |J|_F + |V|/L%s\n",
               dim == 2 ? "; curl on the grid / the panel's median |J|_F" : "");
        if (out_path) printf("wrote %s\n", out_path);
    }
    rc = 0;
done:
    if (grids)
        for (int i = 0; i < nf * nk; i++) drift_curl_grid_free(&grids[i]);
    drift_free(grids);
    drift_free(stats);
    drift_free(pos);
    drift_free(neg);
    return rc;
}
