"""micrograd's nn (Module, Neuron, Layer, MLP) on tapegrad Values, plus tensor
modules and optimizers.

    from tapegrad.nn import MLP
    model = MLP(2, [16, 16, 1])      # micrograd's: weights from Python's `random`
    score = model([Value(0.5), Value(-1.0)])

The micrograd classes are micrograd's code, unchanged in behaviour: weights are
drawn from Python's `random` in micrograd's order, so `random.seed(1337)` gives
micrograd's model number for number. Only the Values are tapegrad's.

Tensor side (over the C ABI's nn): Linear, TensorMLP, and the optimizers SGD and
Adam, which update heap tensors in C; the image modules Conv2d, MaxPool2d,
AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d, LayerNorm, Embedding, Flatten and
Sequential (tapegrad/_image_modules.py, over tapegrad.functional).
"""

import ctypes
import random

from tapegrad import _lib, checkpoint
from tapegrad.device import Device
from tapegrad.engine import Value
from tapegrad._args import _int64, _int64_array
from tapegrad.tensor import Tensor, _dtype_code, _result
from tapegrad._image_modules import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d,
                                     Conv2d, Embedding, Flatten, LayerNorm, MaxPool2d,
                                     ReLU, Sequential)

__all__ = [
    "Value", "Module", "Neuron", "Layer", "MLP", "TensorModule", "Linear", "TensorMLP",
    "SGD", "Adam", "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm2d", "Conv2d",
    "Embedding", "Flatten", "LayerNorm", "MaxPool2d", "ReLU", "Sequential",
]

_c = _lib.lib
_check = _lib.check


class Module:

    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []


class Neuron(Module):

    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):

    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):

    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


# ---- tensor modules


class TensorModule:
    """A module of libtapegrad's nn: forward on Tensors, parameters as Tensors.

    The base of Linear and TensorMLP, which build their module in C; it is not
    constructed directly (a module is a C object, and no Python value names one).
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("TensorModule is the base of Linear and TensorMLP; "
                        "construct one of those")

    def _adopt(self, handle):
        """Takes ownership of a tg_module* that the C ABI just created."""
        self._handle = handle

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            _c.tg_module_destroy(handle)
            self._handle = None

    def __call__(self, x):
        if not isinstance(x, Tensor):
            raise TypeError("%s: input must be a Tensor, not %s"
                            % (type(self).__name__, type(x).__name__))
        return _result((x,), _c.tg_module_forward, self._handle, x._h)

    def parameters(self):
        count = ctypes.c_size_t()
        _check(_c.tg_module_parameters(self._handle, None, 0, ctypes.byref(count)))
        handles = (ctypes.c_void_p * count.value)()
        _check(_c.tg_module_parameters(self._handle, handles, count.value,
                                       ctypes.byref(count)))
        return [Tensor._from_heap(h) for h in handles]

    def zero_grad(self):
        _check(_c.tg_module_zero_grad(self._handle))

    def to(self, device):
        """Moves the parameters and buffers to `device` (a Device or 'cuda:0') and
        returns self. Make optimizers afterwards: they hold the tensors they got."""
        device = Device.of(device)
        device.require_available("%s.to" % type(self).__name__)
        _check(_c.tg_module_to(self._handle, 0 if device.is_cpu else 1, device.index))
        return self

    def cpu(self):
        return self.to(Device.cpu())

    def cuda(self, index=0):
        return self.to(Device.cuda(index))

    def train(self, mode=True):
        _check(_c.tg_module_train(self._handle, 1 if mode else 0))
        return self

    def eval(self):
        return self.train(False)

    def save(self, path, optimizer=None):
        """Writes the parameters and buffers (and `optimizer`'s state) to a
        safetensors file, atomically (tapegrad/checkpoint.py)."""
        _check_optimizer(optimizer)
        checkpoint.save_module(self._handle, optimizer, path)

    def load(self, path, optimizer=None):
        """Restores what save() wrote; nothing changes unless every tensor matches."""
        _check_optimizer(optimizer)
        checkpoint.load_module(self._handle, optimizer, path)

    def __repr__(self):
        return _lib.read_text(_c.tg_module_format, self._handle)


def _seed(seed):
    return random.getrandbits(63) if seed is None else int(seed)


class Linear(TensorModule):
    """y = x @ W + b with W [in, out], PyTorch's default init (seeded)."""

    def __init__(self, in_features, out_features, bias=True, dtype="float32", seed=None):
        out = ctypes.c_void_p()
        in_features = _int64("Linear", "in_features", in_features)
        out_features = _int64("Linear", "out_features", out_features)
        _check(_c.tg_linear_create(in_features, out_features, 1 if bias else 0,
                                   _dtype_code(dtype), _seed(seed), ctypes.byref(out)))
        self._adopt(out.value)


_ACTIVATIONS = {"relu": 0, "tanh": 1, "sigmoid": 2, "gelu": 3}


class TensorMLP(TensorModule):
    """Linear layers nin -> nouts[0] -> ... with `activation` between them."""

    def __init__(self, nin, nouts, activation="relu", dtype="float32", seed=None):
        if activation not in _ACTIVATIONS:
            raise ValueError("TensorMLP: activation must be one of %s, not %r"
                             % (sorted(_ACTIVATIONS), activation))
        nin = _int64("TensorMLP", "nin", nin)
        sizes = _int64_array("TensorMLP", "layer size", list(nouts))
        out = ctypes.c_void_p()
        _check(_c.tg_mlp_create(nin, sizes, len(nouts), _ACTIVATIONS[activation],
                                _dtype_code(dtype), _seed(seed), ctypes.byref(out)))
        self._adopt(out.value)


class _Optimizer:

    def __init__(self, handle, params):
        self._handle = handle
        self._params = params  # keeps the parameters' handles alive

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            _c.tg_optimizer_destroy(handle)
            self._handle = None

    def step(self):
        _check(_c.tg_optimizer_step(self._handle))

    def zero_grad(self):
        _check(_c.tg_optimizer_zero_grad(self._handle))

    @property
    def lr(self):
        value = ctypes.c_double()
        _check(_c.tg_optimizer_lr(self._handle, ctypes.byref(value)))
        return value.value

    @lr.setter
    def lr(self, value):
        _check(_c.tg_optimizer_set_lr(self._handle, float(value)))


def _check_optimizer(optimizer):
    if optimizer is not None and not isinstance(optimizer, _Optimizer):
        raise TypeError("optimizer must be a tapegrad.nn optimizer or None, not %s"
                        % type(optimizer).__name__)


def _param_handles(params):
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError("optimizer: parameter %d is a %s, not a Tensor"
                            % (i, type(p).__name__))
    return params, (ctypes.c_void_p * len(params))(*[p._h for p in params])


class SGD(_Optimizer):

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False):
        params, handles = _param_handles(params)
        out = ctypes.c_void_p()
        _check(_c.tg_sgd_create(handles, len(params), lr, momentum, weight_decay,
                                1 if nesterov else 0, ctypes.byref(out)))
        super().__init__(out.value, params)


class Adam(_Optimizer):

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False):
        params, handles = _param_handles(params)
        out = ctypes.c_void_p()
        _check(_c.tg_adam_create(handles, len(params), lr, betas[0], betas[1], eps,
                                 weight_decay, 1 if decoupled_weight_decay else 0,
                                 ctypes.byref(out)))
        super().__init__(out.value, params)
