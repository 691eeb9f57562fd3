/* drift/sim.h — experiments without a network: is a drift field conservative, and how do
 * finite particles behave when they follow it (docs/MATH.md §3, §5, §6)?
 *
 * Four parts, each in its own source file under src/sim/:
 *   gmm.c        gaussian mixtures in R^d with their exact smoothed densities and scores:
 *                for p = Σ π_k N(μ_k, diag σ_k²) and the gaussian K_h = N(0, h² I),
 *                p * K_h = Σ π_k N(μ_k, diag(σ_k² + h²)), so ∇ log (p * K_h) is exact;
 *   dist.c       named distributions ("gaussian", "mixture:K", 2-D toys, NPY files) that a
 *                simulation starts from or flows toward;
 *   conserve.c   curl of 2-D fields on a grid, and for any D the relative Jacobian asymmetry
 *                ‖J − Jᵀ‖_F / (‖J‖_F + ‖V‖/L) and the circulation of V around small loops;
 *   particles.c  particle flows x ← x + η v(x), their residual velocity, MMD and occupancy,
 *                and the sweep over N that measures the decay rate of the residual;
 *   fit.c        the log-log slope fit with its confidence interval;
 *   occupancy.c  neighbours within h of the sparsest particle.
 * The MMD to the target is eval's unbiased gaussian MMD² (drift/eval.h), not a second copy.
 * Figures (PNG/SVG) of these results are drawn by figure.c.
 *
 * Precision. Derivatives of V (Jacobians, curls, circulations) come from central differences of
 * the float64 reference engine (drift_field_compute_f64): the asymmetry of a conservative field
 * is then ~1e-9 instead of float32's ~1e-3, so "zero" and "not zero" are told apart. Particle
 * flows use the float32 fast path (drift_field_compute) unless asked for float64.
 */
#ifndef DRIFT_SIM_H
#define DRIFT_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "drift/field.h"
#include "drift/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Gaussian mixtures (gmm.c) ------------------------------------------------------------ */

typedef struct drift_gmm {
    int k;           /* components, >= 1 */
    int64_t d;       /* dimension, >= 1 */
    double *weight;  /* k, non-negative, summing to 1 */
    double *mean;    /* k × d */
    double *var;     /* k × d per-coordinate variances (> 0); isotropic: a row of equal values */
} drift_gmm;

/* Allocates k components in d dimensions (weights 1/k, means 0, variances 1). */
int drift_gmm_init(drift_gmm *g, int k, int64_t d);
void drift_gmm_free(drift_gmm *g);
/* Weights >= 0 summing to 1 (within 1e-9), finite means, variances > 0. */
int drift_gmm_check(const drift_gmm *g);
/* n draws (n × d float32), component by inverse CDF of one uniform, then the gaussian. */
int drift_gmm_sample(const drift_gmm *g, drift_rng *rng, int64_t n, float *out);
/* log (p * K_h)(x) for the n rows of x (n × d); h = 0 gives log p itself. */
int drift_gmm_log_density(const drift_gmm *g, double h, const double *x, int64_t n, double *out);
/* ∇ log (p * K_h)(x) = Σ_k r_k(x) (μ_k − x) / (σ_k² + h²), r_k the responsibilities of the
 * smoothed mixture (computed in log space: finite far from every component). */
int drift_gmm_score(const drift_gmm *g, double h, const double *x, int64_t n, double *out);

/* ---- Named distributions (dist.c) --------------------------------------------------------- */

typedef enum {
    DRIFT_DIST_MIXTURE = 0, /* an exact gaussian mixture: sampled, densities and scores exact */
    DRIFT_DIST_TOY,         /* a 2-D toy without a density (swiss_roll, moons, checkerboard) */
    DRIFT_DIST_SAMPLES,     /* a fixed set of rows (an NPY file) */
} drift_dist_kind;

typedef struct drift_sim_dist {
    char name[160];
    drift_dist_kind kind;
    int64_t d;
    drift_gmm gmm;           /* MIXTURE */
    const char *toy;         /* TOY: the toy's name (static) */
    int64_t n_rows;          /* SAMPLES: rows of `rows` */
    float *rows;             /* SAMPLES: n_rows × d, owned */
} drift_sim_dist;

/* Open a distribution by spec, in dimension d:
 *   gaussian[:STD[:SHIFT]]  N(SHIFT·e_1, STD² I_d)               (any d; default 1, 0)
 *   mixture:K[:STD]         K equal-weight components with means ±2 e_j in the order
 *                           +e_1, −e_1, +e_2, −e_2, ... (K <= 2d), std STD (default 0.5)
 *   two_mode, 8gaussians    the 2-D toy mixtures of drift/data.h, exact (d must be 2)
 *   swiss_roll, moons, checkerboard   2-D toys sampled on demand (d must be 2)
 *   PATH.npy                the rows of an (n, d) array (its column count must equal d;
 *                           d = 0 accepts the file's)
 * A spec that fits none of these: DRIFT_EINVAL listing the forms. */
