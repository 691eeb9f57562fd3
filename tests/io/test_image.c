/* Tests for PNG encode/decode, the canvas primitives, font, colormaps and image grids. */
#include <dirent.h>
#include <unistd.h>
#include <zlib.h>

#include "drift/core.h"
#include "drift/image.h"
#include "drift/rng.h"
#include "test.h"

static char tmpdir[64];

static int same_rgb(drift_rgb a, drift_rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static int count_colour(const drift_canvas *c, drift_rgb col)
{
    int n = 0;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++) n += same_rgb(drift_canvas_get(c, x, y), col);
    return n;
}

static void test_png_round_trip(void)
{
    drift_rng r;
    drift_rng_init(&r, 5, 0);
    const int sizes[][2] = {{1, 1}, {7, 5}, {33, 17}, {64, 3}, {2, 40}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int ch = 1; ch <= 3; ch += 2) {
            int w = sizes[s][0], h = sizes[s][1];
            for (int kind = 0; kind < 2; kind++) {
                uint8_t *px = drift_alloc((size_t)w * h * ch, 1);
                /* random bytes, and smooth gradients (which pick sub/up/paeth filters) */
                for (int i = 0; i < w * h * ch; i++)
                    px[i] = kind ? (uint8_t)(drift_rng_u32(&r) & 0xff)
                                 : (uint8_t)((i % (w * ch)) * 3 + (i / (w * ch)) * 5);
                unsigned char *png;
                size_t len;
                CHECK_OK(drift_png_encode(w, h, ch, px, &png, &len));
                int dw, dh, dc;
                uint8_t *back;
                CHECK_OK(drift_png_decode(png, len, "rt.png", &dw, &dh, &dc, &back));
                CHECK(dw == w && dh == h && dc == ch);
                CHECK(memcmp(back, px, (size_t)w * h * ch) == 0);
                drift_free(back);
                drift_free(png);
                drift_free(px);
            }
        }
    }
    /* Through a file. */
    uint8_t rgb[2 * 3 * 3] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90};
    char path[128];
    snprintf(path, sizeof path, "%s/f.png", tmpdir);
    CHECK_OK(drift_png_write_rgb(path, 3, 2, rgb));
    int w, h, c;
    uint8_t *back;
    CHECK_OK(drift_png_read(path, &w, &h, &c, &back));
    CHECK(w == 3 && h == 2 && c == 3 && memcmp(back, rgb, sizeof rgb) == 0);
    drift_free(back);
    CHECK_OK(drift_png_write_gray(path, 6, 3, rgb));
    CHECK_OK(drift_png_read(path, &w, &h, &c, &back));
    CHECK(w == 6 && h == 3 && c == 1 && memcmp(back, rgb, 18) == 0);
    drift_free(back);
    CHECK(drift_png_write_gray(path, 0, 3, rgb) == DRIFT_EINVAL);
    CHECK(drift_png_write_rgb("/nonexistent-dir/a.png", 1, 1, rgb) == DRIFT_EIO);
}

/* Appends a chunk with a correct CRC. */
static size_t chunk(unsigned char *out, size_t pos, const char *type, const void *data, uint32_t n)
{
    unsigned char *p = out + pos;
    p[0] = (unsigned char)(n >> 24); p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8);  p[3] = (unsigned char)n;
    memcpy(p + 4, type, 4);
    if (n) memcpy(p + 8, data, n);
    uLong crc = crc32(crc32(0L, p + 4, 4), p + 8, n);
    p[8 + n] = (unsigned char)(crc >> 24); p[9 + n] = (unsigned char)(crc >> 16);
    p[10 + n] = (unsigned char)(crc >> 8); p[11 + n] = (unsigned char)crc;
    return pos + 12 + n;
}

/* A PNG of a w x h image with the given IHDR fields and raw (filtered) scanlines. */
static size_t craft(unsigned char *out, int w, int h, int depth, int colour, int interlace,
                    const unsigned char *raw, size_t rawlen)
{
    memcpy(out, "\x89PNG\r\n\x1a\n", 8);
    unsigned char ihdr[13] = {0, 0, 0, (unsigned char)w, 0, 0, 0, (unsigned char)h,
                              (unsigned char)depth, (unsigned char)colour, 0, 0,
                              (unsigned char)interlace};
    size_t pos = chunk(out, 8, "IHDR", ihdr, 13);
    unsigned char z[512];
    uLongf zl = sizeof z;
    compress2(z, &zl, raw, rawlen, 6);
    pos = chunk(out, pos, "IDAT", z, (uint32_t)zl);
    return chunk(out, pos, "IEND", NULL, 0);
}

