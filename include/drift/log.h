/* drift/log.h — metrics logs: JSON lines and CSV.
 *
 * metrics.jsonl gets one JSON object per line, built field by field:
 *   drift_jsonl_begin(l); drift_jsonl_int(l, "step", s); drift_jsonl_double(l, "loss", v);
 *   drift_jsonl_end(l);
 * Each record reaches the file in a single write(2) on an O_APPEND descriptor, so a reader
 * following the file (or a crash) never sees half a line. Doubles use %.9g — enough for
 * every float32 value to read back exactly — and NaN/Inf become null (JSON has no
 * spelling for them; a diverged loss shows up as null, not as an unparsable file).
 *
 * CSV: a header row, then rows built field by field; the field count is checked against
 * the header; strings are quoted per RFC 4180 when they need it; non-finite doubles are
 * written nan / inf / -inf (what numpy and pandas read back).
 */
#ifndef DRIFT_LOG_H
#define DRIFT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "drift/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drift_jsonl drift_jsonl;

/* Opens `path` for appending (truncate = 1 starts it empty). */
int drift_jsonl_open(drift_jsonl **out, const char *path, int truncate);
int drift_jsonl_begin(drift_jsonl *l);
int drift_jsonl_int(drift_jsonl *l, const char *key, int64_t v);
int drift_jsonl_double(drift_jsonl *l, const char *key, double v);
int drift_jsonl_string(drift_jsonl *l, const char *key, const char *v);
int drift_jsonl_bool(drift_jsonl *l, const char *key, int v);
/* The record being built, for nested values: drift_jsonw_key(w, "per_tau");
 * drift_jsonw_begin_array(w); ... Only between begin and end. */
drift_jsonw *drift_jsonl_writer(drift_jsonl *l);
/* Closes the object and appends it with a newline. */
int drift_jsonl_end(drift_jsonl *l);
/* Drops the record begun (nothing is written): a caller whose record failed half-way. No-op
 * outside a record. */
void drift_jsonl_discard(drift_jsonl *l);
/* fsync: a durability point (e.g. next to a checkpoint). */
int drift_jsonl_flush(drift_jsonl *l);
/* Closes; a record begun but not ended is dropped and reported (DRIFT_EINVAL). */
int drift_jsonl_close(drift_jsonl *l);

typedef struct drift_csv drift_csv;

/* Creates (truncates) `path` and writes the header row of ncols names. */
int drift_csv_open(drift_csv **out, const char *path, int ncols, const char *const *header);
int drift_csv_double(drift_csv *c, double v);
int drift_csv_int(drift_csv *c, int64_t v);
int drift_csv_string(drift_csv *c, const char *s);
/* Ends the row; DRIFT_EINVAL unless exactly ncols fields were given. */
int drift_csv_end_row(drift_csv *c);
/* A row of ncols doubles in one call. */
int drift_csv_row(drift_csv *c, const double *values);
int drift_csv_close(drift_csv *c);

/* A whole rows x cols table of doubles with its header, written atomically. */
int drift_csv_write_table(const char *path, int cols, const char *const *header,
                          const double *values, int64_t rows);

#ifdef __cplusplus
}
#endif
#endif
