/* config.c — the training options: one table for CLI flags, --help and checkpoint metadata. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/data.h"
#include "drift/error.h"
#include "drift/features.h"
#include "drift/json.h"
#include "drift/train.h"

typedef enum { T_STR, T_INT, T_I64, T_U64, T_DBL, T_BOOL, T_TAU, T_FAMILY, T_KERNEL, T_DENG, T_OBJ } opt_type;

typedef struct {
    const char *key, *meta, *help;
    opt_type type;
    size_t offset, size;
} opt_entry;

#define O(key, type, field, meta, help) {key, meta, help, type, offsetof(drift_train_config, field), sizeof(((drift_train_config *)0)->field)}

static const opt_entry table[] = {
    O("data", T_STR, data, "NAME", "fashion-mnist | mnist | swiss_roll | checkerboard | 8gaussians | moons | two_mode | gaussian | FILE.npy | IDX file | folder of PNGs"),
    O("data-dir", T_STR, data_dir, "DIR", "directory holding fashion-mnist/ or mnist/ (default: $DRIFT_DATA_DIR, ./data, /usr/share/datasets)"),
    O("labels", T_STR, labels, "FILE", "labels for an .npy (integer .npy, (n,)) or IDX (idx1 file) dataset (integers >= 0)"),
    O("model", T_STR, model, "KIND", "generator: mlp | conv | dit-t | dit-s (dit = dit-t; images only; its size comes with the name)"),
    O("noise-dim", T_INT, noise_dim, "N", "dimension of the generator's noise input"),
    O("width", T_INT, width, "N", "mlp: hidden width; conv: base channels"),
    O("depth", T_INT, depth, "N", "mlp: hidden layers; conv: blocks per resolution"),
    O("conditional", T_BOOL, conditional, "0|1", "class-conditional generator (needs labels; own image data: 1 when it has labels)"),
    O("family", T_FAMILY, field.family, "F", "drift field: deng | meanshift | sharp | kdegrad | mmd"),
    O("kernel", T_KERNEL, field.kernel, "K", "kernel: gaussian | laplace | rq"),
    O("tau", T_TAU, field.tau, "LIST", "temperatures, comma-separated (relative to the mean distance with feature-norm)"),
    O("rq-alpha", T_DBL, field.rq_alpha, "A", "shape of the rq kernel"),
    O("deng-norm", T_DENG, field.deng_norm, "N", "deng normalization: both | row | none"),
    O("pos-scale", T_DBL, field.pos_scale, "S", "scale of the attraction side of V"),
    O("neg-scale", T_DBL, field.neg_scale, "S", "scale of the repulsion side of V"),
    O("feature-norm", T_BOOL, field.feature_norm, "0|1", "normalize distances by their weighted mean"),
    O("drift-norm", T_BOOL, field.drift_norm, "0|1", "divide each temperature's field by its RMS"),
    O("deng-soft-mask", T_BOOL, field.deng_soft_mask, "0|1", "deng: soft self-mask (+100 on the normalized distance)"),
    O("deng-floor", T_BOOL, field.deng_floor, "0|1", "deng: affinity floor sqrt(max(A_row*A_col, 1e-6))"),
    O("objective", T_OBJ, objective, "O", "drift (fixed-point loss) | potential (log-KDE loss; sharp/kdegrad/mmd)"),
    O("classes-per-step", T_INT, classes_per_step, "N", "class groups per step (N_c)"),
    O("n-pos", T_INT, n_pos, "N", "positives (data) per class group (N_pos)"),
    O("n-neg", T_INT, n_neg, "N", "generated samples per class group (N_neg)"),
    O("n-unc", T_INT, n_unc, "N", "unconditional data among the negatives, for guidance (N_unc)"),
    O("alpha-max", T_DBL, alpha_max, "A", "guidance scale alpha drawn from [1, A] with density ~ alpha^-3; 1 = no guidance"),
    O("lr", T_DBL, lr, "LR", "AdamW learning rate"),
    O("beta1", T_DBL, beta1, "B", "AdamW beta1"),
    O("beta2", T_DBL, beta2, "B", "AdamW beta2"),
    O("weight-decay", T_DBL, weight_decay, "W", "AdamW decoupled weight decay"),
    O("grad-clip", T_DBL, grad_clip, "C", "clip the global gradient norm to C (0 = off)"),
    O("ema", T_DBL, ema_decay, "D", "EMA decay of the weights used for sampling (0 = no EMA)"),
    O("warmup", T_INT, warmup, "STEPS", "linear learning-rate warm-up"),
    O("schedule", T_STR, schedule, "S", "learning-rate schedule after warm-up: constant | cosine"),
    O("steps", T_I64, steps, "N", "training steps"),
    O("log-every", T_INT, log_every, "N", "write a metrics line every N steps"),
    O("sample-every", T_INT, sample_every, "N", "write a sample grid every N steps (0 = only at the end)"),
    O("ckpt-every", T_INT, ckpt_every, "N", "write the checkpoint every N steps (0 = only at the end)"),
    O("eval-every", T_INT, eval_every, "N", "evaluate samples (FID etc.) every N steps (0 = only at the end, -1 = never)"),
    O("eval-n", T_INT, eval_n, "N", "samples generated for each evaluation"),
    O("seed", T_U64, seed, "S", "random seed (same seed and threads: same bytes)"),
    O("threads", T_INT, threads, "T", "threads (0 = all cores)"),
    O("out", T_STR, out, "DIR", "run directory (metrics.jsonl, samples, plots, checkpoint)"),
    O("features", T_STR, features, "none|auto|FILE", "drift in the features of a frozen encoder: none (pixels), auto (the dataset's cached encoder, trained on first use; drift encoder train), or an encoder file"),
    O("feature-keys", T_STR, feature_keys, "SPEC", "feature keys: light | release | a comma list of global and MAP.POOL (MAP: a map name or *; POOL: tokens | mean | std | mean2 | std2 | mean4 | std4); light = global,*.mean,*.std,layer1.mean2,layer1.std2,layer2.tokens"),
    O("feature-scope", T_STR, feature_scope, "step|group", "feature loss: the scale and per-temperature norms over the whole step (the release) or per class group"),
    O("keep-zero-neg", T_BOOL, keep_zero_neg, "0|1", "feature loss: unconditional negatives of weight 0 (alpha = 1) stay in the softmaxes (the release)"),
    O("feature-hash", T_STR, feature_hash, "HASH", "content hash of the run's encoder (recorded by the run; a resume with another encoder is refused)"),
};
#define N_OPTS ((int)(sizeof table / sizeof table[0]))

const drift_train_option *drift_train_options(int *count)
{
    static drift_train_option opts[N_OPTS];
    for (int i = 0; i < N_OPTS; i++) {
        opts[i].key = table[i].key;
        opts[i].meta = table[i].meta;
        opts[i].help = table[i].help;
    }
    *count = N_OPTS;
    return opts;
}

static const opt_entry *find(const char *key)
{
    for (int i = 0; i < N_OPTS; i++)
        if (!strcmp(table[i].key, key)) return &table[i];
    return NULL;
}

static int parse_double(const char *key, const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d))
        return drift_error(DRIFT_EINVAL, "option %s needs a number, got '%s'", key, v);
    *out = d;
    return DRIFT_OK;
}

static int parse_i64(const char *key, const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long d = strtoll(v, &end, 10);
    if (errno || end == v || *end) return drift_error(DRIFT_EINVAL, "option %s needs an integer, got '%s'", key, v);
    *out = d;
    return DRIFT_OK;
}

int drift_train_config_set(drift_train_config *cfg, const char *key, const char *value)
{
    const opt_entry *e = find(key);
    if (!e) return drift_error(DRIFT_EINVAL, "unknown training option '%s'", key);
    if (!value) return drift_error(DRIFT_EINVAL, "option %s needs a value", key);
    char *p = (char *)cfg + e->offset;
    double d = 0;
    long long ll = 0;
    int st;
    switch (e->type) {
    case T_STR:
        if (strlen(value) >= e->size) return drift_error(DRIFT_EINVAL, "option %s: value too long", key);
        strcpy(p, value);
        return DRIFT_OK;
    case T_BOOL:
        /* 0|1 is the spelling; yes|no, true|false and on|off are accepted as aliases */
        if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "on")) value = "1";
        else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "off")) value = "0";
        if (strcmp(value, "0") && strcmp(value, "1"))
            return drift_error(DRIFT_EINVAL, "option %s is 0 or 1 (or yes|no, true|false, on|off), got '%s'", key, value);
        /* fall through */
    case T_INT:
        if ((st = parse_i64(key, value, &ll))) return st;
        if (ll < -2147483647LL || ll > 2147483647LL) return drift_error(DRIFT_EINVAL, "option %s out of range", key);
        if (e->type == T_BOOL && ll != 0 && ll != 1) return drift_error(DRIFT_EINVAL, "option %s is 0 or 1, got '%s'", key, value);
        *(int *)p = (int)ll;
        return DRIFT_OK;
    case T_I64:
        if ((st = parse_i64(key, value, &ll))) return st;
        *(int64_t *)p = ll;
        return DRIFT_OK;
    case T_U64: {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-')
            return drift_error(DRIFT_EINVAL, "option %s needs a non-negative integer, got '%s'", key, value);
        *(uint64_t *)p = u;
        return DRIFT_OK;
    }
    case T_DBL:
        if ((st = parse_double(key, value, &d))) return st;
        *(double *)p = d;
        return DRIFT_OK;
    case T_TAU: {
        double vals[DRIFT_MAX_TAU];
        int n = 0;
        const char *s = value;
        while (*s) {
            char *end;
            errno = 0;
            double t = strtod(s, &end);
            if (errno || end == s || n >= DRIFT_MAX_TAU || !(t > 0) || !isfinite(t))
                return drift_error(DRIFT_EINVAL, "option tau needs 1 to %d comma-separated numbers > 0, got '%s'", DRIFT_MAX_TAU, value);
            vals[n++] = t;
            s = *end == ',' ? end + 1 : end;
            if (*end && *end != ',') return drift_error(DRIFT_EINVAL, "option tau: bad list '%s'", value);
        }
        if (!n) return drift_error(DRIFT_EINVAL, "option tau: empty list");
        cfg->field.n_tau = n;
        memcpy(cfg->field.tau, vals, sizeof(double) * (size_t)n);
        return DRIFT_OK;
    }
    case T_FAMILY: return drift_family_parse(value, (drift_family *)p);
    case T_KERNEL: return drift_kernel_parse(value, (drift_kernel *)p);
    case T_DENG: return drift_deng_norm_parse(value, (drift_deng_norm *)p);
    case T_OBJ: return drift_objective_parse(value, (drift_objective *)p);
    }
    return drift_error(DRIFT_EINVAL, "option %s: internal type error", key);
}

