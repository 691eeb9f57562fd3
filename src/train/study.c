/* study.c — plans of training runs (drift/study.h): cells, their state, per-cell locks, and
 * the aggregate tables and figures. Nothing here trains: `drift study` runs the cells. */
#define _GNU_SOURCE /* gethostname, flock */
#include "drift/study.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/image.h"
#include "drift/json.h"
#include "drift/npy.h"
#include "drift/plot.h"
#include "io/atomic.h"

/* ---- small helpers ------------------------------------------------------------------------ */

/* A whole (small) file as text; *len gets its length. DRIFT_EIO naming the file. */
static int read_text(const char *path, char **out, size_t *len)
{
    FILE *f;
    struct stat sb;
    int st = drift_fopen_input(path, &f, &sb);
    if (st) return st;
    if (sb.st_size > (64 << 20)) {
        fclose(f);
        return drift_error(DRIFT_EIO, "%s: too large for a plan or result (%lld bytes)", path, (long long)sb.st_size);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        fclose(f);
        return drift_error(DRIFT_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, (size_t)sb.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return drift_error(DRIFT_EIO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return DRIFT_OK;
}

/* The text of a scalar plan value: strings as they are, integers exactly, other numbers in the
 * shortest form that reads back ("0.05", not 0.050000000000000003), booleans 1/0. */
static int scalar_text(const drift_json *v, char *buf, size_t size)
{
    switch (v->type) {
    case DRIFT_JSON_STRING: snprintf(buf, size, "%s", v->string); return 0;
    case DRIFT_JSON_BOOL: snprintf(buf, size, "%d", v->boolean ? 1 : 0); return 0;
    case DRIFT_JSON_NUMBER:
        if (v->is_integer) snprintf(buf, size, "%lld", (long long)v->integer);
        else {
            for (int digits = 6; digits <= 17; digits++) {
                snprintf(buf, size, "%.*g", digits, v->number);
                if (strtod(buf, NULL) == v->number) break;
            }
        }
        return 0;
    default: return -1;
    }
}

/* A label made safe as part of a directory name: [A-Za-z0-9._+-] kept, anything else '-'. */
static void sanitize(char *s)
{
    for (; *s; s++) {
        const char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '+' || c == '-'))
            *s = '-';
    }
}

static int add_opt(drift_study_cell *c, const char *key, const char *val)
{
    char **k = realloc(c->keys, (size_t)(c->n_opts + 1) * sizeof *k);
    if (!k) return drift_error(DRIFT_ENOMEM, "out of memory");
    c->keys = k;
    char **v = realloc(c->vals, (size_t)(c->n_opts + 1) * sizeof *v);
    if (!v) return drift_error(DRIFT_ENOMEM, "out of memory");
    c->vals = v;
    c->keys[c->n_opts] = strdup(key);
    c->vals[c->n_opts] = strdup(val);
    if (!c->keys[c->n_opts] || !c->vals[c->n_opts]) {
        free(c->keys[c->n_opts]);
        free(c->vals[c->n_opts]);
        return drift_error(DRIFT_ENOMEM, "out of memory");
    }
    c->n_opts++;
    return DRIFT_OK;
}

static int is_train_option(const char *key)
{
    if (!strcmp(key, "preset")) return 1;
    int n;
    const drift_train_option *o = drift_train_options(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(o[i].key, key)) return 1;
    return 0;
}

/* Adds the members of an options object (skipping "label") to a cell. */
static int add_object(drift_study_cell *c, const drift_json *obj, const char *name, const char *where)
{
    for (size_t m = 0; m < obj->count; m++) {
        const drift_json *it = &obj->items[m];
        if (!strcmp(it->key, "label")) continue;
        char val[1024];
        if (!strcmp(it->key, "out") || !strcmp(it->key, "resume"))
            return drift_error(DRIFT_EINVAL, "%s: %s: option \"%s\" belongs to the study (each cell's run directory "
                                             "is <study>/<cell>/run)", name, where, it->key);
        if (!is_train_option(it->key))
            return drift_error(DRIFT_EINVAL, "%s: %s: \"%s\" is not a drift train option (drift train --help)", name,
                               where, it->key);
        if (scalar_text(it, val, sizeof val))
            return drift_error(DRIFT_EINVAL, "%s: %s: option \"%s\" must be a string, number or boolean", name, where,
                               it->key);
        int st = add_opt(c, it->key, val);
        if (st) return st;
    }
    return DRIFT_OK;
}

/* The label of one axis value: its "label", else the scalar's text, else the bundle's values
 * joined by '-'. */
static int value_label(const drift_json *v, char *buf, size_t size)
{
    buf[0] = 0;
    if (v->type != DRIFT_JSON_OBJECT) return scalar_text(v, buf, size);
    const drift_json *l = drift_json_get(v, "label");
    if (l) return scalar_text(l, buf, size);
    for (size_t m = 0; m < v->count; m++) {
        char t[256];
        if (scalar_text(&v->items[m], t, sizeof t)) return -1;
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", len ? "-" : "", t);
    }
    return 0;
}

static void cell_free(drift_study_cell *c)
{
    for (int k = 0; k < c->n_opts; k++) {
        free(c->keys[k]);
        free(c->vals[k]);
    }
    free(c->keys);
    free(c->vals);
}

void drift_study_plan_free(drift_study_plan *p)
{
    if (!p) return;
    for (int i = 0; i < p->n_cells; i++) cell_free(&p->cells[i]);
    free(p->cells);
    free(p);
}

/* Name and group from the labels; the configuration from the options (checked). */
static int finish_cell(drift_study_plan *p, drift_study_cell *c, const char *name)
{
    c->name[0] = c->group[0] = 0;
    for (int a = 0; a < c->n_labels; a++) {
        char part[160];
        snprintf(part, sizeof part, "%s=%s", c->axis[a], c->label[a]);
        size_t len = strlen(c->name);
        if (len + strlen(part) + 2 >= sizeof c->name) return drift_error(DRIFT_EINVAL, "%s: cell name too long", name);
        snprintf(c->name + len, sizeof c->name - len, "%s%s", len ? "," : "", part);
        if (strcmp(c->axis[a], "seed")) {
            len = strlen(c->group);
            snprintf(c->group + len, sizeof c->group - len, "%s%s", len ? "," : "", part);
        }
    }
    if (!c->group[0]) snprintf(c->group, sizeof c->group, "all");
    const char *data = "fashion-mnist", *preset = "default";
    for (int k = 0; k < c->n_opts; k++) {
        if (!strcmp(c->keys[k], "data")) data = c->vals[k];
        if (!strcmp(c->keys[k], "preset")) preset = c->vals[k];
    }
    if (drift_train_config_defaults(&c->cfg, data, preset))
        return drift_error_context(DRIFT_EINVAL, "%s: cell %s", name, c->name);
    for (int k = 0; k < c->n_opts; k++) {
        if (!strcmp(c->keys[k], "preset")) continue;
        if (drift_train_config_set(&c->cfg, c->keys[k], c->vals[k]))
            return drift_error_context(DRIFT_EINVAL, "%s: cell %s", name, c->name);
    }
    char out[2048];
    int n = snprintf(out, sizeof out, "%s/%s/run", p->dir, c->name);
    if (n < 0 || (size_t)n >= sizeof c->cfg.out)
        return drift_error(DRIFT_EINVAL, "%s: study directory path too long for cell %s", name, c->name);
    snprintf(c->cfg.out, sizeof c->cfg.out, "%s", out);
    if (drift_train_config_check(&c->cfg)) return drift_error_context(DRIFT_EINVAL, "%s: cell %s", name, c->name);
    return DRIFT_OK;
}

static int new_cell(drift_study_plan *p, drift_study_cell **out, const char *name)
{
    if (p->n_cells >= DRIFT_STUDY_MAX_CELLS)
        return drift_error(DRIFT_EINVAL, "%s: more than %d cells", name, DRIFT_STUDY_MAX_CELLS);
    drift_study_cell *c = realloc(p->cells, (size_t)(p->n_cells + 1) * sizeof *c);
    if (!c) return drift_error(DRIFT_ENOMEM, "out of memory");
    p->cells = c;
    *out = &p->cells[p->n_cells++];
    memset(*out, 0, sizeof **out);
    return DRIFT_OK;
}

static int plan_build(drift_study_plan *p, const drift_json *root, const char *name)
{
    if (root->type != DRIFT_JSON_OBJECT) return drift_error(DRIFT_EINVAL, "%s: a plan is a JSON object", name);
    static const char *const known[] = {"name", "description", "base", "axes", "cells", "eval", "grid_per_class"};
    for (size_t m = 0; m < root->count; m++) {
        int ok = 0;
        for (size_t k = 0; k < sizeof known / sizeof *known; k++) ok |= !strcmp(root->items[m].key, known[k]);
        if (!ok)
            return drift_error(DRIFT_EINVAL, "%s: unknown plan key \"%s\" (name, description, base, axes, cells, eval, "
                                             "grid_per_class)", name, root->items[m].key);
    }
    const drift_json *v;
    if ((v = drift_json_get(root, "name"))) {
        if (v->type != DRIFT_JSON_STRING || !v->string[0] || v->string_len >= sizeof p->name)
            return drift_error(DRIFT_EINVAL, "%s: \"name\" must be a short non-empty string", name);
        snprintf(p->name, sizeof p->name, "%s", v->string);
    } else {
        snprintf(p->name, sizeof p->name, "study");
    }
    if ((v = drift_json_get(root, "description"))) {
        if (v->type != DRIFT_JSON_STRING) return drift_error(DRIFT_EINVAL, "%s: \"description\" must be a string", name);
        snprintf(p->description, sizeof p->description, "%s", v->string);
    }
    p->eval_n = 10000;
    p->eval_seed = 0;
    p->grid_per_class = 1;
    if ((v = drift_json_get(root, "eval"))) {
        if (v->type != DRIFT_JSON_OBJECT) return drift_error(DRIFT_EINVAL, "%s: \"eval\" must be an object", name);
        for (size_t m = 0; m < v->count; m++) {
            const drift_json *it = &v->items[m];
            int ok = it->type == DRIFT_JSON_NUMBER && it->is_integer;
            if (!strcmp(it->key, "n") && ok && it->integer >= 2 && it->integer <= 1000000) p->eval_n = it->integer;
            else if (!strcmp(it->key, "seed") && ok && it->integer >= 0) p->eval_seed = (uint64_t)it->integer;
            else
                return drift_error(DRIFT_EINVAL, "%s: eval.%s: expected \"n\" (2..1000000) or \"seed\" (>= 0), integers",
                                   name, it->key);
        }
    }
    if ((v = drift_json_get(root, "grid_per_class"))) {
        if (v->type != DRIFT_JSON_NUMBER || !v->is_integer || v->integer < 1 || v->integer > 10)
            return drift_error(DRIFT_EINVAL, "%s: \"grid_per_class\" must be an integer 1..10", name);
        p->grid_per_class = (int)v->integer;
    }
    const drift_json *base = drift_json_get(root, "base");
    if (base && base->type != DRIFT_JSON_OBJECT) return drift_error(DRIFT_EINVAL, "%s: \"base\" must be an object", name);
    const drift_json *axes = drift_json_get(root, "axes");
    if (axes && axes->type != DRIFT_JSON_OBJECT)
        return drift_error(DRIFT_EINVAL, "%s: \"axes\" must be an object: {\"axis\": [values...], ...}", name);
    const drift_json *cells = drift_json_get(root, "cells");
    if (cells && cells->type != DRIFT_JSON_ARRAY)
        return drift_error(DRIFT_EINVAL, "%s: \"cells\" must be an array of objects", name);
    const int n_axes = axes ? (int)axes->count : 0;
    if (n_axes > DRIFT_STUDY_MAX_AXES) return drift_error(DRIFT_EINVAL, "%s: more than %d axes", name, DRIFT_STUDY_MAX_AXES);
    if (!n_axes && !(cells && cells->count))
        return drift_error(DRIFT_EINVAL, "%s: a plan needs \"axes\" or \"cells\" (nothing to run)", name);
    int64_t total = 1;
    for (int a = 0; a < n_axes; a++) {
        const drift_json *ax = &axes->items[a];
        if (ax->type != DRIFT_JSON_ARRAY || !ax->count)
            return drift_error(DRIFT_EINVAL, "%s: axis \"%s\" must be a non-empty array of values", name, ax->key);
        if (strlen(ax->key) >= sizeof p->cells[0].axis[0] || !ax->key[0] || !strcmp(ax->key, "cell"))
            return drift_error(DRIFT_EINVAL, "%s: bad axis name \"%s\"", name, ax->key);
        for (size_t j = 0; j < ax->count; j++) {
            const drift_json *val = &ax->items[j];
            if (val->type != DRIFT_JSON_OBJECT && !is_train_option(ax->key))
                return drift_error(DRIFT_EINVAL, "%s: axis \"%s\" is not a drift train option, so its values must be "
                                                 "objects of options ({\"label\": ..., \"family\": ...})", name, ax->key);
            if (val->type == DRIFT_JSON_ARRAY || val->type == DRIFT_JSON_NULL)
                return drift_error(DRIFT_EINVAL, "%s: axis \"%s\": value %zu must be a scalar or an object", name,
                                   ax->key, j);
        }
        total *= (int64_t)ax->count;
        if (total > DRIFT_STUDY_MAX_CELLS)
            return drift_error(DRIFT_EINVAL, "%s: more than %d cells", name, DRIFT_STUDY_MAX_CELLS);
    }
    /* the cross product, first axis slowest */
    for (int64_t idx = 0; n_axes && idx < total; idx++) {
        drift_study_cell *c;
        int st = new_cell(p, &c, name);
        if (st) return st;
        if (base && (st = add_object(c, base, name, "base"))) return st;
        int64_t rest = idx, stride = total;
        for (int a = 0; a < n_axes; a++) {
            const drift_json *ax = &axes->items[a];
            stride /= (int64_t)ax->count;
            const drift_json *val = &ax->items[rest / stride];
            rest %= stride;
            char where[160], label[256];
            snprintf(where, sizeof where, "axis %s", ax->key);
            if (value_label(val, label, sizeof label))
                return drift_error(DRIFT_EINVAL, "%s: axis \"%s\": labels must be scalars", name, ax->key);
            sanitize(label);
            snprintf(c->axis[a], sizeof c->axis[a], "%s", ax->key);
            snprintf(c->label[a], sizeof c->label[a], "%s", label);
            if (val->type == DRIFT_JSON_OBJECT) st = add_object(c, val, name, where);
            else {
                char text[1024];
                scalar_text(val, text, sizeof text);
                st = add_opt(c, ax->key, text);
            }
            if (st) return st;
        }
        c->n_labels = n_axes;
        if ((st = finish_cell(p, c, name))) return st;
    }
    for (size_t j = 0; cells && j < cells->count; j++) {
        const drift_json *val = &cells->items[j];
        if (val->type != DRIFT_JSON_OBJECT)
            return drift_error(DRIFT_EINVAL, "%s: cells[%zu] must be an object of options", name, j);
        drift_study_cell *c;
        int st = new_cell(p, &c, name);
        if (st) return st;
        char where[64], label[256];
        snprintf(where, sizeof where, "cells[%zu]", j);
        if (base && (st = add_object(c, base, name, "base"))) return st;
        if ((st = add_object(c, val, name, where))) return st;
        const drift_json *l = drift_json_get(val, "label");
        if (!l) snprintf(label, sizeof label, "cell%zu", j);
        else if (scalar_text(l, label, sizeof label))
            return drift_error(DRIFT_EINVAL, "%s: %s: \"label\" must be a scalar", name, where);
        sanitize(label);
        snprintf(c->axis[0], sizeof c->axis[0], "cell");
        snprintf(c->label[0], sizeof c->label[0], "%s", label);
        c->n_labels = 1;
        const drift_json *s = drift_json_get(val, "seed");
        if (s) {
            snprintf(c->axis[1], sizeof c->axis[1], "seed");
            scalar_text(s, c->label[1], sizeof c->label[1]);
            sanitize(c->label[1]);
            c->n_labels = 2;
        }
        if ((st = finish_cell(p, c, name))) return st;
    }
    for (int i = 0; i < p->n_cells; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(p->cells[i].name, p->cells[j].name))
                return drift_error(DRIFT_EINVAL, "%s: two cells are named %s (give the values distinct labels)", name,
                                   p->cells[i].name);
    return DRIFT_OK;
}

int drift_study_plan_parse(const char *text, size_t len, const char *name, const char *dir, drift_study_plan **out)
{
    *out = NULL;
    if (!dir || !dir[0]) return drift_error(DRIFT_EINVAL, "%s: no study directory", name);
    drift_study_plan *p = calloc(1, sizeof *p);
    if (!p) return drift_error(DRIFT_ENOMEM, "out of memory");
    if (strlen(dir) >= sizeof p->dir) {
        free(p);
        return drift_error(DRIFT_EINVAL, "study directory path too long");
    }
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    drift_json *root = NULL;
    int st = drift_json_parse(text, len, name, &root);
    if (!st) st = plan_build(p, root, name);
    drift_json_free(root);
    if (st) {
        drift_study_plan_free(p);
        return st;
    }
    *out = p;
    return DRIFT_OK;
}

int drift_study_plan_load(const char *path, const char *dir, drift_study_plan **out)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int st = read_text(path, &text, &len);
    if (st) return st;
    st = drift_study_plan_parse(text, len, path, dir, out);
    free(text);
    return st;
}

