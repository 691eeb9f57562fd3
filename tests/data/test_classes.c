/* Tests for per-class index lists, sampling without replacement and the sample queues:
 * structure (every row once, in its class), distinctness, uniformity of draws, epochs of the
 * queue's pool (each row once per pass), eviction of the oldest entries, and seeds. */
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

/* The ring, oldest first. */
static void ring_contents(const drift_index_queue *q, int64_t *out)
{
    for (int64_t i = 0; i < q->fill; i++)
        out[i] = q->ring[(q->head + q->capacity - q->fill + i) % q->capacity];
}

static void test_index_queue(void)
{
    enum { P = 300, CAP = 128, STEP = 64 };
    int64_t pool[P];
    for (int i = 0; i < P; i++) pool[i] = 1000 + i;
    drift_index_queue q;
    CHECK_OK(drift_index_queue_init(&q, pool, P, CAP, 42, 3));
    CHECK(q.fill == CAP && q.epoch == 0 && q.pool_pos == CAP);
    /* Log everything pushed: init's 128, then steps of 64. The ring always holds the last 128
     * pushed (oldest evicted first), and the first 300 pushed are the pool, each once. */
    static int64_t log[4 * P];
    int64_t nlog = 0, ring[CAP];
    ring_contents(&q, ring);
    memcpy(log, ring, sizeof ring);
    nlog = CAP;
    int ok = 1;
    for (int step = 0; step < 8; step++) {
        CHECK_OK(drift_index_queue_push(&q, STEP));
        ring_contents(&q, ring);
        memcpy(log + nlog, ring + CAP - STEP, sizeof(int64_t) * STEP);
        nlog += STEP;
        ok &= memcmp(ring, log + nlog - CAP, sizeof ring) == 0;
    }
    CHECK(ok);
    CHECK(q.epoch == 2 && nlog == CAP + 8 * STEP); /* 640 pushed: passes 300 + 300 + 40 */
    for (int pass = 0; pass < 2; pass++) {
        static int seen[P];
        memset(seen, 0, sizeof seen);
        ok = 1;
        for (int i = 0; i < P; i++) {
            int64_t v = log[pass * P + i] - 1000;
            ok &= v >= 0 && v < P && ++seen[v] == 1;
        }
        CHECK_MSG(ok, "pass %d is not a permutation of the pool", pass);
    }
    CHECK(memcmp(log, log + P, sizeof(int64_t) * P) != 0); /* reshuffled between passes */
    /* draws: distinct ring slots, i.e. the drawn rows are a sub-multiset of the ring (the
     * ring itself may repeat a row here: it spans the boundary of passes 2 and 3) */
    int64_t out[CAP];
    drift_rng r;
    drift_rng_init(&r, 1, 0);
    CHECK_OK(drift_index_queue_draw(&q, STEP, &r, out));
    ok = 1;
    for (int i = 0; i < STEP; i++) {
        int in_ring = 0, drawn = 0;
        for (int j = 0; j < CAP; j++) in_ring += ring[j] == out[i];
        for (int j = 0; j < STEP; j++) drawn += out[j] == out[i];
        ok &= drawn <= in_ring;
    }
    CHECK(ok);
    /* drawing the whole ring returns exactly its contents */
    int64_t all[CAP], sorted_ring[CAP];
    CHECK_OK(drift_index_queue_draw(&q, CAP, &r, all));
    memcpy(sorted_ring, ring, sizeof ring);
    for (int i = 1; i < CAP; i++) /* insertion sort both */
        for (int j = i; j > 0 && all[j] < all[j - 1]; j--) {
            int64_t t = all[j]; all[j] = all[j - 1]; all[j - 1] = t;
        }
    for (int i = 1; i < CAP; i++)
        for (int j = i; j > 0 && sorted_ring[j] < sorted_ring[j - 1]; j--) {
            int64_t t = sorted_ring[j]; sorted_ring[j] = sorted_ring[j - 1]; sorted_ring[j - 1] = t;
        }
    CHECK(memcmp(all, sorted_ring, sizeof all) == 0);
    CHECK_OK(drift_index_queue_draw(&q, CAP, NULL, out)); /* the queue's own rng */
    CHECK(drift_index_queue_draw(&q, CAP + 1, &r, out) == DRIFT_EINVAL);
    /* same seed, same queue */
    drift_index_queue q2;
    CHECK_OK(drift_index_queue_init(&q2, pool, P, CAP, 42, 3));
    for (int step = 0; step < 8; step++) CHECK_OK(drift_index_queue_push(&q2, STEP));
    CHECK(memcmp(q.ring, q2.ring, sizeof ring) == 0);
    drift_index_queue_free(&q);
    drift_index_queue_free(&q2);
    /* a pool smaller than the ring repeats rows; an empty pool cannot be drawn from */
    CHECK_OK(drift_index_queue_init(&q, pool, 5, 8, 1, 0));
    CHECK(q.fill == 8 && q.epoch == 1);
    CHECK_OK(drift_index_queue_draw(&q, 8, &r, out));
    drift_index_queue_free(&q);
    CHECK_OK(drift_index_queue_init(&q, pool, 0, 8, 1, 0));
    CHECK(q.fill == 0);
    CHECK(drift_index_queue_draw(&q, 1, &r, out) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "pool is empty") != NULL);
    drift_index_queue_free(&q);
    CHECK(drift_index_queue_init(&q, pool, P, 0, 1, 0) == DRIFT_EINVAL);
}

static void test_class_queues(void)
{
    drift_class_index ci;
    CHECK_OK(drift_class_index_build(labels, N, K, &ci));
    drift_class_queues q;
    CHECK_OK(drift_class_queues_init(&q, &ci, 128, 1000, 17));
    drift_rng r;
    drift_rng_init(&r, 2, 0);
    int64_t out[1000];
    int ok = 1;
    for (int step = 0; step < 5; step++) {
        CHECK_OK(drift_class_queues_push(&q, 64, 128));
        for (int c = 0; c < K; c++) {
            CHECK_OK(drift_class_queues_draw(&q, c, 64, &r, out));
            for (int i = 0; i < 64; i++) ok &= out[i] >= 0 && out[i] < N && labels[out[i]] == c;
        }
        CHECK_OK(drift_class_queues_draw(&q, -1, 500, &r, out));
        for (int i = 0; i < 500; i++) ok &= out[i] >= 0 && out[i] < N;
    }
    CHECK(ok);
    /* the global queue sees every class */
    int per[K] = {0};
    CHECK_OK(drift_class_queues_draw(&q, -1, 1000, &r, out));
    for (int i = 0; i < 1000; i++) per[labels[out[i]]]++;
    for (int c = 0; c < K; c++) CHECK(per[c] > 100);
    CHECK(drift_class_queues_draw(&q, 0, 129, &r, out) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "class 0") != NULL);
    CHECK(drift_class_queues_draw(&q, K, 1, &r, out) == DRIFT_EINVAL);
    drift_class_queues_free(&q);
    drift_class_index_free(&ci);
}

int main(void)
{
    make_labels();
    RUN(test_index_build);
    RUN(test_class_sample);
    RUN(test_index_queue);
    RUN(test_class_queues);
    return TEST_SUMMARY();
}
