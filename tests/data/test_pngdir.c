/* Tests for drift_dataset_from_png_dir: a flat folder (unlabelled) and class subfolders
 * (labelled, classes in name order), pixel scaling, RGB + gray mixed into RGB, alpha dropped,
 * the row limit, files in name order, and the refusals (mixed sizes, an empty folder, a labels
 * file for a folder). drift_dataset_open reads a folder through it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/error.h"
#include "drift/image.h"
#include "test.h"

static char dir[64];

static const char *path(const char *name)
{
    static char buf[4][512];
    static int k = 0;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* A 4x6 (h x w) image whose pixel (y, x, ch) is (seed * 7 + y * 6 + x + 50 * ch) mod 256. */
static void image(uint8_t *px, int c, int seed)
{
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 6; x++)
            for (int ch = 0; ch < c; ch++) px[(y * 6 + x) * c + ch] = (uint8_t)((seed * 7 + y * 6 + x + 50 * ch) % 256);
}

static void write_gray(const char *p, int seed)
{
    uint8_t px[24];
    image(px, 1, seed);
    CHECK_OK(drift_png_write_gray(p, 6, 4, px));
}

static void write_rgb(const char *p, int seed)
{
    uint8_t px[72];
    image(px, 3, seed);
    CHECK_OK(drift_png_write_rgb(p, 6, 4, px));
}

static void test_flat_gray(void)
{
    mkdir(path("flat"), 0777);
    /* written out of order: the rows follow the names */
    write_gray(path("flat/b.png"), 2);
    write_gray(path("flat/a.png"), 1);
    write_gray(path("flat/c.png"), 3);
    FILE *f = fopen(path("flat/notes.txt"), "w"); /* not a PNG: ignored */
    if (f) fputs("x", f), fclose(f);
    drift_dataset d;
    CHECK_OK(drift_dataset_open(path("flat"), NULL, &d));
    CHECK(d.n == 3 && d.h == 4 && d.w == 6 && d.c == 1 && d.dim == 24 && !d.labels && d.n_classes == 0);
    for (int s = 0; s < 3; s++) {
        uint8_t px[24];
        image(px, 1, s + 1);
        for (int i = 0; i < 24; i++) CHECK_CLOSE(d.x[s * 24 + i], px[i] / 127.5 - 1.0, 1e-6, 0);
    }
    drift_dataset_free(&d);
    /* the row limit decodes only the first files */
    drift_dataset_opts o = {.n = 2};
    CHECK_OK(drift_dataset_open(path("flat"), &o, &d));
    CHECK(d.n == 2 && d.x[0] == (float)(7 / 127.5 - 1.0));
    drift_dataset_free(&d);
    /* a labels file does not go with a folder */
    o.n = 0;
    o.labels_path = path("flat/a.png");
    CHECK(drift_dataset_open(path("flat"), &o, &d) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "class subfolders") != NULL);
}

static void test_class_folders_rgb(void)
{
    mkdir(path("cls"), 0777);
    mkdir(path("cls/cat"), 0777);
    mkdir(path("cls/ant"), 0777);
    mkdir(path("cls/bee"), 0777);
    write_rgb(path("cls/cat/1.png"), 5);
    write_rgb(path("cls/ant/1.png"), 6);
    write_gray(path("cls/ant/2.png"), 7); /* gray in an RGB folder: repeated into 3 channels */
    write_rgb(path("cls/bee/9.png"), 8);
    drift_dataset d;
    CHECK_OK(drift_dataset_from_png_dir(path("cls"), -1, &d));
    CHECK(d.n == 4 && d.c == 3 && d.dim == 72 && d.labels && d.n_classes == 3);
    /* classes in name order: ant 0, bee 1, cat 2; rows: ant/1, ant/2, bee/9, cat/1 */
    CHECK(d.labels[0] == 0 && d.labels[1] == 0 && d.labels[2] == 1 && d.labels[3] == 2);
    uint8_t rgb[72], gray[24];
    image(rgb, 3, 6);
    image(gray, 1, 7);
    for (int i = 0; i < 72; i++) CHECK_CLOSE(d.x[i], rgb[i] / 127.5 - 1.0, 1e-6, 0);
    for (int p = 0; p < 24; p++)
        for (int ch = 0; ch < 3; ch++) CHECK_CLOSE(d.x[72 + p * 3 + ch], gray[p] / 127.5 - 1.0, 1e-6, 0);
    drift_dataset_free(&d);
}

static void test_refusals(void)
{
    drift_dataset d;
    mkdir(path("empty"), 0777);
    CHECK(drift_dataset_from_png_dir(path("empty"), -1, &d) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "no PNG images") != NULL);
    mkdir(path("sizes"), 0777);
    write_gray(path("sizes/a.png"), 1);
    uint8_t px[9] = {0};
    CHECK_OK(drift_png_write_gray(path("sizes/b.png"), 3, 3, px));
    CHECK(drift_dataset_from_png_dir(path("sizes"), -1, &d) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "one size") != NULL);
    /* a damaged PNG is reported naming the file */
    FILE *f = fopen(path("sizes/c.png"), "wb");
    if (f) fputs("\x89PNG\r\n\x1a\nbroken", f), fclose(f);
    CHECK(drift_dataset_from_png_dir(path("sizes"), -1, &d) != DRIFT_OK);
    CHECK(d.x == NULL && d.n == 0);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/drift_test_pngdir_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(test_flat_gray);
    RUN(test_class_folders_rgb);
    RUN(test_refusals);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_SUMMARY();
}
