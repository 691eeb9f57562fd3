/* plot.c — line plots as SVG or PNG (see drift/plot.h).
 *
 * One layout computation (data ranges, ticks, the plot rectangle) feeds two renderers: an
 * SVG writer and a raster one on the drift canvas. Coordinates are computed in
 * "transformed" space (log10 on log axes) and mapped linearly to pixels.
 */
#include "drift/plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/image.h"
#include "io/atomic.h"

typedef struct {
    char *name;
    double *x, *y;
    size_t n;
    drift_plot_style style;
} series;

struct drift_plot {
    char *title, *xlabel, *ylabel;
    int width, height, log_x, log_y;
    series *s;
    size_t ns, cap;
};

/* matplotlib's "tab10": distinct, and readable on white. */
static const drift_rgb palette[10] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

#define MAX_TICKS 16

static char *copy_string(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *c = drift_alloc(n + 1, 1);
    if (c) memcpy(c, s, n + 1);
    return c;
}

int drift_plot_create(drift_plot **out, const char *title, const char *xlabel, const char *ylabel)
{
    *out = NULL;
    drift_plot *p = drift_alloc(1, sizeof *p);
    if (!p) return DRIFT_ENOMEM;
    p->width = 720;
    p->height = 450;
    p->title = copy_string(title);
    p->xlabel = copy_string(xlabel);
    p->ylabel = copy_string(ylabel);
    if ((title && !p->title) || (xlabel && !p->xlabel) || (ylabel && !p->ylabel)) {
        drift_plot_free(p);
        return DRIFT_ENOMEM;
    }
    *out = p;
    return DRIFT_OK;
}

void drift_plot_free(drift_plot *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->ns; i++) {
        drift_free(p->s[i].name);
        drift_free(p->s[i].x);
        drift_free(p->s[i].y);
    }
    drift_free(p->s);
    drift_free(p->title);
    drift_free(p->xlabel);
    drift_free(p->ylabel);
    drift_free(p);
}

int drift_plot_set_size(drift_plot *p, int width, int height)
{
    if (width < 200 || height < 150 || width > 8192 || height > 8192)
        return drift_error(DRIFT_EINVAL, "plot size %dx%d outside 200x150 .. 8192x8192", width,
                           height);
    p->width = width;
    p->height = height;
    return DRIFT_OK;
}

void drift_plot_set_log(drift_plot *p, int log_x, int log_y)
{
    p->log_x = log_x != 0;
    p->log_y = log_y != 0;
}

int drift_plot_add_series(drift_plot *p, const char *name, const double *x, const double *y,
                          size_t n, drift_plot_style style)
{
    if (n && !y) return drift_error(DRIFT_EINVAL, "plot series '%s': NULL y", name ? name : "");
    if (style < DRIFT_PLOT_LINE || style > DRIFT_PLOT_DASHED)
        return drift_error(DRIFT_EINVAL, "plot series: unknown style %d", (int)style);
    if (p->ns == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 4;
        series *grown = drift_alloc(cap, sizeof *grown);
        if (!grown) return DRIFT_ENOMEM;
        if (p->ns) memcpy(grown, p->s, p->ns * sizeof *grown);
        drift_free(p->s);
        p->s = grown;
        p->cap = cap;
    }
    series s = {copy_string(name ? name : ""), drift_alloc(n, sizeof(double)),
                drift_alloc(n, sizeof(double)), n, style};
    if (!s.name || !s.x || !s.y) {
        drift_free(s.name);
        drift_free(s.x);
        drift_free(s.y);
        return DRIFT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        s.x[i] = x ? x[i] : (double)i;
        s.y[i] = y[i];
    }
    p->s[p->ns++] = s;
    return DRIFT_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Ticks                                                                              */

/* The 1-2-5 x 10^k step whose tick count over [lo, hi] is closest to 6 (ties: more). */
static double nice_step(double lo, double hi)
{
    double best = 0, best_err = INFINITY;
    int k0 = (int)floor(log10(hi - lo));
    for (int k = k0 - 2; k <= k0 + 1; k++)
        for (int m = 0; m < 3; m++) {
            double step = (m == 0 ? 1 : m == 1 ? 2 : 5) * pow(10, k);
            double count = floor(hi / step + 1e-9) - ceil(lo / step - 1e-9) + 1;
            double err = fabs(count - 6) + (count < 6 ? 0.01 : 0.0);
            if (err < best_err) {
                best_err = err;
                best = step;
            }
        }
    return best;
}

static int linear_ticks(double lo, double hi, double *t, int max)
{
    if (!(hi > lo) || max < 1) return 0;
    double step = nice_step(lo, hi);
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); n < max; k++) {
        double v = k * step;
        if (v > hi + 1e-9 * step) break;
        t[n++] = fabs(v) < 1e-12 * step ? 0.0 : v;
    }
    return n;
}

