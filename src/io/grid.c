/* grid.c — tiles a batch of float images into one picture (see drift/image.h). */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/image.h"

drift_grid_opts drift_grid_defaults(void)
{
    drift_grid_opts o = {.lo = -1.f, .hi = 1.f, .cols = 0, .pad = 2, .scale = 1, .chw = 0,
                         .pad_value = 128};
    return o;
}

static uint8_t to_byte(float v, float lo, float hi)
{
    double t = ((double)v - lo) / ((double)hi - lo) * 255.0;
    if (t <= 0) return 0;
    if (t >= 255) return 255;
    return (uint8_t)lround(t);
}

int drift_image_grid_canvas(const float *images, int n, int h, int w, int c,
                            const drift_grid_opts *opts, drift_canvas *out)
{
    drift_grid_opts o = opts ? *opts : drift_grid_defaults();
    memset(out, 0, sizeof *out);
    if (!images || n < 1 || h < 1 || w < 1 || (c != 1 && c != 3))
        return drift_error(DRIFT_EINVAL, "image grid: need n >= 1 images of h, w >= 1 and 1 or 3 "
                           "channels (got n=%d h=%d w=%d c=%d)", n, h, w, c);
    if (!(o.hi > o.lo) || o.pad < 0 || o.scale < 1 || o.cols < 0)
        return drift_error(DRIFT_EINVAL, "image grid: bad options (lo=%g hi=%g pad=%d scale=%d "
                           "cols=%d)", o.lo, o.hi, o.pad, o.scale, o.cols);
    int cols = o.cols > 0 ? o.cols : (int)ceil(sqrt((double)n));
    if (cols > n) cols = n;
    int rows = (n + cols - 1) / cols;
    long tile_w = (long)w * o.scale, tile_h = (long)h * o.scale;
    long W = cols * tile_w + (long)(cols + 1) * o.pad, H = rows * tile_h + (long)(rows + 1) * o.pad;
    if (W > DRIFT_IMAGE_MAX_SIDE || H > DRIFT_IMAGE_MAX_SIDE)
        return drift_error(DRIFT_EINVAL, "image grid of %ldx%ld pixels is too large (max %d)", W,
                           H, DRIFT_IMAGE_MAX_SIDE);
    drift_rgb bg = {o.pad_value, o.pad_value, o.pad_value};
    int st = drift_canvas_init(out, (int)W, (int)H, bg);
    if (st) return st;
    const drift_rgb nan_colour = {255, 0, 255};
    size_t plane = (size_t)h * (size_t)w, per_image = plane * (size_t)c;
    for (int i = 0; i < n; i++) {
        const float *img = images + (size_t)i * per_image;
        long x0 = o.pad + (i % cols) * (tile_w + o.pad), y0 = o.pad + (i / cols) * (tile_h + o.pad);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float v[3];
                size_t px = (size_t)y * (size_t)w + (size_t)x;
                for (int k = 0; k < c; k++)
                    v[k] = o.chw ? img[(size_t)k * plane + px] : img[px * (size_t)c + (size_t)k];
                if (c == 1) v[1] = v[2] = v[0];
                drift_rgb col = {to_byte(v[0], o.lo, o.hi), to_byte(v[1], o.lo, o.hi),
                                 to_byte(v[2], o.lo, o.hi)};
                if (isnan(v[0]) || isnan(v[1]) || isnan(v[2])) col = nan_colour;
                drift_canvas_fill_rect(out, (int)(x0 + (long)x * o.scale),
                                       (int)(y0 + (long)y * o.scale), o.scale, o.scale, col);
            }
    }
    return DRIFT_OK;
}

int drift_image_grid(const char *path, const float *images, int n, int h, int w, int c,
                     const drift_grid_opts *opts)
{
    drift_canvas cv;
    int st = drift_image_grid_canvas(images, n, h, w, c, opts, &cv);
    if (st) return drift_error_context(st, "%s", path ? path : "?");
    st = drift_canvas_write_png(&cv, path);
    drift_canvas_free(&cv);
    return st;
}
