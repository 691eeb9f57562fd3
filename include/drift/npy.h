/* drift/npy.h — NumPy .npy files (format versions 1.0, 2.0, 3.0).
 *
 * Reads float32/float64/int32/int64/uint8 (little-endian, C order). Anything else —
 * Fortran order, object or structured dtypes, big-endian data, truncated data, shapes
 * whose element count overflows or disagrees with the file size — is a DRIFT_EFORMAT /
 * DRIFT_EUNSUPPORTED error whose message names the file and the problem. Writing uses
 * version 1.0 (2.0 when the header needs it) and is atomic (temp file + rename).
 */
#ifndef DRIFT_NPY_H
#define DRIFT_NPY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DRIFT_DTYPE_F32 = 0,
    DRIFT_DTYPE_F64,
    DRIFT_DTYPE_I32,
    DRIFT_DTYPE_I64,
    DRIFT_DTYPE_U8,
} drift_dtype;

#define DRIFT_NPY_MAX_DIM 8

typedef struct drift_array {
    drift_dtype dtype;
    int ndim;
    int64_t shape[DRIFT_NPY_MAX_DIM];
    size_t count;   /* product of shape */
    void *data;     /* count elements, owned; free with drift_array_free */
} drift_array;

size_t drift_dtype_size(drift_dtype t);
const char *drift_dtype_name(drift_dtype t); /* "float32", ... */

int drift_npy_read(const char *path, drift_array *out);
/* Only the header and the first max_rows rows (along shape[0]; all of them when there are fewer):
 * memory and reading are proportional to the rows used, not to the file. Bytes after those rows
 * are neither read nor checked (a file cut short or damaged after them still gives them); the
 * rows read must all be there. out->shape[0] is the number of rows read, *total_rows (when not
 * NULL) the header's. A 0-d array is one row. max_rows < 0: DRIFT_EINVAL. */
int drift_npy_read_rows(const char *path, int64_t max_rows, drift_array *out, int64_t *total_rows);
/* Parse an in-memory .npy image (used by the fuzzer and tests); `name` is used in messages. */
int drift_npy_parse(const unsigned char *buf, size_t len, const char *name, drift_array *out);
int drift_npy_write(const char *path, drift_dtype dtype, int ndim, const int64_t *shape, const void *data);
void drift_array_free(drift_array *a);

/* Convenience for (rows, cols) matrices: reads any numeric dtype, converts to float32 /
 * float64. A 1-D array of length n is taken as (n, 1). More than 2 dims: rows = shape[0],
 * cols = product of the rest (an image stack (n, 28, 28) becomes (n, 784)).
 * Rejects NaN/Inf (DRIFT_ENUMERIC, naming the file and the first bad row). */
int drift_npy_read_f32(const char *path, float **data, int64_t *rows, int64_t *cols);
int drift_npy_read_f64(const char *path, double **data, int64_t *rows, int64_t *cols);
/* drift_npy_read_f32 of the first max_rows rows (drift_npy_read_rows), converted as they are
 * read: the only large allocation is the result. *total_rows (may be NULL): the file's rows. */
int drift_npy_read_f32_rows(const char *path, int64_t max_rows, float **data, int64_t *rows, int64_t *cols,
                            int64_t *total_rows);
/* Integer vector (labels): any integer dtype, shape (n,) or (n,1), into int32. */
int drift_npy_read_labels(const char *path, int32_t **labels, int64_t *n);
/* The first max_rows labels (max_rows < 0: all); *total_rows (may be NULL): the file's count. */
int drift_npy_read_labels_rows(const char *path, int64_t max_rows, int32_t **labels, int64_t *n, int64_t *total_rows);
int drift_npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols);
int drift_npy_write_f64(const char *path, const double *data, int64_t rows, int64_t cols);

#ifdef __cplusplus
}
#endif
#endif
