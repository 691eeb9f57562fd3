/* drift/error.h — the error convention of the whole library.
 *
 * Every public function returns an int status: 0 (DRIFT_OK) on success, a negative
 * DRIFT_E* code on failure. On failure it also leaves a one-line message in a
 * thread-local buffer, read with drift_last_error(). The library never prints, never
 * calls exit() or abort() on user input: the caller decides what to do.
 */
#ifndef DRIFT_ERROR_H
#define DRIFT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    DRIFT_OK = 0,
    DRIFT_EINVAL = -1,     /* an impossible option or argument */
    DRIFT_EIO = -2,        /* a file could not be opened, read or written */
    DRIFT_ENOMEM = -3,     /* an allocation failed or a size overflowed */
    DRIFT_EFORMAT = -4,    /* a file is malformed (bad magic, truncated, ...) */
    DRIFT_ENUMERIC = -5,   /* NaN/Inf in inputs, or a computation diverged */
    DRIFT_ESHAPE = -6,     /* array shapes do not fit together */
    DRIFT_EUNSUPPORTED = -7 /* valid but not supported (e.g. a dtype we do not read) */
};

/* The message of the last failure on this thread ("" if none). */
const char *drift_last_error(void);

/* Name of a status code ("EINVAL", ...). */
const char *drift_status_name(int status);

/* Record a failure: formats the message and returns `code`, so that
 *   return drift_error(DRIFT_EINVAL, "tau must be > 0, got %g", tau);
 * reports and propagates in one line. */
int drift_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with context ("reading foo.npy: ..."), returns code. */
int drift_error_context(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void drift_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
