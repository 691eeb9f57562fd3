/* Tests for drift/encoder.h: masked-autoencoder training lowers the reconstruction loss, the
 * file round trip is bit-exact, changed / truncated / foreign / wrong-dataset / wrong-data files
 * are refused with a message that says why, the data hash, resizing, and the cache's first-use
 * path (train, save, then load). Synthetic images keep it fast. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/encoder.h"
#include "drift/models.h"
#include "drift/rng.h"
#include "drift/safetensors.h"
#include "test.h"

/* n 16×16 images in [-1, 1]: a bright filled rectangle and a bright ring on a dark
 * background, at random places: structure a masked patch can be inferred from. */
static drift_dataset synthetic(int64_t n, uint64_t seed)
{
    drift_dataset d = {0};
    snprintf(d.name, sizeof d.name, "shapes");
    d.n = n, d.h = d.w = 16, d.c = 1, d.dim = 256;
    d.x = drift_alloc((size_t)n * 256, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, seed, 0);
    for (int64_t i = 0; i < n; i++) {
        float *x = d.x + (size_t)i * 256;
        int x0 = (int)drift_rng_below(&r, 8), y0 = (int)drift_rng_below(&r, 8);
        int w = 3 + (int)drift_rng_below(&r, 5), h = 3 + (int)drift_rng_below(&r, 5);
        double cx = 4 + 8 * drift_rng_uniform(&r), cy = 4 + 8 * drift_rng_uniform(&r);
        for (int y = 0; y < 16; y++)
            for (int xx = 0; xx < 16; xx++) {
                double rr = sqrt((xx - cx) * (xx - cx) + (y - cy) * (y - cy));
                int on = (xx >= x0 && xx < x0 + w && y >= y0 && y < y0 + h) || fabs(rr - 3) < 0.8;
                x[y * 16 + xx] = on ? 0.9f : -0.9f;
            }
    }
    return d;
}

static void small_opts(drift_encoder_opts *o, int64_t steps)
{
    drift_encoder_opts_default(o, "shapes");
    o->arch.widths[0] = 4, o->arch.widths[1] = 8, o->arch.widths[2] = 8, o->arch.groups = 4;
    o->steps = steps, o->batch = 16, o->lr = 3e-3;
}

static const char *tmp_path(const char *what)
{
    static char buf[4][256];
    static int k = 0;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/drift_test_encoder_%ld_%s", (long)getpid(), what);
    return p;
}

static void test_training_lowers_loss(void)
{
#if defined(__SANITIZE_ADDRESS__)
    const int fast = 1; /* an unoptimized sanitizer build: fewer steps */
#else
    const int fast = 0;
#endif
    drift_dataset d = synthetic(512, 1);
    drift_encoder_opts o;
    small_opts(&o, fast ? 60 : 300);
    drift_encoder *e = NULL;
    double t0 = drift_now();
    CHECK_OK(drift_encoder_train_on(&d, &o, &e));
    if (e) {
        if (getenv("DRIFT_TEST_VERBOSE"))
            fprintf(stderr, "  masked MSE %.4f -> %.4f in %.1f s\n", e->loss_start, e->loss_end,
                    drift_now() - t0);
        CHECK(isfinite(e->loss_start) && e->loss_start > 0);
        /* measured: 0.57 -> 0.37 (300 steps), 0.65 -> 0.40 (60 steps) */
        CHECK_MSG(e->loss_end < 0.8 * e->loss_start, "masked MSE %.4f -> %.4f", e->loss_start,
                  e->loss_end);
        CHECK(e->steps == o.steps && e->train_images == 512);
        CHECK(!strcmp(e->dataset, "shapes"));
        CHECK(e->model->cfg.kind == DRIFT_MODEL_ENCODER && e->model->cfg.height == 16);
        CHECK(strstr(e->training, "mask_ratio=0.75 patch=4") != NULL);
        char h[40];
        CHECK_OK(drift_encoder_data_hash(d.x, d.n, d.dim, h, sizeof h));
        CHECK(!strcmp(h, e->data_hash));
        CHECK(strncmp(e->hash, "fnv1a64:", 8) == 0 && strlen(e->hash) == 24);
    }
    /* the same seed gives the same encoder */
    drift_encoder *e2 = NULL;
    o.steps = 8;
    CHECK_OK(drift_encoder_train_on(&d, &o, &e2));
    drift_encoder *e3 = NULL;
    CHECK_OK(drift_encoder_train_on(&d, &o, &e3));
    if (e2 && e3)
        CHECK(memcmp(e2->model->params, e3->model->params, e2->model->n_params * sizeof(float)) == 0);
    /* bad options */
    drift_encoder *bad = NULL;
    o.patch = 5;
    CHECK(drift_encoder_train_on(&d, &o, &bad) == DRIFT_EINVAL && strstr(drift_last_error(), "patch"));
    o.patch = 4, o.mask_ratio = 1.0;
    CHECK(drift_encoder_train_on(&d, &o, &bad) == DRIFT_EINVAL && strstr(drift_last_error(), "mask"));
    CHECK(bad == NULL);
    drift_encoder_free(e), drift_encoder_free(e2), drift_encoder_free(e3);
    drift_dataset_free(&d);
}