/* ---- cells on disk ------------------------------------------------------------------------ */

int drift_study_cell_path(const drift_study_plan *p, int i, const char *file, char *buf, size_t size)
{
    if (i < 0 || i >= p->n_cells) return drift_error(DRIFT_EINVAL, "no cell %d", i);
    int n = file ? snprintf(buf, size, "%s/%s/%s", p->dir, p->cells[i].name, file)
                 : snprintf(buf, size, "%s/%s", p->dir, p->cells[i].name);
    if (n < 0 || (size_t)n >= size) return drift_error(DRIFT_EINVAL, "path too long in cell %s", p->cells[i].name);
    return DRIFT_OK;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

drift_study_state drift_study_cell_state(const drift_study_plan *p, int i)
{
    char path[2048];
    if (drift_study_cell_path(p, i, "result.json", path, sizeof path)) return DRIFT_STUDY_NEW;
    if (exists(path)) return DRIFT_STUDY_DONE;
    if (drift_study_cell_path(p, i, "run/checkpoint.safetensors", path, sizeof path)) return DRIFT_STUDY_NEW;
    return exists(path) ? DRIFT_STUDY_PARTIAL : DRIFT_STUDY_NEW;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0777) && errno != EEXIST) return drift_error(DRIFT_EIO, "cannot create %s: %s", path, strerror(errno));
    struct stat sb;
    if (stat(path, &sb) || !S_ISDIR(sb.st_mode)) return drift_error(DRIFT_EIO, "%s is not a directory", path);
    return DRIFT_OK;
}