int drift_train_config_get(const drift_train_config *cfg, const char *key, char *buf, size_t size)
{
    const opt_entry *e = find(key);
    if (!e) return drift_error(DRIFT_EINVAL, "unknown training option '%s'", key);
    const char *p = (const char *)cfg + e->offset;
    switch (e->type) {
    case T_STR: snprintf(buf, size, "%s", p); break;
    case T_INT: case T_BOOL: snprintf(buf, size, "%d", *(const int *)p); break;
    case T_I64: snprintf(buf, size, "%lld", (long long)*(const int64_t *)p); break;
    case T_U64: snprintf(buf, size, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case T_DBL: snprintf(buf, size, "%.17g", *(const double *)p); break;
    case T_TAU: {
        size_t used = 0;
        buf[0] = 0;
        for (int t = 0; t < cfg->field.n_tau && used < size; t++)
            used += (size_t)snprintf(buf + used, size - used, "%s%.17g", t ? "," : "", cfg->field.tau[t]);
        break;
    }
    case T_FAMILY: snprintf(buf, size, "%s", drift_family_name(*(const drift_family *)p)); break;
    case T_KERNEL: snprintf(buf, size, "%s", drift_kernel_name(*(const drift_kernel *)p)); break;
    case T_DENG: snprintf(buf, size, "%s", drift_deng_norm_name(*(const drift_deng_norm *)p)); break;
    case T_OBJ: snprintf(buf, size, "%s", drift_objective_name(*(const drift_objective *)p)); break;
    }
    return DRIFT_OK;
}

static int is_image_dataset(const char *data)
{
    return !strcmp(data, "fashion-mnist") || !strcmp(data, "mnist");
}

/* The shape of a dataset given by path (NPY, IDX, a folder of PNGs), from its first row only,
 * so that the defaults fit the data: images get the image recipe sized to their shape, flat
 * vectors the vector recipe, (n, 2) points the 2-D recipe. */
static int probe_file_data(const char *data, int *h, int *w, int64_t *dim)
{
    drift_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.n = 1;
    drift_dataset d;
    int st = drift_dataset_open(data, &o, &d);
    if (st) return st;
    *h = d.h, *w = d.w, *dim = d.dim;
    drift_dataset_free(&d);
    return DRIFT_OK;
}

int drift_train_config_defaults(drift_train_config *cfg, const char *data, const char *preset)
{
    if (!data || !*data) return drift_error(DRIFT_EINVAL, "no dataset given (--data)");
    if (!preset) preset = "default";
    const int quick = !strcmp(preset, "quick");
    if (!quick && strcmp(preset, "default"))
        return drift_error(DRIFT_EINVAL, "unknown preset '%s' (valid: default, quick)", preset);
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->data, sizeof cfg->data, "%s", data);
    drift_field_config_init(&cfg->field);
    cfg->objective = DRIFT_OBJECTIVE_DRIFT;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.95;
    cfg->weight_decay = 0.01;
    cfg->grad_clip = 2.0;
    snprintf(cfg->schedule, sizeof cfg->schedule, "constant");
    cfg->seed = 0;
    cfg->eval_n = 2000;
    const drift_toy *toy;
    /* a file or folder of the user's own: its shape chooses the recipe */
    const int file = !is_image_dataset(data) && drift_toy_find(data, &toy) != DRIFT_OK;
    int fh = 0, fw = 0;
    int64_t fdim = 0;
    if (file) {
        int st = probe_file_data(data, &fh, &fw, &fdim);
        if (st) return st;
    }
    const int file_image = file && fh > 0, vectors = file && fh == 0 && fdim != 2;
    if (is_image_dataset(data) || file_image || vectors) {
        /* images: conv generator, class-conditional with guidance, the released deng recipe
         * (docs/MATH.md §7) at a CPU-sized batch. Own images: the same, sized to their shape
         * (the conv generator needs sides that are multiples of 4; other sides get the MLP),
         * and flat vectors (n, D) (an MLP of width 512): class-conditional with guidance when
         * the data has labels, else unconditional without (conditional = -1, resolved by
         * drift_trainer_create, which then also turns guidance off). */
        const int conv = !vectors && fh % 4 == 0 && fw % 4 == 0;
        snprintf(cfg->model, sizeof cfg->model, conv ? "conv" : "mlp");
        cfg->noise_dim = 64;
        cfg->width = conv ? 32 : 512;
        cfg->depth = conv ? 1 : 3;
        cfg->conditional = file ? -1 : 1;
        drift_field_config_deng_released(&cfg->field);
        /* ...except the affinity floor (c): in pixel space, without the authors' feature
         * encoder and at CPU batch sizes, the floor gives every far positive the same weight,
         * the attraction becomes the pull to the class mean, and samples collapse onto it
         * (measured: diversity 0.07 at step 150 with the floor, 0.57 without; docs/TRAINING.md).
         * --deng-floor 1 restores it. */
        cfg->field.deng_floor = 0;
        cfg->field.kernel = DRIFT_KERNEL_LAPLACE;
        cfg->field.n_tau = 3;
        cfg->field.tau[0] = 0.02; cfg->field.tau[1] = 0.05; cfg->field.tau[2] = 0.2;
        cfg->classes_per_step = 10;
        cfg->n_pos = 32;
        cfg->n_neg = 32;
        cfg->n_unc = 16;
        cfg->alpha_max = 4.0;
        cfg->lr = 1e-3;
        cfg->ema_decay = quick ? 0.99 : 0.999;
        cfg->warmup = quick ? 50 : 200;
        cfg->steps = quick ? 1000 : 4000;
        cfg->log_every = 10;
        cfg->sample_every = quick ? 250 : 500;
        cfg->ckpt_every = quick ? 250 : 500;
        cfg->eval_every = quick ? 500 : 1000;
    } else {
        /* toy 2-D (docs/MATH.md §7): MLP 32→256→256→256→2, 2048 generated and 2048 data per step, τ = 0.05 */
        snprintf(cfg->model, sizeof cfg->model, "mlp");
        cfg->noise_dim = 32;
        cfg->width = 256;
        cfg->depth = 3;
        cfg->conditional = 0;
        cfg->field.family = DRIFT_FAMILY_DENG;
        cfg->field.kernel = DRIFT_KERNEL_LAPLACE;
        cfg->field.n_tau = 1;
        cfg->field.tau[0] = 0.05;
        cfg->classes_per_step = 1;
        cfg->n_pos = quick ? 1024 : 2048;
        cfg->n_neg = quick ? 1024 : 2048;
        cfg->n_unc = 0;
        cfg->alpha_max = 1.0;
        cfg->lr = 1e-3;
        cfg->beta2 = 0.999;
        cfg->weight_decay = 0.0;
        cfg->grad_clip = 0.0;
        cfg->ema_decay = 0.99;
        cfg->warmup = 0;
        /* measured on 2 idle cores (docs/TRAINING.md): quick ≈ 1 min, the spiral fully formed */
        cfg->steps = quick ? 4000 : 8000;
        cfg->log_every = 10;
        cfg->sample_every = quick ? 1000 : 2000;
        cfg->ckpt_every = 1000;
        cfg->eval_every = 0;
    }
    if (file) { /* runs/<file or folder name without directories and extension> */
        size_t end = strlen(data);
        while (end > 1 && data[end - 1] == '/') end--; /* "my_pngs/" names my_pngs */
        size_t start = end;
        while (start > 0 && data[start - 1] != '/') start--;
        size_t stem = strcspn(data + start, ".");
        if (stem > end - start) stem = end - start;
        if (!stem) stem = end - start; /* ".hidden" */
        snprintf(cfg->out, sizeof cfg->out, "runs/%.*s", (int)(stem ? stem : 4), stem ? data + start : "data");
    } else {
        snprintf(cfg->out, sizeof cfg->out, "runs/%s", data);
    }
    snprintf(cfg->features, sizeof cfg->features, "none");
    snprintf(cfg->feature_keys, sizeof cfg->feature_keys, "light"); /* DRIFT_FEATURE_KEYS_LIGHT */
    snprintf(cfg->feature_scope, sizeof cfg->feature_scope, "step");
    cfg->keep_zero_neg = 1;
    return DRIFT_OK;
}