static void test_data_hash(void)
{
    drift_dataset d = synthetic(40, 2);
    char a[40], b[40], c[40], s[8];
    CHECK_OK(drift_encoder_data_hash(d.x, d.n, d.dim, a, sizeof a));
    CHECK_OK(drift_encoder_data_hash(d.x, d.n, d.dim, b, sizeof b));
    CHECK(!strcmp(a, b));
    d.x[777] = nextafterf(d.x[777], 2.0f); /* one pixel, one ulp */
    CHECK_OK(drift_encoder_data_hash(d.x, d.n, d.dim, c, sizeof c));
    CHECK(strcmp(a, c) != 0);
    CHECK_OK(drift_encoder_data_hash(d.x, d.n - 1, d.dim, c, sizeof c)); /* fewer rows */
    CHECK(strcmp(a, c) != 0);
    CHECK(drift_encoder_data_hash(d.x, d.n, d.dim, s, sizeof s) == DRIFT_EINVAL);
    CHECK(drift_encoder_data_hash(NULL, d.n, d.dim, c, sizeof c) == DRIFT_EINVAL);
    drift_dataset_free(&d);
}

/* Rewrites a saved encoder with one metadata value replaced (the hash kept as it was). */
static void rewrite_meta(const char *src, const char *dst, const char *key, const char *value)
{
    drift_safetensors *f = NULL;
    CHECK_OK(drift_safetensors_read(src, &f));
    if (!f) return;
    size_t n = drift_safetensors_count(f), nm = drift_safetensors_meta_count(f);
    drift_st_tensor *t = malloc(n * sizeof *t);
    drift_st_meta *m = malloc(nm * sizeof *m);
    for (size_t i = 0; i < n; i++) t[i] = *drift_safetensors_tensor(f, i);
    for (size_t i = 0; i < nm; i++) {
        m[i] = *drift_safetensors_meta_at(f, i);
        if (!strcmp(m[i].key, key)) m[i].value = value;
    }
    CHECK_OK(drift_safetensors_write(dst, t, n, m, nm));
    free(t), free(m);
    drift_safetensors_free(f);
}

static void test_files(void)
{
    drift_dataset d = synthetic(64, 3);
    drift_encoder_opts o;
    small_opts(&o, 10);
    drift_encoder *e = NULL;
    CHECK_OK(drift_encoder_train_on(&d, &o, &e));
    if (!e) return;
    const char *path = tmp_path("a.safetensors"), *bad = tmp_path("b.safetensors");
    CHECK_OK(drift_encoder_save(e, path));
    /* round trip: bit-exact parameters and the same fields, same forward */
    drift_encoder *back = NULL;
    CHECK_OK(drift_encoder_load(path, "shapes", e->data_hash, &back));
    if (back) {
        CHECK(back->model->n_params == e->model->n_params);
        CHECK(memcmp(back->model->params, e->model->params, e->model->n_params * sizeof(float)) == 0);
        CHECK(!strcmp(back->hash, e->hash) && !strcmp(back->data_hash, e->data_hash));
        CHECK(!strcmp(back->training, e->training) && !strcmp(back->dataset, "shapes"));
        CHECK(back->steps == e->steps && back->train_images == e->train_images);
        CHECK(back->loss_start == e->loss_start && back->loss_end == e->loss_end);
        CHECK(back->model->max_batch == DRIFT_ENCODER_LOAD_BATCH);
        float *o1 = malloc((size_t)3 * e->model->out_dim * 4), *o2 = malloc((size_t)3 * e->model->out_dim * 4);
        CHECK_OK(drift_model_forward(e->model, d.x, NULL, NULL, 3, o1));
        CHECK_OK(drift_model_forward(back->model, d.x, NULL, NULL, 3, o2));
        CHECK(memcmp(o1, o2, (size_t)3 * e->model->out_dim * 4) == 0);
        /* resize keeps the parameters */
        CHECK_OK(drift_encoder_resize(back, 200));
        CHECK(back->model->max_batch == 200);
        CHECK_OK(drift_model_forward(back->model, d.x, NULL, NULL, 3, o2));
        CHECK(memcmp(o1, o2, (size_t)3 * e->model->out_dim * 4) == 0);
        free(o1), free(o2);
    }
    drift_encoder_free(back), back = NULL;
    /* without expectations it loads too */
    CHECK_OK(drift_encoder_load(path, NULL, NULL, &back));
    drift_encoder_free(back), back = NULL;
    /* wrong dataset, wrong data */
    CHECK(drift_encoder_load(path, "mnist", NULL, &back) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "trained on shapes, not mnist") != NULL);
    CHECK(drift_encoder_load(path, "shapes", "fnv1a64:0000000000000000", &back) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "data hash") != NULL);
    /* a changed weight: one byte of the data section */
    size_t len = 0;
    unsigned char *bytes = test_read_file(path, &len);
    CHECK(bytes != NULL && len > 100);
    if (bytes) {
        FILE *f = fopen(bad, "wb");
        bytes[len - 5] ^= 0x10;
        fwrite(bytes, 1, len, f);
        fclose(f);
        CHECK(drift_encoder_load(bad, "shapes", NULL, &back) == DRIFT_EFORMAT);
        CHECK(strstr(drift_last_error(), "was changed") != NULL);
        bytes[len - 5] ^= 0x10;
        /* truncated */
        f = fopen(bad, "wb");
        fwrite(bytes, 1, len - 7, f);
        fclose(f);
        CHECK(drift_encoder_load(bad, "shapes", NULL, &back) == DRIFT_EFORMAT);
        CHECK(strstr(drift_last_error(), bad) != NULL);
        free(bytes);
    }
    /* a changed metadata field with the old hash */
    rewrite_meta(path, bad, "steps", "99999");
    CHECK(drift_encoder_load(bad, "shapes", NULL, &back) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "was changed") != NULL);
    rewrite_meta(path, bad, "dataset", "mnist"); /* renaming the dataset does not pass either */
    CHECK(drift_encoder_load(bad, "mnist", NULL, &back) == DRIFT_EFORMAT);
    /* another format */
    rewrite_meta(path, bad, "format", "drift-classifier-2");
    CHECK(drift_encoder_load(bad, "shapes", NULL, &back) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "not a drift encoder") != NULL);
    CHECK(back == NULL);
    CHECK(drift_encoder_load("/nonexistent/enc.safetensors", NULL, NULL, &back) != DRIFT_OK);
    unlink(path), unlink(bad);
    drift_encoder_free(e);
    drift_dataset_free(&d);
}

