/* png.c — 8-bit PNG encoder and decoder over zlib (see drift/image.h).
 *
 * A PNG is the 8-byte signature and a list of chunks (length, type, data, CRC-32 of
 * type+data): IHDR (size and pixel format), IDAT (zlib stream of the filtered rows, may
 * be split across chunks), IEND. Each row is prefixed by a filter byte: 0 none, 1 sub
 * (left), 2 up, 3 average, 4 Paeth (RFC 2083 / PNG spec section 9).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/image.h"
#include "io/atomic.h"

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
#define IDAT_CHUNK (1u << 20)

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

/* Filtered byte i of a row for filter f, given the row, the previous row (zeros for the
 * first) and bytes per pixel. */
static unsigned char filter_byte(int f, const uint8_t *row, const uint8_t *prev, size_t i,
                                 size_t bpp)
{
    int x = row[i], a = i >= bpp ? row[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
    switch (f) {
    case 1: return (unsigned char)(x - a);
    case 2: return (unsigned char)(x - b);
    case 3: return (unsigned char)(x - ((a + b) >> 1));
    case 4: return (unsigned char)(x - paeth(a, b, c));
    default: return (unsigned char)x;
    }
}

static int check_size(int w, int h, int channels)
{
    if (w < 1 || h < 1 || w > DRIFT_IMAGE_MAX_SIDE || h > DRIFT_IMAGE_MAX_SIDE)
        return drift_error(DRIFT_EINVAL, "image size %dx%d outside 1..%d", w, h,
                           DRIFT_IMAGE_MAX_SIDE);
    if (channels != 1 && channels != 3)
        return drift_error(DRIFT_EINVAL, "PNG writer takes 1 or 3 channels, got %d", channels);
    return DRIFT_OK;
}

static void put_chunk(unsigned char *out, size_t *pos, const char *type, const unsigned char *data,
                      uint32_t n)
{
    unsigned char *p = out + *pos;
    put_be32(p, n);
    memcpy(p + 4, type, 4);
    if (n) memcpy(p + 8, data, n);
    uLong crc = crc32(0L, p + 4, 4);
    if (n) crc = crc32(crc, data, n);
    put_be32(p + 8 + n, (uint32_t)crc);
    *pos += 12 + (size_t)n;
}

int drift_png_encode(int w, int h, int channels, const uint8_t *pixels, unsigned char **png,
                     size_t *len)
{
    *png = NULL;
    *len = 0;
    int st = check_size(w, h, channels);
    if (st) return st;
    if (!pixels) return drift_error(DRIFT_EINVAL, "NULL pixels");
    size_t stride = (size_t)w * (size_t)channels, rawlen = (size_t)h * (stride + 1);
    unsigned char *raw = drift_alloc(rawlen, 1), *zbuf = NULL, *out = NULL;
    uint8_t *zero = drift_alloc(stride, 1);
    unsigned char *trial = drift_alloc(stride, 1);
    if (!raw || !zero || !trial) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    /* Per row, the filter whose output has the smallest sum of |signed byte|: cheap, and
     * it is what libpng does by default; it matters for plots and gradients. */
    for (int y = 0; y < h; y++) {
        const uint8_t *row = pixels + (size_t)y * stride, *prev = y ? row - stride : zero;
        unsigned char *dst = raw + (size_t)y * (stride + 1);
        long best_cost = -1;
        for (int f = 0; f < 5; f++) {
            long cost = 0;
            for (size_t i = 0; i < stride; i++) {
                trial[i] = filter_byte(f, row, prev, i, (size_t)channels);
                cost += trial[i] < 128 ? trial[i] : 256 - trial[i];
            }
            if (best_cost < 0 || cost < best_cost) {
                best_cost = cost;
                dst[0] = (unsigned char)f;
                memcpy(dst + 1, trial, stride);
            }
        }
    }
    uLong zcap = compressBound((uLong)rawlen);
    zbuf = drift_alloc(zcap, 1);
    if (!zbuf) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    uLongf zlen = zcap;
    if (compress2(zbuf, &zlen, raw, (uLong)rawlen, 6) != Z_OK) {
        st = drift_error(DRIFT_ENOMEM, "zlib compression failed");
        goto done;
    }
    size_t nchunks = zlen / IDAT_CHUNK + 1;
    size_t total = 8 + (12 + 13) + nchunks * 12 + zlen + 12;
    out = drift_alloc(total, 1);
    if (!out) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    size_t pos = 8;
    memcpy(out, png_signature, 8);
    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)w);
    put_be32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8;                         /* bit depth */
    ihdr[9] = channels == 1 ? 0 : 2;     /* colour type: gray / truecolour */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;  /* deflate, adaptive filtering, no interlace */
    put_chunk(out, &pos, "IHDR", ihdr, 13);
    for (size_t off = 0; off < zlen || off == 0; off += IDAT_CHUNK) {
        size_t n = zlen - off < IDAT_CHUNK ? zlen - off : IDAT_CHUNK;
        put_chunk(out, &pos, "IDAT", zbuf + off, (uint32_t)n);
        if (n < IDAT_CHUNK) break;
    }
    put_chunk(out, &pos, "IEND", NULL, 0);
    *png = out;
    *len = pos;
    out = NULL;
