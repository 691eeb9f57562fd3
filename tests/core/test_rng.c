/* Tests for the counter-based RNG: known answers, reproducibility, distribution. */
#include "drift/rng.h"
#include "test.h"

static void test_philox_known_answer(void)
{
    /* Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32 10). */
    uint32_t ctr0[4] = {0, 0, 0, 0}, key0[2] = {0, 0}, out[4];
    drift_philox4x32(ctr0, key0, out);
    CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
          out[3] == 0x9b00dbd8u);
    uint32_t ctr1[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    uint32_t key1[2] = {0xffffffffu, 0xffffffffu};
    drift_philox4x32(ctr1, key1, out);
    CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u &&
          out[3] == 0x6d5451fdu);
    uint32_t ctr2[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    uint32_t key2[2] = {0xa4093822u, 0x299f31d0u};
    drift_philox4x32(ctr2, key2, out);
    CHECK(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu && out[2] == 0x5001e420u &&
          out[3] == 0x24126ea1u);
}

static void test_reproducible_and_streams_differ(void)
{
    drift_rng a, b, c;
    drift_rng_init(&a, 42, 7);
    drift_rng_init(&b, 42, 7);
    drift_rng_init(&c, 42, 8);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t x = drift_rng_u32(&a), y = drift_rng_u32(&b), z = drift_rng_u32(&c);
        same &= x == y;
        differ += x != z;
    }
    CHECK(same);
    CHECK(differ > 990);
}

static void test_normal_moments(void)
{
    drift_rng r;
    drift_rng_init(&r, 1, 0);
    enum { N = 200000 };
    static float v[N];
    drift_rng_fill_normal(&r, v, N, 0.f, 1.f);
    double m = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < N; i++) m += v[i];
    m /= N;
    for (int i = 0; i < N; i++) {
        double d = v[i] - m;
        s2 += d * d;
        s4 += d * d * d * d;
    }
    s2 /= N;
    s4 /= N;
    CHECK_CLOSE(m, 0.0, 0.01, 0);
    CHECK_CLOSE(s2, 1.0, 0.02, 0);
    CHECK_CLOSE(s4 / (s2 * s2), 3.0, 0.08, 0); /* kurtosis of a gaussian */
}

static void test_below_and_shuffle(void)
{
    drift_rng r;
    drift_rng_init(&r, 3, 0);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) counts[drift_rng_below(&r, 7)]++;
    for (int k = 0; k < 7; k++) CHECK_CLOSE(counts[k], 10000, 400, 0);
    int idx[100], seen[100] = {0};
    for (int i = 0; i < 100; i++) idx[i] = i;
    drift_rng_shuffle(&r, idx, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    int perm = 1;
    for (int i = 0; i < 100; i++) perm &= seen[i] == 1;
    CHECK(perm);
    CHECK(moved > 80);
}

int main(void)
{
    RUN(test_philox_known_answer);
    RUN(test_reproducible_and_streams_differ);
    RUN(test_normal_moments);
    RUN(test_below_and_shuffle);
    return TEST_SUMMARY();
}