static void test_png_damaged(void)
{
    unsigned char buf[1024], raw[64] = {0};
    int w, h, c;
    uint8_t *px = NULL;
    /* A valid 4x4 gray image to start from. */
    size_t len = craft(buf, 4, 4, 8, 0, 0, raw, 4 * 5);
    CHECK_OK(drift_png_decode(buf, len, "ok.png", &w, &h, &c, &px));
    drift_free(px);
    /* Every truncation fails cleanly. */
    for (size_t cut = 0; cut < len; cut++) {
        int st = drift_png_decode(buf, cut, "cut.png", &w, &h, &c, &px);
        CHECK_MSG(st == DRIFT_EFORMAT && px == NULL, "cut at %zu: %d", cut, st);
    }
    CHECK(strstr(drift_last_error(), "cut.png") != NULL);
    /* Every single-bit flip fails cleanly (CRC or signature). */
    int flips_ok = 1;
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x04;
        int st = drift_png_decode(buf, len, "flip.png", &w, &h, &c, &px);
        flips_ok &= st == DRIFT_EFORMAT && px == NULL;
        buf[i] ^= 0x04;
    }
    CHECK(flips_ok);
    buf[3] = 'X';
    CHECK(drift_png_decode(buf, len, "sig.png", &w, &h, &c, &px) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "signature") != NULL);

    len = craft(buf, 4, 4, 16, 0, 0, raw, 4 * 9);
    CHECK(drift_png_decode(buf, len, "d16.png", &w, &h, &c, &px) == DRIFT_EUNSUPPORTED);
    CHECK(strstr(drift_last_error(), "bit depth 16") != NULL);
    len = craft(buf, 4, 4, 8, 0, 1, raw, 4 * 5);
    CHECK(drift_png_decode(buf, len, "adam7.png", &w, &h, &c, &px) == DRIFT_EUNSUPPORTED);
    len = craft(buf, 4, 4, 8, 3, 0, raw, 4 * 5);
    CHECK(drift_png_decode(buf, len, "palette.png", &w, &h, &c, &px) == DRIFT_EUNSUPPORTED);
    /* Filter byte 5 does not exist. */
    raw[5] = 5;
    len = craft(buf, 4, 4, 8, 0, 0, raw, 4 * 5);
    CHECK(drift_png_decode(buf, len, "filter.png", &w, &h, &c, &px) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "filter type 5 in row 1") != NULL);
    raw[5] = 0;
    /* Too little and too much pixel data. */
    len = craft(buf, 4, 4, 8, 0, 0, raw, 4 * 5 - 1);
    CHECK(drift_png_decode(buf, len, "short.png", &w, &h, &c, &px) == DRIFT_EFORMAT);
    len = craft(buf, 4, 4, 8, 0, 0, raw, 4 * 5 + 1);
    CHECK(drift_png_decode(buf, len, "long.png", &w, &h, &c, &px) == DRIFT_EFORMAT);
    /* RGBA and gray+alpha decode to 4 and 2 channels. */
    unsigned char rgba_raw[2 * (1 + 8)] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 2, 1, 1, 1, 1, 1, 1, 1, 1};
    len = craft(buf, 2, 2, 8, 6, 0, rgba_raw, sizeof rgba_raw);
    CHECK_OK(drift_png_decode(buf, len, "rgba.png", &w, &h, &c, &px));
    CHECK(c == 4 && px[8] == 2 && px[15] == 9); /* "up" filter adds the row above */
    drift_free(px);
}