int drift_sim_dist_open(const char *spec, int64_t d, drift_sim_dist *out);
void drift_sim_dist_free(drift_sim_dist *dist);
/* n draws into out (n × d). SAMPLES: n distinct rows chosen at random (n larger than the file:
 * DRIFT_EINVAL), or all rows in file order when n equals the row count. */
int drift_sim_dist_sample(const drift_sim_dist *dist, drift_rng *rng, int64_t n, float *out);

/* ---- Conservatism (conserve.c) ------------------------------------------------------------ */

/* The point clouds a field is evaluated against. Negatives are explicit (no self-masking):
 * the probe points are not part of either cloud. Weights may be NULL (all 1). */
typedef struct drift_sim_clouds {
    int64_t d;
    int64_t p; const double *pos; const double *pos_w;
    int64_t m; const double *neg; const double *neg_w;
} drift_sim_clouds;

/* V at the n rows of x (n × d), with the float64 reference engine, in chunks of rows.
 * Convention for the deng family, whose column normalization couples the queries of a batch:
 * every point is evaluated as a batch of its own (one query, the given positives and
 * negatives), so V(x) is a function of x alone and its derivatives are well defined; the
 * column sums then run over that single query. */
int drift_sim_field_at(const drift_field_config *cfg, const drift_sim_clouds *c, const double *x,
                       int64_t n, double *v);

/* The length scale the derivative steps and probe noise are measured in: the smallest τ
 * (times the mean positive–negative distance when cfg->feature_norm is on). */
double drift_sim_length_scale(const drift_field_config *cfg, const drift_sim_clouds *c);

/* Curl ∂V_y/∂x − ∂V_x/∂y of a 2-D field on an nx × ny grid over [x0,x1] × [y0,y1] (grid
 * points include the corners; row 0 is y0). Each partial derivative is a central difference
 * with step `step` (0: 1e-5 · length scale) at the grid point itself, so the curl of a
 * conservative field is at rounding level, not at the grid's truncation error. */
typedef struct drift_curl_grid {
    int nx, ny;
    double x0, x1, y0, y1;
    double *v;            /* ny × nx × 2: V at the grid points */
    double *curl;         /* ny × nx */
    double *jnorm;        /* ny × nx: ‖J‖_F at the grid points */
    double median_jnorm;  /* the panel's scale: curl / median ‖J‖_F is the relative curl */
    double max_abs_curl;  /* over grid points at least 0.1 L from every cloud point: at a
                           * point of the cloud laplace-type kernels have a cusp, and the
                           * difference quotients there measure the cusp, not the curl */
    double max_rel_curl;  /* max_abs_curl / median ‖J‖_F */
} drift_curl_grid;

int drift_curl_grid_compute(const drift_field_config *cfg, const drift_sim_clouds *c, double x0,
                            double x1, double y0, double y1, int nx, int ny, double step,
                            drift_curl_grid *out);
void drift_curl_grid_free(drift_curl_grid *g);

typedef struct drift_asym_options {
    int n_probes;          /* probe points (default 64) */
    const double *probes;  /* n_probes × d given probes, or NULL: random ones (below) */
    uint64_t seed;         /* random probes: a random row of pos ∪ neg plus N(0, L² I) noise,
                            * redrawn while closer than 0.1 L to a point (laplace has a cusp) */
    double step;           /* central-difference step (0: 1e-5 L) */
    double loop_radius;    /* circulation loops' radius ρ (0: 0.05 L) */
    int loop_points;       /* points on each loop (0: 64; trapezoid rule, spectrally accurate) */
} drift_asym_options;

typedef struct drift_asym_stats {
    int n_probes;
    double length_scale;      /* L */
    double asym_median, asym_max;  /* ‖J − Jᵀ‖_F / S over the probes, S = ‖J‖_F + ‖V(x)‖/L:
                                    * ‖J‖_F alone is ~0 where the two sides' Jacobians cancel
                                    * (gaussian, one point dominating each side), and rounding
                                    * noise over it would read as asymmetry of order 1 */
    double circ_median, circ_max;  /* |∮ V·dl| / (π ρ² S): the loop's mean curl, relative */
    double jnorm_median;           /* median ‖J‖_F */
} drift_asym_stats;

