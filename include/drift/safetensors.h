/* drift/safetensors.h — checkpoints in the safetensors format.
 *
 * Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON, then the tensor bytes. The JSON maps each tensor name to
 * {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} (offsets relative to the
 * start of the data section) and may hold "__metadata__": a flat string -> string map.
 *
 * Reading is strict, like the reference implementation: the header must be at most
 * DRIFT_ST_MAX_HEADER bytes of valid JSON; every tensor's byte range must equal
 * itemsize * prod(shape), and the ranges, sorted, must tile the data section exactly
 * (no gaps, no overlap, nothing left over). Any violation is DRIFT_EFORMAT naming the
 * file and the tensor; dtypes other than F32/F64/I32/I64/U8 are DRIFT_EUNSUPPORTED.
 *
 * Writing orders tensors by alignment (8-byte types first) then name, as the reference
 * writer does, pads the header with spaces to a multiple of 8, and is atomic (temp
 * file + fsync + rename): a crash mid-save never leaves a torn checkpoint.
 */
#ifndef DRIFT_SAFETENSORS_H
#define DRIFT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "drift/npy.h" /* drift_dtype, DRIFT_NPY_MAX_DIM */

#ifdef __cplusplus
extern "C" {
#endif

#define DRIFT_ST_MAX_HEADER (100u * 1000u * 1000u)

typedef struct drift_st_tensor {
    const char *name;
    drift_dtype dtype;
    int ndim;                          /* 0 (a scalar) .. DRIFT_NPY_MAX_DIM */
    int64_t shape[DRIFT_NPY_MAX_DIM];
    const void *data;                  /* prod(shape) elements, row-major */
} drift_st_tensor;

typedef struct drift_st_meta {
    const char *key;
    const char *value;
} drift_st_meta;

/* Writes n tensors (unique, non-empty names other than "__metadata__") and n_meta
 * metadata pairs (unique keys; may be 0/NULL). */
int drift_safetensors_write(const char *path, const drift_st_tensor *tensors, size_t n,
                            const drift_st_meta *meta, size_t n_meta);

/* A loaded file. Tensor data pointers are aligned to their element size and stay valid
 * until drift_safetensors_free. */
typedef struct drift_safetensors drift_safetensors;

int drift_safetensors_read(const char *path, drift_safetensors **out);
/* Parses an in-memory image (copied; `name` is used in messages). For the fuzzer. */
int drift_safetensors_parse(const unsigned char *buf, size_t len, const char *name,
                            drift_safetensors **out);
void drift_safetensors_free(drift_safetensors *st);

/* Tensors in file order of their data (ascending offsets). */
size_t drift_safetensors_count(const drift_safetensors *st);
const drift_st_tensor *drift_safetensors_tensor(const drift_safetensors *st, size_t i);
/* By name; DRIFT_EINVAL naming the file and the tensor when absent. */
int drift_safetensors_find(const drift_safetensors *st, const char *name,
                           const drift_st_tensor **out);
/* Copies a named tensor into dst after checking its dtype and element count
 * (DRIFT_ESHAPE on a mismatch, with both shapes in the message). */
int drift_safetensors_copy(const drift_safetensors *st, const char *name, drift_dtype dtype,
                           void *dst, size_t count);

size_t drift_safetensors_meta_count(const drift_safetensors *st);
const drift_st_meta *drift_safetensors_meta_at(const drift_safetensors *st, size_t i);
/* Value of a metadata key, or NULL when absent. */
const char *drift_safetensors_meta(const drift_safetensors *st, const char *key);

/* "F32", "F64", "I32", "I64", "U8". */
const char *drift_safetensors_dtype_name(drift_dtype t);

#ifdef __cplusplus
}
#endif
#endif
