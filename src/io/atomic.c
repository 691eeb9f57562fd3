/* atomic.c — temp file + fsync + rename, safe input opening, run-directory locks (see atomic.h). */
#include "io/atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drift/error.h"

/* "a FIFO", "a directory", ... for messages about a file that is not a regular one. */
static const char *kind_name(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a plain file";
}

/* ---- input ------------------------------------------------------------------------------ */

int drift_open_input(const char *path, int *fd_out, struct stat *sb_out)
{
    *fd_out = -1;
    if (!path || !*path) return drift_error(DRIFT_EINVAL, "empty input path");
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return drift_error(DRIFT_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return drift_error(DRIFT_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return drift_error(DRIFT_EIO, "%s: not a regular file (it is %s); drift reads only regular files",
                           path, kind_name(sb.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
        int e = errno;
        close(fd);
        return drift_error(DRIFT_EIO, "%s: cannot open: %s", path, strerror(e));
    }
    if (sb_out) *sb_out = sb;
    *fd_out = fd;
    return DRIFT_OK;
}

int drift_fopen_input(const char *path, FILE **f, struct stat *sb)
{
    *f = NULL;
    int fd;
    int st = drift_open_input(path, &fd, sb);
    if (st) return st;
    *f = fdopen(fd, "rb");
    if (!*f) {
        int e = errno;
        close(fd);
        return drift_error(DRIFT_EIO, "%s: cannot open: %s", path, strerror(e));
    }
    return DRIFT_OK;
}

/* ---- output ----------------------------------------------------------------------------- */

/* /dev/stdout, /dev/stderr, /dev/fd/N: the descriptor they name, else -1. */
static int stream_alias(const char *path)
{
    if (!strcmp(path, "/dev/stdout")) return 1;
    if (!strcmp(path, "/dev/stderr")) return 2;
    if (!strncmp(path, "/dev/fd/", 8) && path[8]) {
        long v = 0;
        for (const char *p = path + 8; *p; p++) {
            if (*p < '0' || *p > '9' || v > 100000000) return -1;
            v = 10 * v + (*p - '0');
        }
        return (int)v;
    }
    return -1;
}

/* 6 characters from [A-Za-z0-9], unpredictable (getrandom; a clock/pid mix if that fails). */
static void random_suffix(char out[7])
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    static unsigned long counter;
    unsigned char r[6];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 17) ^
                     (uint64_t)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (int i = 0; i < 6; i++) r[i] = (unsigned char)(z >> (8 * i));
    }
    for (int i = 0; i < 6; i++) out[i] = set[r[i] % 62];
    out[6] = 0;
}

/* Does `name` equal "<base>.tmp.<pid>" or "<base>.tmp.<pid>.<6 letters/digits>"? *pid gets the pid. */
static int stale_temp_name(const char *name, const char *base, size_t blen, long *pid)
{
    if (strncmp(name, base, blen) || strncmp(name + blen, ".tmp.", 5)) return 0;
    const char *p = name + blen + 5;
    long v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits >= 10) return 0;
        v = 10 * v + (*p - '0');
    }
    if (!digits || name[blen + 5] == '0' || v < 1 || v > INT_MAX) return 0;
    if (*p == '.') {
        p++;
        for (int i = 0; i < 6; i++, p++)
            if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) return 0;
    }
    if (*p) return 0;
    *pid = v;
    return 1;
}

/* Remove the temp files that dead processes left next to dir/base (best effort, silent). */
static void remove_stale_temps(const char *dir, const char *base)
{
    size_t blen = strlen(base);
    if (!blen) return;
    DIR *d = opendir(dir);
    if (!d) return;
    const long self = (long)getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        if (!stale_temp_name(e->d_name, base, blen, &pid) || pid == self) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours to judge) */
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* Split path into its directory ("." when none) and last component. */
static int split_path(const char *path, char *dir, size_t dsize, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, dsize, ".");
        *base = path;
        return 0;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1; /* "/name" */
    if (n >= dsize) return -1;
    memcpy(dir, path, n);
    dir[n] = 0;
    *base = slash + 1;
    return 0;
}

/* Is the existing target something we may replace? 0 = regular or absent, 1 = write in place
 * (character device), else a negative status with the message set. */
