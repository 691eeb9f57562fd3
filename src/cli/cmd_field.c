/* cmd_field.c — `drift field`: evaluate a drift field on NPY inputs (docs/MATH.md §3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/field.h"
#include "drift/npy.h"

static const char *USAGE =
    "drift field --x X.npy --pos P.npy [--neg N.npy] [--pos-weights W.npy] [--neg-weights W.npy]\n"
    "       --family F --kernel K --tau 0.05[,0.2,...] [--rq-alpha A] [--deng-norm both|row|none]\n"
    "       --out V.npy [--potential PHI.npy] [--precision f32|f64]";

static const char *DESCRIPTION =
    "Computes the drift field V(x_i) for every row of X: attraction to the positives minus\n"
    "repulsion from the negatives, for the chosen family and kernel (see docs/MATH.md).\n"
    "Inputs are float32 or float64 NPY arrays of shape (rows, D) (higher-rank arrays are\n"
    "flattened per row); weights are vectors of shape (rows,). Without --neg, the negatives\n"
    "are X itself with each row's own entry excluded (self-masking). --tau is in raw distance\n"
    "units (relative to the mean distance with --feature-norm); several temperatures are\n"
    "summed. The output is float32, or float64 with --precision f64, which evaluates the\n"
    "plain formulas in double (the reference path).\n\n"
    "families: deng, meanshift, sharp, kdegrad, mmd   kernels: gaussian, laplace, rq";

typedef struct {
    int64_t rows, cols;
    void *data; /* float* or double* */
} matrix;

static int load_matrix(const char *path, int f64, matrix *m)
{
    if (f64) return drift_npy_read_f64(path, (double **)&m->data, &m->rows, &m->cols);
    return drift_npy_read_f32(path, (float **)&m->data, &m->rows, &m->cols);
}

static int load_weights(const char *path, int f64, int64_t expect, const char *what, matrix *m)
{
    int st = load_matrix(path, f64, m);
    if (st) return st;
    if (m->cols != 1 || m->rows != expect)
        return drift_error(DRIFT_ESHAPE, "%s: %s must have shape (%lld,), got (%lld, %lld)", path, what,
                           (long long)expect, (long long)m->rows, (long long)m->cols);
    return DRIFT_OK;
}