typedef struct {
    int lines, trained, loaded;
} log_seen;

static void log_line(void *ctx, const char *line)
{
    log_seen *s = ctx;
    s->lines++;
    if (strstr(line, "training one now")) s->trained++;
    if (strstr(line, "loading encoder")) s->loaded++;
}

static void test_cache(void)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/drift_test_encoder_cache_%ld", (long)getpid());
    char path[512];
    CHECK_OK(drift_encoder_path(dir, "mnist", path, sizeof path));
    char want[512];
    snprintf(want, sizeof want, "%s/encoder-mnist.safetensors", dir);
    CHECK(!strcmp(path, want));
    CHECK(drift_encoder_path(dir, "a/b", path, sizeof path) == DRIFT_EINVAL);
    unlink(want);
    log_seen seen = {0};
    drift_encoder_get_opts g = {.dataset = "mnist", .cache_dir = dir, .log = log_line, .log_ctx = &seen};
    drift_encoder *e = NULL;
    CHECK(drift_encoder_get(&g, &e) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "drift encoder train --data mnist") != NULL);
    /* first use: trains (MNIST from the source tree, a few rows) and saves */
    char data[512];
    const char *src = getenv("DRIFT_SOURCE_DIR");
    snprintf(data, sizeof data, "%s/data", src ? src : ".");
    drift_encoder_opts o;
    small_opts(&o, 5);
    o.dataset = "mnist", o.data_dir = data, o.train_limit = 64;
    o.arch.widths[1] = 8, o.arch.widths[2] = 8; /* 28 = 4·7: two stride-2 stages */
    g.train_if_missing = 1, g.train_opts = &o, g.data_dir = data;
    CHECK_OK(drift_encoder_get(&g, &e));
    CHECK(seen.trained == 1 && access(want, F_OK) == 0);
    char hash[40] = "";
    if (e) {
        CHECK(e->train_images == 64 && !strcmp(e->dataset, "mnist"));
        snprintf(hash, sizeof hash, "%s", e->data_hash);
    }
    /* second use: loads, with the data hash checked */
    drift_encoder *again = NULL;
    g.expect_data_hash = hash;
    CHECK_OK(drift_encoder_get(&g, &again));
    CHECK(seen.trained == 1 && seen.loaded == 1);
    if (e && again) CHECK(!strcmp(e->hash, again->hash));
    drift_encoder_free(again), again = NULL;
    g.expect_data_hash = "fnv1a64:0123456789abcdef";
    CHECK(drift_encoder_get(&g, &again) == DRIFT_EINVAL);
    drift_encoder_free(e);
    unlink(want);
    rmdir(dir);
}

int main(void)
{
    RUN(test_training_lowers_loss);
    RUN(test_data_hash);
    RUN(test_files);
    RUN(test_cache);
    return TEST_SUMMARY();
}
