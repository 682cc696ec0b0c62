"""The image modules of tapegrad.nn, as torch.nn's: Conv2d, MaxPool2d, AvgPool2d,
AdaptiveAvgPool2d, BatchNorm2d, LayerNorm, Embedding, Flatten, and Sequential to
chain them. Parameters are heap Tensors that require grad, initialised as
PyTorch's (from NumPy's generator: `seed` makes them reproducible, not equal to
PyTorch's numbers); reprs are PyTorch's."""

import math
import numbers

import numpy as np

from tapegrad import functional as F
from tapegrad.device import Device
from tapegrad.tensor import Tensor


def _pair(value):
    return (value, value) if isinstance(value, numbers.Integral) else tuple(value)


def _size(value):
    """PyTorch's repr of a size given as an int or a pair."""
    return str(value) if isinstance(value, numbers.Integral) else str(tuple(value))


class ImageModule:
    """The base: parameters in registration order, train/eval, zero_grad."""

    training = True

    def _children(self):
        return []

    def _own_parameters(self):
        """weight, then bias, of those the module has."""
        return [p for p in (getattr(self, "weight", None), getattr(self, "bias", None))
                if p is not None]

    def parameters(self):
        params = list(self._own_parameters())
        for child in self._children():
            params += child.parameters()
        return params

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        self.training = bool(mode)
        for child in self._children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, device):
        """Moves the parameters and buffers to `device` (a Device or 'cuda:0') and
        returns self, as torch's Module.to. Make optimizers afterwards: they hold
        the tensors they got."""
        device = Device.of(device)
        device.require_available("%s.to" % type(self).__name__)
        for name in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(self, name, None)
            if isinstance(t, Tensor) and t.device != device:
                moved = t.to(device).detach()
                setattr(self, name, moved.requires_grad_() if t.requires_grad else moved)
        for child in self._children():
            child.to(device)
        return self

    def cpu(self):
        return self.to(Device.cpu())

    def cuda(self, index=0):
        return self.to(Device.cuda(index))


def _uniform(rng, shape, bound, dtype):
    return Tensor(rng.uniform(-bound, bound, size=shape), dtype=dtype, requires_grad=True)


