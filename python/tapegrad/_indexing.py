"""Tensor[key]: NumPy's indexing rules, made of tapegrad's views and index_select.

    t = Tensor(np.arange(24.0).reshape(2, 3, 4))
    t[1]            # squeeze of a slice: shape (3, 4), a view
    t[:, ::2, -1]   # (2, 2), a view
    t[None, ..., 0] # (1, 2, 3), a view
    t[:, [2, 0]]    # (2, 2, 4), a copy (index_select along axis 1)

Each piece of the key turns into the C ABI's views, so a tape records them and
gradients flow back through indexing as through any op. Supported: integers,
slices with a step > 0 (PyTorch refuses negative steps too), None, one Ellipsis,
and at most one 1-D integer array. Boolean masks and several arrays are an
IndexError that says so, rather than NumPy's broadcasting rules half done.

This module does not import tapegrad.tensor (whose Views base imports it): the
Tensor class is the type of the tensor being indexed.

Thread safety: as Tensor's ops (a tape tensor belongs to its thread).
"""

import numbers
import operator

import numpy as np

from tapegrad import _lib

def getitem(t, key):
    Tensor = type(t)
    if not isinstance(key, tuple):
        key = (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("Tensor[...]: an index can only have a single ellipsis ('...')")
    ndim = t.ndim
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > ndim:
        raise IndexError("Tensor[...]: too many indices for a tensor of dimension %d" % ndim)
    # `axis` counts the result's axes so far, `source` t's (for messages);
    # `advanced` holds the key positions of integers and the array.
    out, axis, source, picked, advanced = t, 0, 0, None, []
    for position, k in enumerate(key):
        if k is None:
            out = out.unsqueeze(axis)
            axis += 1
        elif k is Ellipsis:
            axis += ndim - consumed
            source += ndim - consumed
        elif isinstance(k, slice):
            out = out._slice(axis, *_slice_bounds(k))
            axis += 1
            source += 1
        elif _is_integer(k, Tensor):
            out = _take(out, axis, _as_int(k, Tensor), source)
            source += 1
            advanced.append(position)
        elif isinstance(k, (Tensor, list, tuple, np.ndarray)):
            if picked is not None:
                raise IndexError("Tensor[...]: at most one integer array per index")
            if not isinstance(k, Tensor):
                k = Tensor(_checked_indices(k, t.shape[source], source), device=t.device)
            picked = (axis, k)
            axis += 1
            source += 1
            advanced.append(position)
        else:
            raise IndexError("Tensor[...]: only integers, slices, None, ... and 1-D "
                             "integer arrays are valid indices, not %s" % type(k).__name__)
    if picked is None:
        return out
    out = select(out, *picked)
    if advanced[-1] - advanced[0] + 1 != len(advanced):
        # NumPy's rule: with an array, integers are advanced indices too, and when a
        # slice, None or ... separates them the array's axis goes first.
        order = [picked[0]] + [a for a in range(out.ndim) if a != picked[0]]
        out = out.permute(order)
    return out


def select(t, axis, indices):
    """t's entries at 1-D integer `indices` along `axis`, through index_select (which
    picks rows): the axis goes first and comes back after."""
    if not -t.ndim <= axis < t.ndim:
        raise IndexError("index_select: axis %d is out of range for a tensor of "
                         "dimension %d" % (axis, t.ndim))
    Tensor = type(t)
    if not isinstance(indices, Tensor):
        indices = Tensor(_checked_indices(indices, t.shape[axis], axis % t.ndim),
                         device=t.device)
    if axis in (0, -t.ndim):
        return t._select_rows(indices)
    return t.transpose(0, axis)._select_rows(indices).transpose(0, axis)


def _is_integer(k, Tensor):
    if isinstance(k, (bool, np.bool_)):
        return False  # a boolean is a mask in NumPy, never an index
    if isinstance(k, (np.ndarray, Tensor)):
        return k.ndim == 0 and k.dtype.kind in "iu"
    return isinstance(k, (numbers.Integral, np.integer))


def _as_int(k, Tensor):
    return int(k.item()) if isinstance(k, Tensor) else operator.index(k)


def _slice_bounds(k):
    step = 1 if k.step is None else operator.index(k.step)
    if step <= 0:
        raise ValueError("Tensor[...]: slice steps must be > 0, not %d" % step)
    start = 0 if k.start is None else operator.index(k.start)
    stop = _lib.INT64_MAX if k.stop is None else operator.index(k.stop)
    # Python's ints are unbounded; the C ABI's are not, and out-of-range bounds clamp.
    clamp = lambda i: min(max(i, _lib.INT64_MIN), _lib.INT64_MAX)  # noqa: E731
    return clamp(start), clamp(stop), min(step, _lib.INT64_MAX)


def _take(t, axis, i, source):
    size = t.shape[axis]
    if not -size <= i < size:
        raise IndexError("Tensor[...]: index %d is out of bounds for axis %d with size %d"
                         % (i, source, size))
    i %= size
    return t._slice(axis, i, i + 1, 1).squeeze(axis)


def _checked_indices(indices, size, axis):
    """`indices` as int64 in [0, size), or an IndexError naming `axis`."""
    array = np.asarray(indices)
    if array.dtype.kind == "b":
        raise IndexError("Tensor[...]: boolean masks are not supported; use "
                         "np.flatnonzero(mask) for the indices")
    if array.size == 0:
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu" or array.ndim != 1:
        raise IndexError("Tensor[...]: an index array must be 1-D integers, not %s of "
                         "shape %s" % (array.dtype, array.shape))
    bad = (array < -size) | (array >= size)
    if bad.any():
        raise IndexError("Tensor[...]: index %d is out of bounds for axis %d with size %d"
                         % (array[bad][0], axis, size))
    return np.where(array < 0, array + size, array).astype(np.int64)