static int check_target(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        if (errno == ENOENT) return 0;
        return drift_error(DRIFT_EIO, "%s: cannot write: %s", path, strerror(errno));
    }
    if (S_ISREG(sb.st_mode)) return 0;
    if (S_ISCHR(sb.st_mode)) return 1;
    if (S_ISLNK(sb.st_mode))
        return drift_error(DRIFT_EIO, "%s: is a symbolic link; drift replaces only regular files (give the "
                                      "link's target, or remove the link)", path);
    return drift_error(DRIFT_EIO, "%s: is %s, not a regular file; refusing to replace it", path,
                       kind_name(sb.st_mode));
}

int drift_atomic_open(drift_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path) return drift_error(DRIFT_EINVAL, "empty output path");
    af->path = path;
    int fd = -1, alias = stream_alias(path);
    if (alias >= 0) {
        fd = fcntl(alias, F_DUPFD_CLOEXEC, 3);
        if (fd < 0) return drift_error(DRIFT_EIO, "%s: cannot write: %s", path, strerror(errno));
        af->in_place = 1;
    } else {
        int kind = check_target(path);
        if (kind < 0) return kind;
        if (kind == 1) {
            fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
            struct stat sb;
            if (fd < 0) return drift_error(DRIFT_EIO, "%s: cannot write: %s", path, strerror(errno));
            if (fstat(fd, &sb) != 0 || !S_ISCHR(sb.st_mode)) {
                close(fd);
                return drift_error(DRIFT_EIO, "%s: changed while opening it; not written", path);
            }
            af->in_place = 1;
        }
    }
    if (af->in_place) {
        af->f = fdopen(fd, "wb");
        if (!af->f) {
            int e = errno;
            close(fd);
            return drift_error(DRIFT_EIO, "%s: cannot write: %s", path, strerror(e));
        }
        return DRIFT_OK;
    }

    char dir[4096];
    const char *base;
    if (split_path(path, dir, sizeof dir, &base) != 0 || !*base)
        return drift_error(DRIFT_EINVAL, "output path too long or not a file name: %.200s", path);
    remove_stale_temps(dir, base);
    for (int attempt = 0; attempt < 100; attempt++) {
        char rnd[7];
        random_suffix(rnd);
        int n = snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld.%s", path, (long)getpid(), rnd);
        if (n < 0 || (size_t)n >= sizeof af->tmp) {
            af->tmp[0] = 0;
            return drift_error(DRIFT_EINVAL, "output path too long: %.200s", path);
        }
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) break;
    }
    if (fd < 0) {
        int e = errno;
        char tmp[sizeof af->tmp];
        memcpy(tmp, af->tmp, sizeof tmp);
        af->tmp[0] = 0;
        return drift_error(DRIFT_EIO, "%s: cannot create %s: %s", path, tmp, strerror(e));
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        af->tmp[0] = 0;
        return drift_error(DRIFT_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    return DRIFT_OK;
}

int drift_atomic_write(drift_atomic_file *af, const void *buf, size_t n)
{
    if (af->failed) return DRIFT_EIO;
    if (n && fwrite(buf, 1, n, af->f) != n) {
        af->failed = 1;
        return drift_error(DRIFT_EIO, "%s: write failed: %s", af->path, strerror(errno));
    }
    return DRIFT_OK;
}

int drift_atomic_printf(drift_atomic_file *af, const char *fmt, ...)
{
    if (af->failed) return DRIFT_EIO;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(af->f, fmt, ap);
    va_end(ap);
    if (n < 0) {
        af->failed = 1;
        return drift_error(DRIFT_EIO, "%s: write failed: %s", af->path, strerror(errno));
    }
    return DRIFT_OK;
}

void drift_atomic_abort(drift_atomic_file *af)
{
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp[0]) unlink(af->tmp);
    af->tmp[0] = '\0';
}

