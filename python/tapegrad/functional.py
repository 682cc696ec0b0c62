"""Images and normalization, as torch.nn.functional's functions of the same names:
conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d, batch_norm, layer_norm,
embedding, and flatten; and batch_norm_relu, relu(batch_norm(...)) in one op.

    import tapegrad.functional as F
    y = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)   # x [N, C, H, W]

Sizes are an int or a pair (height, width). Errors name the op and its operands'
shapes, dtypes and devices, as every op's do.
"""

import numbers

from tapegrad import _lib
from tapegrad._args import _int64, _int64_array, _number
from tapegrad.tensor import Tensor, _result

_c = _lib.lib


def _pair(op, name, value):
    if isinstance(value, numbers.Integral):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError("%s: %s must be an int or a pair of ints, not %r" % (op, name, value))
    return _int64_array(op, name, value)


def _tensor(op, name, t, optional=False):
    if t is None and optional:
        return None
    if not isinstance(t, Tensor):
        raise TypeError("%s: %s must be a Tensor%s, not %s"
                        % (op, name, " or None" if optional else "", type(t).__name__))
    return t._h


def _operands(*tensors):
    return tuple(t for t in tensors if t is not None)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    op = "conv2d"
    return _result(_operands(input, weight, bias), _c.tg_tensor_conv2d,
                   _tensor(op, "input", input), _tensor(op, "weight", weight),
                   _tensor(op, "bias", bias, True), _pair(op, "stride", stride),
                   _pair(op, "padding", padding), _pair(op, "dilation", dilation),
                   _int64(op, "groups", groups))


def _pool(op, average, input, kernel_size, stride, padding, dilation, count_include_pad):
    stride = 0 if stride is None else stride
    return _result((input,), _c.tg_tensor_pool2d, 1 if average else 0,
                   _tensor(op, "input", input), _pair(op, "kernel_size", kernel_size),
                   _pair(op, "stride", stride), _pair(op, "padding", padding),
                   _pair(op, "dilation", dilation), 1 if count_include_pad else 0)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1):
    """stride=None: the kernel's size. The gradient goes to each window's first
    maximum (a NaN counts as the maximum), as PyTorch's."""
    return _pool("max_pool2d", False, input, kernel_size, stride, padding, dilation, True)


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    return _pool("avg_pool2d", True, input, kernel_size, stride, padding, 1,
                 count_include_pad)


def adaptive_avg_pool2d(input, output_size):
    op = "adaptive_avg_pool2d"
    return _result((input,), _c.tg_tensor_adaptive_avg_pool2d, _tensor(op, "input", input),
                   _pair(op, "output_size", output_size))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """With `training`, normalizes by the batch's statistics and updates
    running_mean and running_var (heap tensors, or None) in place."""
    return _batch_norm(_c.tg_tensor_batch_norm, input, running_mean, running_var, weight,
                       bias, training, momentum, eps)


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None,
                    training=False, momentum=0.1, eps=1e-5):
    """relu(batch_norm(...)); in training with weight and bias the ReLU runs inside
    the normalization's kernels (nn.Sequential uses it for BatchNorm2d, ReLU)."""
    return _batch_norm(_c.tg_tensor_batch_norm_relu, input, running_mean, running_var,
                       weight, bias, training, momentum, eps)


def _batch_norm(call, input, running_mean, running_var, weight, bias, training, momentum,
                eps):
    op = "batch_norm"
    return _result(_operands(input, weight, bias), call,
                   _tensor(op, "input", input),
                   _tensor(op, "running_mean", running_mean, True),
                   _tensor(op, "running_var", running_var, True),
                   _tensor(op, "weight", weight, True), _tensor(op, "bias", bias, True),
                   1 if training else 0, _number(op, "momentum", momentum),
                   _number(op, "eps", eps))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    op = "layer_norm"
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    shape = tuple(normalized_shape)
    if tuple(input.shape[len(input.shape) - len(shape):]) != shape:
        raise ValueError("layer_norm: the input's last axes %s are not normalized_shape %s"
                         % (tuple(input.shape), shape))
    return _result(_operands(input, weight, bias), _c.tg_tensor_layer_norm,
                   _tensor(op, "input", input), len(shape),
                   _tensor(op, "weight", weight, True), _tensor(op, "bias", bias, True),
                   _number(op, "eps", eps))


def embedding(input, weight):
    """Rows of weight [V, D] at the int64 indices `input` (any shape)."""
    op = "embedding"
    return _result((weight, input), _c.tg_tensor_embedding, _tensor(op, "weight", weight),
                   _tensor(op, "input", input))


def flatten(input, start_dim=0, end_dim=-1):
    op = "flatten"
    return _result((input,), _c.tg_tensor_flatten, _tensor(op, "input", input),
                   _int64(op, "start_dim", start_dim), _int64(op, "end_dim", end_dim))


def relu(input):
    return input.relu()
