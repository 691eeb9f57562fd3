/* canvas.c — an RGB raster with clipped drawing primitives, a 5x7 bitmap font and two
 * colormaps (see drift/image.h). Everything clips to the canvas, so a figure routine can
 * draw a point far outside the axes without checking. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/image.h"

int drift_canvas_init(drift_canvas *c, int w, int h, drift_rgb background)
{
    memset(c, 0, sizeof *c);
    if (w < 1 || h < 1 || w > DRIFT_IMAGE_MAX_SIDE || h > DRIFT_IMAGE_MAX_SIDE)
        return drift_error(DRIFT_EINVAL, "canvas size %dx%d outside 1..%d", w, h,
                           DRIFT_IMAGE_MAX_SIDE);
    c->rgb = drift_alloc((size_t)w * (size_t)h, 3);
    if (!c->rgb) return DRIFT_ENOMEM;
    c->w = w;
    c->h = h;
    drift_canvas_fill_rect(c, 0, 0, w, h, background);
    return DRIFT_OK;
}

void drift_canvas_free(drift_canvas *c)
{
    drift_free(c->rgb);
    c->rgb = NULL;
    c->w = c->h = 0;
}

int drift_canvas_write_png(const drift_canvas *c, const char *path)
{
    size_t n = (size_t)c->w * (size_t)c->h;
    int gray = 1;
    for (size_t i = 0; i < n && gray; i++)
        gray = c->rgb[3 * i] == c->rgb[3 * i + 1] && c->rgb[3 * i] == c->rgb[3 * i + 2];
    if (!gray) return drift_png_write_rgb(path, c->w, c->h, c->rgb);
    uint8_t *g = drift_alloc(n, 1);
    if (!g) return DRIFT_ENOMEM;
    for (size_t i = 0; i < n; i++) g[i] = c->rgb[3 * i];
    int st = drift_png_write_gray(path, c->w, c->h, g);
    drift_free(g);
    return st;
}

void drift_canvas_set(drift_canvas *c, int x, int y, drift_rgb col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

drift_rgb drift_canvas_get(const drift_canvas *c, int x, int y)
{
    drift_rgb black = {0, 0, 0};
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return black;
    const uint8_t *p = c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    drift_rgb col = {p[0], p[1], p[2]};
    return col;
}

void drift_canvas_fill_rect(drift_canvas *c, int x, int y, int w, int h, drift_rgb col)
{
    long x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    long x1 = (long)x + w, y1 = (long)y + h;
    if (x1 > c->w) x1 = c->w;
    if (y1 > c->h) y1 = c->h;
    for (long yy = y0; yy < y1; yy++)
        for (long xx = x0; xx < x1; xx++) drift_canvas_set(c, (int)xx, (int)yy, col);
}

void drift_canvas_rect(drift_canvas *c, int x, int y, int w, int h, drift_rgb col)
{
    if (w < 1 || h < 1) return;
    drift_canvas_fill_rect(c, x, y, w, 1, col);
    drift_canvas_fill_rect(c, x, y + h - 1, w, 1, col);
    drift_canvas_fill_rect(c, x, y, 1, h, col);
    drift_canvas_fill_rect(c, x + w - 1, y, 1, h, col);
}

/* Liang-Barsky: clips the segment to [lo, hi] boxes; 0 when nothing is left. Only used
 * when an end lies outside, so lines inside the canvas are drawn exactly. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double w, double h)
{
    double dx = *x1 - *x0, dy = *y1 - *y0, t0 = 0, t1 = 1;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {*x0 + 1, w - *x0, *y0 + 1, h - *y0};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0) {
            if (r > t1) return 0;
            if (r > t0) t0 = r;
        } else {
            if (r < t0) return 0;
            if (r < t1) t1 = r;
        }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy, bx = *x0 + t1 * dx, by = *y0 + t1 * dy;
    *x0 = ax;
    *y0 = ay;
    *x1 = bx;
    *y1 = by;
    return 1;
}

void drift_canvas_line(drift_canvas *c, int x0, int y0, int x1, int y1, drift_rgb col)
{
    if (x0 < 0 || y0 < 0 || x1 < 0 || y1 < 0 || x0 >= c->w || x1 >= c->w || y0 >= c->h ||
        y1 >= c->h) {
        double ax = x0, ay = y0, bx = x1, by = y1;
        if (!clip_segment(&ax, &ay, &bx, &by, c->w, c->h)) return;
        x0 = (int)lround(ax);
        y0 = (int)lround(ay);
        x1 = (int)lround(bx);
        y1 = (int)lround(by);
    }
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        drift_canvas_set(c, x0, y0, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

void drift_canvas_dot(drift_canvas *c, int cx, int cy, int r, drift_rgb col)
{
    if (r < 0) return;
    if (r > DRIFT_IMAGE_MAX_SIDE) r = DRIFT_IMAGE_MAX_SIDE;
    long rr = (long)r * r + r; /* "+ r" rounds the disc: no single-pixel nubs at the poles */
    for (int dy = -r; dy <= r; dy++) {
        long y = (long)cy + dy;
        if (y < 0 || y >= c->h) continue;
        for (int dx = -r; dx <= r; dx++)
            if ((long)dx * dx + (long)dy * dy <= rr) {
                long x = (long)cx + dx;
                if (x >= 0 && x < c->w) drift_canvas_set(c, (int)x, (int)y, col);
            }
    }
}