int drift_plot_nice_ticks(double lo, double hi, int log_scale, double *ticks, int max_ticks)
{
    if (!isfinite(lo) || !isfinite(hi) || !(hi > lo) || max_ticks < 1) return 0;
    if (!log_scale) return linear_ticks(lo, hi, ticks, max_ticks);
    if (!(lo > 0)) return 0;
    double a = log10(lo), b = log10(hi);
    int first = (int)ceil(a - 1e-9), last = (int)floor(b + 1e-9), decades = last - first + 1;
    if (decades >= 2) {
        int every = (decades + 7) / 8, n = 0;
        for (int k = first; k <= last && n < max_ticks; k += every) ticks[n++] = pow(10, k);
        return n;
    }
    int n = 0;
    static const double mant[3] = {1, 2, 5};
    for (int k = (int)floor(a) - 1; k <= (int)ceil(b) && n < max_ticks; k++)
        for (int m = 0; m < 3 && n < max_ticks; m++) {
            double v = mant[m] * pow(10, k);
            if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks[n++] = v;
        }
    return n >= 2 ? n : linear_ticks(lo, hi, ticks, max_ticks);
}

/* ---------------------------------------------------------------------------------- */
/* Layout                                                                             */

typedef struct {
    double x0, x1, y0, y1;              /* axis range, transformed space */
    double left, right, top, bottom;    /* plot rectangle in pixels */
    double xt[MAX_TICKS], yt[MAX_TICKS]; /* ticks, data space */
    int nxt, nyt;
    int legend_w, legend_h;
} layout;

static int drawable(double v, int log) { return isfinite(v) && (!log || v > 0); }
static double tf(double v, int log) { return log ? log10(v) : v; }

static void axis_range(const drift_plot *p, int axis, int log, double *lo, double *hi)
{
    double a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < p->ns; i++)
        for (size_t j = 0; j < p->s[i].n; j++) {
            double x = p->s[i].x[j], y = p->s[i].y[j];
            if (!drawable(x, p->log_x) || !drawable(y, p->log_y)) continue;
            double v = tf(axis ? y : x, log);
            if (v < a) a = v;
            if (v > b) b = v;
        }
    if (a > b) { /* nothing to draw */
        a = 0;
        b = 1;
    } else if (a == b) {
        double d = log ? 1 : (fabs(a) > 0 ? 0.1 * fabs(a) : 1);
        a -= d;
        b += d;
    }
    double pad = 0.04 * (b - a);
    *lo = a - pad;
    *hi = b + pad;
}

static void make_layout(const drift_plot *p, layout *L, int char_w)
{
    axis_range(p, 0, p->log_x, &L->x0, &L->x1);
    axis_range(p, 1, p->log_y, &L->y0, &L->y1);
    L->nxt = drift_plot_nice_ticks(p->log_x ? pow(10, L->x0) : L->x0,
                                   p->log_x ? pow(10, L->x1) : L->x1, p->log_x, L->xt, MAX_TICKS);
    L->nyt = drift_plot_nice_ticks(p->log_y ? pow(10, L->y0) : L->y0,
                                   p->log_y ? pow(10, L->y1) : L->y1, p->log_y, L->yt, MAX_TICKS);
    L->left = 78;
    L->right = p->width - 20;
    L->top = p->title ? 40 : 20;
    L->bottom = p->height - 52;
    size_t longest = 0;
    for (size_t i = 0; i < p->ns; i++)
        if (strlen(p->s[i].name) > longest) longest = strlen(p->s[i].name);
    L->legend_w = (int)longest * char_w + 44;
    L->legend_h = (int)p->ns * 18 + 8;
}

static double px_x(const layout *L, double x, int log)
{
    return L->left + (tf(x, log) - L->x0) / (L->x1 - L->x0) * (L->right - L->left);
}