done:
    drift_free(out);
    drift_free(zbuf);
    drift_free(raw);
    drift_free(zero);
    drift_free(trial);
    return st;
}

static int write_png(const char *path, int w, int h, int channels, const uint8_t *pixels)
{
    if (!path) return drift_error(DRIFT_EINVAL, "NULL path");
    unsigned char *png;
    size_t len;
    int st = drift_png_encode(w, h, channels, pixels, &png, &len);
    if (st) return drift_error_context(st, "%s", path);
    st = drift_write_file_atomic(path, png, len);
    drift_free(png);
    return st;
}

int drift_png_write_gray(const char *path, int w, int h, const uint8_t *pixels)
{
    return write_png(path, w, h, 1, pixels);
}

int drift_png_write_rgb(const char *path, int w, int h, const uint8_t *pixels)
{
    return write_png(path, w, h, 3, pixels);
}

/* ---------------------------------------------------------------------------------- */
/* Decoding                                                                           */

/* Inflates exactly `want` bytes from src into dst: a shorter or longer stream, or a
 * corrupt one, is an error. Works in pieces because zlib counts in 32-bit uInt. */
static int inflate_exact(const unsigned char *src, size_t n, unsigned char *dst, size_t want,
                         const char *name)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return drift_error(DRIFT_ENOMEM, "%s: zlib init failed", name);
    size_t in_done = 0, out_done = 0;
    unsigned char extra; /* one byte past the end tells a longer stream from the exact end */
    int zr, over = 0;
    for (;;) {
        if (z.avail_in == 0 && in_done < n) {
            size_t k = n - in_done < (1u << 30) ? n - in_done : (1u << 30);
            z.next_in = (Bytef *)(src + in_done);
            z.avail_in = (uInt)k;
            in_done += k;
        }
        if (z.avail_out == 0) {
            if (out_done == want) {
                if (over) break; /* the stream is longer than the image */
                z.next_out = &extra;
                z.avail_out = 1;
                over = 1;
            } else {
                size_t k = want - out_done < (1u << 30) ? want - out_done : (1u << 30);
                z.next_out = dst + out_done;
                z.avail_out = (uInt)k;
                out_done += k;
            }
        }
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) break;
        if (zr == Z_BUF_ERROR && z.avail_in == 0 && in_done == n) break; /* input ran out */
        if (zr != Z_OK && zr != Z_BUF_ERROR) break;                       /* corrupt */
    }
    size_t produced = (size_t)z.total_out;
    inflateEnd(&z);
    if (zr != Z_STREAM_END)
        return drift_error(DRIFT_EFORMAT, "%s: image data is corrupt or truncated (zlib)", name);
    if (produced != want)
        return drift_error(DRIFT_EFORMAT, "%s: image data has %zu bytes, the size needs %zu",
                           name, produced, want);
    return DRIFT_OK;
}

static int unfilter(unsigned char *raw, int w, int h, int channels, uint8_t *pixels,
                    const char *name)
{
    size_t stride = (size_t)w * (size_t)channels, bpp = (size_t)channels;
    for (int y = 0; y < h; y++) {
        const unsigned char *src = raw + (size_t)y * (stride + 1);
        uint8_t *row = pixels + (size_t)y * stride;
        const uint8_t *prev = y ? row - stride : NULL;
        int f = src[0];
        if (f > 4) return drift_error(DRIFT_EFORMAT, "%s: bad filter type %d in row %d", name, f, y);
        for (size_t i = 0; i < stride; i++) {
            int a = i >= bpp ? row[i - bpp] : 0, b = prev ? prev[i] : 0,
                c = prev && i >= bpp ? prev[i - bpp] : 0, pred = 0;
            switch (f) {
            case 1: pred = a; break;
            case 2: pred = b; break;
            case 3: pred = (a + b) >> 1; break;
            case 4: pred = paeth(a, b, c); break;
            }
            row[i] = (uint8_t)(src[1 + i] + pred);
        }
    }
    return DRIFT_OK;
}

