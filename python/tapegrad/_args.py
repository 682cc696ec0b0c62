"""Checks of the plain Python arguments of tensor ops (axes, sizes, numbers), each
error naming the op, before they reach the C ABI as int64_t or double."""

import ctypes
import numbers
import operator

import numpy as np

from tapegrad import _lib


def _index(value):
    """operator.index, but a bool is no integer here, as in NumPy's shapes and axes:
    `t.sum(True)` is not `t.sum(1)`."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("bool is not an index")
    return operator.index(value)


def _int64(op, what, value):
    """`value` as an int that fits the C ABI's int64_t, else a TypeError or ValueError
    that names the op. (ctypes would silently keep the low 64 bits of a larger one.)"""
    try:
        i = _index(value)
    except TypeError:
        raise TypeError("%s: %s must be an integer, not %s"
                        % (op, what, type(value).__name__)) from None
    if not _lib.INT64_MIN <= i <= _lib.INT64_MAX:
        raise ValueError("%s: %s %d is out of range" % (op, what, i))
    return i


def _axis(op, axis):
    return _int64(op, "axis", axis)


def _number(op, name, value):
    if not isinstance(value, numbers.Real):
        raise TypeError("%s: %s must be a number, not %s" % (op, name, type(value).__name__))
    return float(value)


def _dims(op, dims):
    """(int64 array, count) for dims given as f(2, 3) or f((2, 3))."""
    if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
        dims = dims[0]
    try:
        dims = [_index(d) for d in dims]
    except TypeError:
        raise TypeError("%s: sizes and axes must be integers, not %r" % (op, dims)) from None
    return _int64_array(op, "size or axis", dims), len(dims)


def _int64_array(op, what, values):
    """A ctypes int64_t array of `values`, each checked by _int64."""
    return (ctypes.c_int64 * len(values))(*[_int64(op, what, v) for v in values])