/* Jacobian asymmetry and loop circulation of the field at probe points, in any dimension.
 * J is the central-difference Jacobian (2d field evaluations per probe); each loop is a
 * circle of radius ρ around the probe in a random 2-plane (two orthonormal random directions).
 * `asym` and `circ` (may be NULL) receive the per-probe values. Needs d >= 2 for loops; for
 * d = 1 the circulation is 0 by definition. */
void drift_asym_options_init(drift_asym_options *o);
int drift_sim_asymmetry(const drift_field_config *cfg, const drift_sim_clouds *c,
                        const drift_asym_options *o, drift_asym_stats *stats, double *asym,
                        double *circ);

/* ---- Occupancy (occupancy.c) ---------------------------------------------------------------- */

/* min_i #{j ≠ i : ‖x_i − x_j‖ <= radius}: the local occupancy of the sparsest particle. */
int drift_min_occupancy(const float *x, int64_t n, int64_t d, double radius, int64_t *out);

/* ---- Power-law fits (fit.c) --------------------------------------------------------------- */

typedef struct drift_fit {
    int n;                   /* points used */
    double slope, intercept; /* log y = intercept + slope · log x (natural logs) */
    double slope_se;         /* standard error of the slope */
    double slope_lo, slope_hi; /* the two-sided confidence interval at level `conf` */
    double r2;
} drift_fit;

/* Ordinary least squares of log y on log x (x, y > 0; n >= 3, not all x equal); the interval
 * uses Student's t with n − 2 degrees of freedom. */
int drift_fit_power_law(const double *x, const double *y, int n, double conf, drift_fit *out);
/* The p-quantile of Student's t with df > 0 degrees of freedom (0 < p < 1). */
double drift_student_t_quantile(double p, double df);

/* ---- Particle flows (particles.c) --------------------------------------------------------- */

typedef struct drift_particles_config {
    drift_field_config field; /* family and kernel; n_tau must be 1, tau[0] is the bandwidth h */
    int steps;                /* Euler steps T */
    double eta;               /* step size η */
    int log_every;            /* log R, MMD, occupancy every this many steps (0: T/20) */
    int self_term;            /* 1: the particle's own kernel term is in q_N (docs/MATH.md §5);
                               * 0: excluded (the engine's self-masking) */
    int exact_score;          /* 1: for kdegrad + gaussian + a mixture target, the data side is
                               * ∇ log (p * K_h) exactly; 0: always use target samples */
    int64_t n_target;         /* target samples: the positives when the score is not exact, and
                               * the MMD reference (0: max(N, 1024)) */
    double mmd_bandwidth;     /* MMD kernel bandwidth (0: median heuristic on the target) */
    int precision_f64;        /* velocity from the float64 reference engine (small N, tests) */
    int n_snapshots;          /* keep the positions at this many evenly spaced steps (0: none) */
} drift_particles_config;

/* Defaults: kdegrad, gaussian, h = 0.3, T = 500, η = 0.01, self term in, exact score on. */
void drift_particles_config_init(drift_particles_config *cfg);
int drift_particles_config_check(const drift_particles_config *cfg);

typedef struct drift_particles_trace {
    int64_t rows;             /* logged steps (step 0 and the last step included) */
    int64_t *step;
    double *residual;         /* R = sqrt(mean_i ‖v(x_i)‖²) */
    double *mmd2;             /* unbiased MMD² to the target samples, eval's gaussian kernel
                               * (drift_mmd2_unbiased): signed, ≈ 0 ± noise at equilibrium */
    int64_t *min_occupancy;   /* min over particles of neighbours within h */
    int64_t n, d;
    int n_snapshots;
    int64_t *snapshot_step;   /* n_snapshots */
    float *snapshots;         /* n_snapshots × n × d */
    float *target;            /* the target samples used (n_target × d) */
    int64_t n_target;
    int exact;                /* 1 if the data side was the exact smoothed score */
    double mmd_bandwidth;     /* the MMD kernel bandwidth used */
    double seconds;
} drift_particles_trace;

void drift_particles_trace_free(drift_particles_trace *t);

/* The velocity v(x_i) of every particle (n × d float32 in x, v): data side minus particle side
 * of the chosen family, with the particles as negatives (self term per cfg). The data side is
 * the exact smoothed score when cfg->exact_score, the family is kdegrad, the kernel gaussian and
 * the target a mixture; otherwise the family's field toward `target_samples` (n_target rows). */
int drift_particles_velocity(const drift_particles_config *cfg, const drift_sim_dist *target,
                             const float *target_samples, int64_t n_target, const float *x,
                             int64_t n, int64_t d, float *v);