/* The options of a cell as cell.json text. */
static int cell_json(const drift_study_cell *c, drift_jsonw *w)
{
    drift_jsonw_init(w);
    w->double_digits = 17;
    drift_jsonw_begin_object(w);
    drift_jsonw_key(w, "cell");
    drift_jsonw_string(w, c->name);
    drift_jsonw_key(w, "options");
    drift_jsonw_begin_array(w);
    for (int k = 0; k < c->n_opts; k++) {
        drift_jsonw_begin_array(w);
        drift_jsonw_string(w, c->keys[k]);
        drift_jsonw_string(w, c->vals[k]);
        drift_jsonw_end_array(w);
    }
    drift_jsonw_end_array(w);
    drift_jsonw_end_object(w);
    return drift_jsonw_status(w);
}

int drift_study_prepare(const drift_study_plan *p)
{
    int st = make_dir(p->dir);
    for (int i = 0; !st && i < p->n_cells; i++) {
        char path[2048];
        if ((st = drift_study_cell_path(p, i, NULL, path, sizeof path)) || (st = make_dir(path))) break;
        if ((st = drift_study_cell_path(p, i, "cell.json", path, sizeof path))) break;
        drift_jsonw w;
        if ((st = cell_json(&p->cells[i], &w))) {
            drift_jsonw_free(&w);
            break;
        }
        char *old;
        size_t len;
        if (!read_text(path, &old, &len)) {
            if (len != w.len || memcmp(old, w.buf, len))
                st = drift_error(DRIFT_EINVAL, "%s: this cell was run with other options (the plan changed); use a new "
                                               "study directory or new labels", path);
            free(old);
        } else {
            drift_clear_error();
            st = drift_write_file_atomic(path, w.buf, w.len);
        }
        drift_jsonw_free(&w);
    }
    return st;
}

