/* Tests for per-class index lists and sampling without replacement: structure (every row
 * once, in its class), distinctness, uniformity of draws, and seeds. */
#include <stdint.h>
#include <string.h>

#include "drift/core.h"
#include "drift/data.h"
#include "test.h"

enum { N = 1000, K = 5 };
static int32_t labels[N];

static void make_labels(void)
{
    drift_rng r;
    drift_rng_init(&r, 99, 0);
    for (int i = 0; i < N; i++) labels[i] = (int32_t)drift_rng_below(&r, K);
}

static void test_index_build(void)
{
    drift_class_index ci;
    CHECK_OK(drift_class_index_build(labels, N, K, &ci));
    CHECK(ci.n_classes == K && ci.n == N && ci.start[0] == 0 && ci.start[K] == N);
    static int seen[N];
    memset(seen, 0, sizeof seen);
    int ok = 1;
    for (int c = 0; c < K; c++) {
        int64_t expect = 0;
        for (int i = 0; i < N; i++) expect += labels[i] == c;
        CHECK(ci.start[c + 1] - ci.start[c] == expect);
        for (int64_t j = ci.start[c]; j < ci.start[c + 1]; j++) {
            ok &= labels[ci.rows[j]] == c;
            ok &= j == ci.start[c] || ci.rows[j] > ci.rows[j - 1]; /* ascending */
            seen[ci.rows[j]]++;
        }
    }
    CHECK(ok);
    ok = 1;
    for (int i = 0; i < N; i++) ok &= seen[i] == 1;
    CHECK(ok);
    drift_class_index_free(&ci);
    CHECK(ci.rows == NULL);
    int32_t bad[3] = {0, 5, 1};
    CHECK(drift_class_index_build(bad, 3, K, &ci) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "label 5 at row 1") != NULL);
    CHECK(drift_class_index_build(labels, N, 0, &ci) == DRIFT_EINVAL);
}

static void test_class_sample(void)
{
    drift_class_index ci;
    CHECK_OK(drift_class_index_build(labels, N, K, &ci));
    drift_rng r;
    drift_rng_init(&r, 5, 0);
    int64_t out[N];
    int c = 2, m = (int)(ci.start[c + 1] - ci.start[c]);
    /* k = m: a permutation of the class */
    CHECK_OK(drift_class_sample(&ci, c, m, &r, out));
    static int seen[N];
    memset(seen, 0, sizeof seen);
    int ok = 1;
    for (int i = 0; i < m; i++) ok &= labels[out[i]] == c && ++seen[out[i]] == 1;
    CHECK(ok);
    CHECK(drift_class_sample(&ci, c, m + 1, &r, out) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "class 2") != NULL);
    CHECK(drift_class_sample(&ci, K, 1, &r, out) == DRIFT_EINVAL);
    /* uniform: in 20000 draws of 3 from a 10-row class every row comes up ~ 0.3 of the time */
    int32_t lab10[10] = {0};
    drift_class_index small;
    CHECK_OK(drift_class_index_build(lab10, 10, 1, &small));
    int count[10] = {0};
    ok = 1;
    for (int t = 0; t < 20000; t++) {
        int64_t o[3];
        ok &= drift_class_sample(&small, 0, 3, &r, o) == DRIFT_OK;
        ok &= o[0] != o[1] && o[0] != o[2] && o[1] != o[2];
        for (int j = 0; j < 3; j++) count[o[j]]++;
    }
    CHECK(ok);
    for (int i = 0; i < 10; i++) CHECK_CLOSE(count[i], 6000, 4 * 65, 0); /* sd = sqrt(20000 .3 .7) */
    drift_class_index_free(&small);
    /* the same seed, the same draw */
    int64_t a[16], b[16];
    drift_rng_init(&r, 7, 1);
    CHECK_OK(drift_class_sample(&ci, 1, 16, &r, a));
    drift_rng_init(&r, 7, 1);
    CHECK_OK(drift_class_sample(&ci, 1, 16, &r, b));
    CHECK(memcmp(a, b, sizeof a) == 0);
    drift_class_index_free(&ci);
}

int main(void)
{
    make_labels();
    RUN(test_index_build);
    RUN(test_class_sample);
    return TEST_SUMMARY();
}