class Conv2d(ImageModule):

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, dtype="float32", seed=None):
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError("Conv2d: groups=%r must divide in_channels=%r and "
                             "out_channels=%r" % (groups, in_channels, out_channels))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation, self.groups = _pair(padding), _pair(dilation), groups
        rng = np.random.default_rng(seed)
        fan_in = in_channels // groups * self.kernel_size[0] * self.kernel_size[1]
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5))
        self.weight = _uniform(rng, (out_channels, in_channels // groups) + self.kernel_size,
                               bound, dtype)
        self.bias = _uniform(rng, (out_channels,), bound, dtype) if bias else None

    def __call__(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def __repr__(self):
        s = "Conv2d(%d, %d, kernel_size=%s, stride=%s" % (
            self.in_channels, self.out_channels, self.kernel_size, self.stride)
        if self.padding != (0, 0):
            s += ", padding=%s" % (self.padding,)
        if self.dilation != (1, 1):
            s += ", dilation=%s" % (self.dilation,)
        if self.groups != 1:
            s += ", groups=%d" % self.groups
        if self.bias is None:
            s += ", bias=False"
        return s + ")"


class MaxPool2d(ImageModule):

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation

    def __call__(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def __repr__(self):
        return "MaxPool2d(kernel_size=%s, stride=%s, padding=%s, dilation=%s, " \
               "ceil_mode=False)" % (_size(self.kernel_size), _size(self.stride),
                                     _size(self.padding), _size(self.dilation))


class AvgPool2d(ImageModule):

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.count_include_pad = padding, count_include_pad

    def __call__(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)

    def __repr__(self):
        return "AvgPool2d(kernel_size=%s, stride=%s, padding=%s)" % (
            _size(self.kernel_size), _size(self.stride), _size(self.padding))


class AdaptiveAvgPool2d(ImageModule):

    def __init__(self, output_size):
        self.output_size = output_size

    def __call__(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def __repr__(self):
        return "AdaptiveAvgPool2d(output_size=%s)" % _size(self.output_size)


class Flatten(ImageModule):

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def __call__(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def __repr__(self):
        return "Flatten(start_dim=%d, end_dim=%d)" % (self.start_dim, self.end_dim)


class BatchNorm2d(ImageModule):
    """Batch statistics (and PyTorch's update of the running ones) in training
    mode, the running statistics after eval()."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, dtype="float32"):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Tensor(np.ones(num_features), dtype=dtype, requires_grad=True) \
            if affine else None
        self.bias = Tensor(np.zeros(num_features), dtype=dtype, requires_grad=True) \
            if affine else None
        self.running_mean = Tensor(np.zeros(num_features), dtype=dtype) \
            if track_running_stats else None
        self.running_var = Tensor(np.ones(num_features), dtype=dtype) \
            if track_running_stats else None

    def __call__(self, x):
        return self._normalize(F.batch_norm, x)

    def _forward_relu(self, x):
        """relu(self(x)), the ReLU inside the normalization's kernels where it can."""
        return self._normalize(F.batch_norm_relu, x)

    def _normalize(self, fn, x):
        if len(x.shape) != 4:
            raise ValueError("BatchNorm2d: expected a 4-D input [N, C, H, W], got shape %s"
                             % (tuple(x.shape),))
        batch_stats = self.training or self.running_mean is None
        return fn(x, self.running_mean, self.running_var, self.weight, self.bias,
                  batch_stats, self.momentum, self.eps)

    def __repr__(self):
        return "BatchNorm2d(%d, eps=%g, momentum=%g, affine=%s, track_running_stats=%s)" % (
            self.num_features, self.eps, self.momentum, self.weight is not None,
            self.running_mean is not None)


class LayerNorm(ImageModule):

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True,
                 dtype="float32"):
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        affine = elementwise_affine
        self.weight = Tensor(np.ones(self.normalized_shape), dtype=dtype,
                             requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(self.normalized_shape), dtype=dtype,
                           requires_grad=True) if affine else None

    def __call__(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def __repr__(self):
        return "LayerNorm(%s, eps=%g, elementwise_affine=%s)" % (
            self.normalized_shape, self.eps, self.weight is not None)


class Embedding(ImageModule):

    def __init__(self, num_embeddings, embedding_dim, dtype="float32", seed=None):
        rng = np.random.default_rng(seed)
        self.weight = Tensor(rng.standard_normal((num_embeddings, embedding_dim)),
                             dtype=dtype, requires_grad=True)

    def __call__(self, indices):
        return F.embedding(indices, self.weight)

    def __repr__(self):
        return "Embedding(%d, %d)" % tuple(self.weight.shape)


class ReLU(ImageModule):
    """max(x, 0) elementwise, as torch.nn.ReLU (for Sequential)."""

    def __call__(self, x):
        return x.relu()

    def __repr__(self):
        return "ReLU()"


class Sequential(ImageModule):
    """Modules applied in order; parameters in order, as torch.nn.Sequential's."""

    def __init__(self, *modules):
        self.modules = list(modules)

    def _children(self):
        return self.modules

    def __call__(self, x):
        i = 0
        while i < len(self.modules):
            m = self.modules[i]
            # A BatchNorm2d and the ReLU after it run as one op (batch_norm_relu).
            if (type(m) is BatchNorm2d and i + 1 < len(self.modules)
                    and type(self.modules[i + 1]) is ReLU):
                x = m._forward_relu(x)
                i += 2
                continue
            x = m(x)
            i += 1
        return x

    def __getitem__(self, i):
        return self.modules[i]

    def __len__(self):
        return len(self.modules)

    def __repr__(self):
        lines = ["  (%d): %s" % (i, repr(m).replace("\n", "\n  "))
                 for i, m in enumerate(self.modules)]
        return "Sequential(\n%s\n)" % "\n".join(lines)
