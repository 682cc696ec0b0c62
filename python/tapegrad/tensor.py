"""Tensor: n-dimensional arrays on tapegrad's tape, with NumPy and DLPack interop.

    import numpy as np
    from tapegrad import Tensor
    w = Tensor(np.random.randn(3, 2), requires_grad=True)   # a parameter (float64)
    x = Tensor([[1.0, 2.0, 3.0]])                            # float32, like PyTorch
    loss = ((x.double() @ w).relu() ** 2).sum()
    loss.backward()
    w.grad.numpy()

Tensors made from data are heap tensors (parameters, inputs); op results record
on this thread's tensor tape and are freed with their step (see
tapegrad/_graph.py). Ops follow NumPy broadcasting and PyTorch's semantics; a bad
shape, dtype or device raises ValueError with libtapegrad's message, which names
the op and every operand. Nothing is converted implicitly: operands of one op share
a dtype (numbers are fine).

DLPack: `np.from_dlpack(t)` shares a heap tensor's memory (a tape tensor is
copied, since its step frees it); `tapegrad.from_dlpack(array)` shares the
array's memory.

Thread safety: a tape tensor belongs to the thread that made it.
"""

import ctypes
import numbers

import numpy as np

from tapegrad import _dlpack, _lib
from tapegrad._args import _axis, _int64_array, _number
from tapegrad._elementwise import ElementwiseMath
from tapegrad._graph import _engine, context
from tapegrad._views import Views
from tapegrad.device import Device

_c = _lib.lib
_check = _lib.check

_DTYPES = {0: np.float32, 1: np.float64, 2: np.int64}
_NAMES = {"float32": 0, "float64": 1, "int64": 2}
# Op numbers from the library (capi/op_table.h), never copied by hand.
_UNARY = _lib.op_numbers(_lib.UNARY)
_BINARY = _lib.op_numbers(_lib.BINARY)
_REDUCE = _lib.op_numbers(_lib.REDUCE)
_ARG_REDUCE = _lib.op_numbers(_lib.ARG_REDUCE)


def _dtype_code(dtype):
    name = np.dtype(dtype).name
    if name not in _NAMES:
        raise TypeError("tapegrad: dtype must be float32, float64 or int64, not %s" % name)
    return _NAMES[name]


