"""drift: drifting models from Python, through libdrift (the C library of this repository).

    import drift
    V = drift.field(x, pos, family="sharp", kernel="laplace", tau=[0.05, 0.2])   # NumPy in, NumPy out
    V, phi = drift.field(x, pos, family="kdegrad", potential=True)
    g = drift.load_generator("runs/fashion-mnist/checkpoint.safetensors")
    s = g.sample(1000, cls=3, seed=0)                      # == drift sample --n 1000 --class 3 --seed 0
    m = drift.eval(s, data="fashion-mnist")                # == drift eval --json, as a dict
    value, grad, stats = drift.loss(x, pos)                # the trainer's objective and dL/dx
    import drift.torch                                     # DriftLoss: an nn.Module for PyTorch

libdrift.so is found through $DRIFT_LIB, else this checkout's build directory (scripts/build), else
the system's library path. Failures inside the library raise drift.DriftError with its message;
wrong dtypes and shapes raise TypeError / ValueError before any C call. The library keeps no
global state besides the thread count (set_threads), so calls from several Python threads are
safe (the GIL is released while C runs); a Generator runs one forward pass at a time.
"""
from ._lib import DriftError, lib_path
from ._field import FieldOutput, field, get_threads, set_threads
from ._loss import loss
from ._sample import Generator, load_generator
from ._eval import Evaluator, evaluate, toy

eval = evaluate  # drift.eval(samples, data=...): the name `drift eval` has on the command line

__all__ = ["DriftError", "Evaluator", "FieldOutput", "Generator", "eval", "evaluate", "field", "get_threads",
           "lib_path", "load_generator", "loss", "set_threads", "toy", "version"]


def version():
    """The version of the loaded libdrift ("0.1.0")."""
    from ._lib import lib
    return lib().drift_version_string().decode()


def __getattr__(name):
    # drift.torch is imported on first use: importing torch takes seconds and is not needed
    # for the NumPy API
    if name == "torch":
        import importlib
        return importlib.import_module(".torch", __name__)
    raise AttributeError("module 'drift' has no attribute %r" % name)