static void test_canvas_primitives(void)
{
    drift_rgb white = {255, 255, 255}, red = {255, 0, 0}, blue = {0, 0, 255};
    drift_canvas c;
    CHECK(drift_canvas_init(&c, 0, 5, white) == DRIFT_EINVAL);
    CHECK_OK(drift_canvas_init(&c, 40, 30, white));
    CHECK(count_colour(&c, white) == 1200);
    drift_canvas_set(&c, -1, 3, red); /* clipped silently */
    drift_canvas_set(&c, 40, 3, red);
    drift_canvas_set(&c, 3, 4, red);
    CHECK(same_rgb(drift_canvas_get(&c, 3, 4), red) && count_colour(&c, red) == 1);

    drift_canvas_fill_rect(&c, 0, 0, 40, 30, white);
    drift_canvas_fill_rect(&c, 35, 25, 10, 10, red); /* 5 x 5 visible */
    CHECK(count_colour(&c, red) == 25);
    drift_canvas_fill_rect(&c, 0, 0, 40, 30, white);
    drift_canvas_rect(&c, 2, 3, 6, 4, red);
    CHECK(count_colour(&c, red) == 2 * 6 + 2 * 4 - 4);
    CHECK(same_rgb(drift_canvas_get(&c, 7, 6), red) && same_rgb(drift_canvas_get(&c, 4, 4), white));

    /* Lines: both ends included, one pixel per step along the major axis. */
    drift_canvas_fill_rect(&c, 0, 0, 40, 30, white);
    drift_canvas_line(&c, 5, 5, 9, 9, red);
    CHECK(count_colour(&c, red) == 5);
    for (int i = 5; i <= 9; i++) CHECK(same_rgb(drift_canvas_get(&c, i, i), red));
    drift_canvas_line(&c, 0, 20, 39, 24, blue);
    CHECK(count_colour(&c, blue) == 40);
    CHECK(same_rgb(drift_canvas_get(&c, 0, 20), blue) && same_rgb(drift_canvas_get(&c, 39, 24), blue));
    /* Far-away ends are clipped, not walked. */
    drift_canvas_fill_rect(&c, 0, 0, 40, 30, white);
    drift_canvas_line(&c, -100000000, 10, 100000000, 10, red);
    CHECK(count_colour(&c, red) == 40);
    drift_canvas_line(&c, -50, -50, -10, -40, red); /* entirely outside */
    CHECK(count_colour(&c, red) == 40);

    /* Dot of radius 2: 21 pixels (x^2 + y^2 <= r^2 + r), symmetric. */
    drift_canvas_fill_rect(&c, 0, 0, 40, 30, white);
    drift_canvas_dot(&c, 20, 15, 2, red);
    CHECK(count_colour(&c, red) == 21);
    CHECK(same_rgb(drift_canvas_get(&c, 22, 15), red) && same_rgb(drift_canvas_get(&c, 20, 13), red));
    CHECK(same_rgb(drift_canvas_get(&c, 22, 17), white));
    drift_canvas_fill_rect(&c, 0, 0, 40, 30, white);
    drift_canvas_dot(&c, 0, 0, 0, red);
    CHECK(count_colour(&c, red) == 1);

    /* Circle outline: every pixel within half a pixel of the radius, axis points present. */
    drift_canvas_fill_rect(&c, 0, 0, 40, 30, white);
    drift_canvas_circle(&c, 20, 15, 8, red);
    int on_ring = 1, n = 0;
    for (int y = 0; y < 30; y++)
        for (int x = 0; x < 40; x++)
            if (same_rgb(drift_canvas_get(&c, x, y), red)) {
                double d = hypot(x - 20, y - 15);
                on_ring &= d > 7.4 && d < 8.6;
                n++;
            }
    CHECK(on_ring && n > 40);
    CHECK(same_rgb(drift_canvas_get(&c, 28, 15), red) && same_rgb(drift_canvas_get(&c, 20, 7), red));

    /* Arrow to the right: shaft ends at the tip, head strokes go back up and down. */
    drift_canvas_fill_rect(&c, 0, 0, 40, 30, white);
    drift_canvas_arrow(&c, 5, 15, 30, 15, 6, red);
    CHECK(same_rgb(drift_canvas_get(&c, 5, 15), red) && same_rgb(drift_canvas_get(&c, 30, 15), red));
    int above = 0, below = 0;
    for (int y = 0; y < 30; y++)
        for (int x = 24; x < 30; x++)
            if (same_rgb(drift_canvas_get(&c, x, y), red)) {
                above += y < 15;
                below += y > 15;
            }
    CHECK(above >= 2 && below >= 2 && above == below);
    drift_canvas_free(&c);
}

