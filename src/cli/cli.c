/* cli.c — option parsing shared by the subcommands. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/error.h"

int cli_parse_onoff(const char *s, int *on)
{
    if (!strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on")) *on = 1;
    else if (!strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off")) *on = 0;
    else return -1;
    return 0;
}

/* Old spellings kept working: `drift curl --out` was its figure and `--grid` a count, where
 * every other command's --out is a data file and drift sample's --grid a picture (README,
 * "One spelling per idea"). The parser takes them and says what they are now. */
static const struct {
    const char *cmd, *old, *now;
} deprecated[] = {
    {"curl", "--out", "--png"},
    {"curl", "--grid", "--grid-points"},
};
#define N_DEPRECATED (int)(sizeof deprecated / sizeof deprecated[0])

static void print_help(const char *cmd, const char *usage_line, const char *description, const cli_opt *opts, int n)
{
    printf("usage: %s\n\n%s\n\noptions:\n", usage_line, description);
    int has_threads = 0;
    for (int i = 0; i < n; i++) {
        char left[64];
        if (!strcmp(opts[i].name, "--threads")) has_threads = 1;
        if (opts[i].kind == OPT_FLAG)
            snprintf(left, sizeof left, "%s", opts[i].name);
        else
            snprintf(left, sizeof left, "%s %s", opts[i].name, opts[i].meta ? opts[i].meta : "V");
        printf("  %-26s %s\n", left, opts[i].help);
    }
    for (int i = 0; i < N_DEPRECATED; i++)
        if (!strcmp(cmd, deprecated[i].cmd)) printf("  %-26s deprecated spelling of %s\n", deprecated[i].old, deprecated[i].now);
    if (!has_threads) printf("  %-26s %s\n", "--threads T", "threads (default 0: all cores, or OMP_NUM_THREADS)");
    printf("  %-26s %s\n", "--help", "show this help");
    printf("\nOn/off options are --name alone (on) or --name=0|1. Options are --name VALUE or --name=VALUE.\n");
}

int cli_parse(int argc, char **argv, cli_opt *opts, int nopts, const char *usage_line,
              const char *description)
{
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            print_help(argv[0], usage_line, description, opts, nopts);
            return 1;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const char *name = arg;
        for (int i = 0; i < N_DEPRECATED; i++)
            if (!strcmp(argv[0], deprecated[i].cmd) && strlen(deprecated[i].old) == len &&
                !strncmp(deprecated[i].old, arg, len)) {
                fprintf(stderr, "drift %s: %s is deprecated; it is now %s\n", argv[0], deprecated[i].old, deprecated[i].now);
                name = deprecated[i].now;
                len = strlen(name);
            }
        cli_opt *o = NULL;
        for (int i = 0; i < nopts; i++)
            if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len)) o = &opts[i];
        if (!o && len == 9 && !strncmp(arg, "--threads", 9)) {
            /* the global option: every command honours it (README, docs/ARCHITECTURE.md) */
            const char *val = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
            char *end = NULL;
            long v = val ? strtol(val, &end, 10) : -1;
            if (!val || end == val || *end || v < 0 || v > 4096) {
                fprintf(stderr, "drift %s: --threads needs a count >= 0 (0: all cores)\n", argv[0]);
                return -1;
            }
            drift_set_threads((int)v);
            continue;
        }
        if (!o) {
            fprintf(stderr, "drift %s: unknown option '%s' (see --help)\n", argv[0], arg);
            return -1;
        }
        o->seen = 1;
        if (o->kind == OPT_FLAG) {
            int on = 1;
            if (eq && cli_parse_onoff(eq + 1, &on)) {
                fprintf(stderr, "drift %s: option %s is on/off: give it alone or as %s=0|1\n", argv[0], o->name, o->name);
                return -1;
            }
            *(int *)o->target = on;
            continue;
        }
        const char *val = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        if (!val) {
            fprintf(stderr, "drift %s: option %s needs a value\n", argv[0], o->name);
            return -1;
        }
        char *end = NULL;
        errno = 0;
        switch (o->kind) {
        case OPT_STRING:
            *(const char **)o->target = val;
            break;
        case OPT_INT: {
            long v = strtol(val, &end, 10);
            if (errno || end == val || *end || v < -2147483647L || v > 2147483647L) {
                fprintf(stderr, "drift %s: option %s needs an integer, got '%s'\n", argv[0], o->name, val);
                return -1;
            }
            *(int *)o->target = (int)v;
            break;
        }
        case OPT_DOUBLE: {
            double v = strtod(val, &end);
            if (errno || end == val || *end) {
                fprintf(stderr, "drift %s: option %s needs a number, got '%s'\n", argv[0], o->name, val);
                return -1;
            }
            *(double *)o->target = v;
            break;
        }
        default:
            break;
        }
    }
    return cli_dry_run() ? 1 : 0; /* DRIFT_DRY_RUN: the options parsed; nothing is done */
}

