/* Tests for evaluation against the user's own reference images (ownref.c, the evaluator's own
 * reference path, drift_eval_points): the orientation task's transforms against explicit index
 * formulas (rotations of a square image, flips otherwise, four turns = identity), the cache key
 * (changes with any pixel or label), an evaluator opened on synthetic RGB images without and
 * with labels (the feature network is trained on first use, cached under the key, loaded the
 * second time; the reference scores FID ~0 and precision/recall 1 against itself; labels are
 * refused without a labelled reference), and drift_eval_points equal to drift_eval_toy when the
 * reference is the toy's own fresh sample. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/rng.h"
#include "eval/eval_internal.h"
#include "test.h"

static char cache[64];

/* n images h x w x c with values from a seeded stream, in [-1, 1]. */
static void fill(drift_dataset *d, int64_t n, int h, int w, int c, uint64_t seed, int labelled)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "synthetic");
    d->n = n, d->h = h, d->w = w, d->c = c, d->dim = (int64_t)h * w * c;
    d->x = drift_alloc((size_t)(n * d->dim), sizeof(float));
    drift_rng r;
    drift_rng_init(&r, seed, 0);
    for (int64_t i = 0; i < n * d->dim; i++) d->x[i] = 2.0f * drift_rng_uniformf(&r) - 1.0f;
    if (labelled) {
        d->labels = drift_alloc((size_t)n, sizeof(int32_t));
        for (int64_t i = 0; i < n; i++) d->labels[i] = (int32_t)(i % 3);
        d->n_classes = 3;
    }
}

static void test_pretext_transforms(void)
{
    drift_dataset sq, pre;
    fill(&sq, 2, 4, 4, 3, 1, 0);
    CHECK_OK(eval_own_pretext_set(&sq, &pre));
    CHECK(pre.n == 8 && pre.n_classes == 4 && pre.h == 4 && pre.w == 4 && pre.c == 3);
    for (int64_t i = 0; i < 2; i++)
        for (int t = 0; t < 4; t++) {
            CHECK(pre.labels[4 * i + t] == t);
            const float *src = sq.x + i * 48, *dst = pre.x + (4 * i + t) * 48;
            int bad = 0;
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++) {
                    /* t quarter turns: dst(y, x) = src at the explicit pre-image */
                    int sy = t == 0 ? y : t == 1 ? x : t == 2 ? 3 - y : 3 - x;
                    int sx = t == 0 ? x : t == 1 ? 3 - y : t == 2 ? 3 - x : y;
                    for (int ch = 0; ch < 3; ch++) bad += dst[(y * 4 + x) * 3 + ch] != src[(sy * 4 + sx) * 3 + ch];
                }
            CHECK_MSG(bad == 0, "image %lld turn %d: %d pixels off", (long long)i, t, bad);
        }
    /* a quarter turn of the quarter-turned image is the half-turned one (a group, not a typo) */
    drift_dataset once = {0}, twice;
    once = sq;
    once.n = 1;
    once.x = pre.x + 1 * 48; /* image 0 turned once */
    CHECK_OK(eval_own_pretext_set(&once, &twice));
    CHECK(memcmp(twice.x + 1 * 48, pre.x + 2 * 48, 48 * sizeof(float)) == 0);
    CHECK(memcmp(twice.x + 3 * 48, pre.x + 0 * 48, 48 * sizeof(float)) == 0);
    drift_dataset_free(&twice);
    drift_dataset_free(&pre);
    drift_dataset_free(&sq);
    /* not square: flips */
    drift_dataset rect;
    fill(&rect, 1, 2, 4, 1, 2, 0);
    CHECK_OK(eval_own_pretext_set(&rect, &pre));
    for (int t = 0; t < 4; t++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 4; x++) {
                int sy = t & 2 ? 1 - y : y, sx = t & 1 ? 3 - x : x;
                CHECK(pre.x[t * 8 + y * 4 + x] == rect.x[sy * 4 + sx]);
            }
    drift_dataset_free(&pre);
    drift_dataset_free(&rect);
}

static void test_key(void)
{
    drift_dataset a;
    fill(&a, 5, 4, 4, 1, 3, 1);
    char k1[64], k2[64], k3[64];
    CHECK_OK(eval_own_key(&a, k1, sizeof k1));
    a.x[17] += 0.5f;
    CHECK_OK(eval_own_key(&a, k2, sizeof k2));
    a.labels[2] = 0;
    CHECK_OK(eval_own_key(&a, k3, sizeof k3));
    CHECK(strncmp(k1, "own-", 4) == 0 && strlen(k1) == 20);
    CHECK(strcmp(k1, k2) && strcmp(k2, k3) && strcmp(k1, k3));
    drift_free(a.labels);
    a.labels = NULL;
    CHECK_OK(eval_own_key(&a, k1, sizeof k1));
    CHECK(strstr(k1, "-unlabelled") != NULL);
    CHECK(eval_own_labelled(&a) == 0);
    drift_dataset_free(&a);
}

/* Images of 3 kinds (bright left half, bright right half, dark), a little noise: learnable. */
static void kinds(drift_dataset *d, int64_t n, int labelled, uint64_t seed)
{
    fill(d, n, 8, 8, 3, seed, 1);
    for (int64_t i = 0; i < n; i++)
        for (int p = 0; p < 64; p++)
            for (int ch = 0; ch < 3; ch++) {
                int k = (int)(i % 3), x = p % 8;
                float base = k == 0 ? (x < 4 ? 0.8f : -0.8f) : k == 1 ? (x < 4 ? -0.8f : 0.8f) : -0.6f;
                float *v = d->x + i * 192 + p * 3 + ch;
                *v = base + 0.1f * *v;
            }
    if (!labelled) {
        drift_free(d->labels);
        d->labels = NULL;
        d->n_classes = 0;
    }
}