static void test_text(void)
{
    drift_rgb white = {255, 255, 255}, black = {0, 0, 0};
    drift_canvas c;
    CHECK_OK(drift_canvas_init(&c, 60, 30, white));
    /* 'T' is ##### then ..#.. six times. */
    CHECK(drift_canvas_text(&c, 10, 5, "T", 1, black) == 5);
    for (int x = 10; x < 15; x++) CHECK(same_rgb(drift_canvas_get(&c, x, 5), black));
    for (int y = 6; y < 12; y++) {
        CHECK(same_rgb(drift_canvas_get(&c, 12, y), black));
        CHECK(same_rgb(drift_canvas_get(&c, 11, y), white));
    }
    CHECK(count_colour(&c, black) == 11);
    /* Scale 2: every font pixel a 2x2 block. */
    drift_canvas_fill_rect(&c, 0, 0, 60, 30, white);
    drift_canvas_text(&c, 0, 0, "T", 2, black);
    CHECK(count_colour(&c, black) == 44);
    drift_canvas_free(&c);

    CHECK(drift_text_width("AB", 1) == 11 && drift_text_width("AB", 2) == 22);
    CHECK(drift_text_width("ab\ncde", 1) == 17);
    CHECK(drift_text_height("ab\ncde", 1) == 16 && drift_text_height("x", 3) == 21);
    CHECK(drift_text_width("caf\xc3\xa9", 1) == drift_text_width("cafe", 1)); /* é is one '?' */
    CHECK(drift_text_width("", 1) == 0);
    /* Every printable glyph but space draws something, and glyphs differ. */
    int all_drawn = 1;
    uint64_t hashes[95];
    for (int ch = 33; ch < 127; ch++) {
        drift_canvas g;
        drift_canvas_init(&g, 5, 7, white);
        char s[2] = {(char)ch, 0};
        drift_canvas_text(&g, 0, 0, s, 1, black);
        uint64_t hash = 0;
        for (int i = 0; i < 35; i++) hash = hash << 1 | (g.rgb[3 * i] == 0);
        hashes[ch - 32] = hash;
        all_drawn &= hash != 0;
        drift_canvas_free(&g);
    }
    CHECK(all_drawn);
    int distinct = 1;
    for (int i = 1; i < 95; i++)
        for (int j = i + 1; j < 95; j++) distinct &= hashes[i] != hashes[j];
    CHECK(distinct);
}

static void test_colormaps(void)
{
    drift_rgb w = drift_colormap_diverging(0), b = drift_colormap_diverging(-1),
              r = drift_colormap_diverging(1);
    CHECK(w.r == 255 && w.g == 255 && w.b == 255);
    CHECK(b.b > b.r && b.b > b.g && r.r > r.g && r.r > r.b);
    CHECK(same_rgb(drift_colormap_diverging(-7), b) && same_rgb(drift_colormap_diverging(3), r));
    int monotone = 1;
    for (int i = 1; i <= 20; i++) { /* moving away from zero, the other channels fade */
        drift_rgb p = drift_colormap_diverging(i / 20.0), q = drift_colormap_diverging((i - 1) / 20.0);
        monotone &= p.g <= q.g;
        p = drift_colormap_diverging(-i / 20.0);
        q = drift_colormap_diverging(-(i - 1) / 20.0);
        monotone &= p.r <= q.r;
    }
    CHECK(monotone);
    drift_rgb lo = drift_colormap_sequential(0), hi = drift_colormap_sequential(1);
    CHECK(lo.r == 68 && lo.g == 1 && lo.b == 84 && hi.r == 253 && hi.g == 231 && hi.b == 37);
    double prev = -1;
    int brighter = 1;
    for (int i = 0; i <= 40; i++) { /* viridis gets lighter all the way */
        drift_rgb p = drift_colormap_sequential(i / 40.0);
        double lum = 0.299 * p.r + 0.587 * p.g + 0.114 * p.b;
        brighter &= lum > prev;
        prev = lum;
    }
    CHECK(brighter);
    drift_rgb nan1 = drift_colormap_sequential(NAN), nan2 = drift_colormap_diverging(NAN);
    CHECK(nan1.r == 255 && nan1.g == 0 && nan1.b == 255 && same_rgb(nan1, nan2));
}

