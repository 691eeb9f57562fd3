/* config.c — field configuration: defaults, names, validation. */
#include <math.h>
#include <string.h>

#include "drift/error.h"
#include "drift/field.h"

static const char *family_names[DRIFT_FAMILY_COUNT] = {"deng", "meanshift", "sharp", "kdegrad", "mmd"};
static const char *kernel_names[DRIFT_KERNEL_COUNT] = {"gaussian", "laplace", "rq"};
static const char *deng_norm_names[3] = {"both", "row", "none"};

void drift_field_config_init(drift_field_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->family = DRIFT_FAMILY_MEANSHIFT;
    cfg->kernel = DRIFT_KERNEL_GAUSSIAN;
    cfg->rq_alpha = 2.0;
    cfg->n_tau = 1;
    cfg->tau[0] = 1.0;
    cfg->deng_norm = DRIFT_DENG_BOTH;
    cfg->pos_scale = 1.0;
    cfg->neg_scale = 1.0;
}

void drift_field_config_deng_released(drift_field_config *cfg)
{
    cfg->family = DRIFT_FAMILY_DENG;
    cfg->deng_norm = DRIFT_DENG_BOTH;
    cfg->feature_norm = 1;
    cfg->deng_soft_mask = 1;
    cfg->deng_floor = 1;
    cfg->drift_norm = 1;
}

int drift_family_is_conservative(drift_family f)
{
    return f == DRIFT_FAMILY_SHARP || f == DRIFT_FAMILY_KDEGRAD || f == DRIFT_FAMILY_MMD;
}

const char *drift_family_name(drift_family f)
{
    return (unsigned)f < DRIFT_FAMILY_COUNT ? family_names[f] : "?";
}
const char *drift_kernel_name(drift_kernel k)
{
    return (unsigned)k < DRIFT_KERNEL_COUNT ? kernel_names[k] : "?";
}
const char *drift_deng_norm_name(drift_deng_norm n)
{
    return (unsigned)n < 3 ? deng_norm_names[n] : "?";
}

static int parse_name(const char *s, const char *const *names, int count, const char *what, int *out)
{
    for (int i = 0; s && i < count; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return DRIFT_OK;
        }
    char list[256] = "";
    for (int i = 0; i < count; i++) {
        strcat(list, names[i]);
        if (i + 1 < count) strcat(list, ", ");
    }
    return drift_error(DRIFT_EINVAL, "unknown %s '%s' (valid: %s)", what, s ? s : "(null)", list);
}

int drift_family_parse(const char *s, drift_family *out)
{
    int v = 0, st = parse_name(s, family_names, DRIFT_FAMILY_COUNT, "field family", &v);
    if (st == DRIFT_OK) *out = (drift_family)v;
    return st;
}
int drift_kernel_parse(const char *s, drift_kernel *out)
{
    int v = 0, st = parse_name(s, kernel_names, DRIFT_KERNEL_COUNT, "kernel", &v);
    if (st == DRIFT_OK) *out = (drift_kernel)v;
    return st;
}
int drift_deng_norm_parse(const char *s, drift_deng_norm *out)
{
    int v = 0, st = parse_name(s, deng_norm_names, 3, "deng normalization", &v);
    if (st == DRIFT_OK) *out = (drift_deng_norm)v;
    return st;
}

int drift_field_config_check(const drift_field_config *cfg)
{
    if (!cfg) return drift_error(DRIFT_EINVAL, "field config is NULL");
    if ((unsigned)cfg->family >= DRIFT_FAMILY_COUNT)
        return drift_error(DRIFT_EINVAL, "invalid field family %d", (int)cfg->family);
    if ((unsigned)cfg->kernel >= DRIFT_KERNEL_COUNT)
        return drift_error(DRIFT_EINVAL, "invalid kernel %d", (int)cfg->kernel);
    if (cfg->n_tau < 1 || cfg->n_tau > DRIFT_MAX_TAU)
        return drift_error(DRIFT_EINVAL, "need 1 to %d temperatures, got %d", DRIFT_MAX_TAU, cfg->n_tau);
    for (int t = 0; t < cfg->n_tau; t++)
        if (!(cfg->tau[t] > 0) || !isfinite(cfg->tau[t]))
            return drift_error(DRIFT_EINVAL, "temperature tau must be a finite number > 0, got %g", cfg->tau[t]);
    if (cfg->kernel == DRIFT_KERNEL_RQ) {
        if (!(cfg->rq_alpha > 0) || !isfinite(cfg->rq_alpha))
            return drift_error(DRIFT_EINVAL, "rq kernel needs alpha > 0, got %g", cfg->rq_alpha);
        if (cfg->family == DRIFT_FAMILY_SHARP && !(cfg->rq_alpha > 1))
            return drift_error(DRIFT_EINVAL,
                               "the rq kernel with alpha = %g has no sharp kernel (the integral of "
                               "s*k(s) diverges for alpha <= 1): use alpha > 1 or another family",
                               cfg->rq_alpha);
    }
    if ((unsigned)cfg->deng_norm > DRIFT_DENG_NONE)
        return drift_error(DRIFT_EINVAL, "invalid deng normalization %d", (int)cfg->deng_norm);
    if (cfg->family != DRIFT_FAMILY_DENG && (cfg->deng_soft_mask || cfg->deng_floor))
        return drift_error(DRIFT_EINVAL, "the soft self-mask and affinity floor are options of the deng family only");
    if (cfg->deng_floor && cfg->deng_norm != DRIFT_DENG_BOTH)
        return drift_error(DRIFT_EINVAL, "the affinity floor (released deng loss) needs --deng-norm both");
    if (!isfinite(cfg->pos_scale) || !isfinite(cfg->neg_scale))
        return drift_error(DRIFT_EINVAL, "attraction/repulsion scales must be finite");
    if (cfg->block_rows < 0) return drift_error(DRIFT_EINVAL, "block_rows must be >= 0");
    return DRIFT_OK;
}