class Tensor(_engine.TensorBase, ElementwiseMath, Views):
    """The handle, its segment, its release and the arithmetic operators (+ - * / @,
    unary -) are TensorBase's, in C (python/ext/tensor.c); the rest is here."""
    __slots__ = ()
    __array_ufunc__ = None  # NumPy defers to Tensor's reflected operators

    def __init__(self, data, dtype=None, requires_grad=False, device=None):
        if device is not None:
            device = Device.of(device)
            device.require_available("Tensor")
        context()  # this thread's tensor tape must be current before any op
        if isinstance(data, Tensor):
            raise TypeError("Tensor(Tensor): use .detach() for a copy")
        array = np.asarray(data)
        if array.dtype.kind not in "fiub":  # complex would lose its imaginary part
            raise TypeError("Tensor: data must be real numbers, not %s" % array.dtype)
        if dtype is None:
            if array.dtype.kind == "f":
                dtype = array.dtype if isinstance(data, np.ndarray) else np.float32
            else:
                dtype = np.int64
        target = np.dtype(dtype)
        if array.dtype.kind == "u" and target.kind == "i" and array.size and (
                array.max() > np.iinfo(target).max):
            raise ValueError("Tensor: %s value %d does not fit %s" % (
                array.dtype, array.max(), target))
        # Native byte order: the library reads the buffer as it is. Not
        # np.ascontiguousarray, which makes a 0-d array 1-d.
        array = np.asarray(array, dtype=target.newbyteorder("="), order="C")
        code = _dtype_code(array.dtype)
        shape = (ctypes.c_int64 * array.ndim)(*array.shape)
        out = ctypes.c_void_p()
        _check(_c.tg_tensor_from_buffer(array.ctypes.data, code, shape, array.ndim, 0,
                                        ctypes.byref(out)))
        self._h = out.value
        if device is not None and not device.is_cpu:  # made on the host, then copied
            moved = ctypes.c_void_p()
            _check(_c.tg_tensor_to(self._h, 1, device.index, ctypes.byref(moved)))
            _c.tg_tensor_destroy(self._h)
            self._h = moved.value
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _from_heap(cls, handle):
        context()  # as in __init__
        t = cls.__new__(cls)
        t._h = handle
        return t

    @classmethod
    def _from_result(cls, handle, operands):
        """A new op result: it lives in its operands' tensor segment."""
        t = cls.__new__(cls)
        t._h = handle
        seg = None
        for x in operands:
            if x._seg is not None:
                seg = x._seg
                break
        t._seg = seg if seg is not None else context().tensor_current
        return t

    # ---- properties

    @property
    def shape(self):
        n = ctypes.c_size_t()
        _check(_c.tg_tensor_ndim(self._h, ctypes.byref(n)))
        dims = (ctypes.c_int64 * n.value)()
        _check(_c.tg_tensor_shape(self._h, dims, n.value))
        return tuple(dims)

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def dtype(self):
        code = ctypes.c_int()
        _check(_c.tg_tensor_dtype(self._h, ctypes.byref(code)))
        return np.dtype(_DTYPES[code.value])

    @property
    def device(self):
        kind, index = ctypes.c_int(), ctypes.c_int()
        _check(_c.tg_tensor_device(self._h, ctypes.byref(kind), ctypes.byref(index)))
        return Device("cpu" if kind.value == 0 else "cuda", index.value)

    def numel(self):
        n = ctypes.c_int64()
        _check(_c.tg_tensor_numel(self._h, ctypes.byref(n)))
        return n.value

    def __len__(self):
        shape = self.shape
        if not shape:
            raise TypeError("len() of a 0-d tensor")
        return shape[0]

    def numpy(self):
        """A NumPy copy of the elements."""
        out = np.empty(self.shape, dtype=self.dtype)
        _check(_c.tg_tensor_to_buffer(self._h, out.ctypes.data, out.nbytes))
        return out

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t): a copy of the elements (never a view: use np.from_dlpack
        for shared memory)."""
        if copy is False:
            raise ValueError("Tensor.__array__: the elements are always copied; use "
                             "np.from_dlpack(t) to share a heap tensor's memory")
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __bool__(self):
        """The truth of a one-element tensor, as in PyTorch; more is ambiguous."""
        if self.numel() != 1:
            raise ValueError("the truth value of a tensor of shape %s is ambiguous"
                             % (self.shape,))
        return bool(self.item())

    def tolist(self):
        return self.numpy().tolist()

    def item(self):
        if self.numel() != 1:
            raise ValueError("item(): tensor of shape %s has %d elements, not 1"
                             % (self.shape, self.numel()))
        return self.numpy().reshape(()).item()

    def __float__(self):
        return float(self.item())

    def __repr__(self):
        text = _lib.read_text(_c.tg_tensor_format, self._h)
        return "Tensor(%s, dtype=%s)" % (text.replace("\n", "\n       "), self.dtype)

    # ---- devices

    def to(self, device):
        """A copy on `device` (a Device or 'cpu', 'cuda:1'), or self if it is there.
        Recorded like any op: gradients flow back to this tensor's device."""
        device = Device.of(device)
        device.require_available("Tensor.to")
        if device == self.device:
            return self
        return self._apply(_c.tg_tensor_to, 0 if device.is_cpu else 1, device.index)

    def cpu(self):
        return self.to(Device.cpu())

    def cuda(self, index=0):
        return self.to(Device.cuda(index))

    # ---- autograd

    @property
    def requires_grad(self):
        flag = ctypes.c_int()
        _check(_c.tg_tensor_requires_grad(self._h, ctypes.byref(flag)))
        return bool(flag.value)

    @requires_grad.setter
    def requires_grad(self, value):
        _check(_c.tg_tensor_set_requires_grad(self._h, 1 if value else 0))

    def requires_grad_(self, value=True):
        self.requires_grad = value
        return self

    @property
    def grad(self):
        out = ctypes.c_void_p()
        _check(_c.tg_tensor_grad(self._h, ctypes.byref(out)))
        return Tensor._from_heap(out.value) if out.value else None

    def zero_grad(self):
        _check(_c.tg_tensor_zero_grad(self._h))

    def backward(self):
        _check(_c.tg_tensor_backward(self._h))
        context().next_segments()

    def detach(self):
        out = ctypes.c_void_p()
        _check(_c.tg_tensor_detach(self._h, ctypes.byref(out)))
        return Tensor._from_heap(out.value)

    # ---- ops

    def _apply(self, call, *args):
        """call(self, *args, &out) from libtapegrad, as a result of this tensor."""
        return _result((self,), call, self._h, *args)

    def _op(self, operands, call, *args):
        """call(*args, &out) from libtapegrad, as a result of `operands`."""
        return _result(operands, call, *args)

    def _unary(self, name, *params):
        if not params:
            return _result((self,), _c.tg_tensor_unary, _UNARY[name], self._h)
        params = [float(p) for p in params] + [0.0] * (2 - len(params))
        return _result((self,), _c.tg_tensor_unary_with, _UNARY[name], self._h, *params)

    def _binary(self, name, other):
        other = _as_tensor(other, self)
        return _result((self, other), _c.tg_tensor_binary, _BINARY[name], self._h, other._h)

    def __pow__(self, exponent):
        if not isinstance(exponent, numbers.Real):
            raise TypeError("Tensor ** x: x must be a number, not %s"
                            % type(exponent).__name__)
        return self._apply(_c.tg_tensor_pow, float(exponent))

    # Comparisons: 1.0 where true, else 0.0, in this tensor's dtype (tapegrad has
    # no bool dtype), so a mask goes straight into where() or a product. No
    # gradient flows through them. == and != compare elementwise as in PyTorch,
    # so Tensors hash by identity.
    __hash__ = object.__hash__

    def _compare(self, name, other):
        if not isinstance(other, (Tensor, numbers.Real, list, tuple, np.ndarray)):
            return NotImplemented  # t == None is False, t < "x" a TypeError
        return self._binary(name, other)

    def __gt__(self, other):
        return self._compare("greater", other)

    def __ge__(self, other):
        return self._compare("greater_equal", other)

    def __lt__(self, other):
        return self._compare("less", other)

    def __le__(self, other):
        return self._compare("less_equal", other)

    def __eq__(self, other):
        return self._compare("equal", other)

    def __ne__(self, other):
        return self._compare("not_equal", other)

    def maximum(self, other):
        return self._binary("maximum", other)

    def minimum(self, other):
        return self._binary("minimum", other)

    def _reduce(self, name, axis, keepdim):
        if axis is None:
            axes = ()
        elif isinstance(axis, numbers.Integral):
            axes = (axis,)
        else:
            axes = tuple(axis)
        array = _int64_array(name, "axis", axes)
        return _result((self,), _c.tg_tensor_reduce, _REDUCE[name], self._h, array, len(axes),
                       1 if keepdim else 0)

    def sum(self, axis=None, keepdim=False):
        return self._reduce("sum", axis, keepdim)

    def mean(self, axis=None, keepdim=False):
        return self._reduce("mean", axis, keepdim)

    def max(self, axis=None, keepdim=False):
        return self._reduce("max", axis, keepdim)

    def min(self, axis=None, keepdim=False):
        return self._reduce("min", axis, keepdim)

    def _arg_reduce(self, name, axis, keepdim):
        along = None if axis is None else ctypes.byref(ctypes.c_int64(_axis(name, axis)))
        return _result((self,), _c.tg_tensor_arg_reduce, _ARG_REDUCE[name], self._h, along,
                       1 if keepdim else 0)

    def argmax(self, axis=None, keepdim=False):
        """int64 position of the first largest element along `axis`, or in the
        flattened tensor when axis is None; NaN counts as largest. No gradient."""
        return self._arg_reduce("argmax", axis, keepdim)

    def argmin(self, axis=None, keepdim=False):
        """As argmax, for the first smallest element (NaN counts as smallest)."""
        return self._arg_reduce("argmin", axis, keepdim)

    def clamp(self, min=None, max=None):
        """Elementwise min(max(x, min), max); the gradient flows where x is inside."""
        if min is None and max is None:
            raise ValueError("clamp: give min, max or both")
        low = -np.inf if min is None else _number("clamp", "min", min)
        high = np.inf if max is None else _number("clamp", "max", max)
        return self._apply(_c.tg_tensor_clamp, low, high)

    def softmax(self, axis=-1):
        return self._apply(_c.tg_tensor_softmax, _axis("softmax", axis), 0)

    def log_softmax(self, axis=-1):
        return self._apply(_c.tg_tensor_softmax, _axis("log_softmax", axis), 1)

    def float(self):
        return self if self.dtype == np.float32 else Tensor(self.numpy(), np.float32)

    def double(self):
        return self if self.dtype == np.float64 else Tensor(self.numpy(), np.float64)

    # ---- DLPack

    def __dlpack__(self, stream=None):
        if stream is not None:
            raise NotImplementedError("Tensor.__dlpack__: streams are for CUDA tensors")
        out = ctypes.c_void_p()
        _check(_c.tg_tensor_to_dlpack(self._h, ctypes.byref(out)))
        return _dlpack.new_capsule(out.value)

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU, device 0


def _as_tensor(other, like):
    if isinstance(other, Tensor):
        return other
    if isinstance(other, (numbers.Real, list, tuple, np.ndarray)):
        return Tensor(np.asarray(other, dtype=like.dtype))
    raise TypeError("Tensor op: operand must be a Tensor, a number or an array, not %s"
                    % type(other).__name__)


def _result(operands, call, *args):
    """The Tensor that call(*args, &out) makes from `operands` (whose tensor segment
    it joins, see Tensor._from_result)."""
    # This thread's tensor tape must be current before the op runs, or its first
    # op in a new thread would not be recorded.
    context()
    out = ctypes.c_void_p()
    _check(call(*args, ctypes.byref(out)))
    return Tensor._from_result(out.value, operands)


_engine._configure_tensor(Tensor, _as_tensor, context, numbers.Real)