void drift_view_fit(drift_view *v, const float *pts, int64_t n, int64_t stride, double margin)
{
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++) {
        const double p[2] = {pts[i * stride], pts[i * stride + 1]};
        if (!isfinite(p[0]) || !isfinite(p[1])) continue; /* a point it could not draw */
        for (int k = 0; k < 2; k++) {
            lo[k] = p[k] < lo[k] ? p[k] : lo[k];
            hi[k] = p[k] > hi[k] ? p[k] : hi[k];
        }
    }
    if (!(lo[0] <= hi[0]) || !(lo[1] <= hi[1])) {
        *v = (drift_view){0, 0, 1, 1};
        return;
    }
    const double side = fmax(hi[0] - lo[0], hi[1] - lo[1]) * (1.0 + margin) + 1e-6;
    const double cx = 0.5 * (lo[0] + hi[0]), cy = 0.5 * (lo[1] + hi[1]);
    *v = (drift_view){cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2};
}

void drift_canvas_scatter(drift_canvas *c, int px, int py, int pw, int ph, const drift_view *v, const float *pts,
                          int64_t n, int64_t stride, int r, drift_rgb col)
{
    const double sx = (double)pw / (v->x1 - v->x0), sy = (double)ph / (v->y1 - v->y0);
    for (int64_t i = 0; i < n; i++) {
        const double x = pts[i * stride], y = pts[i * stride + 1];
        if (!(x >= v->x0 && x <= v->x1 && y >= v->y0 && y <= v->y1)) continue; /* NaN too */
        drift_canvas_dot(c, (int)lround(px + (x - v->x0) * sx), (int)lround(py + ph - (y - v->y0) * sy), r, col);
    }
}

void drift_canvas_circle(drift_canvas *c, int cx, int cy, int r, drift_rgb col)
{
    if (r < 0) return;
    /* Midpoint circle: walk one octant, mirror into the other seven. */
    int x = r, y = 0, err = 1 - r;
    while (x >= y) {
        int px[8] = {x, y, -y, -x, -x, -y, y, x}, py[8] = {y, x, x, y, -y, -x, -x, -y};
        for (int i = 0; i < 8; i++) drift_canvas_set(c, cx + px[i], cy + py[i], col);
        y++;
        if (err < 0) {
            err += 2 * y + 1;
        } else {
            x--;
            err += 2 * (y - x) + 1;
        }
    }
}

/* Rounds a coordinate into int range (far-away points stay far away, NaN goes off-canvas). */
static int to_pixel(double v)
{
    if (!(v > -1e8)) return -100000000;
    if (v > 1e8) return 100000000;
    return (int)lround(v);
}

void drift_canvas_arrow(drift_canvas *c, double x0, double y0, double x1, double y1,
                        double head, drift_rgb col)
{
    drift_canvas_line(c, to_pixel(x0), to_pixel(y0), to_pixel(x1), to_pixel(y1), col);
    double dx = x1 - x0, dy = y1 - y0, len = sqrt(dx * dx + dy * dy);
    if (!(len > 0) || !(head > 0)) return;
    double ux = dx / len, uy = dy / len, ca = cos(0.45), sa = sin(0.45); /* ~26 degrees */
    for (int side = -1; side <= 1; side += 2) {
        double bx = -(ux * ca - side * uy * sa), by = -(uy * ca + side * ux * sa);
        drift_canvas_line(c, to_pixel(x1), to_pixel(y1), to_pixel(x1 + head * bx),
                          to_pixel(y1 + head * by), col);
    }
}

