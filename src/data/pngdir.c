/* pngdir.c — a folder of PNG images as a drift_dataset (see drift/data.h).
 *
 * Two layouts, the ones image tools write and read:
 *   DIR/NAME.png              unlabelled images;
 *   DIR/CLASS/NAME.png      one subfolder per class (torchvision's ImageFolder): the classes are
 *                          the subfolders in byte order of their names, labels 0, 1, ...
 * Files are taken in byte order of their names, so a folder always gives the same rows. Every
 * image must have the size of the first; gray (+alpha) images give 1 channel, RGB(A) 3 (alpha
 * is dropped: drift's images have no transparency), and a folder mixing the two is read as RGB
 * with gray images repeated into the three channels.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/error.h"
#include "drift/image.h"
#include "data/data_internal.h"

#define MAX_PNG_FILES 10000000 /* a bound on the listing, far beyond a CPU training set */
#define MAX_PNG_CLASSES 65536

typedef struct {
    char **names;
    int64_t n, cap;
} name_list;

static void names_free(name_list *l)
{
    for (int64_t i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int names_push(name_list *l, const char *s)
{
    if (l->n >= MAX_PNG_FILES) return drift_error(DRIFT_EINVAL, "more than %d files", MAX_PNG_FILES);
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        char **p = realloc(l->names, (size_t)cap * sizeof *p);
        if (!p) return DRIFT_ENOMEM;
        l->names = p, l->cap = cap;
    }
    if (!(l->names[l->n] = strdup(s))) return DRIFT_ENOMEM;
    l->n++;
    return DRIFT_OK;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_png_suffix(const char *s)
{
    size_t n = strlen(s);
    return n > 4 && (!strcmp(s + n - 4, ".png") || !strcmp(s + n - 4, ".PNG"));
}

/* The *.png regular files (want_dirs = 0) or the subdirectories (1) of dir, sorted. Hidden
 * entries (".name") are skipped. */
static int list_dir(const char *dir, int want_dirs, name_list *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return drift_error(DRIFT_EIO, "%s: cannot open the folder", dir);
    int st = DRIFT_OK;
    struct dirent *e;
    char path[4096];
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (!want_dirs && !has_png_suffix(e->d_name)) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        struct stat sb;
        if (stat(path, &sb)) continue;
        if (want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode)) st = names_push(out, e->d_name);
    }
    closedir(d);
    if (st) {
        names_free(out);
        return st == DRIFT_ENOMEM ? drift_error(DRIFT_ENOMEM, "%s: out of memory listing the folder", dir)
                                  : drift_error_context(st, "%s", dir);
    }
    if (out->n) qsort(out->names, (size_t)out->n, sizeof *out->names, cmp_name);
    return DRIFT_OK;
}

int drift_dataset_is_png_dir(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int drift_dataset_from_png_dir(const char *dir, int64_t max_rows, drift_dataset *out)
{
    if (!dir || !out) return drift_error(DRIFT_EINVAL, "drift_dataset_from_png_dir: NULL argument");
    memset(out, 0, sizeof *out);
    name_list files = {0}, classes = {0};
    int32_t *labels = NULL;
    int64_t n = 0;
    int st = list_dir(dir, 0, &files);
    int labelled = 0;
    /* the listing: DIR/NAME.png, else DIR/CLASS/NAME.png */
    if (!st && files.n == 0) {
        if ((st = list_dir(dir, 1, &classes))) goto done;
        if (classes.n > MAX_PNG_CLASSES) {
            st = drift_error(DRIFT_EINVAL, "%s: %lld class folders, more than %d", dir, (long long)classes.n, MAX_PNG_CLASSES);
            goto done;
        }
        name_list tmp;
        char sub[4096], path[4096];
        for (int64_t k = 0; k < classes.n && !st; k++) {
            snprintf(sub, sizeof sub, "%s/%s", dir, classes.names[k]);
            if ((st = list_dir(sub, 0, &tmp))) break;
            for (int64_t i = 0; i < tmp.n && !st; i++) {
                snprintf(path, sizeof path, "%s/%s", classes.names[k], tmp.names[i]);
                st = names_push(&files, path);
                if (!st) {
                    int32_t *p = realloc(labels, (size_t)files.n * sizeof *labels);
                    if (!p) st = DRIFT_ENOMEM;
                    else (labels = p)[files.n - 1] = (int32_t)k;
                }
            }
            names_free(&tmp);
        }
        if (st) goto done;
        labelled = 1;
    }
    if (st) goto done;
    if (files.n == 0) {
        st = drift_error(DRIFT_EINVAL, "%s: no PNG images: expected DIR/NAME.png, or DIR/CLASS/NAME.png for labelled images", dir);
        goto done;
    }
    n = max_rows >= 0 && max_rows < files.n ? max_rows : files.n;
    if (n < 1) {
        st = drift_error(DRIFT_EINVAL, "%s: no rows asked for", dir);
        goto done;
    }
    /* first pass: decode into bytes of the first image's size, remember the widest channels */
    int h0 = 0, w0 = 0, cmax = 1;
    uint8_t **imgs = calloc((size_t)n, sizeof *imgs);
    int *chan = calloc((size_t)n, sizeof *chan);
    if (!imgs || !chan) st = DRIFT_ENOMEM;
    char path[4096];
    for (int64_t i = 0; i < n && !st; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files.names[i]);
        int w, h, c;
        if ((st = drift_png_read(path, &w, &h, &c, &imgs[i]))) break;
        if (i == 0) h0 = h, w0 = w;
        if (h != h0 || w != w0) {
            st = drift_error(DRIFT_ESHAPE, "%s is %dx%d, the folder's first image (%s) %dx%d: every image must have one size",
                             path, w, h, files.names[0], w0, h0);
            break;
        }
        chan[i] = c;
        if (c >= 3) cmax = 3;
    }
    if (!st) {
        const char *base = strrchr(dir, '/');
        char name[96];
        snprintf(name, sizeof name, "%s", base && base[1] ? base + 1 : dir);
        st = data_dataset_alloc(out, name, n, (int64_t)h0 * w0 * cmax, labelled);
    }
    if (!st) {
        out->h = h0, out->w = w0, out->c = cmax;
        const size_t hw = (size_t)h0 * (size_t)w0;
        for (int64_t i = 0; i < n; i++) {
            float *x = out->x + (size_t)i * (size_t)out->dim;
            const int c = chan[i];
            for (size_t p = 0; p < hw; p++) {
                const uint8_t *s = imgs[i] + p * (size_t)c;
                for (int k = 0; k < cmax; k++) {
                    uint8_t v = c >= 3 ? s[k] : s[0]; /* gray (+alpha) repeated; alpha dropped */
                    x[p * (size_t)cmax + (size_t)k] = (float)v / 127.5f - 1.0f;
                }
            }
        }
        if (labelled) {
            int32_t max = 0;
            for (int64_t i = 0; i < n; i++) {
                out->labels[i] = labels[i];
                if (labels[i] > max) max = labels[i];
            }
            out->n_classes = max + 1; /* empty class folders at the end add no class */
        }
    }
    for (int64_t i = 0; imgs && i < n; i++) drift_free(imgs[i]);
    free(imgs);
    free(chan);
    if (st) drift_dataset_free(out);
done:
    if (st == DRIFT_ENOMEM) st = drift_error(DRIFT_ENOMEM, "%s: out of memory", dir);
    names_free(&files);
    names_free(&classes);
    free(labels);
    return st;
}