/* ---- locks -------------------------------------------------------------------------------- */

static void this_host(char *host, size_t size)
{
    if (gethostname(host, size)) snprintf(host, size, "unknown");
    host[size - 1] = 0;
    for (char *s = host; *s; s++)
        if (*s == ' ' || *s == '\n') *s = '_';
}

int drift_study_lock(const drift_study_plan *p, int i, char *holder, size_t holder_size)
{
    char path[2048], host[256];
    int st = drift_study_cell_path(p, i, "lock", path, sizeof path);
    if (st) return st;
    this_host(host, sizeof host);
    for (int attempt = 0; attempt < 20; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd >= 0) {
            char text[400];
            int n = snprintf(text, sizeof text, "%s %ld %lld\n", host, (long)getpid(), (long long)time(NULL));
            /* one write: a reader sees the whole line or (for an instant) nothing */
            int bad = write(fd, text, (size_t)n) != n;
            bad |= close(fd) != 0;
            if (bad) {
                unlink(path);
                return drift_error(DRIFT_EIO, "cannot write %s", path);
            }
            return 0;
        }
        if (errno != EEXIST) return drift_error(DRIFT_EIO, "cannot create %s: %s", path, strerror(errno));
        int rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (rfd < 0) {
            if (errno == ENOENT) continue; /* released meanwhile: try again */
            return drift_error(DRIFT_EIO, "cannot read %s: %s", path, strerror(errno));
        }
        char text[400] = {0}, h[256] = {0};
        ssize_t n = read(rfd, text, sizeof text - 1);
        long pid = 0;
        if (n > 0) {
            text[n] = 0;
            if (sscanf(text, "%255s %ld", h, &pid) != 2) pid = 0;
        }
        if (pid > 0 && !strcmp(h, host) && pid == (long)getpid()) { /* ours already */
            close(rfd);
            return 0;
        }
        if (pid > 0 && !strcmp(h, host) && kill((pid_t)pid, 0) && errno == ESRCH) {
            /* stale: its process is gone. Remove it only while holding an flock on the old file and
             * only if the path still names that file, so a second reclaimer cannot remove the fresh
             * lock of the first. */
            if (!flock(rfd, LOCK_EX | LOCK_NB)) {
                struct stat a, b;
                if (!fstat(rfd, &a) && !stat(path, &b) && a.st_ino == b.st_ino && a.st_dev == b.st_dev) unlink(path);
            }
            close(rfd);
            continue;
        }
        close(rfd);
        if (n <= 0) { /* created but not yet written: give its owner a moment */
            usleep(50 * 1000);
            continue;
        }
        if (holder) snprintf(holder, holder_size, "%s:%ld", h, pid);
        return 1;
    }
    if (holder) snprintf(holder, holder_size, "unknown (%s unreadable)", path);
    return 1;
}

void drift_study_unlock(const drift_study_plan *p, int i)
{
    char path[2048], host[256], h[256] = {0};
    if (drift_study_cell_path(p, i, "lock", path, sizeof path)) return;
    this_host(host, sizeof host);
    FILE *f = fopen(path, "re");
    if (!f) return;
    long pid = 0;
    int ok = fscanf(f, "%255s %ld", h, &pid) == 2;
    fclose(f);
    if (ok && pid == (long)getpid() && !strcmp(h, host)) unlink(path);
}

/* ---- metrics and results ------------------------------------------------------------------ */

