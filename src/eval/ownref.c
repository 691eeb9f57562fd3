/* ownref.c — the feature network for a user's own reference images (drift eval --ref, and
 * training evaluations on a dataset given by path).
 *
 * Fashion-MNIST and MNIST have a train split for the classifier and a test split for the
 * reference statistics. A user's reference file is one set, so the feature network is trained
 * on the reference itself:
 *   - with labels (2 or more classes): the classifier of classifier.c on those labels (plus the
 *     outlier class), so class accuracy is available;
 *   - without labels: the same CNN trained on a task the images define themselves, telling
 *     which of four transforms an image went through (rotations by 0/90/180/270 degrees for
 *     square images, identity/left-right/up-down/both flips otherwise; RotNet, Gidaris et al.
 *     2018), plus the outlier class. Recognising orientation needs the shapes of the objects,
 *     so its features separate what the images show without anyone naming it.
 * Either way it is a network of its own, cached by the content of the reference: no generator
 * ever trains against it (--features uses the masked-autoencoder encoder, another file).
 */
#include <stdio.h>
#include <string.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "eval/eval_internal.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

int eval_own_key(const drift_dataset *ref, char *key, size_t size)
{
    int64_t head[6] = {ref->n, ref->dim, ref->h, ref->w, ref->c, ref->labels ? ref->n_classes : -1};
    uint64_t h = fnv(FNV_OFFSET, head, sizeof head);
    h = fnv(h, ref->x, (size_t)ref->n * (size_t)ref->dim * sizeof(float));
    if (ref->labels) h = fnv(h, ref->labels, (size_t)ref->n * sizeof(int32_t));
    if (snprintf(key, size, "own-%016llx%s", (unsigned long long)h, ref->labels ? "" : "-unlabelled") >= (int)size)
        return drift_error(DRIFT_EINVAL, "own reference key: buffer too small");
    return DRIFT_OK;
}

int eval_own_labelled(const drift_dataset *ref) { return ref->labels && ref->n_classes >= 2; }

/* The pretext transform t (0..3) of one h x w x c image (h == w for the rotations). */
static void transform(float *dst, const float *src, int h, int w, int c, int square, int t)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int sy = y, sx = x;
            if (square) { /* rotation by t quarter turns */
                if (t == 1) sy = x, sx = w - 1 - y;
                else if (t == 2) sy = h - 1 - y, sx = w - 1 - x;
                else if (t == 3) sy = h - 1 - x, sx = y;
            } else { /* flips: 1 left-right, 2 up-down, 3 both */
                if (t & 1) sx = w - 1 - x;
                if (t & 2) sy = h - 1 - y;
            }
            memcpy(dst + ((size_t)y * w + x) * c, src + ((size_t)sy * w + sx) * c, (size_t)c * sizeof(float));
        }
}

int eval_own_pretext_set(const drift_dataset *ref, drift_dataset *out)
{
    memset(out, 0, sizeof *out);
    const int64_t n = 4 * ref->n;
    out->x = drift_alloc((size_t)n * (size_t)ref->dim, sizeof(float));
    out->labels = drift_alloc((size_t)n, sizeof(int32_t));
    if (!out->x || !out->labels) {
        drift_dataset_free(out);
        return drift_error(DRIFT_ENOMEM, "out of memory for the pretext set of %lld images", (long long)n);
    }
    snprintf(out->name, sizeof out->name, "%.80s/orientation", ref->name);
    out->n = n, out->dim = ref->dim, out->h = ref->h, out->w = ref->w, out->c = ref->c, out->n_classes = 4;
    const int square = ref->h == ref->w;
    /* row 4i + t: image i under transform t (consecutive, so a batch sees every orientation) */
    for (int64_t i = 0; i < ref->n; i++)
        for (int t = 0; t < 4; t++) {
            transform(out->x + (size_t)(4 * i + t) * (size_t)ref->dim, ref->x + (size_t)i * (size_t)ref->dim, ref->h,
                      ref->w, ref->c, square, t);
            out->labels[4 * i + t] = t;
        }
    return DRIFT_OK;
}

int eval_own_train(const drift_dataset *ref, const char *key, const drift_classifier_opts *given,
                   drift_classifier **out)
{
    *out = NULL;
    drift_classifier_opts o;
    if (given) o = *given;
    else drift_classifier_opts_default(&o, key); /* 12 epochs with shifts, as MNIST's */
    o.dataset = key;
    if (eval_own_labelled(ref)) return drift_classifier_train_on(ref, ref, &o, out);
    drift_dataset pre;
    int st = eval_own_pretext_set(ref, &pre);
    if (st) return st;
    o.epochs = (o.epochs + 3) / 4; /* 4 rows per image: as many steps as the epochs asked of the images */
    st = drift_classifier_train_on(&pre, &pre, &o, out);
    drift_dataset_free(&pre);
    return st;
}