int drift_atomic_commit(drift_atomic_file *af)
{
    if (!af->f) return drift_error(DRIFT_EIO, "%s: file was not opened", af->path ? af->path : "?");
    if (af->failed) {
        drift_atomic_abort(af);
        return DRIFT_EIO;
    }
    int err = 0;
    if (af->in_place) {
        /* a device or a stream: no fsync (it fails on pipes and /dev/null), no rename */
        if (fflush(af->f) != 0) err = errno;
        if (fclose(af->f) != 0 && !err) err = errno;
        af->f = NULL;
        if (err) return drift_error(DRIFT_EIO, "%s: write failed: %s", af->path, strerror(err));
        return DRIFT_OK;
    }
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0) err = errno;
    if (fclose(af->f) != 0 && !err) err = errno;
    af->f = NULL;
    if (err) {
        drift_atomic_abort(af);
        return drift_error(DRIFT_EIO, "%s: write failed: %s", af->path, strerror(err));
    }
    /* the target may have changed since it was opened: still never replace a non-file */
    int kind = check_target(af->path);
    if (kind != 0) {
        if (kind == 1)
            drift_error(DRIFT_EIO, "%s: became a device while it was written; not replaced", af->path);
        drift_atomic_abort(af);
        return DRIFT_EIO;
    }
    if (rename(af->tmp, af->path) != 0) {
        err = errno;
        drift_atomic_abort(af);
        return drift_error(DRIFT_EIO, "%s: cannot rename temp file into place: %s", af->path,
                           strerror(err));
    }
    af->tmp[0] = '\0';
    return DRIFT_OK;
}

int drift_write_file_atomic(const char *path, const void *buf, size_t n)
{
    drift_atomic_file af;
    int st = drift_atomic_open(&af, path);
    if (st) return st;
    st = drift_atomic_write(&af, buf, n);
    if (st) {
        drift_atomic_abort(&af);
        return st;
    }
    return drift_atomic_commit(&af);
}

int drift_open_output_stream(const char *path, int flags, int *fd_out)
{
    *fd_out = -1;
    if (!path || !*path) return drift_error(DRIFT_EINVAL, "empty output path");
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags, 0666);
    if (fd < 0) {
        int e = errno;
        struct stat sb;
        if (e == ELOOP && lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode))
            return drift_error(DRIFT_EIO, "%s: is a symbolic link; drift writes only regular files (give the "
                                          "link's target, or remove the link)", path);
        return drift_error(DRIFT_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISCHR(sb.st_mode))) {
        close(fd);
        return drift_error(DRIFT_EIO, "%s: is %s, not a regular file; refusing to write it", path,
                           kind_name(sb.st_mode));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
        int e = errno;
        close(fd);
        return drift_error(DRIFT_EIO, "%s: cannot open: %s", path, strerror(e));
    }
    *fd_out = fd;
    return DRIFT_OK;
}

/* ---- run-directory lock ----------------------------------------------------------------- */

int drift_dir_lock(const char *dir, const char *what, int *fd_out)
{
    *fd_out = -1;
    char path[4200];
    int n = snprintf(path, sizeof path, "%s/.drift.lock", dir);
    if (n < 0 || (size_t)n >= sizeof path) return drift_error(DRIFT_EINVAL, "directory path too long: %.200s", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0666);
    if (fd < 0) return drift_error(DRIFT_EIO, "%s: cannot create the lock file: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return drift_error(DRIFT_EIO, "%s: the lock file is not a regular file", path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[32] = "";
        ssize_t got = pread(fd, holder, sizeof holder - 1, 0);
        holder[got > 0 ? got : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        close(fd);
        if (e == EWOULDBLOCK)
            return drift_error(DRIFT_EIO, "%s is in use: another %s (pid %s) holds %s; wait for it to finish "
                                          "or choose another directory", dir, what, *holder ? holder : "?", path);
        return drift_error(DRIFT_EIO, "%s: cannot lock: %s", path, strerror(e));
    }
    /* who holds it, for the message above (informative only: the flock is the lock) */
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) != len) { /* informative only */ }
    *fd_out = fd;
    return DRIFT_OK;
}

void drift_dir_unlock(int fd)
{
    if (fd >= 0) close(fd);
}

int drift_mkdir_p(const char *dir)
{
    char tmp[4096];
    if (!dir || !*dir) return drift_error(DRIFT_EINVAL, "mkdir: empty directory name");
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return drift_error(DRIFT_EINVAL, "path too long: %s", dir);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        const char keep = *p;
        *p = '\0';
        struct stat sb;
        if (mkdir(tmp, 0777) != 0 && (errno != EEXIST || stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)))
            return drift_error(DRIFT_EIO, "cannot create directory %s: %s", tmp,
                               errno == EEXIST ? "a file of that name is in the way" : strerror(errno));
        *p = keep;
        if (!keep) break;
    }
    return DRIFT_OK;
}

int drift_mkdir_parents(const char *path)
{
    char dir[4096];
    if (!path || snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return drift_error(DRIFT_EINVAL, "path too long or empty: %s", path ? path : "(null)");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return DRIFT_OK;
    *slash = '\0';
    return drift_mkdir_p(dir);
}
