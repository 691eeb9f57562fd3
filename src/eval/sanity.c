/* sanity.c — sets that a trustworthy evaluation must score badly (or well), made from the
 * dataset itself and scored like samples: `drift eval --sanity`.
 *
 * Each set has n rows built from the train split (which the test-split reference never
 * contains), and each row of the table carries its rule (eval.h lists them). Rules on single
 * sets: real images score precision and recall ≥ 0.6; noise, flat images and salt-and-pepper
 * score precision ≤ 0.05; one image repeated scores recall and coverage ≤ 0.02 and dup_frac
 * ≥ 0.99. Rules across sets: FID rises strictly with the strength of additive noise and of
 * blur, starting from the real set's FID. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/rng.h"
#include "eval/eval_internal.h"

enum kind { REAL, GAUSS, UNIFORM, CONSTANT, SALT_PEPPER, COPIES, NOISE, BLUR };

typedef struct {
    enum kind kind;
    double param;            /* grey level, noise σ, blur σ, salt-and-pepper rate */
    const char *name_fmt;
    const char *expect;
    const char *group;
} set_spec;

static const set_spec SETS[] = {
    {REAL, 0, "real (train split)", "precision, recall >= 0.6", ""},
    {GAUSS, 0.25, "gaussian noise", "precision <= 0.05", ""},
    {UNIFORM, 0, "uniform noise", "precision <= 0.05", ""},
    {CONSTANT, 0.0, "constant %.2f", "precision <= 0.05", ""},
    {CONSTANT, 0.25, "constant %.2f", "precision <= 0.05", ""},
    {CONSTANT, 0.5, "constant %.2f", "precision <= 0.05", ""},
    {CONSTANT, 0.75, "constant %.2f", "precision <= 0.05", ""},
    {CONSTANT, 1.0, "constant %.2f", "precision <= 0.05", ""},
    {SALT_PEPPER, 0.3, "salt-and-pepper 30%%", "precision <= 0.05", ""},
    {COPIES, 0, "one image, repeated", "recall, coverage <= 0.02; dup >= 0.99", ""},
    {NOISE, 0.05, "noise sigma %.2f", "", "noise"},
    {NOISE, 0.1, "noise sigma %.2f", "", "noise"},
    {NOISE, 0.2, "noise sigma %.2f", "", "noise"},
    {NOISE, 0.4, "noise sigma %.2f", "", "noise"},
    {BLUR, 0.5, "blur sigma %.1f", "", "blur"},
    {BLUR, 1.0, "blur sigma %.1f", "", "blur"},
    {BLUR, 2.0, "blur sigma %.1f", "", "blur"},
};
#define N_SETS ((int)(sizeof SETS / sizeof *SETS))

/* Fills x (n, dim) and labels (n, or NULL for label-free sets) with one set. rows: the train
 * rows the real-derived sets use. */
static int make_set(const set_spec *s, const drift_dataset *train, const int64_t *rows, int64_t n,
                    uint64_t seed, int index, float *x, int32_t *labels, int *labelled)
{
    const int64_t dim = train->dim;
    drift_rng rng;
    drift_rng_init(&rng, seed, DRIFT_STREAM(11, index));
    *labelled = 0;
    switch (s->kind) {
    case GAUSS:
        for (int64_t i = 0; i < n * dim; i++) {
            double u = 0.5 + s->param * drift_rng_normal(&rng);
            x[i] = (float)(2 * (u < 0 ? 0 : u > 1 ? 1 : u) - 1);
        }
        return DRIFT_OK;
    case UNIFORM:
        drift_rng_fill_uniform(&rng, x, (size_t)(n * dim), -1.0f, 1.0f);
        return DRIFT_OK;
    case CONSTANT:
        for (int64_t i = 0; i < n * dim; i++) x[i] = (float)(2 * s->param - 1);
        return DRIFT_OK;
    case COPIES:
        for (int64_t i = 0; i < n; i++) {
            memcpy(x + (size_t)i * dim, train->x + (size_t)rows[0] * dim, (size_t)dim * sizeof(float));
            labels[i] = train->labels[rows[0]];
        }
        *labelled = 1;
        return DRIFT_OK;
    default:
        break;
    }
    int st = drift_dataset_gather(train, rows, n, x, labels);
    if (st) return st;
    *labelled = 1;
    for (int64_t i = 0; i < n && st == DRIFT_OK; i++) {
        float *img = x + (size_t)i * dim;
        switch (s->kind) {
        case SALT_PEPPER: eval_salt_pepper(img, dim, s->param, &rng); break;
        case NOISE: eval_add_noise(img, dim, s->param, &rng); break;
        case BLUR: st = eval_blur(img, train->h, train->w, train->c, s->param); break;
        default: break;
        }
    }
    return st;
}

