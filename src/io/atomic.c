/* atomic.c — temp file + fsync + rename (see atomic.h). */
#include "io/atomic.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "drift/error.h"

int drift_atomic_open(drift_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (!path || !*path) return drift_error(DRIFT_EINVAL, "empty output path");
    int n = snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof af->tmp)
        return drift_error(DRIFT_EINVAL, "output path too long: %.200s", path);
    af->path = path;
    af->f = fopen(af->tmp, "wb");
    if (!af->f)
        return drift_error(DRIFT_EIO, "%s: cannot create %s: %s", path, af->tmp, strerror(errno));
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
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0) err = errno;
    if (fclose(af->f) != 0 && !err) err = errno;
    af->f = NULL;
    if (err) {
        drift_atomic_abort(af);
        return drift_error(DRIFT_EIO, "%s: write failed: %s", af->path, strerror(err));
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