int drift_train_config_check(const drift_train_config *cfg)
{
    int st = drift_field_config_check(&cfg->field);
    if (st) return st;
    if (strcmp(cfg->model, "mlp") && strcmp(cfg->model, "conv") && strcmp(cfg->model, "dit") &&
        strcmp(cfg->model, "dit-t") && strcmp(cfg->model, "dit-s"))
        return drift_error(DRIFT_EINVAL, "unknown model '%s' (valid: mlp, conv, dit-t, dit-s; dit = dit-t)", cfg->model);
    if (cfg->conditional < -1 || cfg->conditional > 1)
        return drift_error(DRIFT_EINVAL, "conditional is 0 or 1 (-1: when the data has labels)");
    if (cfg->noise_dim < 1 || cfg->width < 1 || cfg->depth < 1)
        return drift_error(DRIFT_EINVAL, "noise-dim, width and depth must be >= 1");
    if (cfg->n_neg < 2) return drift_error(DRIFT_EINVAL, "n-neg must be >= 2 (the field repels generated samples from each other)");
    if (cfg->n_pos < 1) return drift_error(DRIFT_EINVAL, "n-pos must be >= 1");
    if (cfg->n_unc < 0 || cfg->classes_per_step < 1) return drift_error(DRIFT_EINVAL, "n-unc must be >= 0 and classes-per-step >= 1");
    if (!(cfg->alpha_max >= 1.0)) return drift_error(DRIFT_EINVAL, "alpha-max must be >= 1 (1 = no guidance)");
    if (cfg->alpha_max > 1.0 && cfg->n_unc < 1)
        return drift_error(DRIFT_EINVAL, "guidance (alpha-max > 1) needs unconditional negatives: set n-unc >= 1");
    if (!(cfg->lr > 0) || cfg->beta1 < 0 || cfg->beta1 >= 1 || cfg->beta2 < 0 || cfg->beta2 >= 1 || cfg->weight_decay < 0)
        return drift_error(DRIFT_EINVAL, "optimizer settings out of range (lr > 0, 0 <= beta < 1, weight-decay >= 0)");
    if (cfg->grad_clip < 0 || cfg->ema_decay < 0 || cfg->ema_decay >= 1)
        return drift_error(DRIFT_EINVAL, "grad-clip must be >= 0 and ema in [0, 1)");
    if (strcmp(cfg->schedule, "constant") && strcmp(cfg->schedule, "cosine"))
        return drift_error(DRIFT_EINVAL, "unknown schedule '%s' (valid: constant, cosine)", cfg->schedule);
    if (cfg->steps < 1 || cfg->warmup < 0) return drift_error(DRIFT_EINVAL, "steps must be >= 1 and warmup >= 0");
    if (cfg->log_every < 1 || cfg->sample_every < 0 || cfg->ckpt_every < 0 || cfg->eval_every < -1 || cfg->eval_n < 2)
        return drift_error(DRIFT_EINVAL, "log-every must be >= 1, sample/ckpt-every >= 0, eval-every >= -1, eval-n >= 2");
    if (cfg->objective == DRIFT_OBJECTIVE_POTENTIAL && !drift_family_is_conservative(cfg->field.family))
        return drift_error(DRIFT_EINVAL, "the potential objective needs a conservative family (sharp, kdegrad, mmd), not %s",
                           drift_family_name(cfg->field.family));
    if (cfg->threads < 0) return drift_error(DRIFT_EINVAL, "threads must be >= 0");
    if (!cfg->out[0]) return drift_error(DRIFT_EINVAL, "no run directory (--out)");
    if (strcmp(cfg->feature_scope, "step") && strcmp(cfg->feature_scope, "group"))
        return drift_error(DRIFT_EINVAL, "unknown feature-scope '%s' (valid: step, group)", cfg->feature_scope);
    if (strcmp(cfg->features, "none")) {
        if (cfg->objective != DRIFT_OBJECTIVE_DRIFT || cfg->field.family != DRIFT_FAMILY_DENG)
            return drift_error(DRIFT_EINVAL, "--features drifts with the released deng loss: it needs --family deng and "
                                             "--objective drift");
        if (!cfg->feature_keys[0]) return drift_error(DRIFT_EINVAL, "--features needs --feature-keys");
    }
    return DRIFT_OK;
}