int64_t drift_study_last_step(const char *metrics_path)
{
    FILE *f = fopen(metrics_path, "re");
    if (!f) return 0;
    char buf[16384];
    long start = 0;
    if (!fseek(f, 0, SEEK_END)) {
        long size = ftell(f);
        start = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    }
    fseek(f, start, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* the last complete line: lines end with '\n'; a line being written has none yet */
    while (n > 0 && buf[n - 1] != '\n') n--;
    if (!n) return 0;
    buf[--n] = 0;
    const char *line = strrchr(buf, '\n');
    line = line ? line + 1 : buf;
    const char *s = strstr(line, "\"step\":");
    return s ? atoll(s + 7) : 0;
}

/* Copies a parsed JSON value into a writer. */
static void copy_json(drift_jsonw *w, const drift_json *v)
{
    switch (v->type) {
    case DRIFT_JSON_NULL: drift_jsonw_null(w); break;
    case DRIFT_JSON_BOOL: drift_jsonw_bool(w, v->boolean); break;
    case DRIFT_JSON_NUMBER:
        if (v->is_integer) drift_jsonw_int(w, v->integer);
        else drift_jsonw_double(w, v->number);
        break;
    case DRIFT_JSON_STRING: drift_jsonw_string(w, v->string); break;
    case DRIFT_JSON_ARRAY:
        drift_jsonw_begin_array(w);
        for (size_t k = 0; k < v->count; k++) copy_json(w, &v->items[k]);
        drift_jsonw_end_array(w);
        break;
    case DRIFT_JSON_OBJECT:
        drift_jsonw_begin_object(w);
        for (size_t k = 0; k < v->count; k++) {
            drift_jsonw_key(w, v->items[k].key);
            copy_json(w, &v->items[k]);
        }
        drift_jsonw_end_object(w);
        break;
    }
}

int drift_study_write_result(const drift_study_plan *p, int i, const char *eval_json, double train_seconds,
                             double eval_seconds, const char *host)
{
    char path[2048];
    int st = drift_study_cell_path(p, i, "result.json", path, sizeof path);
    if (st) return st;
    drift_json *ev = NULL;
    st = drift_json_parse(eval_json, strlen(eval_json), "drift eval --json output", &ev);
    if (st) return st;
    if (ev->type != DRIFT_JSON_OBJECT) {
        drift_json_free(ev);
        return drift_error(DRIFT_EFORMAT, "drift eval --json output is not an object");
    }
    const drift_study_cell *c = &p->cells[i];
    drift_jsonw w;
    drift_jsonw_init(&w);
    w.double_digits = 17;
    drift_jsonw_begin_object(&w);
    drift_jsonw_key(&w, "cell");
    drift_jsonw_string(&w, c->name);
    drift_jsonw_key(&w, "group");
    drift_jsonw_string(&w, c->group);
    drift_jsonw_key(&w, "seed");
    drift_jsonw_int(&w, (int64_t)c->cfg.seed);
    drift_jsonw_key(&w, "steps");
    drift_jsonw_int(&w, c->cfg.steps);
    drift_jsonw_key(&w, "train_seconds");
    drift_jsonw_double(&w, train_seconds);
    drift_jsonw_key(&w, "eval_seconds");
    drift_jsonw_double(&w, eval_seconds);
    drift_jsonw_key(&w, "eval_n");
    drift_jsonw_int(&w, p->eval_n);
    drift_jsonw_key(&w, "host");
    drift_jsonw_string(&w, host ? host : "");
    drift_jsonw_key(&w, "eval");
    copy_json(&w, ev);
    drift_jsonw_end_object(&w);
    drift_json_free(ev);
    st = drift_jsonw_status(&w);
    if (!st) {
        /* one line and a newline, like metrics.jsonl */
        char *t = realloc(w.buf, w.len + 2);
        if (!t) st = drift_error(DRIFT_ENOMEM, "out of memory");
        else {
            w.buf = t;
            w.buf[w.len++] = '\n';
            w.buf[w.len] = 0;
            st = drift_write_file_atomic(path, w.buf, w.len);
        }
    }
    drift_jsonw_free(&w);
    return st;
}

int drift_study_save_row(const drift_study_plan *p, int i, const char *samples_path)
{
    char path[2048];
    int st = drift_study_cell_path(p, i, "row.npy", path, sizeof path);
    if (st) return st;
    float *x = NULL;
    int64_t rows, cols, total;
    st = drift_npy_read_f32_rows(samples_path, 10 * (int64_t)p->grid_per_class, &x, &rows, &cols, &total);
    if (!st) st = drift_npy_write_f32(path, x, rows, cols);
    drift_free(x);
    return st;
}

int drift_study_write_failure(const drift_study_plan *p, int i, const char *reason, double train_seconds,
                              const char *host)
{
    char path[2048];
    int st = drift_study_cell_path(p, i, "result.json", path, sizeof path);
    if (st) return st;
    const drift_study_cell *c = &p->cells[i];
    drift_jsonw w;
    drift_jsonw_init(&w);
    drift_jsonw_begin_object(&w);
    drift_jsonw_key(&w, "cell");
    drift_jsonw_string(&w, c->name);
    drift_jsonw_key(&w, "group");
    drift_jsonw_string(&w, c->group);
    drift_jsonw_key(&w, "seed");
    drift_jsonw_int(&w, (int64_t)c->cfg.seed);
    drift_jsonw_key(&w, "steps");
    drift_jsonw_int(&w, c->cfg.steps);
    drift_jsonw_key(&w, "train_seconds");
    drift_jsonw_double(&w, train_seconds);
    drift_jsonw_key(&w, "host");
    drift_jsonw_string(&w, host ? host : "");
    drift_jsonw_key(&w, "failed");
    drift_jsonw_string(&w, reason && reason[0] ? reason : "failed");
    drift_jsonw_end_object(&w);
    st = drift_jsonw_status(&w);
    if (!st) st = drift_write_file_atomic(path, w.buf, w.len);
    drift_jsonw_free(&w);
    return st;
}

int drift_study_cell_failed(const drift_study_plan *p, int i)
{
    char path[2048], *text;
    size_t len;
    if (drift_study_cell_path(p, i, "result.json", path, sizeof path) || read_text(path, &text, &len)) {
        drift_clear_error();
        return 0;
    }
    drift_json *root = NULL;
    int failed = 0;
    if (!drift_json_parse(text, len, path, &root)) failed = drift_json_get(root, "failed") != NULL;
    else drift_clear_error();
    drift_json_free(root);
    free(text);
    return failed;
}

/* ---- aggregation -------------------------------------------------------------------------- */

/* Columns of the tables, in this order, when any result has them. */
static const char *const metric_keys[] = {"fid", "precision", "recall", "density", "coverage", "class_accuracy",
                                          "outlier_fraction", "pixel_diversity", "pixel_dup_frac", "toy_mmd2",
                                          "toy_energy", "toy_sliced_w2", "toy_diversity", "toy_dup_frac"};
#define N_METRICS ((int)(sizeof metric_keys / sizeof *metric_keys))
#define M_TRAIN N_METRICS          /* train_seconds */
#define M_ALL (N_METRICS + 1)

static const char *metric_name(int m) { return m == M_TRAIN ? "train_seconds" : metric_keys[m]; }

/* Decimals for a table entry: about three significant digits, the sd as the mean. */
static int decimals(double mean)
{
    double a = fabs(mean);
    return a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
}

typedef struct {
    int done, failed;
    double v[M_ALL]; /* NaN: absent */
    char reason[160];
} cell_result;

static int load_result(const drift_study_plan *p, int i, cell_result *r)
{
    for (int m = 0; m < M_ALL; m++) r->v[m] = NAN;
    r->done = r->failed = 0;
    r->reason[0] = 0;
    char path[2048];
    if (drift_study_cell_path(p, i, "result.json", path, sizeof path)) return DRIFT_OK;
    char *text;
    size_t len;
    if (read_text(path, &text, &len)) {
        drift_clear_error();
        return DRIFT_OK;
    }
    drift_json *root = NULL;
    int st = drift_json_parse(text, len, path, &root);
    free(text);
    if (st) return st;
    const drift_json *ev = drift_json_get(root, "eval"), *ts = drift_json_get(root, "train_seconds");
    for (int m = 0; m < N_METRICS; m++) {
        const drift_json *x = drift_json_get(ev, metric_keys[m]);
        if (x && x->type == DRIFT_JSON_NUMBER) r->v[m] = x->number;
    }
    if (ts && ts->type == DRIFT_JSON_NUMBER) r->v[M_TRAIN] = ts->number;
    const drift_json *fl = drift_json_get(root, "failed");
    if (fl) {
        r->failed = 1;
        snprintf(r->reason, sizeof r->reason, "%s", fl->type == DRIFT_JSON_STRING ? fl->string : "failed");
        for (char *c = r->reason; *c; c++)
            if (*c == '|' || *c == '\n') *c = ' ';
    }
    r->done = 1;
    drift_json_free(root);
    return DRIFT_OK;
}

/* (step, fid) pairs of a run's metrics.jsonl; *n = 0 when none. */
static int read_fid_curve(const char *path, double **steps, double **fids, size_t *n)
{
    *steps = *fids = NULL;
    *n = 0;
    FILE *f = fopen(path, "re");
    if (!f) return DRIFT_OK;
    char line[16384];
    size_t cap = 0;
    int st = DRIFT_OK;
    while (fgets(line, sizeof line, f)) {
        const char *fs = strstr(line, "\"fid\":"), *ss = strstr(line, "\"step\":");
        if (!fs || !ss) continue;
        double fid = strtod(fs + 6, NULL), step = strtod(ss + 7, NULL);
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            double *a = realloc(*steps, cap * sizeof *a), *b = a ? realloc(*fids, cap * sizeof *b) : NULL;
            if (a) *steps = a;
            if (b) *fids = b;
            if (!a || !b) {
                st = drift_error(DRIFT_ENOMEM, "out of memory");
                break;
            }
        }
        (*steps)[*n] = step;
        (*fids)[*n] = fid;
        (*n)++;
    }
    fclose(f);
    return st;
}

