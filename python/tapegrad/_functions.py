"""The tensor functions of the package: cat, stack, where, from_dlpack and the
losses (tapegrad.cat(...), tapegrad.cross_entropy(...))."""

import ctypes

import numpy as np

from tapegrad import _dlpack, _lib
from tapegrad._args import _axis
from tapegrad.tensor import Tensor, _as_tensor, _result

_c = _lib.lib


def _handles(op, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError("%s: tensors must be a list or tuple of Tensors, not %s"
                        % (op, type(tensors).__name__))
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError("%s: tensors[%d] is of type %s, not a Tensor" % (op, i, type(t).__name__))
    return (ctypes.c_void_p * len(tensors))(*[t._h for t in tensors]), len(tensors)


def _join(op, call, tensors, axis):
    handles, n = _handles(op, tensors)
    return _result(tensors, call, handles, n, _axis(op, axis))


def cat(tensors, axis=0):
    """Joins tensors of one dtype and device along `axis` (a copy, recorded)."""
    return _join("cat", _c.tg_tensor_concatenate, tensors, axis)


def stack(tensors, axis=0):
    """Joins tensors of one shape along a new `axis` (a copy, recorded)."""
    return _join("stack", _c.tg_tensor_stack, tensors, axis)


def where(cond, a, b):
    """a where cond is nonzero, else b, broadcast: where(x > 0, x, 0.0). a or b
    may be a number; cond may be a comparison's mask or any array (converted to
    their dtype), and gets no gradient."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("where: a or b must be a Tensor")
    a, b = _as_tensor(a, like), _as_tensor(b, like)
    if not isinstance(cond, Tensor):
        cond = Tensor(np.asarray(cond, dtype=like.dtype), device=like.device)
    return _result((cond, a, b), _c.tg_tensor_where, cond._h, a._h, b._h)


def from_dlpack(obj):
    """A Tensor sharing the memory of any DLPack producer (NumPy, PyTorch, ...)."""
    if not hasattr(obj, "__dlpack__"):
        raise TypeError("from_dlpack: %s has no __dlpack__" % type(obj).__name__)
    return Tensor._from_heap(_dlpack.consume_capsule(obj.__dlpack__()))


def _loss(name, x, target):
    if not isinstance(x, Tensor):
        raise TypeError("%s: the input must be a Tensor, not %s" % (name, type(x).__name__))
    return x._binary(name, target)


def mse_loss(prediction, target):
    return _loss("mse", prediction, target)


def cross_entropy(logits, labels):
    """Mean cross-entropy of logits [N, C] against int64 class indices [N]."""
    return _loss("cross_entropy", logits, labels)


def binary_cross_entropy_with_logits(logits, targets):
    return _loss("bce_with_logits", logits, targets)
