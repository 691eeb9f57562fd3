/* figure.c — pictures of the simulations, drawn with the canvas and plots of io/:
 *   the curl figure (Franz et al. Fig. 1): one panel per family × kernel, the relative curl as
 *     a diverging heatmap on a shared colour scale, the field's arrows, the two point clouds;
 *   particle snapshots: the cloud at a few steps over the target samples (2-D, or the first two
 *     coordinates);
 *   line plots: R and MMD along a run, and the sweep's R against N with the fit and theory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/image.h"
#include "drift/plot.h"
#include "drift/sim.h"

static const drift_rgb WHITE = {255, 255, 255}, BLACK = {0, 0, 0}, GRAY = {110, 110, 110};
static const drift_rgb ARROW = {45, 45, 45}, POS = {0, 130, 0}, LIGHT = {200, 200, 200};
static const drift_rgb PARTICLE = {30, 80, 200};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of |a|; scratch is overwritten. */
static double abs_quantile(const double *a, size_t n, double q, double *scratch)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) scratch[i] = fabs(a[i]);
    qsort(scratch, n, sizeof(double), cmp_double);
    size_t k = (size_t)(q * (double)(n - 1) + 0.5);
    return scratch[k < n ? k : n - 1];
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- the curl figure -------------------------------------------------------------------- */

#define PANEL 300
#define GAP 24
#define TITLE_H 40
#define TOP 56
#define LEFT 20
#define BAR_W 22
#define BAR_LABELS 120
#define BOTTOM 64
#define ARROWS_PER_SIDE 15

/* Data coordinates of a grid to canvas pixels of the panel at (px, py). */
typedef struct { double x0, x1, y0, y1; int px, py; } panel_map;

static double map_x(const panel_map *m, double x) { return m->px + (x - m->x0) / (m->x1 - m->x0) * PANEL; }
static double map_y(const panel_map *m, double y) { return m->py + PANEL - (y - m->y0) / (m->y1 - m->y0) * PANEL; }

static void draw_clouds(drift_canvas *cv, const panel_map *m, const drift_sim_clouds *c)
{
    if (!c || c->d != 2) return;
    for (int64_t l = 0; l < c->m; l++) {
        double x = c->neg[2 * l], y = c->neg[2 * l + 1];
        if (x < m->x0 || x > m->x1 || y < m->y0 || y > m->y1) continue;
        drift_canvas_circle(cv, (int)lround(map_x(m, x)), (int)lround(map_y(m, y)), 3, BLACK);
    }
    for (int64_t j = 0; j < c->p; j++) {
        double x = c->pos[2 * j], y = c->pos[2 * j + 1];
        if (x < m->x0 || x > m->x1 || y < m->y0 || y > m->y1) continue;
        drift_canvas_dot(cv, (int)lround(map_x(m, x)), (int)lround(map_y(m, y)), 2, POS);
    }
}

/* Arrows on a coarse subgrid; length ∝ |V| up to the panel's 90th percentile, then clipped,
 * so that the large far-field vectors do not shrink everything else to dots. */
static void draw_arrows(drift_canvas *cv, const panel_map *m, const drift_curl_grid *g, double *scratch)
{
    const int sx = g->nx > ARROWS_PER_SIDE ? g->nx / ARROWS_PER_SIDE : 1;
    const int sy = g->ny > ARROWS_PER_SIDE ? g->ny / ARROWS_PER_SIDE : 1;
    size_t cnt = 0;
    double *mag = scratch;
    for (int iy = sy / 2; iy < g->ny; iy += sy)
        for (int ix = sx / 2; ix < g->nx; ix += sx) {
            const double *v = &g->v[((size_t)iy * g->nx + ix) * 2];
            mag[cnt++] = hypot(v[0], v[1]);
        }
    double *tmp = scratch + cnt;
    double v90 = abs_quantile(mag, cnt, 0.9, tmp);
    if (!(v90 > 0)) return;
    const double cell = (double)PANEL * (sx < sy ? sx : sy) / (g->nx - 1 > 0 ? g->nx - 1 : 1);
    for (int iy = sy / 2; iy < g->ny; iy += sy)
        for (int ix = sx / 2; ix < g->nx; ix += sx) {
            const double *v = &g->v[((size_t)iy * g->nx + ix) * 2];
            double len = hypot(v[0], v[1]);
            if (!(len > 0)) continue;
            double scale = 0.85 * cell * (len < v90 ? len / v90 : 1.0) / len;
            double x = g->x0 + (g->x1 - g->x0) * ix / (g->nx - 1);
            double y = g->y0 + (g->y1 - g->y0) * iy / (g->ny - 1);
            double px = map_x(m, x), py = map_y(m, y);
            double qx = px + scale * v[0], qy = py - scale * v[1];
            drift_canvas_arrow(cv, px, py, qx, qy, 4.0, ARROW);
        }
}