static double px_y(const layout *L, double y, int log)
{
    return L->bottom - (tf(y, log) - L->y0) / (L->y1 - L->y0) * (L->bottom - L->top);
}

static void tick_label(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.6g", v);
}

/* ---------------------------------------------------------------------------------- */
/* SVG                                                                                */

static void svg_text(drift_atomic_file *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': drift_atomic_printf(f, "&amp;"); break;
        case '<': drift_atomic_printf(f, "&lt;"); break;
        case '>': drift_atomic_printf(f, "&gt;"); break;
        case '"': drift_atomic_printf(f, "&quot;"); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t') drift_atomic_printf(f, "%c", *s);
        }
    }
}

static void svg_colour(char *buf, drift_rgb c) { snprintf(buf, 8, "#%02x%02x%02x", c.r, c.g, c.b); }

/* One series: polylines over runs of drawable points, dots for markers and lone points. */
static void svg_series(drift_atomic_file *f, const drift_plot *p, const layout *L, size_t k)
{
    const series *s = &p->s[k];
    char col[8];
    svg_colour(col, palette[k % 10]);
    int lines = s->style != DRIFT_PLOT_MARKERS, marks = s->style == DRIFT_PLOT_MARKERS ||
                                                        s->style == DRIFT_PLOT_LINE_MARKERS;
    drift_atomic_printf(f, "<g clip-path=\"url(#plotarea)\">\n");
    size_t i = 0;
    while (i < s->n) {
        while (i < s->n && !(drawable(s->x[i], p->log_x) && drawable(s->y[i], p->log_y))) i++;
        size_t start = i;
        while (i < s->n && drawable(s->x[i], p->log_x) && drawable(s->y[i], p->log_y)) i++;
        if (i == start) break;
        if (lines && i - start >= 2) {
            drift_atomic_printf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
                                "points=\"", col,
                                s->style == DRIFT_PLOT_DASHED ? " stroke-dasharray=\"6,4\"" : "");
            for (size_t j = start; j < i; j++)
                drift_atomic_printf(f, "%s%.2f,%.2f", j > start ? " " : "",
                                    px_x(L, s->x[j], p->log_x), px_y(L, s->y[j], p->log_y));
            drift_atomic_printf(f, "\"/>\n");
        }
        if (marks || i - start == 1)
            for (size_t j = start; j < i; j++)
                drift_atomic_printf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"/>\n",
                                    px_x(L, s->x[j], p->log_x), px_y(L, s->y[j], p->log_y), col);
    }
    drift_atomic_printf(f, "</g>\n");
}