static void test_evaluator_own(int labelled)
{
    drift_dataset ref;
    kinds(&ref, 90, labelled, 5);
    drift_classifier_opts to;
    drift_classifier_opts_default(&to, "own");
    to.max_steps = getenv("DRIFT_SANITIZE") ? 6 : 20;
    to.batch = 30;
    to.seed = 1;
    drift_evaluator_opts o = {.dataset = "mine.npy", .cache_dir = cache, .train_if_missing = 1, .train_opts = &to};
    drift_evaluator *ev = NULL;
    CHECK_OK(drift_evaluator_open_ref(&o, &ref, &ev));
    if (!ev) return;
    char key[64];
    CHECK_OK(eval_own_key(&ref, key, sizeof key));
    const char *p = drift_evaluator_classifier_path(ev);
    CHECK(strstr(p, key) != NULL && access(p, F_OK) == 0);
    int h, w, c;
    drift_evaluator_image_shape(ev, &h, &w, &c);
    CHECK(h == 8 && w == 8 && c == 3);
    drift_classifier *clf = drift_evaluator_classifier(ev);
    CHECK(clf->n_classes == (labelled ? 3 : 4) && clf->outlier_class == clf->n_classes);
    drift_image_metrics m;
    CHECK_OK(drift_eval_images(ev, ref.x, ref.dim, NULL, ref.n, &m));
    CHECK(m.fid < 1e-6 && m.precision == 1.0 && m.recall == 1.0);
    int32_t *lab = drift_alloc((size_t)ref.n, sizeof(int32_t));
    for (int64_t i = 0; i < ref.n; i++) lab[i] = (int32_t)(i % 3);
    if (labelled) {
        CHECK_OK(drift_eval_images(ev, ref.x, ref.dim, lab, ref.n, &m));
        CHECK(m.has_labels && m.class_accuracy >= 0 && m.class_accuracy <= 1);
    } else {
        CHECK(drift_eval_images(ev, ref.x, ref.dim, lab, ref.n, &m) == DRIFT_EINVAL);
        CHECK(strstr(drift_last_error(), "--ref-labels") != NULL);
    }
    drift_free(lab);
    drift_evaluator_free(ev);
    /* second open: loaded from the cache, not trained (no train options needed, none allowed) */
    drift_evaluator_opts o2 = {.dataset = "mine.npy", .cache_dir = cache, .train_if_missing = 0};
    CHECK_OK(drift_evaluator_open_ref(&o2, &ref, &ev));
    drift_evaluator_free(ev);
    /* one pixel changed: another reference, another key, nothing cached for it */
    ref.x[0] += 0.25f;
    CHECK(drift_evaluator_open_ref(&o2, &ref, &ev) == DRIFT_EIO);
    drift_dataset_free(&ref);
}

static void test_evaluator_own_unlabelled(void) { test_evaluator_own(0); }
static void test_evaluator_own_labelled(void) { test_evaluator_own(1); }

static void test_points_match_toy(void)
{
    const int64_t n = 300;
    float *target = drift_alloc((size_t)n * 2, sizeof(float)), *s = drift_alloc((size_t)n * 2, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 4, DRIFT_EVAL_TOY_STREAM);
    CHECK_OK(drift_toy_sample("moons", &r, n, target, NULL));
    drift_rng_init(&r, 9, 0);
    CHECK_OK(drift_toy_sample("moons", &r, n, s, NULL));
    for (int64_t i = 0; i < 2 * n; i += 2) s[i] += 0.3f; /* moved right: MMD² clearly > 0 */
    drift_toy_metrics a, b;
    CHECK_OK(drift_eval_toy("moons", s, n, 4, &a));
    CHECK_OK(drift_eval_points(target, n, s, n, 2, 4, &b));
    CHECK(a.mmd2 == b.mmd2 && a.energy == b.energy && a.sliced_w2 == b.sliced_w2 && a.bandwidth == b.bandwidth);
    CHECK_MSG(a.diversity == b.diversity && a.dup_frac == b.dup_frac && a.mmd2 > 0, "%g %g %g %g %g", a.diversity, b.diversity, a.dup_frac, b.dup_frac, a.mmd2);
    /* any dimension; a set against itself: MMD² ~ 0 (unbiased), energy exactly 0 */
    drift_toy_metrics c;
    CHECK_OK(drift_eval_points(target, n / 2, target, n / 2, 4, 1, &c));
    CHECK(c.energy == 0 && fabs(c.mmd2) < 0.02 && c.sliced_w2 < 1e-6);
    CHECK(drift_eval_points(target, 1, s, n, 2, 1, &c) != DRIFT_OK);
    drift_free(target);
    drift_free(s);
}

int main(void)
{
    snprintf(cache, sizeof cache, "/tmp/drift_test_ownref_XXXXXX");
    if (!mkdtemp(cache)) return 1;
    RUN(test_pretext_transforms);
    RUN(test_key);
    RUN(test_evaluator_own_unlabelled);
    RUN(test_evaluator_own_labelled);
    RUN(test_points_match_toy);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", cache);
    return TEST_SUMMARY();
}
