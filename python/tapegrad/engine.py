"""micrograd's Value, recorded on tapegrad's tape.

    from tapegrad.engine import Value
    a = Value(-4.0); b = Value(2.0)
    g = (a * b + b**3).relu()
    g.backward()            # a.grad == 2.0, b.grad == 8.0

The API and the numbers are micrograd's: the same operators, composed the same
way (a - b is a + (-b), a / b is a * b**-1, a number becomes a leaf Value), so a
seeded run gives micrograd's results to the last bit. What differs is where the
work happens: every op is one call into libtapegrad, which records it as a Jacobian
record on the tape, and backward() is one reverse sweep in C with no topological
sort and no Python per node.

Each Value holds its tape segment and its offset in it (see tapegrad/_graph.py for
how graphs are freed), its op name and its inputs (micrograd's _prev), so graphs
live exactly as long as micrograd's would. data and grad are read and written
through the tape.

Also from micrograd_rs: Value(data, device=...), .device, .to(device), .cpu(),
.cuda(). A Value on CUDA would be a 0-d tensor there; this build has no CUDA, so
asking for one raises NotImplementedError. Mixing Values of two threads' tapes is
a ValueError, never an implicit copy.

Thread safety: a Value belongs to the thread that made it.
"""

import numbers

from tapegrad import _lib
from tapegrad._graph import context
from tapegrad.device import Device

_c = _lib.lib
_raise = _lib.raise_status
_new = object.__new__
_Real = numbers.Real
_add = _c.tg_value_add
_mul = _c.tg_value_mul


class Value:
    """stores a single scalar value and its gradient"""

    __slots__ = ("_s", "_i", "_op", "_children", "__weakref__")
    # NumPy's binary ops defer to ours, so np.float64(2) * v is a Value.
    __array_ufunc__ = None

    def __init__(self, data, _children=(), _op="", device=None):
        if not isinstance(data, _Real):
            raise TypeError("Value(data): data must be a real number, not %s"
                            % type(data).__name__)
        if _children:
            raise TypeError("Value(data, _children): values with children are made "
                            "by ops; build graphs with the operators")
        if device is not None:
            Device.of(device).require_available("Value")
        ctx = context()
        status = _c.tg_value_leaf(ctx.tape, float(data), ctx.out_addr)
        if status:
            _raise(status)
        _fill(self, ctx, (), _op)

    # ---- data and grad, settable as in micrograd

    @property
    def data(self):
        s = self._s
        ctx = s.ctx
        status = _c.tg_value_data(ctx.tape, s.key + self._i, ctx.number_addr)
        if status:
            _raise(status)
        return ctx.number.value

    @data.setter
    def data(self, value):
        s = self._s
        status = _c.tg_value_set_data(s.ctx.tape, s.key + self._i, float(value))
        if status:
            _raise(status)

    @property
    def grad(self):
        s = self._s
        ctx = s.ctx
        status = _c.tg_value_grad(ctx.tape, s.key + self._i, ctx.number_addr)
        if status:
            _raise(status)
        return ctx.number.value

    @grad.setter
    def grad(self, value):
        s = self._s
        status = _c.tg_value_set_grad(s.ctx.tape, s.key + self._i, float(value))
        if status:
            _raise(status)

    @property
    def _prev(self):
        return set(self._children)

    # ---- ops

    # + and * are most of a micrograd graph: written out in full, since each
    # Python-level call saved is a noticeable part of an op's cost.
    def __add__(self, other):
        s = self._s
        ctx = s.ctx
        if other.__class__ is not Value or other._s.ctx is not ctx:
            other = _operand(ctx, other)
            if other is None:
                return NotImplemented
        status = _add(ctx.tape, s.key + self._i, other._s.key + other._i, ctx.out_addr)
        if status:
            _raise(status)
        v = _new(Value)
        seg = ctx.current
        v._s = seg
        v._i = ctx.out.value - seg.key
        v._op = "+"
        v._children = (self, other)
        return v

    def __mul__(self, other):
        s = self._s
        ctx = s.ctx
        if other.__class__ is not Value or other._s.ctx is not ctx:
            other = _operand(ctx, other)
            if other is None:
                return NotImplemented
        status = _mul(ctx.tape, s.key + self._i, other._s.key + other._i, ctx.out_addr)
        if status:
            _raise(status)
        v = _new(Value)
        seg = ctx.current
        v._s = seg
        v._i = ctx.out.value - seg.key
        v._op = "*"
        v._children = (self, other)
        return v

    def __pow__(self, other):
        if not isinstance(other, _Real):
            raise TypeError("only supporting int/float powers for now, not %s"
                            % type(other).__name__)
        s = self._s
        ctx = s.ctx
        status = _c.tg_value_pow(ctx.tape, s.key + self._i, float(other), ctx.out_addr)
        if status:
            _raise(status)
        return _wrap(ctx, (self,), f"**{other}")

    def relu(self):
        return _unary(_c.tg_value_relu, self, "ReLU")

    def tanh(self):
        return _unary(_c.tg_value_tanh, self, "tanh")

    def exp(self):
        return _unary(_c.tg_value_exp, self, "exp")

    def log(self):
        return _unary(_c.tg_value_log, self, "log")

    def sigmoid(self):
        return _unary(_c.tg_value_sigmoid, self, "sigmoid")

    def backward(self):
        s = self._s
        ctx = s.ctx
        status = _c.tg_value_backward(ctx.tape, s.key + self._i)
        if status:
            _raise(status)
        ctx.next_segments()

    def __neg__(self):  # -self
        return self * -1

    def __radd__(self, other):  # other + self
        return self + other

    def __sub__(self, other):  # self - other
        return self + (-other)

    def __rsub__(self, other):  # other - self
        return other + (-self)

    def __rmul__(self, other):  # other * self
        return self * other

    def __truediv__(self, other):  # self / other
        return self * other**-1

    def __rtruediv__(self, other):  # other / self
        return other * self**-1

    def __repr__(self):
        device = self.device
        if device.is_cpu:
            return f"Value(data={self.data}, grad={self.grad})"
        return f"Value(data={self.data}, grad={self.grad}, device={device})"

    # ---- devices (micrograd_rs)

    @property
    def device(self):
        return Device.cpu()

    def to(self, device):
        Device.of(device).require_available("Value.to")
        return self

    def cpu(self):
        return self

    def cuda(self, index=0):
        Device.cuda(index).require_available("Value.cuda")
        return self


def _fill(v, ctx, children, op):
    """Makes `v` the Value for the handle the last call wrote to ctx.out (a new
    slot, so in the current segment). __add__ and __mul__ do this inline."""
    seg = ctx.current
    v._s = seg
    v._i = ctx.out.value - seg.key
    v._op = op
    v._children = children
    return v


def _wrap(ctx, children, op):
    return _fill(_new(Value), ctx, children, op)


def _operand(ctx, other):
    """`other` as a Value of ctx's tape: a number becomes a leaf, as in micrograd."""
    if isinstance(other, Value):
        if other._s.ctx is not ctx:
            raise ValueError("Value op: operands live on different threads' tapes; a "
                             "Value belongs to the thread that made it")
        return other
    if isinstance(other, _Real):
        status = _c.tg_value_leaf(ctx.tape, float(other), ctx.out_addr)
        if status:
            _raise(status)
        return _wrap(ctx, (), "")
    return None


def _unary(fn, a, op):
    s = a._s
    ctx = s.ctx
    status = fn(ctx.tape, s.key + a._i, ctx.out_addr)
    if status:
        _raise(status)
    return _wrap(ctx, (a,), op)