int drift_png_decode(const unsigned char *png, size_t len, const char *name, int *w, int *h,
                     int *channels, uint8_t **pixels)
{
    *pixels = NULL;
    if (!name) name = "<memory>";
    if (len < 8 || memcmp(png, png_signature, 8) != 0)
        return drift_error(DRIFT_EFORMAT, "%s: not a PNG file (bad signature)", name);
    size_t pos = 8, idat_len = 0, idat_cap = 0;
    unsigned char *idat = NULL, *raw = NULL;
    int width = 0, height = 0, ch = 0, seen_ihdr = 0, seen_iend = 0, st = DRIFT_OK;
    while (!seen_iend) {
        if (len - pos < 12) {
            st = drift_error(DRIFT_EFORMAT, "%s: truncated (chunk at byte %zu)", name, pos);
            goto done;
        }
        uint32_t n = get_be32(png + pos);
        const unsigned char *type = png + pos + 4, *data = png + pos + 8;
        if (n > 0x7fffffffu || len - pos - 12 < n) {
            st = drift_error(DRIFT_EFORMAT, "%s: truncated or oversized chunk at byte %zu", name,
                             pos);
            goto done;
        }
        uLong crc = crc32(crc32(0L, type, 4), data, n);
        if ((uint32_t)crc != get_be32(data + n)) {
            st = drift_error(DRIFT_EFORMAT, "%s: CRC mismatch in chunk '%.4s' at byte %zu", name,
                             (const char *)type, pos);
            goto done;
        }
        pos += 12 + (size_t)n;
        if (!seen_ihdr && memcmp(type, "IHDR", 4) != 0) {
            st = drift_error(DRIFT_EFORMAT, "%s: first chunk is not IHDR", name);
            goto done;
        }
        if (memcmp(type, "IHDR", 4) == 0) {
            if (seen_ihdr || n != 13) {
                st = drift_error(DRIFT_EFORMAT, "%s: bad IHDR chunk", name);
                goto done;
            }
            seen_ihdr = 1;
            uint32_t uw = get_be32(data), uh = get_be32(data + 4);
            int depth = data[8], color = data[9];
            if (uw < 1 || uh < 1 || uw > DRIFT_IMAGE_MAX_SIDE || uh > DRIFT_IMAGE_MAX_SIDE) {
                st = drift_error(uw && uh && uw < 0x80000000u && uh < 0x80000000u
                                     ? DRIFT_EUNSUPPORTED : DRIFT_EFORMAT,
                                 "%s: image size %ux%u outside 1..%d", name, uw, uh,
                                 DRIFT_IMAGE_MAX_SIDE);
                goto done;
            }
            if (data[10] != 0 || data[11] != 0) {
                st = drift_error(DRIFT_EFORMAT, "%s: unknown compression or filter method", name);
                goto done;
            }
            ch = color == 0 ? 1 : color == 4 ? 2 : color == 2 ? 3 : color == 6 ? 4 : 0;
            if (depth != 8 || !ch || data[12] != 0) {
                st = drift_error(DRIFT_EUNSUPPORTED, "%s: only 8-bit, non-interlaced gray/RGB(A) "
                                 "PNGs are read (bit depth %d, colour type %d, interlace %d)",
                                 name, depth, color, data[12]);
                goto done;
            }
            width = (int)uw;
            height = (int)uh;
        } else if (memcmp(type, "IDAT", 4) == 0) {
            if (idat_len + n > idat_cap) {
                size_t cap = idat_cap ? idat_cap : 4096;
                while (cap < idat_len + n) cap *= 2;
                unsigned char *grown = drift_alloc(cap, 1);
                if (!grown) {
                    st = DRIFT_ENOMEM;
                    goto done;
                }
                if (idat_len) memcpy(grown, idat, idat_len);
                drift_free(idat);
                idat = grown;
                idat_cap = cap;
            }
            if (n) memcpy(idat + idat_len, data, n);
            idat_len += n;
        } else if (memcmp(type, "IEND", 4) == 0) {
            seen_iend = 1;
        } else if (!(type[0] & 0x20) && memcmp(type, "PLTE", 4) != 0) {
            /* Bit 5 of the first letter clear: a critical chunk we would have to understand. */
            st = drift_error(DRIFT_EUNSUPPORTED, "%s: unknown critical chunk '%.4s'", name,
                             (const char *)type);
            goto done;
        }
    }
    size_t stride = (size_t)width * (size_t)ch, rawlen = (size_t)height * (stride + 1);
    /* deflate expands at most ~1032:1; a tiny stream cannot hold a huge image. */
    if (rawlen / 1032 > idat_len + 64) {
        st = drift_error(DRIFT_EFORMAT, "%s: %zu bytes of image data cannot hold %dx%d pixels",
                         name, idat_len, width, height);
        goto done;
    }
    raw = drift_alloc(rawlen, 1);
    uint8_t *out = raw ? drift_alloc((size_t)height, stride) : NULL;
    if (!out) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    if ((st = inflate_exact(idat, idat_len, raw, rawlen, name)) ||
        (st = unfilter(raw, width, height, ch, out, name))) {
        drift_free(out);
        goto done;
    }
    *w = width;
    *h = height;
    *channels = ch;
    *pixels = out;
done:
    drift_free(idat);
    drift_free(raw);
    return st;
}

int drift_png_read(const char *path, int *w, int *h, int *channels, uint8_t **pixels)
{
    *pixels = NULL;
    if (!path) return drift_error(DRIFT_EINVAL, "NULL path");
    FILE *f;
    struct stat sb;
    int st = drift_fopen_input(path, &f, &sb);
    if (st) return st;
    unsigned char *buf = NULL;
    if (!(buf = drift_alloc((size_t)sb.st_size, 1))) {
        st = drift_error_context(DRIFT_ENOMEM, "%s", path);
    } else if (fread(buf, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
        st = drift_error(DRIFT_EIO, "%s: read failed", path);
    } else {
        st = drift_png_decode(buf, (size_t)sb.st_size, path, w, h, channels, pixels);
    }
    drift_free(buf);
    fclose(f);
    return st;
}
