/* libFuzzer harness: the PNG decoder. Random bytes almost never survive the chunk CRCs
 * and the zlib checksum, so the first input byte picks one of two modes that get past
 * them: (odd) the rest is a PNG whose chunk CRCs the harness repairs before decoding;
 * (even) the rest is IHDR fields plus raw scanlines, which the harness wraps into a
 * well-formed PNG, so that the filter and size logic sees arbitrary data. Decoded pixels
 * are read back in full, and re-encoding them must decode to the same pixels. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "drift/core.h"
#include "drift/image.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t put_chunk(uint8_t *out, size_t pos, const char *type, const uint8_t *d, uint32_t n)
{
    put_be32(out + pos, n);
    memcpy(out + pos + 4, type, 4);
    if (n) memcpy(out + pos + 8, d, n);
    put_be32(out + pos + 8 + n, (uint32_t)crc32(0L, out + pos + 4, n + 4));
    return pos + 12 + n;
}

/* Rewrites the CRC of every complete chunk. */
static void repair_crcs(uint8_t *b, size_t len)
{
    size_t pos = 8;
    while (pos + 12 <= len) {
        uint32_t n = (uint32_t)b[pos] << 24 | (uint32_t)b[pos + 1] << 16 |
                     (uint32_t)b[pos + 2] << 8 | b[pos + 3];
        if (n > len - pos - 12) break;
        put_be32(b + pos + 8 + n, (uint32_t)crc32(0L, b + pos + 4, n + 4));
        pos += 12 + (size_t)n;
    }
}

static void check_decoded(const uint8_t *png, size_t len)
{
    int w, h, c;
    uint8_t *px;
    if (drift_png_decode(png, len, "fuzz.png", &w, &h, &c, &px) != 0) {
        if (px != NULL) __builtin_trap();
        return;
    }
    if (w < 1 || h < 1 || c < 1 || c > 4) __builtin_trap();
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < (size_t)w * h * c; i++) sink ^= px[i];
    (void)sink;
    if (c == 1 || c == 3) {
        unsigned char *again;
        size_t alen;
        int w2, h2, c2;
        uint8_t *px2;
        if (drift_png_encode(w, h, c, px, &again, &alen) != 0) __builtin_trap();
        if (drift_png_decode(again, alen, "again.png", &w2, &h2, &c2, &px2) != 0) __builtin_trap();
        if (w2 != w || h2 != h || c2 != c || memcmp(px, px2, (size_t)w * h * c) != 0)
            __builtin_trap();
        drift_free(px2);
        drift_free(again);
    }
    drift_free(px);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] & 1) {
        uint8_t *copy = malloc(size);
        memcpy(copy, data + 1, size - 1);
        if (size - 1 >= 8) repair_crcs(copy, size - 1);
        check_decoded(copy, size - 1);
        free(copy);
        return 0;
    }
    if (size < 6) return 0;
    static const uint8_t colours[5] = {0, 2, 4, 6, 3};
    uint8_t ihdr[13] = {0};
    put_be32(ihdr, 1 + data[1] % 64);
    put_be32(ihdr + 4, 1 + data[2] % 64);
    ihdr[8] = data[4] & 0x80 ? 16 : 8;
    ihdr[9] = colours[data[3] % 5];
    ihdr[12] = (data[4] & 0x40) != 0; /* interlace, occasionally */
    const uint8_t *raw = data + 5;
    uLong rawlen = (uLong)(size - 5), zcap = compressBound(rawlen);
    uint8_t *z = malloc(zcap), *png = malloc(zcap + 64);
    uLongf zlen = zcap;
    if (compress2(z, &zlen, raw, rawlen, 1) == Z_OK) {
        memcpy(png, "\x89PNG\r\n\x1a\n", 8);
        size_t pos = put_chunk(png, 8, "IHDR", ihdr, 13);
        pos = put_chunk(png, pos, "IDAT", z, (uint32_t)zlen);
        pos = put_chunk(png, pos, "IEND", NULL, 0);
        check_decoded(png, pos);
    }
    free(z);
    free(png);
    return 0;
}