/* 1 when drift_particles_velocity uses the exact smoothed data score for this target. */
int drift_particles_exact(const drift_particles_config *cfg, const drift_sim_dist *target);

/* Run the flow from x (n × d, updated in place). Target samples are drawn with stream
 * (seed, 1). The trace is allocated here (free with drift_particles_trace_free). */
int drift_particles_run(const drift_particles_config *cfg, const drift_sim_dist *target,
                        float *x, int64_t n, int64_t d, uint64_t seed, drift_particles_trace *trace);

/* ---- The N sweep ---------------------------------------------------------------------------- */

#define DRIFT_SWEEP_MAX_SIZES 32

typedef struct drift_sweep_config {
    drift_particles_config flow; /* template: the bandwidth, η and steps are set per N below */
    int n_sizes;
    int64_t sizes[DRIFT_SWEEP_MAX_SIZES];
    int n_seeds;                 /* runs per N, seeds seed0, seed0 + 1, ... */
    uint64_t seed0;
    double bw_c;                 /* h = bw_c · N^(−1/(d+4)); 0: fixed h = flow.field.tau[0] */
    double eta_h2;               /* η = eta_h2 · h² (explicit Euler is stable for η ≲ h²);
                                  * 0: fixed η = flow.eta */
    double time;                 /* flow time η·T kept equal across N: T = ceil(time / η);
                                  * 0: fixed T = flow.steps */
    double time_h2;              /* instead of `time`: flow time time_h2 / h². For displacement
                                  * fields (meanshift, deng) v ≈ c·h²·(score difference), so they
                                  * relax in a time ∝ 1/h²; this keeps the number of relaxation
                                  * times equal across N (0: unused) */
    double conf;                 /* confidence level of the slope interval (0: 0.95) */
} drift_sweep_config;

typedef struct drift_sweep_result {
    int n_sizes, n_seeds;
    int64_t d;
    int64_t sizes[DRIFT_SWEEP_MAX_SIZES];
    double h[DRIFT_SWEEP_MAX_SIZES], eta[DRIFT_SWEEP_MAX_SIZES];
    int steps[DRIFT_SWEEP_MAX_SIZES];
    double *residual;            /* n_sizes × n_seeds: final R of each run */
    double *mmd2;                /* n_sizes × n_seeds: final unbiased MMD² */
    double *residual_mean;       /* n_sizes: geometric mean of R over the seeds */
    drift_fit fit;               /* log R against log N over all runs */
    double theory;               /* −1/(d+4) */
    double seconds;
} drift_sweep_result;

/* Called after each run (may be NULL): lets the CLI show progress without the library
 * printing. Returning non-zero stops the sweep with DRIFT_EINVAL ("interrupted"). */
typedef int (*drift_sweep_progress)(void *ctx, int64_t n, uint64_t seed, double residual,
                                    double seconds);

/* For every N and seed: particles drawn from `init` (stream (seed, 0)), the flow toward
 * `target`, the final R; then the least-squares slope of log R against log N. */
int drift_particles_sweep(const drift_sweep_config *cfg, const drift_sim_dist *target,
                          const drift_sim_dist *init, int64_t d, drift_sweep_progress progress,
                          void *ctx, drift_sweep_result *out);
void drift_sweep_result_free(drift_sweep_result *r);

/* ---- Figures (figure.c) ------------------------------------------------------------------- */

/* rows × cols curl panels (grids[k] at row k / cols), each the relative curl (curl divided by
 * the panel's median ‖J‖_F) on one diverging colour scale shared by all panels (its limit is
 * the 99th percentile of |relative curl| over every panel), with the field's arrows, the
 * positives (filled) and negatives (hollow) of `clouds` (may be NULL), panel titles (may be
 * NULL), a colour bar and a legend. */
int drift_curl_figure_png(const char *path, const drift_curl_grid *grids, const char *const *titles,
                          int rows, int cols, const drift_sim_clouds *clouds, const char *heading);
/* The run's snapshots side by side over the target samples (first two coordinates). */
int drift_particles_snapshots_png(const char *path, const drift_particles_trace *tr, double eta,
                                  const char *heading);
/* R and the MMD against the step, log y. SVG when path ends in .svg, PNG otherwise. */
int drift_particles_trace_plot(const char *path, const drift_particles_trace *tr, const char *title);
/* Final R against N on log–log axes: every run, the per-N geometric mean, the fitted line and
 * the theory's slope −1/(d+4) drawn through the fit at the geometric mean of N. */
int drift_sweep_plot(const char *path, const drift_sweep_result *r, const char *title);

#ifdef __cplusplus
}
#endif
#endif
