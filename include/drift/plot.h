/* drift/plot.h — line plots (loss curves, convergence-rate slopes) as SVG or PNG.
 *
 * Build a plot, add series (copied, so the caller's arrays may go away), pick linear or
 * log axes, write. Axes get "nice" ticks (1-2-5 steps, or decades on log axes), labels,
 * a title and a legend. Points that cannot be drawn — NaN/Inf, or <= 0 on a log axis —
 * are skipped and break the line there, so a diverged run shows as a gap, not a lie.
 * Files are written atomically. The PNG renderer draws the same layout on the canvas of
 * drift/image.h with its bitmap font, for places where an SVG viewer is not at hand.
 */
#ifndef DRIFT_PLOT_H
#define DRIFT_PLOT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drift_plot drift_plot;

typedef enum {
    DRIFT_PLOT_LINE = 0,    /* solid line */
    DRIFT_PLOT_MARKERS,     /* dots only (measured points of a slope fit) */
    DRIFT_PLOT_LINE_MARKERS,
    DRIFT_PLOT_DASHED,      /* reference lines (e.g. slope -1/2) */
} drift_plot_style;

/* Any of the strings may be NULL (nothing drawn). */
int drift_plot_create(drift_plot **out, const char *title, const char *xlabel, const char *ylabel);
void drift_plot_free(drift_plot *p);
/* Pixel size (default 720 x 450; at least 200 x 150). */
int drift_plot_set_size(drift_plot *p, int width, int height);
void drift_plot_set_log(drift_plot *p, int log_x, int log_y);
/* Adds n points (x may be NULL: x = 0, 1, ..., n-1). Colours cycle through a fixed
 * palette in the order series are added. */
int drift_plot_add_series(drift_plot *p, const char *name, const double *x, const double *y,
                          size_t n, drift_plot_style style);
int drift_plot_write_svg(const drift_plot *p, const char *path);
int drift_plot_write_png(const drift_plot *p, const char *path);

/* Tick positions covering [lo, hi]: 1-2-5 x 10^k steps (about 4-8 ticks), or on a log
 * axis the powers of ten (thinned to at most ~8; 1-2-5 mantissas when the range spans
 * less than a decade). Returns the number written (<= max_ticks). */
int drift_plot_nice_ticks(double lo, double hi, int log_scale, double *ticks, int max_ticks);

#ifdef __cplusplus
}
#endif
#endif