int drift_plot_write_svg(const drift_plot *p, const char *path)
{
    layout L;
    make_layout(p, &L, 7);
    drift_atomic_file f;
    int st = drift_atomic_open(&f, path);
    if (st) return st;
    double pw = L.right - L.left, ph = L.bottom - L.top;
    drift_atomic_printf(&f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                        "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
                        p->width, p->height, p->width, p->height);
    drift_atomic_printf(&f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                        "<defs><clipPath id=\"plotarea\"><rect x=\"%.1f\" y=\"%.1f\" "
                        "width=\"%.1f\" height=\"%.1f\"/></clipPath></defs>\n",
                        L.left, L.top, pw, ph);
    /* grid and ticks */
    drift_atomic_printf(&f, "<g class=\"xticks\" text-anchor=\"middle\">\n");
    for (int i = 0; i < L.nxt; i++) {
        char lab[32];
        double x = px_x(&L, L.xt[i], p->log_x);
        tick_label(lab, sizeof lab, L.xt[i]);
        drift_atomic_printf(&f, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" "
                            "stroke=\"#e6e6e6\"/><line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" "
                            "y2=\"%.1f\" stroke=\"black\"/><text x=\"%.2f\" y=\"%.1f\">%s</text>\n",
                            x, L.top, x, L.bottom, x, L.bottom, x, L.bottom + 5, x, L.bottom + 18,
                            lab);
    }
    drift_atomic_printf(&f, "</g>\n<g class=\"yticks\" text-anchor=\"end\">\n");
    for (int i = 0; i < L.nyt; i++) {
        char lab[32];
        double y = px_y(&L, L.yt[i], p->log_y);
        tick_label(lab, sizeof lab, L.yt[i]);
        drift_atomic_printf(&f, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" "
                            "stroke=\"#e6e6e6\"/><line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" "
                            "y2=\"%.2f\" stroke=\"black\"/><text x=\"%.1f\" y=\"%.2f\">%s</text>\n",
                            L.left, y, L.right, y, L.left - 5, y, L.left, y, L.left - 8, y + 4,
                            lab);
    }
    drift_atomic_printf(&f, "</g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        "fill=\"none\" stroke=\"black\"/>\n", L.left, L.top, pw, ph);
    if (p->title) {
        drift_atomic_printf(&f, "<text x=\"%.1f\" y=\"24\" text-anchor=\"middle\" "
                            "font-size=\"15\">", L.left + pw / 2);
        svg_text(&f, p->title);
        drift_atomic_printf(&f, "</text>\n");
    }
    if (p->xlabel) {
        drift_atomic_printf(&f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
                            L.left + pw / 2, p->height - 12);
        svg_text(&f, p->xlabel);
        drift_atomic_printf(&f, "</text>\n");
    }
    if (p->ylabel) {
        drift_atomic_printf(&f, "<text transform=\"translate(18,%.1f) rotate(-90)\" "
                            "text-anchor=\"middle\">", L.top + ph / 2);
        svg_text(&f, p->ylabel);
        drift_atomic_printf(&f, "</text>\n");
    }
    for (size_t k = 0; k < p->ns; k++) svg_series(&f, p, &L, k);
    if (p->ns) {
        double lx = L.right - L.legend_w - 8, ly = L.top + 8;
        drift_atomic_printf(&f, "<g class=\"legend\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" "
                            "height=\"%d\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>\n",
                            lx, ly, L.legend_w, L.legend_h);
        for (size_t k = 0; k < p->ns; k++) {
            char col[8];
            svg_colour(col, palette[k % 10]);
            double y = ly + 16 + 18.0 * k;
            if (p->s[k].style == DRIFT_PLOT_MARKERS)
                drift_atomic_printf(&f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                                    lx + 20, y - 4, col);
            else
                drift_atomic_printf(&f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                                    "stroke=\"%s\" stroke-width=\"2\"%s/>", lx + 8, y - 4, lx + 32,
                                    y - 4, col, p->s[k].style == DRIFT_PLOT_DASHED
                                                    ? " stroke-dasharray=\"6,4\"" : "");
            drift_atomic_printf(&f, "<text x=\"%.1f\" y=\"%.1f\">", lx + 38, y);
            svg_text(&f, p->s[k].name);
            drift_atomic_printf(&f, "</text>\n");
        }
        drift_atomic_printf(&f, "</g>\n");
    }
    drift_atomic_printf(&f, "</svg>\n");
    if (f.failed) {
        drift_atomic_abort(&f);
        return DRIFT_EIO;
    }
    return drift_atomic_commit(&f);
}

/* ---------------------------------------------------------------------------------- */
/* PNG, through the canvas                                                            */

/* A line drawn dashed: on 6 px, off 4 px, the pattern continuing across segments. */
static void dashed_line(drift_canvas *c, double x0, double y0, double x1, double y1,
                        double *phase, drift_rgb col)
{
    double len = hypot(x1 - x0, y1 - y0);
    if (!(len > 0) || len > 1e6) return;
    for (double d = 0; d < len; d += 1) {
        double t = d / len, ph = fmod(*phase + d, 10.0);
        if (ph < 6)
            drift_canvas_set(c, (int)lround(x0 + t * (x1 - x0)), (int)lround(y0 + t * (y1 - y0)),
                             col);
    }
    *phase = fmod(*phase + len, 10.0);
}

static int clamp_px(double v) { return v < -1e6 ? -1000000 : v > 1e6 ? 1000000 : (int)lround(v); }