int cmd_field(int argc, char **argv)
{
    const char *x_path = NULL, *pos_path = NULL, *neg_path = NULL, *pw_path = NULL, *nw_path = NULL;
    const char *extra_path = NULL, *ew_path = NULL, *out_path = NULL, *phi_path = NULL, *diag_path = NULL;
    const char *family = NULL, *kernel = NULL, *taus = NULL, *deng_norm = "both", *precision = "f32";
    double rq_alpha = 2.0, pos_scale = 1.0, neg_scale = 1.0;
    const char *backend_s = "cpu";
    int feature_norm = 0, drift_norm = 0, released = 0, soft_mask = 0, floor_ = 0, block = 0, threads = 0, quiet = 0;
    cli_opt opts[] = {
        {"--x", OPT_STRING, &x_path, "X.npy", "queries (generated samples), shape (n, D)  [required]", 0},
        {"--pos", OPT_STRING, &pos_path, "P.npy", "positives (data), shape (p, D)  [required]", 0},
        {"--neg", OPT_STRING, &neg_path, "N.npy", "negatives, shape (m, D) (default: X, self-masked)", 0},
        {"--pos-weights", OPT_STRING, &pw_path, "W.npy", "weights of the positives, shape (p,), >= 0", 0},
        {"--neg-weights", OPT_STRING, &nw_path, "W.npy", "weights of --neg, shape (m,), >= 0", 0},
        {"--extra-neg", OPT_STRING, &extra_path, "E.npy", "extra negatives appended to the negatives (guidance)", 0},
        {"--extra-weights", OPT_STRING, &ew_path, "W.npy", "weights of --extra-neg, shape (e,)", 0},
        {"--family", OPT_STRING, &family, "F", "deng | meanshift | sharp | kdegrad | mmd  [required]", 0},
        {"--kernel", OPT_STRING, &kernel, "K", "gaussian | laplace | rq  [required]", 0},
        {"--tau", OPT_STRING, &taus, "LIST", "temperatures, comma-separated, > 0  [required]", 0},
        {"--rq-alpha", OPT_DOUBLE, &rq_alpha, "A", "shape of the rq kernel (default 2; > 1 for sharp)", 0},
        {"--deng-norm", OPT_STRING, &deng_norm, "N", "deng normalization: both (default) | row | none", 0},
        {"--pos-scale", OPT_DOUBLE, &pos_scale, "S", "scale of the attraction side (default 1)", 0},
        {"--neg-scale", OPT_DOUBLE, &neg_scale, "S", "scale of the repulsion side (default 1)", 0},
        {"--feature-norm", OPT_FLAG, &feature_norm, NULL, "divide distances by their weighted mean (tau becomes relative)", 0},
        {"--drift-norm", OPT_FLAG, &drift_norm, NULL, "divide each temperature's field by its RMS before summing", 0},
        {"--deng-released", OPT_FLAG, &released, NULL, "the authors' released deng loss: feature norm, soft mask, floor, drift norm", 0},
        {"--deng-soft-mask", OPT_FLAG, &soft_mask, NULL, "deng: mask self entries by +100 on the normalized distance", 0},
        {"--deng-floor", OPT_FLAG, &floor_, NULL, "deng: A = sqrt(max(softmax_row*softmax_col, 1e-6))", 0},
        {"--out", OPT_STRING, &out_path, "V.npy", "output field, shape (n, D)  [required]", 0},
        {"--potential", OPT_STRING, &phi_path, "PHI.npy", "also write the potential (sharp, kdegrad, mmd), shape (n,)", 0},
        {"--diagnostics", OPT_STRING, &diag_path, "D.npy", "per-row (n, 3*ntau): log positive mass, log negative mass, ESS", 0},
        {"--precision", OPT_STRING, &precision, "P", "f32 (fast path, default) | f64 (plain float64 reference)", 0},
        {"--block", OPT_INT, &block, "ROWS", "fast path: queries per block (0 = automatic)", 0},
        {"--threads", OPT_INT, &threads, "T", "threads (default: all cores)", 0},
        {"--backend", OPT_STRING, &backend_s, "B", "cpu (default) | cuda (a build with -DDRIFT_CUDA=ON: the deng family on the GPU; f32 only)", 0},
        {"--quiet", OPT_FLAG, &quiet, NULL, "do not print the summary (nor compute per-temperature RMS: faster)", 0},
    };
    int pr = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), USAGE, DESCRIPTION);
    if (pr) return pr > 0 ? 0 : 2;
    if (!x_path || !pos_path || !family || !kernel || !taus || !out_path) {
        fprintf(stderr, "drift field: --x, --pos, --family, --kernel, --tau and --out are required (see --help)\n");
        return 2;
    }
    if (strcmp(precision, "f32") && strcmp(precision, "f64")) {
        fprintf(stderr, "drift field: --precision must be f32 or f64, got '%s'\n", precision);
        return 2;
    }
    if ((nw_path && !neg_path) || (ew_path && !extra_path)) {
        fprintf(stderr, "drift field: weights given for negatives that were not given\n");
        return 2;
    }
    if (threads < 0) {
        fprintf(stderr, "drift field: --threads must be >= 0\n");
        return 2;
    }
    const char *const out_names[] = {"--out", "--potential", "--diagnostics"};
    const char *const out_paths[] = {out_path, phi_path, diag_path};
    if (cli_distinct_outputs("field", 3, out_names, out_paths)) return 2;
    drift_set_threads(threads);
    const int f64 = !strcmp(precision, "f64");
    drift_ctx_options co;
    drift_ctx_options_init(&co);
    co.threads = threads;
    co.fallback = 0; /* a field the backend cannot compute is refused, not quietly moved to the CPU */
    if (drift_backend_parse(backend_s, &co.backend)) return cli_fail("field", "--backend"), 2;
    if (f64 && co.backend != DRIFT_BACKEND_CPU) {
        fprintf(stderr, "drift field: --precision f64 is the CPU's float64 reference; --backend %s computes float32\n",
                backend_s);
        return 2;
    }

    drift_field_config cfg;
    drift_field_config_init(&cfg);
    if (drift_family_parse(family, &cfg.family) || drift_kernel_parse(kernel, &cfg.kernel) ||
        drift_deng_norm_parse(deng_norm, &cfg.deng_norm))
        return cli_fail("field", "bad option");
    cfg.n_tau = cli_parse_double_list(taus, cfg.tau, DRIFT_MAX_TAU);
    if (cfg.n_tau < 1) {
        fprintf(stderr, "drift field: --tau needs 1 to %d comma-separated numbers, got '%s'\n", DRIFT_MAX_TAU, taus);
        return 2;
    }
    if (released) {
        if (cfg.family != DRIFT_FAMILY_DENG) {
            fprintf(stderr, "drift field: --deng-released needs --family deng\n");
            return 2;
        }
        drift_field_config_deng_released(&cfg);
    }
    cfg.rq_alpha = rq_alpha;
    cfg.pos_scale = pos_scale;
    cfg.neg_scale = neg_scale;
    cfg.feature_norm |= feature_norm;
    cfg.drift_norm |= drift_norm;
    cfg.deng_soft_mask |= soft_mask;
    cfg.deng_floor |= floor_;
    cfg.block_rows = block;
    /* the per-temperature RMS is only printed in the summary; --quiet waives it, which
     * without --drift-norm lets the fast path form all temperatures in one field product */
    cfg.skip_tau_rms = quiet;
    if (drift_field_config_check(&cfg)) return cli_fail("field", "invalid options");

    matrix X = {0}, Pm = {0}, Nm = {0}, PW = {0}, NW = {0}, E = {0}, EW = {0};
    int st = load_matrix(x_path, f64, &X);
    if (!st) st = load_matrix(pos_path, f64, &Pm);
    if (!st && neg_path) st = load_matrix(neg_path, f64, &Nm);
    if (!st && extra_path) st = load_matrix(extra_path, f64, &E);
    if (!st && Pm.cols != X.cols)
        st = drift_error(DRIFT_ESHAPE, "%s has %lld columns but %s has %lld", pos_path, (long long)Pm.cols, x_path, (long long)X.cols);
    if (!st && neg_path && Nm.cols != X.cols)
        st = drift_error(DRIFT_ESHAPE, "%s has %lld columns but %s has %lld", neg_path, (long long)Nm.cols, x_path, (long long)X.cols);
    if (!st && extra_path && E.cols != X.cols)
        st = drift_error(DRIFT_ESHAPE, "%s has %lld columns but %s has %lld", extra_path, (long long)E.cols, x_path, (long long)X.cols);
    if (!st && pw_path) st = load_weights(pw_path, f64, Pm.rows, "positive weights", &PW);
    if (!st && nw_path) st = load_weights(nw_path, f64, Nm.rows, "negative weights", &NW);
    if (!st && ew_path) st = load_weights(ew_path, f64, E.rows, "extra weights", &EW);

    const int64_t n = X.rows, d = X.cols, nt = cfg.n_tau;
    void *v = NULL;
    double *phi = NULL, *lpm = NULL, *lnm = NULL, *ess = NULL;
    drift_field_result res;
    memset(&res, 0, sizeof res);
    if (!st) {
        v = drift_alloc((size_t)(n * d), f64 ? sizeof(double) : sizeof(float));
        if (phi_path) phi = drift_alloc((size_t)n, sizeof(double));
        if (diag_path) {
            lpm = drift_alloc((size_t)(n * nt), sizeof(double));
            lnm = drift_alloc((size_t)(n * nt), sizeof(double));
            ess = drift_alloc((size_t)(n * nt), sizeof(double));
        }
        if (!v || (phi_path && !phi) || (diag_path && (!lpm || !lnm || !ess))) st = DRIFT_ENOMEM;
    }
    drift_ctx *ctx = NULL;
    drift_ctx_info cinfo;
    if (!st && (st = drift_ctx_create(&co, &ctx)) == DRIFT_OK) drift_ctx_get_info(ctx, &cinfo);
    double t0 = drift_now();
    if (!st) {
        res.v = v;
        res.potential = phi;
        res.log_pos_mass = lpm;
        res.log_neg_mass = lnm;
        res.pos_ess = ess;
        if (f64) {
            drift_field_batch64 b = {.n = n, .d = d, .x = X.data, .p = Pm.rows, .pos = Pm.data, .pos_w = PW.data,
                                     .m = Nm.rows, .neg = Nm.data, .neg_w = NW.data,
                                     .e = E.rows, .extra = E.data, .extra_w = EW.data};
            st = drift_field_compute_f64(&cfg, &b, &res);
        } else {
            drift_field_batch b = {.n = n, .d = d, .x = X.data, .p = Pm.rows, .pos = Pm.data, .pos_w = PW.data,
                                   .m = Nm.rows, .neg = Nm.data, .neg_w = NW.data,
                                   .e = E.rows, .extra = E.data, .extra_w = EW.data};
            st = drift_field_compute_ctx(ctx, &cfg, &b, &res);
        }
    }
    double elapsed = drift_now() - t0;
    if (!st) st = f64 ? drift_npy_write_f64(out_path, v, n, d) : drift_npy_write_f32(out_path, v, n, d);
    if (!st && phi_path) st = drift_npy_write(phi_path, DRIFT_DTYPE_F64, 1, &n, phi);
    if (!st && diag_path) {
        double *diag = drift_alloc((size_t)(n * 3 * nt), sizeof(double));
        if (!diag) st = DRIFT_ENOMEM;
        for (int64_t i = 0; !st && i < n; i++)
            for (int64_t t = 0; t < nt; t++) {
                diag[i * 3 * nt + t] = lpm[i * nt + t];
                diag[i * 3 * nt + nt + t] = lnm[i * nt + t];
                diag[i * 3 * nt + 2 * nt + t] = ess[i * nt + t];
            }
        if (!st) st = drift_npy_write_f64(diag_path, diag, n, 3 * nt);
        drift_free(diag);
    }
    int rc = 0;
    if (st) {
        rc = cli_fail("field", "failed");
    } else if (!quiet) {
        fprintf(stderr, "drift field: %s/%s, %lld queries x %lld dims, %lld positives; RMS |V| = %.6g; %.3f s on %s\n",
                drift_family_name(cfg.family), drift_kernel_name(cfg.kernel), (long long)n, (long long)d,
                (long long)Pm.rows, res.rms, elapsed, f64 ? "cpu (float64)" : cinfo.device);
        for (int t = 0; t < cfg.n_tau; t++)
            fprintf(stderr, "  tau %-10g RMS of the field before normalization %.6g\n", cfg.tau[t], res.tau_rms[t]);
        if (cfg.feature_norm) fprintf(stderr, "  feature scale s = %.6g (mean distance %.6g)\n", res.feature_scale, res.mean_dist);
    }
    drift_free(X.data); drift_free(Pm.data); drift_free(Nm.data); drift_free(PW.data); drift_free(NW.data);
    drift_free(E.data); drift_free(EW.data); drift_free(v); drift_free(phi); drift_free(lpm); drift_free(lnm); drift_free(ess);
    drift_ctx_free(ctx);
    return rc;
}