static void test_heatmap_and_colorbar(void)
{
    drift_rgb white = {255, 255, 255};
    drift_canvas c;
    CHECK_OK(drift_canvas_init(&c, 60, 40, white));
    float m[4] = {0.f, 1.f, 2.f, 3.f};
    drift_canvas_heatmap(&c, 4, 4, 10, 6, m, 2, 2, 0.f, 3.f, DRIFT_CMAP_SEQUENTIAL);
    CHECK(same_rgb(drift_canvas_get(&c, 4, 4), drift_colormap_sequential(0)));
    CHECK(same_rgb(drift_canvas_get(&c, 13, 4), drift_colormap_sequential(1 / 3.0)));
    CHECK(same_rgb(drift_canvas_get(&c, 4, 9), drift_colormap_sequential(2 / 3.0)));
    CHECK(same_rgb(drift_canvas_get(&c, 13, 9), drift_colormap_sequential(1)));
    CHECK(same_rgb(drift_canvas_get(&c, 14, 4), white) && same_rgb(drift_canvas_get(&c, 4, 10), white));
    float d[2] = {-2.f, 1.f};
    drift_canvas_heatmap(&c, 20, 0, 2, 1, d, 1, 2, -2.f, 1.f, DRIFT_CMAP_DIVERGING);
    CHECK(same_rgb(drift_canvas_get(&c, 20, 0), drift_colormap_diverging(-1)));
    CHECK(same_rgb(drift_canvas_get(&c, 21, 0), drift_colormap_diverging(0.5)));

    drift_canvas_fill_rect(&c, 0, 0, 60, 40, white);
    drift_canvas_colorbar(&c, 5, 5, 6, 21, -1.f, 1.f, DRIFT_CMAP_DIVERGING, 1);
    CHECK(same_rgb(drift_canvas_get(&c, 7, 6), drift_colormap_diverging(0.9))); /* inside border */
    CHECK(same_rgb(drift_canvas_get(&c, 7, 15), drift_colormap_diverging(0)));
    CHECK(same_rgb(drift_canvas_get(&c, 7, 24), drift_colormap_diverging(-0.9)));
    drift_rgb black = {0, 0, 0};
    int label_ink = 0;
    for (int y = 0; y < 40; y++)
        for (int x = 16; x < 60; x++) label_ink += same_rgb(drift_canvas_get(&c, x, y), black);
    CHECK(label_ink > 20); /* "1", "0", "-1" drawn to the right */
    drift_canvas_free(&c);
}

