"""Tensor's views (reshape, transpose, slices, ...) and indexing: no copy but for
an index array, recorded, so gradients flow through them. A base of Tensor, which
provides _apply(call, *args) and _op(operands, call, *args)."""

from tapegrad import _indexing, _lib
from tapegrad._args import _axis, _dims

_c = _lib.lib


class Views:
    __slots__ = ()

    # ---- views: no copy, recorded, so gradients flow through them; axes may be
    # negative

    def reshape(self, *shape):
        """Of contiguous data (see contiguous()); one size may be -1."""
        return self._apply(_c.tg_tensor_reshape, *_dims("reshape", shape))

    def view(self, *shape):
        return self.reshape(*shape)

    def transpose(self, a=0, b=1):
        return self._apply(_c.tg_tensor_transpose, _axis("transpose", a),
                           _axis("transpose", b))

    def permute(self, *order):
        """Axis i of the result is axis order[i] of this tensor."""
        return self._apply(_c.tg_tensor_permute, *_dims("permute", order))

    def expand(self, *shape):
        """NumPy broadcasting to `shape`: axes of size 1 repeat without a copy."""
        return self._apply(_c.tg_tensor_expand, *_dims("expand", shape))

    def squeeze(self, axis=None):
        """Drops `axis` if its size is 1 (else returns self, as PyTorch does), or
        every axis of size 1 when axis is None."""
        shape = self.shape
        if axis is not None:
            axis = _axis("squeeze", axis)
            if -len(shape) <= axis < len(shape) and shape[axis] != 1:
                return self
            return self._apply(_c.tg_tensor_squeeze, axis)
        t = self
        for a in reversed(range(len(shape))):
            if shape[a] == 1:
                t = t._apply(_c.tg_tensor_squeeze, a)
        return t

    def unsqueeze(self, axis):
        """A new axis of size 1 before `axis` (-1: after the last)."""
        return self._apply(_c.tg_tensor_unsqueeze, _axis("unsqueeze", axis))

    def _slice(self, axis, start, stop, step):
        return self._apply(_c.tg_tensor_slice, axis, start, stop, step)

    def contiguous(self):
        """This tensor's elements in row-major memory: self if they are already."""
        return self._apply(_c.tg_tensor_contiguous)

    def index_select(self, axis, indices):
        """The entries at `indices` (1-D integers) along `axis`, in that order."""
        return _indexing.select(self, _axis("index_select", axis), indices)

    def _select_rows(self, indices):
        """Rows of self (axis 0) at the 1-D i64 tensor `indices` (for _indexing)."""
        return self._op((self, indices), _c.tg_tensor_index_select, self._h, indices._h)

    def __getitem__(self, key):
        """NumPy's indexing: integers, slices with steps > 0, None, ... and one 1-D
        integer array (a Tensor, list or ndarray). Slices, integers and None give
        views; an array gives a copy. Gradients flow through every kind."""
        return _indexing.getitem(self, key)

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    @property
    def T(self):
        """The axes in reverse order, as NumPy's and PyTorch's .T: a view (the
        tensor itself below two dimensions)."""
        n = self.ndim
        t = self
        for i in range(n // 2):
            t = t.transpose(i, n - 1 - i)
        return t