static int check_row(const set_spec *s, const drift_image_metrics *m)
{
    switch (s->kind) {
    case REAL: return m->precision >= 0.6 && m->recall >= 0.6;
    case GAUSS: case UNIFORM: case CONSTANT: case SALT_PEPPER: return m->precision <= 0.05;
    case COPIES: return m->recall <= 0.02 && m->coverage <= 0.02 && m->dup_frac >= 0.99;
    default: return 1;
    }
}

/* FID of the real set, then of each row of the group in order, strictly rising. */
static int fid_rises(const drift_sanity *out, const char *group)
{
    double prev = out->rows[0].m.fid;
    for (int r = 1; r < out->n_rows; r++) {
        if (strcmp(out->rows[r].group, group)) continue;
        if (!(out->rows[r].m.fid > prev)) return 0;
        prev = out->rows[r].m.fid;
    }
    return 1;
}

int drift_eval_sanity(drift_evaluator *ev, const drift_dataset *train, int64_t n, uint64_t seed,
                      void (*progress)(void *ctx, const drift_sanity_row *row), void *ctx,
                      drift_sanity *out)
{
    if (!ev || !train || !out) return drift_error(DRIFT_EINVAL, "sanity: NULL argument");
    memset(out, 0, sizeof *out);
    int h, w, c;
    drift_evaluator_image_shape(ev, &h, &w, &c);
    if (train->h != h || train->w != w || train->c != c || !train->labels)
        return drift_error(DRIFT_ESHAPE, "sanity: %s must hold labelled %dx%dx%d images like the "
                                         "reference", train->name, h, w, c);
    if (n < 2 || n > train->n)
        return drift_error(DRIFT_EINVAL, "sanity: %" PRId64 " rows per set, %s has %" PRId64
                                         " (need 2 .. that)", n, train->name, train->n);
    const int64_t dim = train->dim;
    float *x = drift_alloc((size_t)(n * dim), sizeof(float));
    int32_t *labels = drift_alloc((size_t)n, sizeof(int32_t));
    int64_t *rows = drift_alloc((size_t)n, sizeof(int64_t));
    if (!x || !labels || !rows) {
        drift_free(x), drift_free(labels), drift_free(rows);
        return DRIFT_ENOMEM;
    }
    /* n evenly spaced train rows: every class, no row twice */
    for (int64_t i = 0; i < n; i++) rows[i] = i * train->n / n;
    int st = DRIFT_OK;
    for (int s = 0; s < N_SETS && st == DRIFT_OK; s++) {
        drift_sanity_row *row = &out->rows[s];
        int labelled;
        if ((st = make_set(&SETS[s], train, rows, n, seed, s, x, labels, &labelled))) break;
        if ((st = drift_eval_images(ev, x, dim, labelled ? labels : NULL, n, &row->m))) {
            drift_error_context(st, "sanity set %d", s);
            break;
        }
        snprintf(row->name, sizeof row->name, SETS[s].name_fmt, SETS[s].param);
        snprintf(row->expect, sizeof row->expect, "%s", SETS[s].expect);
        snprintf(row->group, sizeof row->group, "%s", SETS[s].group);
        row->strength = SETS[s].param;
        row->pass = check_row(&SETS[s], &row->m);
        out->n_rows = s + 1;
        if (progress) progress(ctx, row);
    }
    drift_free(x), drift_free(labels), drift_free(rows);
    if (st) return st;
    out->fid_monotone_noise = fid_rises(out, "noise");
    out->fid_monotone_blur = fid_rises(out, "blur");
    out->pass = out->fid_monotone_noise && out->fid_monotone_blur;
    for (int r = 0; r < out->n_rows; r++) out->pass = out->pass && out->rows[r].pass;
    return DRIFT_OK;
}
