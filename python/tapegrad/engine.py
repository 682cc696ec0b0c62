"""micrograd's Value, recorded on tapegrad's tape.

    from tapegrad.engine import Value
    a = Value(-4.0); b = Value(2.0)
    g = (a * b + b**3).relu()
    g.backward()            # a.grad == 2.0, b.grad == 8.0

The API and the numbers are micrograd's: the same operators, composed the same
way (a - b is a + (-b), a / b is a * b**-1, a number becomes a leaf), so a seeded
run gives micrograd's results (to rounding: the order in which a grad's terms are
summed follows the tape's layout), and Python's errors where micrograd
raises them (ZeroDivisionError for 0 ** -1, OverflowError when a power or exp
overflows). Values take attributes (micrograd's lecture sets .label), and
copy.copy, copy.deepcopy and pickle give independent Values.

What differs is where the work happens: Value is an extension type (python/ext),
every operator is one call into libtapegrad that records a Jacobian record on the
process's scalar tape, and backward() is one reverse sweep in C with no
topological sort and no Python per node. Local derivatives are taken when an op
runs: setting .data afterwards changes later ops, not the derivatives recorded
before (micrograd's closures read .data when backward runs). Python _backward
closures are not run: assigning one raises NotImplementedError.

Graphs live as long as their Values (see tapegrad/_graph.py); a leaf made from a
number holds no tape memory until an op uses it.

Also from micrograd_rs: Value(data, device=...), .device, .to(device), .cpu(),
.cuda(). Values live on the CPU only: asking for CUDA raises NotImplementedError
(that the build has no CUDA backend or no GPU, else that Tensors go there).

Thread safety: as micrograd's, with the GIL. Any thread may use any Value; each
operation is atomic, and two threads that share Values share their graph.
"""

import numbers

from tapegrad import _lib
from tapegrad.device import Device

_engine = _lib.load_engine()
Value = _engine.Value


def _require(device, what):
    device = Device.of(device)
    device.require_available(what)
    if device.is_cuda:
        raise NotImplementedError(
            "%s: scalar Values live on the CPU's tape; put Tensors on %s instead "
            "(Tensor.to, TensorModule.to)" % (what, device))


def _require_cuda(index):
    _require(Device.cuda(0 if index is None else index), "Value.cuda")


_engine._configure(real=numbers.Real, cpu=Device.cpu(), require=_require,
                   require_cuda=_require_cuda)

__all__ = ["Value"]