/* dir/stem.svg and dir/stem.png of one plot */
static int write_plot_files(const drift_plot *pl, const char *dir, const char *stem)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.svg", dir, stem);
    int st = drift_plot_write_svg(pl, path);
    snprintf(path, sizeof path, "%s/%s.png", dir, stem);
    return st ? st : drift_plot_write_png(pl, path);
}

static int write_fid_plot(const drift_study_plan *p, const cell_result *res)
{
    drift_plot *pl = NULL;
    char title[256];
    snprintf(title, sizeof title, "%s: FID during training (drift train --eval-every)", p->name);
    int st = drift_plot_create(&pl, title, "step", "FID");
    if (st) return st;
    drift_plot_set_size(pl, 960, 600);
    int series = 0;
    for (int i = 0; !st && i < p->n_cells; i++) {
        char path[2048];
        if (!res[i].done || drift_study_cell_path(p, i, "run/metrics.jsonl", path, sizeof path)) continue;
        double *s, *f;
        size_t n;
        if ((st = read_fid_curve(path, &s, &f, &n))) break;
        if (n) {
            st = drift_plot_add_series(pl, p->cells[i].name, s, f, n, DRIFT_PLOT_LINE_MARKERS);
            series++;
        }
        free(s);
        free(f);
    }
    if (!st && series) st = write_plot_files(pl, p->dir, "fid");
    drift_plot_free(pl);
    return st;
}

/* The same per group: at each step of the group's first finished cell, the mean FID of its
 * finished cells that evaluated at that step (one line per variant: the palette cycles after ten
 * lines, which makes a plot of every cell ambiguous). */
static int write_fid_group_plot(const drift_study_plan *p, const cell_result *res)
{
    drift_plot *pl = NULL;
    char title[256];
    snprintf(title, sizeof title, "%s: FID during training, mean over seeds", p->name);
    int st = drift_plot_create(&pl, title, "step", "FID");
    if (st) return st;
    drift_plot_set_size(pl, 960, 600);
    int series = 0;
    for (int g = 0; !st && g < p->n_cells; g++) {
        int first = 1;
        for (int j = 0; j < g; j++) first &= strcmp(p->cells[j].group, p->cells[g].group) != 0;
        if (!first) continue;
        double *gs = NULL, *sum = NULL;
        int *cnt = NULL, n_seeds = 0;
        size_t gn = 0;
        for (int i = g; !st && i < p->n_cells; i++) {
            char path[2048];
            if (strcmp(p->cells[i].group, p->cells[g].group) || !res[i].done ||
                drift_study_cell_path(p, i, "run/metrics.jsonl", path, sizeof path))
                continue;
            double *s, *f;
            size_t n;
            if ((st = read_fid_curve(path, &s, &f, &n))) break;
            if (n && !gs) {
                gs = s;
                sum = calloc(n, sizeof *sum);
                cnt = calloc(n, sizeof *cnt);
                if (!sum || !cnt) st = drift_error(DRIFT_ENOMEM, "out of memory");
                gn = n;
                s = NULL;
            }
            if (n && gs && !st) {
                n_seeds++;
                for (size_t k = 0; k < n; k++)
                    for (size_t q = 0; q < gn; q++)
                        if (gs[q] == (s ? s[k] : gs[k])) {
                            sum[q] += f[k];
                            cnt[q]++;
                            break;
                        }
            }
            free(s);
            free(f);
        }
        if (!st && gn) {
            size_t m = 0;
            for (size_t q = 0; q < gn; q++)
                if (cnt[q]) {
                    gs[m] = gs[q];
                    sum[m++] = sum[q] / cnt[q];
                }
            char name[300];
            snprintf(name, sizeof name, "%s (%d seed%s)", p->cells[g].group, n_seeds, n_seeds == 1 ? "" : "s");
            st = drift_plot_add_series(pl, name, gs, sum, m, DRIFT_PLOT_LINE_MARKERS);
            series++;
        }
        free(gs);
        free(sum);
        free(cnt);
    }
    if (!st && series) st = write_plot_files(pl, p->dir, "fid_groups");
    drift_plot_free(pl);
    return st;
}