int drift_curl_figure_png(const char *path, const drift_curl_grid *grids, const char *const *titles,
                          int rows, int cols, const drift_sim_clouds *clouds, const char *heading)
{
    if (!path || !grids || rows < 1 || cols < 1) return drift_error(DRIFT_EINVAL, "curl figure: bad arguments");
    const int np = rows * cols;
    size_t total = 0, most = 0;
    for (int k = 0; k < np; k++) {
        size_t g = (size_t)grids[k].nx * (size_t)grids[k].ny;
        if (!grids[k].curl || !grids[k].v || g < 4) return drift_error(DRIFT_EINVAL, "curl figure: panel %d has no grid", k);
        total += g;
        if (g > most) most = g;
    }
    /* one colour scale for all panels: the 99th percentile of the relative curl, so that a
     * conservative panel (curl ~1e-9) is white and the others are comparable */
    double *all = drift_alloc(total, sizeof(double)), *scratch = drift_alloc(total + 2 * most, sizeof(double));
    float *img = drift_alloc(most, sizeof(float));
    drift_canvas cv = {0};
    int st = DRIFT_OK;
    if (!all || !scratch || !img) { st = DRIFT_ENOMEM; goto done; }
    size_t off = 0;
    for (int k = 0; k < np; k++) {
        const drift_curl_grid *g = &grids[k];
        double s = g->median_jnorm > 0 ? 1.0 / g->median_jnorm : 0.0;
        for (size_t i = 0; i < (size_t)g->nx * g->ny; i++) all[off + i] = g->curl[i] * s;
        off += (size_t)g->nx * g->ny;
    }
    double lim = abs_quantile(all, total, 0.99, scratch);
    if (!(lim > 1e-12)) lim = 1e-12;

    const int W = LEFT + cols * (PANEL + GAP) + BAR_W + BAR_LABELS;
    const int H = TOP + rows * (PANEL + TITLE_H + GAP) + BOTTOM;
    if ((st = drift_canvas_init(&cv, W, H, WHITE))) goto done;
    if (heading) drift_canvas_text(&cv, LEFT, 12, heading, 2, BLACK);
    off = 0;
    for (int k = 0; k < np; k++) {
        const drift_curl_grid *g = &grids[k];
        const int r = k / cols, c = k % cols;
        panel_map m = {g->x0, g->x1, g->y0, g->y1, LEFT + c * (PANEL + GAP), TOP + r * (PANEL + TITLE_H + GAP) + TITLE_H};
        /* heatmap rows run top to bottom, the grid's from y0 up */
        for (int iy = 0; iy < g->ny; iy++)
            for (int ix = 0; ix < g->nx; ix++)
                img[(size_t)(g->ny - 1 - iy) * g->nx + ix] = (float)all[off + (size_t)iy * g->nx + ix];
        off += (size_t)g->nx * g->ny;
        drift_canvas_heatmap(&cv, m.px, m.py, PANEL, PANEL, img, g->ny, g->nx, (float)-lim, (float)lim, DRIFT_CMAP_DIVERGING);
        draw_arrows(&cv, &m, g, scratch);
        draw_clouds(&cv, &m, clouds);
        drift_canvas_rect(&cv, m.px - 1, m.py - 1, PANEL + 2, PANEL + 2, BLACK);
        if (titles && titles[k]) drift_canvas_text(&cv, m.px, m.py - TITLE_H + 2, titles[k], 2, BLACK);
        char sub[96];
        snprintf(sub, sizeof sub, "max rel. curl %.2g", g->max_rel_curl);
        drift_canvas_text(&cv, m.px, m.py - 16, sub, 2, GRAY);
    }
    const int bx = LEFT + cols * (PANEL + GAP), by = TOP + TITLE_H, bh = rows * (PANEL + TITLE_H + GAP) - TITLE_H - GAP;
    drift_canvas_text(&cv, bx - 4, by - 46, "curl /", 2, BLACK);
    drift_canvas_text(&cv, bx - 4, by - 30, "med |J|", 2, BLACK);
    drift_canvas_colorbar(&cv, bx, by, BAR_W, bh, (float)-lim, (float)lim, DRIFT_CMAP_DIVERGING, 2);
    {
        const int ly = H - BOTTOM + 14;
        drift_canvas_dot(&cv, LEFT + 6, ly + 6, 3, POS);
        int x = LEFT + 16 + drift_canvas_text(&cv, LEFT + 16, ly, "positives", 2, BLACK);
        drift_canvas_circle(&cv, x + 22, ly + 6, 3, BLACK);
        x += 32 + drift_canvas_text(&cv, x + 32, ly, "negatives", 2, BLACK);
        drift_canvas_arrow(&cv, x + 24, ly + 6, x + 50, ly + 6, 4.0, ARROW);
        drift_canvas_text(&cv, x + 58, ly, "V (length clipped at its 90th pct)", 2, BLACK);
        drift_canvas_text(&cv, LEFT, ly + 22,
                          "colour: curl dVy/dx - dVx/dy / the panel's median |J|_F (one scale for all)",
                          2, GRAY);
    }
    st = drift_canvas_write_png(&cv, path);
done:
    drift_canvas_free(&cv);
    drift_free(all);
    drift_free(scratch);
    drift_free(img);
    return st;
}