int drift_plot_write_png(const drift_plot *p, const char *path)
{
    layout L;
    make_layout(p, &L, 6);
    drift_canvas c;
    drift_rgb white = {255, 255, 255}, black = {0, 0, 0}, grid = {230, 230, 230},
              frame = {153, 153, 153};
    int st = drift_canvas_init(&c, p->width, p->height, white);
    if (st) return st;
    int l = (int)L.left, r = (int)L.right, t = (int)L.top, b = (int)L.bottom;
    for (int i = 0; i < L.nxt; i++) {
        char lab[32];
        int x = (int)lround(px_x(&L, L.xt[i], p->log_x));
        tick_label(lab, sizeof lab, L.xt[i]);
        drift_canvas_line(&c, x, t, x, b, grid);
        drift_canvas_line(&c, x, b, x, b + 4, black);
        drift_canvas_text(&c, x - drift_text_width(lab, 1) / 2, b + 8, lab, 1, black);
    }
    for (int i = 0; i < L.nyt; i++) {
        char lab[32];
        int y = (int)lround(px_y(&L, L.yt[i], p->log_y));
        tick_label(lab, sizeof lab, L.yt[i]);
        drift_canvas_line(&c, l, y, r, y, grid);
        drift_canvas_line(&c, l - 4, y, l, y, black);
        drift_canvas_text(&c, l - 7 - drift_text_width(lab, 1), y - 3, lab, 1, black);
    }
    drift_canvas_rect(&c, l, t, r - l + 1, b - t + 1, black);
    if (p->title)
        drift_canvas_text(&c, (l + r) / 2 - drift_text_width(p->title, 2) / 2, 12, p->title, 2,
                          black);
    if (p->xlabel)
        drift_canvas_text(&c, (l + r) / 2 - drift_text_width(p->xlabel, 1) / 2, p->height - 20,
                          p->xlabel, 1, black);
    if (p->ylabel) /* the font has no vertical text: the y label sits above the axis */
        drift_canvas_text(&c, 4, t - 12 < 2 ? 2 : t - 12, p->ylabel, 1, black);

    /* Series are clipped to the plot rectangle by drawing on a copy and pasting back. */
    drift_canvas area;
    if ((st = drift_canvas_init(&area, p->width, p->height, white))) {
        drift_canvas_free(&c);
        return st;
    }
    memcpy(area.rgb, c.rgb, (size_t)c.w * c.h * 3);
    for (size_t k = 0; k < p->ns; k++) {
        const series *s = &p->s[k];
        drift_rgb col = palette[k % 10];
        double phase = 0;
        int have_prev = 0;
        double px = 0, py = 0;
        for (size_t j = 0; j < s->n; j++) {
            if (!drawable(s->x[j], p->log_x) || !drawable(s->y[j], p->log_y)) {
                have_prev = 0;
                continue;
            }
            double x = px_x(&L, s->x[j], p->log_x), y = px_y(&L, s->y[j], p->log_y);
            int lone = !have_prev && (j + 1 >= s->n || !drawable(s->x[j + 1], p->log_x) ||
                                      !drawable(s->y[j + 1], p->log_y));
            if (have_prev && s->style == DRIFT_PLOT_DASHED)
                dashed_line(&area, px, py, x, y, &phase, col);
            else if (have_prev && s->style != DRIFT_PLOT_MARKERS)
                drift_canvas_line(&area, clamp_px(px), clamp_px(py), clamp_px(x), clamp_px(y), col);
            if (s->style == DRIFT_PLOT_MARKERS || s->style == DRIFT_PLOT_LINE_MARKERS || lone)
                drift_canvas_dot(&area, clamp_px(x), clamp_px(y), 2, col);
            px = x;
            py = y;
            have_prev = 1;
        }
    }
    for (int y = t + 1; y < b; y++)
        memcpy(c.rgb + 3 * ((size_t)y * c.w + l + 1), area.rgb + 3 * ((size_t)y * c.w + l + 1),
               3 * (size_t)(r - l - 1));
    drift_canvas_free(&area);

    if (p->ns) {
        int lx = r - L.legend_w - 8, ly = t + 8;
        drift_canvas_fill_rect(&c, lx, ly, L.legend_w, L.legend_h, white);
        drift_canvas_rect(&c, lx, ly, L.legend_w, L.legend_h, frame);
        for (size_t k = 0; k < p->ns; k++) {
            int y = ly + 12 + 18 * (int)k;
            drift_rgb col = palette[k % 10];
            if (p->s[k].style == DRIFT_PLOT_MARKERS) {
                drift_canvas_dot(&c, lx + 20, y, 3, col);
            } else {
                drift_canvas_fill_rect(&c, lx + 8, y - 1, 24, 2, col);
            }
            drift_canvas_text(&c, lx + 38, y - 3, p->s[k].name, 1, black);
        }
    }
    st = drift_canvas_write_png(&c, path);
    drift_canvas_free(&c);
    return st;
}
