"""tapegrad: micrograd's API on a C++ Wengert tape, plus tensors.

    import tapegrad
    from tapegrad.engine import Value     # micrograd's Value
    from tapegrad.nn import MLP           # micrograd's MLP

    a, b = Value(-4.0), Value(2.0)
    g = (a * b + b**3).relu()
    g.backward()

    x = tapegrad.Tensor([[1.0, 2.0]])     # tensors, NumPy and DLPack interop
    tapegrad.Device.is_cuda_available()

Graphs are freed by Python's garbage collector as in micrograd (see
tapegrad/_graph.py for how); `with tapegrad.step():` frees a step's graph at the
end of the block instead, with no allocation in steady state.

Everything here calls libtapegrad.so (capi/tapegrad.h): Value through the
extension module tapegrad._engine (python/ext), the rest through ctypes.
"""

import ctypes

from tapegrad import errors
from tapegrad._graph import step, tape_stats
from tapegrad._lib import KernelInfo as _KernelInfo
from tapegrad._lib import check as _check
from tapegrad._lib import lib as _clib
from tapegrad.device import Device
from tapegrad.draw import draw_dot
from tapegrad.engine import Value
from tapegrad.engine import _engine
from tapegrad._functions import (binary_cross_entropy_with_logits, cat, cross_entropy,
                                 from_dlpack, mse_loss, stack, where)
from tapegrad.tensor import Tensor
from tapegrad.checkpoint import load, save

__version__ = _clib.tg_version().decode()


class no_grad:
    """`with tapegrad.no_grad():` computes without recording (inference)."""

    def __enter__(self):
        _check(_clib.tg_no_grad_enter())
        return self

    def __exit__(self, *exc):
        _check(_clib.tg_no_grad_exit())
        return False


def is_grad_enabled():
    return bool(_clib.tg_is_grad_enabled())


def kernels():
    """The kernel registry: a list of (op, dtype, device) names."""
    count = ctypes.c_size_t()
    _check(_clib.tg_registry_kernels(None, 0, ctypes.byref(count)))
    infos = (_KernelInfo * count.value)()
    _check(_clib.tg_registry_kernels(infos, count.value, ctypes.byref(count)))
    dtypes = {0: "float32", 1: "float64", 2: "int64"}
    devices = {0: "cpu", 1: "cuda"}
    return [(k.op.decode(), dtypes[k.dtype], devices[k.device]) for k in infos]


def set_num_threads(n):
    """The threads one CPU op may use (as torch.set_num_threads; the machine's
    cores unless set). Ranks of a data-parallel job on one machine want their share."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("set_num_threads: n must be an int, not %s" % type(n).__name__)
    _check(_clib.tg_set_num_threads(max(min(n, 2**31 - 1), -2**31)))


def get_num_threads():
    n = ctypes.c_int()
    _check(_clib.tg_num_threads(ctypes.byref(n)))
    return n.value


def write_dot(root, path):
    """Writes the tape's records below Value `root` as a Graphviz DOT file (from C)."""
    _engine.write_dot(root, path)


def from_torch(module):
    """Traces a torch.nn.Module with torch.fx and returns a module that runs it on
    tapegrad with a copy of its weights (tapegrad/_from_torch.py). torch is imported
    here, not when tapegrad is."""
    from tapegrad._from_torch import from_torch as trace
    return trace(module)


__all__ = ["Value", "Tensor", "Device", "draw_dot", "write_dot", "step", "no_grad",
           "is_grad_enabled", "kernels", "tape_stats", "from_dlpack", "mse_loss",
           "cross_entropy", "binary_cross_entropy_with_logits", "cat", "stack", "where",
           "errors", "from_torch", "save", "load", "set_num_threads", "get_num_threads"]