/* ---------------------------------------------------------------------------------- */
/* Text: printable ASCII 32..126, 7 rows of 5 bits each, bit 4 = leftmost column.      */

static const uint8_t font5x7[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ' ' */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}, /* '!' */
    {0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00}, /* '"' */
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a}, /* '#' */
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04}, /* '$' */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* '%' */
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d}, /* '&' */
    {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}, /* "'" */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* '(' */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ')' */
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00}, /* '*' */
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}, /* '+' */
    {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}, /* ',' */
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}, /* '-' */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}, /* '.' */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}, /* '/' */
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* '0' */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* '1' */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* '2' */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}, /* '3' */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* '4' */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* '5' */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* '6' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* '7' */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* '8' */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* '9' */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}, /* ':' */
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08}, /* ';' */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* '<' */
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00}, /* '=' */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* '>' */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* '?' */
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e}, /* '@' */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'A' */
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e}, /* 'B' */
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e}, /* 'C' */
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c}, /* 'D' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* 'E' */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* 'F' */
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f}, /* 'G' */
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* 'H' */
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 'I' */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c}, /* 'J' */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* 'K' */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f}, /* 'L' */
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}, /* 'M' */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* 'N' */
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'O' */
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}, /* 'P' */
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d}, /* 'Q' */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* 'R' */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* 'S' */
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* 'T' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* 'U' */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* 'V' */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a}, /* 'W' */
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11}, /* 'X' */
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04}, /* 'Y' */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f}, /* 'Z' */
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e}, /* '[' */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00}, /* '\\' */
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e}, /* ']' */
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00}, /* '^' */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f}, /* '_' */
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00}, /* '`' */
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f}, /* 'a' */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e}, /* 'b' */
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e}, /* 'c' */
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f}, /* 'd' */
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e}, /* 'e' */
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08}, /* 'f' */
    {0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* 'g' */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}, /* 'h' */
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e}, /* 'i' */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c}, /* 'j' */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}, /* 'k' */
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 'l' */
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11}, /* 'm' */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}, /* 'n' */
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e}, /* 'o' */
    {0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10}, /* 'p' */
    {0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01}, /* 'q' */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}, /* 'r' */
    {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e}, /* 's' */
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06}, /* 't' */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d}, /* 'u' */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04}, /* 'v' */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a}, /* 'w' */
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11}, /* 'x' */
    {0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e}, /* 'y' */
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f}, /* 'z' */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02}, /* '{' */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* '|' */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08}, /* '}' */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00}, /* '~' */
};

#define GLYPH_ADVANCE (DRIFT_FONT_W + 1)
#define LINE_ADVANCE (DRIFT_FONT_H + 2)

/* Next character to draw from UTF-8 text: printable ASCII as is, '\n' as is, any other
 * character (one code point, however many bytes) as '?'. */
static int next_glyph(const unsigned char **s)
{
    unsigned ch = *(*s)++;
    if (ch == '\n' || (ch >= 32 && ch < 127)) return (int)ch;
    if (ch >= 0xC0)
        while ((**s & 0xC0) == 0x80) (*s)++;
    return '?';
}

int drift_canvas_text(drift_canvas *c, int x, int y, const char *s, int scale, drift_rgb col)
{
    if (scale < 1) scale = 1;
    int cx = x, widest = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int g = next_glyph(&p);
        if (g == '\n') {
            cx = x;
            y += LINE_ADVANCE * scale;
            continue;
        }
        if (c) {
            const uint8_t *rows = font5x7[g - 32];
            for (int r = 0; r < DRIFT_FONT_H; r++)
                for (int b = 0; b < DRIFT_FONT_W; b++)
                    if (rows[r] & (0x10 >> b))
                        drift_canvas_fill_rect(c, cx + b * scale, y + r * scale, scale, scale, col);
        }
        cx += GLYPH_ADVANCE * scale;
        if (cx - x - scale > widest) widest = cx - x - scale; /* no gap after the last glyph */
    }
    return widest;
}

