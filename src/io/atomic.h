/* atomic.h — io-internal: how the library opens files, so that readers never see half of one,
 * inputs never block and outputs never replace what they should not.
 *
 * Output (every writer in src/io: npy, safetensors, png, svg, csv tables, idx): bytes go to
 * an exclusively created temp file "<path>.tmp.<pid>.<6 random letters/digits>" next to the
 * target (O_CREAT|O_EXCL|O_NOFOLLOW: a planted file or symlink of that name is never
 * followed); commit flushes, fsyncs and renames over <path>, so a crash (or a full disk)
 * leaves either the old file or the new one, never a torn mix. The target must be a regular
 * file or not exist: a symbolic link, directory, FIFO, socket or block device is refused.
 * A character device (/dev/null, a terminal) is written in place, and so are /dev/stdout,
 * /dev/stderr and /dev/fd/N, which write to that descriptor. Opening a target also removes
 * temp files that killed processes left next to it: "<name>.tmp.<pid>[.<6 letters/digits>]"
 * whose pid is not a running process.
 *
 * Input: drift_open_input opens without blocking and refuses anything but a regular file
 * (a FIFO would block the reader forever, a directory or device is not data).
 *
 * Run directories: drift_dir_lock takes an exclusive flock on "<dir>/.drift.lock".
 */
#ifndef DRIFT_IO_ATOMIC_H
#define DRIFT_IO_ATOMIC_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

typedef struct {
    FILE *f;
    const char *path;
    char tmp[4096];
    int failed;   /* a write failed: commit refuses and removes the temp file */
    int in_place; /* a character device or standard stream: written directly, no temp file */
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

/* Open an input file read-only (close-on-exec). Never blocks on a FIFO: anything but a
 * regular file is refused with DRIFT_EIO "<path>: not a regular file (it is a FIFO)".
 * *fd gets the descriptor (-1 on failure); sb, when not NULL, the file's stat. */
int drift_open_input(const char *path, int *fd, struct stat *sb);
/* The same as a stdio stream ("rb"). */
int drift_fopen_input(const char *path, FILE **f, struct stat *sb);

/* Open a streaming output (logs that append as they go: JSONL, CSV) for writing, created
 * 0666 & ~umask; `flags` adds O_APPEND or O_TRUNC. A symbolic link, directory, FIFO, socket or
 * block device is refused (character devices such as /dev/null are written). */
int drift_open_output_stream(const char *path, int flags, int *fd);

/* Exclusive lock on "<dir>/.drift.lock" (created if needed) so that two processes never
 * write one run directory at once. Refuses at once (DRIFT_EIO, naming `what` and the
 * directory) when another process holds it. *fd gets the descriptor; the lock lasts until
 * drift_dir_unlock(fd) or the process ends. */
int drift_dir_lock(const char *dir, const char *what, int *fd);
void drift_dir_unlock(int fd);

/* mkdir -p: dir and every missing parent (0777 & ~umask). DRIFT_EIO naming the first directory
 * that could not be made (an existing non-directory in the way included). */
int drift_mkdir_p(const char *dir);
/* mkdir -p of the directory part of a file's path ("a/b/c.bin" makes a/b); nothing for a bare
 * name. */
int drift_mkdir_parents(const char *path);

#endif