/* ---- particle snapshots ---------------------------------------------------------------------- */

int drift_particles_snapshots_png(const char *path, const drift_particles_trace *tr, double eta,
                                  const char *heading)
{
    if (!path || !tr || tr->n_snapshots < 1 || !tr->snapshots)
        return drift_error(DRIFT_EINVAL, "snapshot figure: the run kept no snapshots");
    const int64_t n = tr->n, d = tr->d;
    const int K = tr->n_snapshots, cols = K <= 4 ? K : (K + 1) / 2, rows = (K + cols - 1) / cols;
    /* one square window for every panel: the box of the target samples and all snapshots
     * (first two coordinates; 1-D flows are drawn on y = 0 with the target as a strip) */
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int64_t i = 0; i < tr->n_target; i++)
        for (int t = 0; t < (d >= 2 ? 2 : 1); t++) {
            double v = tr->target[i * d + t];
            if (v < lo[t]) lo[t] = v;
            if (v > hi[t]) hi[t] = v;
        }
    for (size_t i = 0; i < (size_t)K * (size_t)n; i++)
        for (int t = 0; t < (d >= 2 ? 2 : 1); t++) {
            double v = tr->snapshots[i * d + t];
            if (v < lo[t]) lo[t] = v;
            if (v > hi[t]) hi[t] = v;
        }
    if (d < 2) { lo[1] = -1; hi[1] = 1; }
    double half = 0.5 * fmax(hi[0] - lo[0], hi[1] - lo[1]) * 1.06 + 1e-9;
    double cx = 0.5 * (lo[0] + hi[0]), cy = 0.5 * (lo[1] + hi[1]);
    drift_canvas cv;
    const int W = LEFT + cols * (PANEL + GAP), H = TOP + rows * (PANEL + TITLE_H + GAP) + 30;
    int st = drift_canvas_init(&cv, W, H, WHITE);
    if (st) return st;
    if (heading) drift_canvas_text(&cv, LEFT, 12, heading, 2, BLACK);
    const int dot = n <= 1024 ? 1 : 0;
    for (int k = 0; k < K; k++) {
        const int r = k / cols, c = k % cols;
        panel_map m = {cx - half, cx + half, cy - half, cy + half, LEFT + c * (PANEL + GAP), TOP + r * (PANEL + TITLE_H + GAP) + TITLE_H};
        if (d >= 2) {
            const drift_view v = {m.x0, m.y0, m.x1, m.y1};
            drift_canvas_scatter(&cv, m.px, m.py, PANEL, PANEL, &v, tr->target, tr->n_target, d, dot, LIGHT);
        } else { /* 1-D: the target spread over a band for visibility */
            for (int64_t i = 0; i < tr->n_target; i++) {
                double y = 0.25 * (2.0 * (double)i / tr->n_target - 1.0);
                drift_canvas_dot(&cv, (int)lround(map_x(&m, tr->target[i])), (int)lround(map_y(&m, y)), dot, LIGHT);
            }
        }
        const float *s = &tr->snapshots[(size_t)k * (size_t)(n * d)];
        if (d >= 2) {
            const drift_view v = {m.x0, m.y0, m.x1, m.y1};
            drift_canvas_scatter(&cv, m.px, m.py, PANEL, PANEL, &v, s, n, d, dot, PARTICLE);
        } else { /* 1-D: the particles on a line below the target's band */
            for (int64_t i = 0; i < n; i++)
                drift_canvas_dot(&cv, (int)lround(map_x(&m, s[i])), (int)lround(map_y(&m, -0.5)), dot, PARTICLE);
        }
        drift_canvas_rect(&cv, m.px - 1, m.py - 1, PANEL + 2, PANEL + 2, BLACK);
        char title[96];
        snprintf(title, sizeof title, "step %lld (t = %.3g)", (long long)tr->snapshot_step[k], eta * (double)tr->snapshot_step[k]);
        drift_canvas_text(&cv, m.px, m.py - 20, title, 2, BLACK);
    }
    char legend[160];
    snprintf(legend, sizeof legend, "blue: %lld particles   gray: %lld target samples%s", (long long)n,
             (long long)tr->n_target, d > 2 ? "   (first two coordinates)" : d == 1 ? "   (1-D: particles at y=-0.5)" : "");
    drift_canvas_text(&cv, LEFT, H - 26, legend, 2, GRAY);
    st = drift_canvas_write_png(&cv, path);
    drift_canvas_free(&cv);
    return st;
}