int drift_text_width(const char *s, int scale)
{
    return drift_canvas_text(NULL, 0, 0, s, scale, (drift_rgb){0, 0, 0});
}

int drift_text_height(const char *s, int scale)
{
    if (scale < 1) scale = 1;
    if (!*s) return 0;
    int lines = 1;
    for (const char *p = s; *p; p++) lines += *p == '\n';
    return (lines - 1) * LINE_ADVANCE * scale + DRIFT_FONT_H * scale;
}

/* ---------------------------------------------------------------------------------- */
/* Colormaps                                                                          */

static const drift_rgb nan_colour = {255, 0, 255};

static uint8_t lerp8(uint8_t a, uint8_t b, double t)
{
    return (uint8_t)lround(a + (b - a) * t);
}

static drift_rgb lerp_rgb(drift_rgb a, drift_rgb b, double t)
{
    drift_rgb o = {lerp8(a.r, b.r, t), lerp8(a.g, b.g, t), lerp8(a.b, b.b, t)};
    return o;
}

drift_rgb drift_colormap_diverging(double t)
{
    /* The end colours of matplotlib's "coolwarm" through pure white: zero is unmistakable. */
    static const drift_rgb blue = {59, 76, 192}, white = {255, 255, 255}, red = {180, 4, 38};
    if (isnan(t)) return nan_colour;
    if (t < -1) t = -1;
    if (t > 1) t = 1;
    return t < 0 ? lerp_rgb(white, blue, -t) : lerp_rgb(white, red, t);
}

drift_rgb drift_colormap_sequential(double t)
{
    /* viridis sampled at ninths of its range, linearly interpolated. */
    static const drift_rgb anchors[9] = {{68, 1, 84},    {72, 36, 117},  {59, 82, 139},
                                         {44, 114, 142}, {33, 145, 140}, {40, 174, 128},
                                         {94, 201, 98},  {173, 220, 48}, {253, 231, 37}};
    if (isnan(t)) return nan_colour;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double u = t * 8;
    int i = (int)u;
    if (i >= 8) return anchors[8];
    return lerp_rgb(anchors[i], anchors[i + 1], u - i);
}

static drift_rgb map_value(double v, float lo, float hi, drift_cmap cmap)
{
    if (cmap == DRIFT_CMAP_DIVERGING) {
        double m = fmax(fabs(lo), fabs(hi));
        return drift_colormap_diverging(m > 0 ? v / m : 0);
    }
    double span = hi - lo;
    return drift_colormap_sequential(span > 0 ? (v - lo) / span : 0.5);
}

void drift_canvas_heatmap(drift_canvas *c, int x, int y, int w, int h, const float *values,
                          int rows, int cols, float lo, float hi, drift_cmap cmap)
{
    if (!values || rows < 1 || cols < 1 || w < 1 || h < 1) return;
    for (int py = 0; py < h; py++) {
        int r = (int)((long)py * rows / h);
        for (int px = 0; px < w; px++) {
            int k = (int)((long)px * cols / w);
            drift_canvas_set(c, x + px, y + py,
                             map_value(values[(size_t)r * (size_t)cols + (size_t)k], lo, hi, cmap));
        }
    }
}

void drift_canvas_colorbar(drift_canvas *c, int x, int y, int w, int h, float lo, float hi,
                           drift_cmap cmap, int text_scale)
{
    if (w < 1 || h < 2) return;
    for (int py = 0; py < h; py++) {
        double v = hi - (double)(hi - lo) * py / (h - 1);
        drift_canvas_fill_rect(c, x, y + py, w, 1, map_value(v, lo, hi, cmap));
    }
    drift_rgb black = {0, 0, 0};
    drift_canvas_rect(c, x, y, w, h, black);
    if (text_scale < 1) text_scale = 1;
    double ticks[3] = {hi, 0.5 * ((double)lo + hi), lo};
    int th = DRIFT_FONT_H * text_scale;
    for (int i = 0; i < 3; i++) {
        char label[32];
        snprintf(label, sizeof label, "%.3g", ticks[i]);
        int ty = y + (int)lround((h - 1) * i / 2.0);
        drift_canvas_fill_rect(c, x + w, ty, 3, 1, black);
        drift_canvas_text(c, x + w + 5, ty - th / 2, label, text_scale, black);
    }
}
