/* cli.c — option parsing shared by the subcommands. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drift/error.h"

static void print_help(const char *usage_line, const char *description, const cli_opt *opts, int n)
{
    printf("usage: %s\n\n%s\n\noptions:\n", usage_line, description);
    for (int i = 0; i < n; i++) {
        char left[64];
        if (opts[i].kind == OPT_FLAG)
            snprintf(left, sizeof left, "%s", opts[i].name);
        else
            snprintf(left, sizeof left, "%s %s", opts[i].name, opts[i].meta ? opts[i].meta : "V");
        printf("  %-26s %s\n", left, opts[i].help);
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

int cli_parse(int argc, char **argv, cli_opt *opts, int nopts, const char *usage_line,
              const char *description)
{
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            print_help(usage_line, description, opts, nopts);
            return 1;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        cli_opt *o = NULL;
        for (int i = 0; i < nopts; i++)
            if (strlen(opts[i].name) == len && !strncmp(opts[i].name, arg, len)) o = &opts[i];
        if (!o) {
            fprintf(stderr, "drift %s: unknown option '%s' (see --help)\n", argv[0], arg);
            return -1;
        }
        o->seen = 1;
        if (o->kind == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "drift %s: option %s takes no value\n", argv[0], o->name);
                return -1;
            }
            *(int *)o->target = 1;
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
    return 0;
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
