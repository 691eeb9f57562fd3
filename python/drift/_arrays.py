"""Checking NumPy inputs before they reach C: dtypes and shapes are refused here, in Python, with
TypeError / ValueError, so that a C function only ever sees buffers of the size it is told."""
import numpy as np

FLOATS = (np.float32, np.float64)


def as_array(a, name):
    if isinstance(a, np.ndarray):
        return a
    try:
        return np.asarray(a)
    except Exception as e:  # a torch tensor that needs grad, a ragged list, ...
        raise TypeError("%s: cannot be read as a NumPy array (%s)" % (name, e)) from None


def float_dtype(a, name):
    """The array's dtype if it is float32 or float64; TypeError otherwise (ints, float16,
    complex and objects are refused, not silently converted)."""
    if a.dtype not in FLOATS:
        raise TypeError("%s must be a float32 or float64 array, got dtype %s" % (name, a.dtype))
    return a.dtype


def matrix(a, name, dtype, cols=None, min_rows=1):
    """a as a C-contiguous (rows, D) array of `dtype`: rows = shape[0], D = the product of the
    other dims (an image stack (n, 28, 28) is (n, 784)). No copy when `a` already is C-contiguous
    with that dtype (the reshape is a view). cols: the D it must have."""
    a = as_array(a, name)
    float_dtype(a, name)
    if a.ndim < 2:
        raise ValueError("%s must have shape (rows, D) (or more dims, flattened per row), got shape %s%s"
                         % (name, a.shape, "; for D = 1 use a[:, None]" if a.ndim == 1 else ""))
    rows = a.shape[0]
    d = int(np.prod(a.shape[1:]))
    if rows < min_rows or d < 1:
        raise ValueError("%s must have at least %d row(s) and one column, got shape %s" % (name, min_rows, a.shape))
    if cols is not None and d != cols:
        raise ValueError("%s has %d values per row but the queries have %d (shape %s)" % (name, d, cols, a.shape))
    a = np.ascontiguousarray(a, dtype=dtype)
    return a.reshape(rows, d)


def vector(a, name, dtype, length):
    """Weights: shape (length,) or (length, 1), float32/float64, as a C-contiguous vector."""
    a = as_array(a, name)
    float_dtype(a, name)
    if not (a.shape == (length,) or a.shape == (length, 1)):
        raise ValueError("%s must have shape (%d,), got %s" % (name, length, a.shape))
    return np.ascontiguousarray(a, dtype=dtype).reshape(length)


def ptr(a):
    """The address of a NumPy array's data (None for None)."""
    return None if a is None else a.ctypes.data