/* One row of samples per cell, the cell's name on the left. Only 28 x 28 gray images. */
static int write_rows(const drift_study_plan *p, const cell_result *res)
{
    const int side = 28, scale = 2, pad = 2, tile = side * scale + pad;
    int rows = 0, cols = 0, label_w = 0;
    float **imgs = calloc((size_t)p->n_cells, sizeof *imgs);
    int64_t *counts = calloc((size_t)p->n_cells, sizeof *counts);
    int st = imgs && counts ? DRIFT_OK : drift_error(DRIFT_ENOMEM, "out of memory");
    for (int i = 0; !st && i < p->n_cells; i++) {
        char path[2048];
        if (!res[i].done || drift_study_cell_path(p, i, "row.npy", path, sizeof path) || !exists(path)) continue;
        int64_t r, c;
        if (drift_npy_read_f32(path, &imgs[i], &r, &c)) {
            drift_clear_error();
            imgs[i] = NULL;
            continue;
        }
        if (c != side * side) { /* not 28 x 28 images: no row */
            drift_free(imgs[i]);
            imgs[i] = NULL;
            continue;
        }
        counts[i] = r;
        rows++;
        if (r > cols) cols = (int)r;
        int tw = drift_text_width(p->cells[i].name, 1);
        if (tw > label_w) label_w = tw;
    }
    if (!st && rows) {
        drift_canvas cv;
        const int x0 = label_w + 8;
        st = drift_canvas_init(&cv, x0 + cols * tile + pad, rows * tile + pad, (drift_rgb){255, 255, 255});
        int y = pad;
        for (int i = 0; !st && i < p->n_cells; i++) {
            if (!imgs[i]) continue;
            drift_grid_opts o = drift_grid_defaults();
            o.cols = (int)counts[i];
            o.scale = scale;
            o.pad = pad;
            drift_canvas row;
            if ((st = drift_image_grid_canvas(imgs[i], (int)counts[i], side, side, 1, &o, &row))) break;
            for (int yy = 0; yy < row.h; yy++)
                for (int xx = 0; xx < row.w; xx++) drift_canvas_set(&cv, x0 + xx - pad, y + yy - pad, drift_canvas_get(&row, xx, yy));
            drift_canvas_free(&row);
            drift_canvas_text(&cv, 4, y + (side * scale - DRIFT_FONT_H) / 2, p->cells[i].name, 1, (drift_rgb){0, 0, 0});
            y += tile;
        }
        char path[2048];
        snprintf(path, sizeof path, "%s/rows.png", p->dir);
        if (!st) st = drift_canvas_write_png(&cv, path);
        drift_canvas_free(&cv);
    }
    for (int i = 0; imgs && i < p->n_cells; i++) drift_free(imgs[i]);
    free(imgs);
    free(counts);
    return st;
}

typedef struct {
    double mean, sd;
    int n;
} stat3;

static stat3 group_stat(const drift_study_plan *p, const cell_result *res, const char *group, int m)
{
    stat3 s = {NAN, NAN, 0};
    double sum = 0, sum2 = 0;
    for (int i = 0; i < p->n_cells; i++) {
        if (!res[i].done || strcmp(p->cells[i].group, group) || !isfinite(res[i].v[m])) continue;
        sum += res[i].v[m];
        s.n++;
    }
    if (!s.n) return s;
    s.mean = sum / s.n;
    for (int i = 0; i < p->n_cells; i++) {
        if (!res[i].done || strcmp(p->cells[i].group, group) || !isfinite(res[i].v[m])) continue;
        sum2 += (res[i].v[m] - s.mean) * (res[i].v[m] - s.mean);
    }
    s.sd = s.n > 1 ? sqrt(sum2 / (s.n - 1)) : NAN; /* sample sd over seeds */
    return s;
}

static void md_value(drift_atomic_file *af, double v, double sd, int with_sd)
{
    if (!isfinite(v)) {
        drift_atomic_printf(af, " – |");
        return;
    }
    int d = decimals(v);
    if (with_sd && isfinite(sd)) drift_atomic_printf(af, " %.*f ± %.*f |", d, v, d, sd);
    else drift_atomic_printf(af, " %.*f |", d, v);
}