int cli_dry_run(void)
{
    const char *v = getenv("DRIFT_DRY_RUN");
    return v && *v && strcmp(v, "0");
}

int cli_fail(const char *cmd, const char *what)
{
    const char *msg = drift_last_error();
    if (msg && *msg)
        fprintf(stderr, "drift %s: %s: %s\n", cmd, what, msg);
    else
        fprintf(stderr, "drift %s: %s\n", cmd, what);
    return 1;
}

int cli_parse_double_list(const char *s, double *vals, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || n >= max) return -1;
        vals[n++] = v;
        if (*end == ',') {
            p = end + 1;
            if (!*p) return -1;
        } else if (*end) {
            return -1;
        } else {
            p = end;
        }
    }
    return n > 0 ? n : -1;
}

int cli_parse_int_list(const char *s, int *vals, int max)
{
    double tmp[256];
    if (max > 256) max = 256;
    int n = cli_parse_double_list(s, tmp, max);
    for (int i = 0; i < n; i++) {
        if (tmp[i] != (double)(int)tmp[i]) return -1;
        vals[i] = (int)tmp[i];
    }
    return n;
}

void cli_std_fds_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        int n = open("/dev/null", O_RDONLY); /* the lowest free descriptor: fd itself */
        if (n >= 0 && n != fd) {
            dup2(n, fd);
            close(n);
        }
    }
}

int cli_close_stdout(int rc)
{
    errno = 0;
    int err = fflush(stdout) != 0 ? errno : 0;
    int bad = ferror(stdout);
    errno = 0;
    if (fclose(stdout) != 0 && !err) err = errno;
    if (!bad && !err) return rc;
    fprintf(stderr, "drift: error writing to standard output: %s\n", err ? strerror(err) : "write failed");
    return rc ? rc : 1;
}

/* "<real directory>/<name>" of a path whose file may not exist yet (the path itself when the
 * directory cannot be resolved). */
static void resolve_output(const char *path, char *out, size_t size)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (n == 0) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)n, path);
    if (realpath(dir, real)) snprintf(out, size, "%s/%s", real, base);
    else snprintf(out, size, "%s", path);
}

static int same_output(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && !S_ISCHR(sa.st_mode);
    char ra[PATH_MAX + 256], rb[PATH_MAX + 256];
    resolve_output(a, ra, sizeof ra);
    resolve_output(b, rb, sizeof rb);
    return !strcmp(ra, rb);
}

int cli_distinct_outputs(const char *cmd, int n, const char *const *names, const char *const *paths)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (paths[i] && paths[j] && same_output(paths[i], paths[j])) {
                fprintf(stderr, "drift %s: %s and %s name the same file (%s, %s); give each output its own file\n",
                        cmd, names[i], names[j], paths[i], paths[j]);
                return 2;
            }
    return 0;
}