static void test_grid(void)
{
    /* 3 gray 2x2 images, 2 columns, pad 1, scale 2: 11 x 11 pixels. */
    float imgs[12] = {-1, 1, 0, 0.5f, 1, 1, 1, 1, -1, -1, -1, NAN};
    drift_grid_opts o = drift_grid_defaults();
    o.cols = 2;
    o.pad = 1;
    o.scale = 2;
    o.pad_value = 7;
    drift_canvas c;
    CHECK_OK(drift_image_grid_canvas(imgs, 3, 2, 2, 1, &o, &c));
    CHECK(c.w == 11 && c.h == 11);
    CHECK(drift_canvas_get(&c, 0, 0).r == 7 && drift_canvas_get(&c, 5, 5).r == 7);
    CHECK(drift_canvas_get(&c, 1, 1).r == 0 && drift_canvas_get(&c, 2, 2).r == 0);
    CHECK(drift_canvas_get(&c, 3, 1).r == 255 && drift_canvas_get(&c, 4, 2).r == 255);
    CHECK(drift_canvas_get(&c, 1, 3).r == 128 && drift_canvas_get(&c, 3, 3).r == 191);
    CHECK(drift_canvas_get(&c, 6, 1).r == 255);  /* image 1, top-left */
    CHECK(drift_canvas_get(&c, 1, 6).r == 0);    /* image 2, row 2 */
    drift_rgb nan = drift_canvas_get(&c, 3, 8);  /* image 2's NaN pixel */
    CHECK(nan.r == 255 && nan.g == 0 && nan.b == 255);
    CHECK(drift_canvas_get(&c, 6, 6).r == 7);    /* empty 4th slot stays padding */
    drift_canvas_free(&c);

    /* RGB: CHW planes and HWC interleaving give the same picture. */
    float hwc[2 * 1 * 3] = {-1, 0, 1, 1, -1, 0}, chw[6] = {-1, 1, 0, -1, 1, 0};
    o = drift_grid_defaults();
    o.pad = 0;
    drift_canvas a, b;
    CHECK_OK(drift_image_grid_canvas(hwc, 1, 1, 2, 3, &o, &a));
    o.chw = 1;
    CHECK_OK(drift_image_grid_canvas(chw, 1, 1, 2, 3, &o, &b));
    CHECK(a.w == 2 && a.h == 1 && memcmp(a.rgb, b.rgb, 6) == 0);
    CHECK(a.rgb[0] == 0 && a.rgb[1] == 128 && a.rgb[2] == 255 && a.rgb[3] == 255);
    drift_canvas_free(&a);
    drift_canvas_free(&b);

    CHECK(drift_image_grid_canvas(imgs, 3, 2, 2, 2, NULL, &c) == DRIFT_EINVAL);
    o = drift_grid_defaults();
    o.hi = o.lo;
    CHECK(drift_image_grid_canvas(imgs, 3, 2, 2, 1, &o, &c) == DRIFT_EINVAL);
    char path[128];
    snprintf(path, sizeof path, "%s/grid.png", tmpdir);
    CHECK_OK(drift_image_grid(path, imgs, 2, 2, 2, 1, NULL)); /* no NaN in the first two */
    int w, h, ch;
    uint8_t *px;
    CHECK_OK(drift_png_read(path, &w, &h, &ch, &px));
    CHECK(w == 2 * 2 + 3 * 2 && h == 2 + 2 * 2 && ch == 1); /* gray PNG for gray content */
    CHECK(px[2 * w + 2] == 0 && px[2 * w + 3] == 255);
    drift_free(px);
    unlink(path);
}

/* the fitted view is the square around the points with the margin; each point lands on the
 * pixel the mapping says, y up; points outside the view and NaN are skipped */
static void test_scatter(void)
{
    const float pts[] = {0.0f, 0.0f, 4.0f, 2.0f, 2.0f, 1.0f, NAN, 3.0f};
    drift_view v;
    drift_view_fit(&v, pts, 4, 2, 0.0);
    CHECK_CLOSE(v.x0, 0.0, 1e-5, 0);
    CHECK_CLOSE(v.x1, 4.0, 1e-5, 0);
    CHECK_CLOSE(v.y0, -1.0, 1e-5, 0); /* square: the y range widened about its centre 1 */
    CHECK_CLOSE(v.y1, 3.0, 1e-5, 0);
    drift_view_fit(&v, pts, 0, 2, 0.1);
    CHECK(v.x0 == 0 && v.x1 == 1 && v.y0 == 0 && v.y1 == 1);
    drift_canvas c;
    CHECK_OK(drift_canvas_init(&c, 50, 50, (drift_rgb){255, 255, 255}));
    const drift_view w = {0, 0, 4, 4};
    const float q[] = {1.0f, 1.0f, 9.0f, 1.0f}; /* the second is outside the view */
    drift_canvas_scatter(&c, 5, 5, 40, 40, &w, q, 2, 2, 0, (drift_rgb){1, 2, 3});
    drift_rgb got = drift_canvas_get(&c, 15, 35); /* x: 5 + 1·10, y: 5 + 40 − 1·10 */
    CHECK(got.r == 1 && got.g == 2 && got.b == 3);
    int painted = 0;
    for (int y = 0; y < 50; y++)
        for (int x = 0; x < 50; x++) painted += drift_canvas_get(&c, x, y).r == 1;
    CHECK(painted == 1);
    drift_canvas_free(&c);
}

int main(void)
{
    strcpy(tmpdir, "/tmp/drift_img_XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    RUN(test_png_round_trip);
    RUN(test_png_damaged);
    RUN(test_canvas_primitives);
    RUN(test_text);
    RUN(test_colormaps);
    RUN(test_heatmap_and_colorbar);
    RUN(test_grid);
    RUN(test_scatter);
    char p[128];
    snprintf(p, sizeof p, "%s/f.png", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return TEST_SUMMARY();
}