int drift_train_option_is_bool(const char *key)
{
    const opt_entry *e = find(key);
    return e && e->type == T_BOOL;
}

/* A double in the fewest significant digits (up to 17) that read back exactly: 0.05, not
 * 0.050000000000000003. */
static void json_double_shortest(drift_jsonw *w, double v)
{
    const int keep = w->double_digits;
    int d = 1;
    for (; d < 17; d++) {
        char buf[40];
        snprintf(buf, sizeof buf, "%.*g", d, v);
        if (strtod(buf, NULL) == v) break;
    }
    w->double_digits = d;
    drift_jsonw_double(w, v);
    w->double_digits = keep;
}

int drift_train_config_write_json(const drift_train_config *cfg, drift_jsonw *w)
{
    drift_jsonw_begin_object(w);
    for (int i = 0; i < N_OPTS; i++) {
        const opt_entry *e = &table[i];
        const char *p = (const char *)cfg + e->offset;
        drift_jsonw_key(w, e->key);
        switch (e->type) {
        case T_INT: drift_jsonw_int(w, *(const int *)p); break;
        case T_BOOL: { /* -1 (conditional: decided by the data) stays a number */
            const int v = *(const int *)p;
            if (v == 0 || v == 1) drift_jsonw_bool(w, v);
            else drift_jsonw_int(w, v);
            break;
        }
        case T_I64: drift_jsonw_int(w, *(const int64_t *)p); break;
        case T_U64: {
            const uint64_t u = *(const uint64_t *)p;
            if (u <= (uint64_t)INT64_MAX) {
                drift_jsonw_int(w, (int64_t)u);
            } else { /* above int64: as text, which drift_train_config_set reads back */
                char buf[32];
                snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
                drift_jsonw_string(w, buf);
            }
            break;
        }
        case T_DBL: json_double_shortest(w, *(const double *)p); break;
        case T_TAU:
            drift_jsonw_begin_array(w);
            for (int t = 0; t < cfg->field.n_tau; t++) json_double_shortest(w, cfg->field.tau[t]);
            drift_jsonw_end_array(w);
            break;
        default: {
            char buf[600];
            drift_train_config_get(cfg, e->key, buf, sizeof buf);
            drift_jsonw_string(w, buf);
        }
        }
    }
    drift_jsonw_end_object(w);
    return drift_jsonw_status(w);
}