/* ---- line plots ------------------------------------------------------------------------------ */

static int write_plot(const drift_plot *p, const char *path)
{
    return ends_with(path, ".svg") ? drift_plot_write_svg(p, path) : drift_plot_write_png(p, path);
}

int drift_particles_trace_plot(const char *path, const drift_particles_trace *tr, const char *title)
{
    if (!path || !tr || tr->rows < 1) return drift_error(DRIFT_EINVAL, "trace plot: empty trace");
    double *steps = drift_alloc((size_t)tr->rows, sizeof(double));
    if (!steps) return DRIFT_ENOMEM;
    for (int64_t k = 0; k < tr->rows; k++) steps[k] = (double)tr->step[k];
    drift_plot *p = NULL;
    int st = drift_plot_create(&p, title, "step", "value (log scale)");
    if (!st) {
        drift_plot_set_log(p, 0, 1);
        st = drift_plot_add_series(p, "residual R", steps, tr->residual, (size_t)tr->rows, DRIFT_PLOT_LINE_MARKERS);
    }
    if (!st) st = drift_plot_add_series(p, "unbiased MMD^2 (<= 0 not drawn)", steps, tr->mmd2, (size_t)tr->rows, DRIFT_PLOT_LINE_MARKERS);
    if (!st) st = write_plot(p, path);
    drift_plot_free(p);
    drift_free(steps);
    return st;
}

int drift_sweep_plot(const char *path, const drift_sweep_result *r, const char *title)
{
    if (!path || !r || r->n_sizes < 2 || !r->residual) return drift_error(DRIFT_EINVAL, "sweep plot: empty result");
    const int ns = r->n_sizes, nr = r->n_seeds;
    double *xr = drift_alloc((size_t)(ns * nr), sizeof(double)), *xs = drift_alloc((size_t)ns, sizeof(double));
    double *fit = drift_alloc((size_t)ns, sizeof(double)), *th = drift_alloc((size_t)ns, sizeof(double));
    if (!xr || !xs || !fit || !th) {
        drift_free(xr); drift_free(xs); drift_free(fit); drift_free(th);
        return DRIFT_ENOMEM;
    }
    /* the theory line goes through the fitted line at the geometric mean of N */
    double lmean = 0;
    for (int s = 0; s < ns; s++) lmean += log((double)r->sizes[s]) / ns;
    const double anchor = r->fit.intercept + r->fit.slope * lmean;
    for (int s = 0; s < ns; s++) {
        xs[s] = (double)r->sizes[s];
        for (int k = 0; k < nr; k++) xr[s * nr + k] = xs[s];
        fit[s] = exp(r->fit.intercept + r->fit.slope * log(xs[s]));
        th[s] = exp(anchor + r->theory * (log(xs[s]) - lmean));
    }
    char fit_name[96], th_name[64];
    snprintf(fit_name, sizeof fit_name, "fit: slope %.3f [%.3f, %.3f]", r->fit.slope, r->fit.slope_lo, r->fit.slope_hi);
    snprintf(th_name, sizeof th_name, "theory: slope %.3f = -1/(d+4)", r->theory);
    drift_plot *p = NULL;
    int st = drift_plot_create(&p, title, "particles N", "final residual R");
    if (!st) {
        drift_plot_set_log(p, 1, 1);
        st = drift_plot_add_series(p, "runs (one per seed)", xr, r->residual, (size_t)(ns * nr), DRIFT_PLOT_MARKERS);
    }
    if (!st) st = drift_plot_add_series(p, "geometric mean over seeds", xs, r->residual_mean, (size_t)ns, DRIFT_PLOT_LINE_MARKERS);
    if (!st) st = drift_plot_add_series(p, fit_name, xs, fit, (size_t)ns, DRIFT_PLOT_LINE);
    if (!st) st = drift_plot_add_series(p, th_name, xs, th, (size_t)ns, DRIFT_PLOT_DASHED);
    if (!st) st = write_plot(p, path);
    drift_plot_free(p);
    drift_free(xr); drift_free(xs); drift_free(fit); drift_free(th);
    return st;
}