int drift_study_aggregate(const drift_study_plan *p, int *n_done)
{
    cell_result *res = calloc((size_t)p->n_cells, sizeof *res);
    if (!res) return drift_error(DRIFT_ENOMEM, "out of memory");
    int st = DRIFT_OK, done = 0;
    for (int i = 0; !st && i < p->n_cells; i++) {
        st = load_result(p, i, &res[i]);
        done += res[i].done;
    }
    int used[M_ALL] = {0};
    for (int i = 0; i < p->n_cells; i++)
        for (int m = 0; m < M_ALL; m++) used[m] |= res[i].done && isfinite(res[i].v[m]);
    /* groups in order of first appearance */
    int *gfirst = calloc((size_t)p->n_cells, sizeof *gfirst), n_groups = 0;
    if (!gfirst) st = drift_error(DRIFT_ENOMEM, "out of memory");
    for (int i = 0; !st && i < p->n_cells; i++) {
        int seen = 0;
        for (int g = 0; g < n_groups; g++) seen |= !strcmp(p->cells[gfirst[g]].group, p->cells[i].group);
        if (!seen) gfirst[n_groups++] = i;
    }
    /* results.json */
    if (!st) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        w.double_digits = 17;
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "plan");
        drift_jsonw_string(&w, p->name);
        drift_jsonw_key(&w, "eval_n");
        drift_jsonw_int(&w, p->eval_n);
        drift_jsonw_key(&w, "cells_done");
        drift_jsonw_int(&w, done);
        drift_jsonw_key(&w, "cells_total");
        drift_jsonw_int(&w, p->n_cells);
        drift_jsonw_key(&w, "groups");
        drift_jsonw_begin_array(&w);
        for (int g = 0; g < n_groups; g++) {
            const drift_study_cell *c0 = &p->cells[gfirst[g]];
            drift_jsonw_begin_object(&w);
            drift_jsonw_key(&w, "group");
            drift_jsonw_string(&w, c0->group);
            drift_jsonw_key(&w, "labels");
            drift_jsonw_begin_object(&w);
            for (int a = 0; a < c0->n_labels; a++) {
                if (!strcmp(c0->axis[a], "seed")) continue;
                drift_jsonw_key(&w, c0->axis[a]);
                drift_jsonw_string(&w, c0->label[a]);
            }
            drift_jsonw_end_object(&w);
            drift_jsonw_key(&w, "metrics");
            drift_jsonw_begin_object(&w);
            for (int m = 0; m < M_ALL; m++) {
                if (!used[m]) continue;
                stat3 s = group_stat(p, res, c0->group, m);
                drift_jsonw_key(&w, metric_name(m));
                drift_jsonw_begin_object(&w);
                drift_jsonw_key(&w, "mean");
                drift_jsonw_double(&w, s.mean);
                drift_jsonw_key(&w, "sd");
                drift_jsonw_double(&w, s.sd);
                drift_jsonw_key(&w, "n");
                drift_jsonw_int(&w, s.n);
                drift_jsonw_end_object(&w);
            }
            drift_jsonw_end_object(&w);
            drift_jsonw_end_object(&w);
        }
        drift_jsonw_end_array(&w);
        drift_jsonw_key(&w, "cells");
        drift_jsonw_begin_array(&w);
        for (int i = 0; i < p->n_cells; i++) {
            drift_jsonw_begin_object(&w);
            drift_jsonw_key(&w, "cell");
            drift_jsonw_string(&w, p->cells[i].name);
            drift_jsonw_key(&w, "group");
            drift_jsonw_string(&w, p->cells[i].group);
            drift_jsonw_key(&w, "seed");
            drift_jsonw_int(&w, (int64_t)p->cells[i].cfg.seed);
            drift_jsonw_key(&w, "done");
            drift_jsonw_bool(&w, res[i].done);
            if (res[i].failed) {
                drift_jsonw_key(&w, "failed");
                drift_jsonw_string(&w, res[i].reason);
            }
            drift_jsonw_key(&w, "metrics");
            drift_jsonw_begin_object(&w);
            for (int m = 0; m < M_ALL; m++) {
                if (!used[m] || !res[i].done) continue;
                drift_jsonw_key(&w, metric_name(m));
                drift_jsonw_double(&w, res[i].v[m]);
            }
            drift_jsonw_end_object(&w);
            drift_jsonw_end_object(&w);
        }
        drift_jsonw_end_array(&w);
        drift_jsonw_end_object(&w);
        st = drift_jsonw_status(&w);
        char path[2048];
        snprintf(path, sizeof path, "%s/results.json", p->dir);
        if (!st) st = drift_write_file_atomic(path, w.buf, w.len);
        drift_jsonw_free(&w);
    }
    /* results.md */
    if (!st) {
        char path[2048];
        snprintf(path, sizeof path, "%s/results.md", p->dir);
        drift_atomic_file af;
        st = drift_atomic_open(&af, path);
        if (!st) {
            drift_atomic_printf(&af, "# Study %s\n\n", p->name);
            if (p->description[0]) drift_atomic_printf(&af, "%s\n\n", p->description);
            drift_atomic_printf(&af, "%d of %d cells done; each scored by drift eval on %lld samples. "
                                     "Groups: mean ± sd over seeds (sample sd; n = seeds done).\n\n",
                                done, p->n_cells, (long long)p->eval_n);
            const drift_study_cell *c0 = &p->cells[0];
            /* axis columns: the first cell's axes without the seed (explicit cells: "cell") */
            drift_atomic_printf(&af, "| group | n |");
            for (int m = 0; m < M_ALL; m++)
                if (used[m]) drift_atomic_printf(&af, " %s |", metric_name(m));
            drift_atomic_printf(&af, "\n|---|---:|");
            for (int m = 0; m < M_ALL; m++)
                if (used[m]) drift_atomic_printf(&af, "---:|");
            drift_atomic_printf(&af, "\n");
            (void)c0;
            for (int g = 0; g < n_groups; g++) {
                const char *group = p->cells[gfirst[g]].group;
                int n = 0, nf = 0;
                for (int i = 0; i < p->n_cells; i++) {
                    n += res[i].done && !res[i].failed && !strcmp(p->cells[i].group, group);
                    nf += res[i].failed && !strcmp(p->cells[i].group, group);
                }
                if (nf) drift_atomic_printf(&af, "| %s | %d (%d failed) |", group, n, nf);
                else drift_atomic_printf(&af, "| %s | %d |", group, n);
                for (int m = 0; m < M_ALL; m++) {
                    if (!used[m]) continue;
                    stat3 s = group_stat(p, res, group, m);
                    md_value(&af, s.mean, s.sd, 1);
                }
                drift_atomic_printf(&af, "\n");
            }
            drift_atomic_printf(&af, "\n## Cells\n\n| cell | seed |");
            for (int m = 0; m < M_ALL; m++)
                if (used[m]) drift_atomic_printf(&af, " %s |", metric_name(m));
            drift_atomic_printf(&af, "\n|---|---:|");
            for (int m = 0; m < M_ALL; m++)
                if (used[m]) drift_atomic_printf(&af, "---:|");
            drift_atomic_printf(&af, "\n");
            for (int i = 0; i < p->n_cells; i++) {
                drift_atomic_printf(&af, "| %s | %llu |", p->cells[i].name, (unsigned long long)p->cells[i].cfg.seed);
                if (!res[i].done || res[i].failed) {
                    for (int m = 0; m < M_ALL; m++)
                        if (used[m]) drift_atomic_printf(&af, " %s |", res[i].failed ? "failed" : "pending");
                } else {
                    for (int m = 0; m < M_ALL; m++)
                        if (used[m]) md_value(&af, res[i].v[m], NAN, 0);
                }
                drift_atomic_printf(&af, "\n");
            }
            int header = 0;
            for (int i = 0; i < p->n_cells; i++) {
                if (!res[i].failed) continue;
                if (!header++) drift_atomic_printf(&af, "\nFailed cells:\n\n");
                drift_atomic_printf(&af, "- %s: %s\n", p->cells[i].name, res[i].reason);
            }
            st = drift_atomic_commit(&af);
        }
    }
    if (!st) st = write_fid_plot(p, res);
    if (!st) st = write_fid_group_plot(p, res);
    if (!st) st = write_rows(p, res);
    free(gfirst);
    free(res);
    if (n_done) *n_done = done;
    return st;
}
