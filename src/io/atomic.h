/* atomic.h — io-internal: write a file so that readers never see half of it.
 *
 * Bytes go to "<path>.tmp.<pid>"; commit flushes, fsyncs and renames over <path>, so a
 * crash (or a full disk) leaves either the old file or the new one, never a torn mix.
 * Used by every writer in src/io (npy, safetensors, png, svg).
 */
#ifndef DRIFT_IO_ATOMIC_H
#define DRIFT_IO_ATOMIC_H

#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    const char *path;
    char tmp[4096];
    int failed; /* a write failed: commit refuses and removes the temp file */
} drift_atomic_file;

int drift_atomic_open(drift_atomic_file *af, const char *path);
int drift_atomic_write(drift_atomic_file *af, const void *buf, size_t n);
/* printf into the file (SVG, text). */
int drift_atomic_printf(drift_atomic_file *af, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Flush, fsync, close and rename into place. On failure the temp file is removed. */
int drift_atomic_commit(drift_atomic_file *af);
/* Give up: close and remove the temp file (safe to call after a failed commit). */
void drift_atomic_abort(drift_atomic_file *af);

/* Whole-buffer convenience. */
int drift_write_file_atomic(const char *path, const void *buf, size_t n);

#endif
