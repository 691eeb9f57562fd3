/* drift/image.h — PNG files, sample grids, and a small RGB canvas for figures.
 *
 * PNG: 8-bit grayscale or RGB, written with zlib and a per-row filter choice (the usual
 * minimum-sum-of-absolute-differences heuristic), atomically. A reader for the same kind
 * of file (8-bit gray, gray+alpha, RGB, RGBA; not interlaced, not paletted) is included so
 * that tests and tools can round-trip images without another library.
 *
 * The canvas draws what drift's figures need — rectangles, lines, dots, arrows, text in a
 * built-in 5x7 font, heatmaps with a colour bar — clipped to its bounds, so callers never
 * have to check coordinates. Drawing never fails; only allocation and writing can.
 */
#ifndef DRIFT_IMAGE_H
#define DRIFT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest width or height accepted, to keep w*h*channels far from overflow. */
#define DRIFT_IMAGE_MAX_SIDE (1 << 15)

/* pixels: h rows of w bytes (gray) or w*3 bytes (RGB, r g b). */
int drift_png_write_gray(const char *path, int w, int h, const uint8_t *pixels);
int drift_png_write_rgb(const char *path, int w, int h, const uint8_t *pixels);
/* In-memory encoding (channels 1 or 3). *png is allocated; free with drift_free. */
int drift_png_encode(int w, int h, int channels, const uint8_t *pixels, unsigned char **png,
                     size_t *len);
/* Decodes 8-bit gray (1), gray+alpha (2), RGB (3) or RGBA (4) PNGs; *pixels holds
 * h*w*channels bytes (drift_free). Other PNGs are DRIFT_EUNSUPPORTED; damaged ones
 * (bad CRC, truncated, bad zlib data) DRIFT_EFORMAT naming the file. */
int drift_png_read(const char *path, int *w, int *h, int *channels, uint8_t **pixels);
int drift_png_decode(const unsigned char *png, size_t len, const char *name, int *w, int *h,
                     int *channels, uint8_t **pixels);

/* ---------------------------------------------------------------------------------- */
/* Canvas                                                                              */

typedef struct drift_rgb {
    uint8_t r, g, b;
} drift_rgb;

typedef struct drift_canvas {
    int w, h;
    uint8_t *rgb; /* h rows of w*3 bytes */
} drift_canvas;

int drift_canvas_init(drift_canvas *c, int w, int h, drift_rgb background);
void drift_canvas_free(drift_canvas *c);
/* Writes grayscale when every pixel is gray, RGB otherwise. */
int drift_canvas_write_png(const drift_canvas *c, const char *path);

void drift_canvas_set(drift_canvas *c, int x, int y, drift_rgb col);
drift_rgb drift_canvas_get(const drift_canvas *c, int x, int y); /* black outside */
void drift_canvas_fill_rect(drift_canvas *c, int x, int y, int w, int h, drift_rgb col);
void drift_canvas_rect(drift_canvas *c, int x, int y, int w, int h, drift_rgb col);
/* One-pixel line from (x0, y0) to (x1, y1), both ends included (Bresenham). */
void drift_canvas_line(drift_canvas *c, int x0, int y0, int x1, int y1, drift_rgb col);
/* Filled disc of radius r (r = 0: one pixel). */
void drift_canvas_dot(drift_canvas *c, int cx, int cy, int r, drift_rgb col);
void drift_canvas_circle(drift_canvas *c, int cx, int cy, int r, drift_rgb col);
/* Scatter plots of 2-D points (x = pts[i*stride], y = pts[i*stride + 1]): the data box v is
 * mapped onto the pixel rectangle (px, py, pw, ph) with y up; a point outside v is skipped. */
typedef struct drift_view {
    double x0, y0, x1, y1;
} drift_view;
/* The square box centred on the points' bounding box, its side the larger extent times
 * (1 + margin) (a tiny positive side when all points coincide; n = 0: the unit box). */
void drift_view_fit(drift_view *v, const float *pts, int64_t n, int64_t stride, double margin);
/* Dots of radius r (0: one pixel) at the points. */
void drift_canvas_scatter(drift_canvas *c, int px, int py, int pw, int ph, const drift_view *v, const float *pts,
                          int64_t n, int64_t stride, int r, drift_rgb col);
/* Line with a two-stroke head of length `head` pixels at (x1, y1). */
void drift_canvas_arrow(drift_canvas *c, double x0, double y0, double x1, double y1,
                        double head, drift_rgb col);

/* Text in the built-in 5x7 font (printable ASCII; anything else draws as '?'), each
 * font pixel a scale x scale block; (x, y) is the top-left corner; '\n' starts a new
 * line. Returns the width in pixels of the widest line. */
#define DRIFT_FONT_W 5
#define DRIFT_FONT_H 7
int drift_canvas_text(drift_canvas *c, int x, int y, const char *s, int scale, drift_rgb col);
int drift_text_width(const char *s, int scale);
int drift_text_height(const char *s, int scale);

/* Colormaps. diverging: t in [-1, 1], blue (-1) - white (0) - red (+1).
 * sequential: t in [0, 1], viridis (dark purple -> yellow). Out-of-range t is clamped;
 * NaN is magenta in both, so that it stands out. */
drift_rgb drift_colormap_diverging(double t);
drift_rgb drift_colormap_sequential(double t);

typedef enum { DRIFT_CMAP_SEQUENTIAL = 0, DRIFT_CMAP_DIVERGING } drift_cmap;

/* Paints a rows x cols matrix (row-major, row 0 at the top) into the rectangle
 * (x, y, w, h): value v maps to the colormap at (v - lo) / (hi - lo) (sequential) or
 * v / max(|lo|, |hi|) (diverging). */
void drift_canvas_heatmap(drift_canvas *c, int x, int y, int w, int h, const float *values,
                          int rows, int cols, float lo, float hi, drift_cmap cmap);
/* A vertical colour bar in (x, y, w, h), high values at the top, with lo / mid / hi tick
 * labels (format "%.3g") drawn to its right. */
void drift_canvas_colorbar(drift_canvas *c, int x, int y, int w, int h, float lo, float hi,
                           drift_cmap cmap, int text_scale);

/* ---------------------------------------------------------------------------------- */
/* Sample grids                                                                       */

typedef struct drift_grid_opts {
    float lo, hi;      /* value range mapped to 0..255 (default -1, 1); values clamp */
    int cols;          /* tiles per row (default 0: ceil(sqrt(n))) */
    int pad;           /* pixels around and between tiles (default 2) */
    int scale;         /* nearest-neighbour upscaling factor (default 1) */
    int chw;           /* 1: each image is (c, h, w) planes; 0: (h, w, c) interleaved */
    uint8_t pad_value; /* gray level of the padding (default 128) */
} drift_grid_opts;

drift_grid_opts drift_grid_defaults(void);

/* Tiles n images of h x w x c (c = 1 or 3) float32 pixels into a canvas (which the caller
 * frees) or straight into a PNG. NaN pixels are magenta. NULL opts = defaults. */
int drift_image_grid_canvas(const float *images, int n, int h, int w, int c,
                            const drift_grid_opts *opts, drift_canvas *out);
int drift_image_grid(const char *path, const float *images, int n, int h, int w, int c,
                     const drift_grid_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