/* One JSON value as the text drift_train_config_set takes. */
static int json_value_text(const char *key, const drift_json *v, char *buf, size_t size)
{
    switch (v->type) {
    case DRIFT_JSON_STRING:
        if (strlen(v->string) != v->string_len || v->string_len >= size)
            return drift_error(DRIFT_EINVAL, "option %s: bad or too long string", key);
        memcpy(buf, v->string, v->string_len + 1);
        return DRIFT_OK;
    case DRIFT_JSON_BOOL: snprintf(buf, size, "%d", v->boolean ? 1 : 0); return DRIFT_OK;
    case DRIFT_JSON_NUMBER:
        if (v->is_integer) snprintf(buf, size, "%lld", (long long)v->integer);
        else snprintf(buf, size, "%.17g", v->number);
        return DRIFT_OK;
    case DRIFT_JSON_ARRAY: { /* tau: [0.02, 0.05, 0.2] */
        size_t used = 0;
        buf[0] = 0;
        for (size_t i = 0; i < v->count; i++) {
            if (v->items[i].type != DRIFT_JSON_NUMBER)
                return drift_error(DRIFT_EINVAL, "option %s: a list holds numbers only", key);
            used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%.17g", i ? "," : "",
                                     v->items[i].number);
            if (used >= size) return drift_error(DRIFT_EINVAL, "option %s: list too long", key);
        }
        return DRIFT_OK;
    }
    default: return drift_error(DRIFT_EINVAL, "option %s: null or an object is not a value", key);
    }
}

int drift_train_config_apply_json(drift_train_config *cfg, const drift_json *obj, const char *name)
{
    if (!obj || obj->type != DRIFT_JSON_OBJECT)
        return drift_error(DRIFT_EINVAL, "%s: a configuration is one JSON object of option names and values", name);
    for (size_t i = 0; i < obj->count; i++) {
        const drift_json *m = &obj->items[i];
        char key[64], val[1024];
        if (m->key_len >= sizeof key) return drift_error(DRIFT_EINVAL, "%s: unknown training option '%.40s...'", name, m->key);
        snprintf(key, sizeof key, "%s", m->key);
        for (char *c = key; *c; c++) /* n_pos and n-pos are the same option */
            if (*c == '_') *c = '-';
        if (!strcmp(key, "preset")) continue; /* chooses the defaults; the caller reads it first */
        int st = json_value_text(key, m, val, sizeof val);
        if (!st) st = drift_train_config_set(cfg, key, val);
        if (st) return drift_error_context(st, "%s", name);
    }
    return DRIFT_OK;
}
