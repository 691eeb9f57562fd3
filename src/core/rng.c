/* rng.c — Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11). Counter-based: no hidden state beyond (key, counter), so any stream can be
 * jumped to directly, which is what makes runs reproducible under threading. */
#include "drift/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void drift_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

void drift_rng_init(drift_rng *r, uint64_t seed, uint64_t stream)
{
    r->key = seed;
    r->stream = stream;
    r->counter = 0;
    r->used = 4;
}

static void refill(drift_rng *r)
{
    uint32_t ctr[4] = {(uint32_t)r->counter, (uint32_t)(r->counter >> 32),
                       (uint32_t)r->stream, (uint32_t)(r->stream >> 32)};
    uint32_t key[2] = {(uint32_t)r->key, (uint32_t)(r->key >> 32)};
    drift_philox4x32(ctr, key, r->buf);
    r->counter++;
    r->used = 0;
}

uint32_t drift_rng_u32(drift_rng *r)
{
    if (r->used >= 4) refill(r);
    return r->buf[r->used++];
}

uint64_t drift_rng_u64(drift_rng *r)
{
    uint64_t hi = drift_rng_u32(r);
    return (hi << 32) | drift_rng_u32(r);
}

double drift_rng_uniform(drift_rng *r)
{
    return (double)(drift_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

float drift_rng_uniformf(drift_rng *r)
{
    return (float)(drift_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

uint64_t drift_rng_below(drift_rng *r, uint64_t n)
{
    /* rejection sampling: reject the top partial range so every value is equally likely */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do {
        v = drift_rng_u64(r);
    } while (v >= limit);
    return v % n;
}

double drift_rng_normal(drift_rng *r)
{
    double u1 = drift_rng_uniform(r), u2 = drift_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void drift_rng_fill_normal(drift_rng *r, float *out, size_t n, float mean, float std)
{
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        double u1 = drift_rng_uniform(r), u2 = drift_rng_uniform(r);
        if (u1 < 1e-300) u1 = 1e-300;
        double rad = sqrt(-2.0 * log(u1)), ang = 2.0 * M_PI * u2;
        out[i] = mean + std * (float)(rad * cos(ang));
        out[i + 1] = mean + std * (float)(rad * sin(ang));
    }
    if (i < n) out[i] = mean + std * (float)drift_rng_normal(r);
}

void drift_rng_fill_uniform(drift_rng *r, float *out, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) out[i] = lo + (hi - lo) * drift_rng_uniformf(r);
}

void drift_rng_shuffle(drift_rng *r, int *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)drift_rng_below(r, i);
        int t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
