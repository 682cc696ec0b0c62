"""tapegrad.from_torch: a torch.nn.Module, traced by torch.fx, run on tapegrad.

    import torch, tapegrad
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 3))
    model = tapegrad.from_torch(net)          # traces, copies the weights
    loss = tapegrad.cross_entropy(model(x), labels)
    loss.backward()                           # grads on model.parameters()

from_torch traces the module once with torch.fx.symbolic_trace, checks that every
node of the graph has a tapegrad counterpart (an unsupported one is a
NotImplementedError naming the node and its target, raised there and not at the
first call; an argument a function does not support, such as a reduction other than
'mean', is one when the call meets it), and copies the parameters and floating-point buffers into tapegrad
Tensors under their state_dict names. Each call then runs the graph's nodes in
order on tapegrad Tensors; torch is not called. Inputs may be tapegrad Tensors,
torch tensors or NumPy arrays; outputs are tapegrad Tensors, in the structure the
module returns.

Supported: the modules and functions in _MODULES, _FUNCTIONS and _METHODS below,
with torch's signatures (torch's `dim` is tapegrad's `axis`). Deliberate limits,
each a NotImplementedError when met: dropout in training mode (its random mask
cannot match torch's), losses with a reduction other than 'mean', ceil_mode pools,
string paddings, Embedding's padding_idx and max_norm, BatchNorm without momentum.
train() and eval() switch the torch.nn modules that the graph calls (Dropout,
BatchNorm2d); code of the module's own forward that reads self.training was traced
in the mode the module had, as torch.fx traces it.

Thread safety: a call keeps its intermediate values in a local table, so the
module may be called from several threads at once, as a tapegrad module may.
"""

import builtins
import operator

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as TF

from tapegrad import _functions, functional as F
from tapegrad.tensor import Tensor


def _unsupported(what):
    raise NotImplementedError("from_torch: %s is not supported" % what)


def _mean_reduction(op, reduction):
    if reduction != "mean":
        _unsupported("%s with reduction=%r (only 'mean')" % (op, reduction))


def _no_train_dropout(p, training):
    if training and p > 0:
        _unsupported("dropout in training mode (p=%g); call eval() first" % p)


def _dims(dims):
    """torch's *sizes, given either as ints or as one sequence."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list, torch.Size)):
        return tuple(dims[0])
    return tuple(dims)


def _reduce(method):
    def reduce(input, dim=None, keepdim=False, dtype=None):
        if dtype is not None:
            _unsupported("%s(dtype=%s)" % (method, dtype))
        if dim is None:
            return getattr(input, method)()
        if isinstance(dim, int):
            return getattr(input, method)(axis=dim, keepdim=keepdim)
        # Several axes: one at a time, the last first, so that the others keep
        # their positions. A mean of equal-sized means is the mean.
        for d in sorted((d % input.ndim for d in dim), reverse=True):
            input = getattr(input, method)(axis=d, keepdim=keepdim)
        return input
    return reduce


def _softmax(method):
    def softmax(input, dim=None, _stacklevel=3, dtype=None):
        if dim is None:
            _unsupported("%s without dim" % method)
        if dtype is not None:
            _unsupported("%s(dtype=%s)" % (method, dtype))
        return getattr(input, method)(axis=dim)
    return softmax


def _linear(input, weight, bias=None):
    out = input @ weight.T
    return out if bias is None else out + bias


def _conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    if isinstance(padding, str):
        if padding != "valid":
            _unsupported("conv2d(padding=%r)" % padding)
        padding = 0
    return F.conv2d(input, weight, bias, stride, padding, dilation, groups)


def _max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                return_indices=False):
    if ceil_mode or return_indices:
        _unsupported("max_pool2d with ceil_mode or return_indices")
    return F.max_pool2d(input, kernel_size, stride or None, padding, dilation)


def _avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                count_include_pad=True, divisor_override=None):
    if ceil_mode or divisor_override is not None:
        _unsupported("avg_pool2d with ceil_mode or divisor_override")
    return F.avg_pool2d(input, kernel_size, stride or None, padding, count_include_pad)


def _cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                   reduce=None, reduction="mean", label_smoothing=0.0):
    if weight is not None or label_smoothing:
        _unsupported("cross_entropy with class weights or label smoothing")
    _mean_reduction("cross_entropy", reduction)
    return _functions.cross_entropy(input, target)


def _mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    _mean_reduction("mse_loss", reduction)
    return _functions.mse_loss(input, target)


def _bce_with_logits(input, target, weight=None, size_average=None, reduce=None,
                     reduction="mean", pos_weight=None):
    if weight is not None or pos_weight is not None:
        _unsupported("binary_cross_entropy_with_logits with weight or pos_weight")
    _mean_reduction("binary_cross_entropy_with_logits", reduction)
    return _functions.binary_cross_entropy_with_logits(input, target)


def _dropout(input, p=0.5, training=True, inplace=False):
    _no_train_dropout(p, training)
    return input


def _gelu(input, approximate="none"):
    if approximate != "none":
        _unsupported("gelu(approximate=%r)" % approximate)
    return input.gelu()


def _size(input, dim=None):
    return tuple(input.shape) if dim is None else input.shape[dim]


def _getattr(obj, name):
    if isinstance(obj, Tensor):
        if name == "shape":
            return tuple(obj.shape)
        if name == "T":
            return obj.T
        _unsupported("the Tensor attribute %r" % name)
    return getattr(obj, name)


def _unary(name):
    return lambda input, *args, **kwargs: getattr(input, name)(*args, **kwargs)


_UNARY = ["exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "square", "abs", "sign", "sin",
          "cos", "tanh", "erf", "relu", "sigmoid", "neg", "silu"]

# torch functions (call_function nodes), each with torch's signature.
_FUNCTIONS = {
    operator.add: operator.add, operator.sub: operator.sub, operator.mul: operator.mul,
    operator.truediv: operator.truediv, operator.neg: operator.neg,
    operator.pow: operator.pow, operator.matmul: operator.matmul,
    operator.getitem: operator.getitem, builtins.getattr: _getattr,
    torch.add: operator.add, torch.sub: operator.sub, torch.mul: operator.mul,
    torch.div: operator.truediv, torch.matmul: operator.matmul,
    torch.sum: _reduce("sum"), torch.mean: _reduce("mean"),
    torch.softmax: _softmax("softmax"), torch.log_softmax: _softmax("log_softmax"),
    TF.softmax: _softmax("softmax"), TF.log_softmax: _softmax("log_softmax"),
    torch.flatten: lambda input, start_dim=0, end_dim=-1: F.flatten(
        input.contiguous(), start_dim, end_dim),
    torch.reshape: lambda input, shape: input.contiguous().reshape(*shape),
    torch.permute: lambda input, dims: input.permute(*dims),
    torch.transpose: lambda input, dim0, dim1: input.transpose(dim0, dim1),
    torch.squeeze: lambda input, dim=None: input.squeeze(dim),
    torch.unsqueeze: lambda input, dim: input.unsqueeze(dim),
    torch.cat: lambda tensors, dim=0: _functions.cat(list(tensors), axis=dim),
    torch.stack: lambda tensors, dim=0: _functions.stack(list(tensors), axis=dim),
    torch.maximum: lambda input, other: input.maximum(other),
    torch.minimum: lambda input, other: input.minimum(other),
    torch.clamp: lambda input, min=None, max=None: input.clamp(min, max),
    torch.where: _functions.where,
    TF.relu: lambda input, inplace=False: input.relu(),
    TF.gelu: _gelu, TF.silu: lambda input, inplace=False: input.silu(),
    TF.softplus: lambda input, beta=1, threshold=20: input.softplus(beta, threshold),
    TF.leaky_relu: lambda input, negative_slope=0.01, inplace=False: input.leaky_relu(
        negative_slope),
    TF.elu: lambda input, alpha=1.0, inplace=False: input.elu(alpha),
    TF.linear: _linear, TF.conv2d: _conv2d, TF.max_pool2d: _max_pool2d,
    TF.avg_pool2d: _avg_pool2d, TF.adaptive_avg_pool2d: F.adaptive_avg_pool2d,
    TF.layer_norm: F.layer_norm, TF.dropout: _dropout,
    TF.cross_entropy: _cross_entropy, TF.mse_loss: _mse_loss,
    TF.binary_cross_entropy_with_logits: _bce_with_logits,
}
_FUNCTIONS.update({getattr(torch, name): _unary(name) for name in _UNARY
                   if hasattr(torch, name)})
_FUNCTIONS.update({TF.sigmoid: _unary("sigmoid"), TF.tanh: _unary("tanh")})

# Tensor methods (call_method nodes), by name, with torch's signatures.
_METHODS = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul,
    "div": operator.truediv, "matmul": operator.matmul, "pow": operator.pow,
    "sum": _reduce("sum"), "mean": _reduce("mean"),
    "softmax": _softmax("softmax"), "log_softmax": _softmax("log_softmax"),
    "view": lambda input, *shape: input.reshape(*_dims(shape)),
    "reshape": lambda input, *shape: input.contiguous().reshape(*_dims(shape)),
    "permute": lambda input, *dims: input.permute(*_dims(dims)),
    "transpose": lambda input, dim0, dim1: input.transpose(dim0, dim1),
    "flatten": lambda input, start_dim=0, end_dim=-1: F.flatten(
        input.contiguous(), start_dim, end_dim),
    "size": _size, "t": lambda input: input.T,
    "squeeze": lambda input, dim=None: input.squeeze(dim),
    "unsqueeze": lambda input, dim: input.unsqueeze(dim),
    "contiguous": lambda input: input.contiguous(),
    "float": lambda input: input.float(), "double": lambda input: input.double(),
    "clamp": lambda input, min=None, max=None: input.clamp(min, max),
    "gelu": _gelu,
}
_METHODS.update({name: _unary(name) for name in _UNARY})


# torch.nn modules (call_module nodes): each a function of the torch module and
# the tapegrad copies of its parameters and buffers (a dict by local name) that
# returns what runs the node. `traced` is the TracedModule, for its training flag.
def _batch_norm(m, p, traced):
    if m.momentum is None:
        _unsupported("BatchNorm2d(momentum=None)")

    def run(x):
        batch_stats = traced.training or p.get("running_mean") is None
        return F.batch_norm(x, p.get("running_mean"), p.get("running_var"),
                            p.get("weight"), p.get("bias"), batch_stats, m.momentum, m.eps)
    return run


def _embedding(m, p, traced):
    if m.padding_idx is not None or m.max_norm is not None:
        _unsupported("Embedding with padding_idx or max_norm")
    return lambda x: F.embedding(x, p["weight"])


def _dropout_module(m, p, traced):
    def run(x):
        _no_train_dropout(m.p, traced.training)
        return x
    return run


def _pool_module(pool):
    def make(m, p, traced):
        if m.ceil_mode or getattr(m, "return_indices", False) or getattr(
                m, "divisor_override", None) is not None:
            _unsupported("%s with ceil_mode, return_indices or divisor_override"
                         % type(m).__name__)
        args = dict(kernel_size=m.kernel_size, stride=m.stride, padding=m.padding)
        if pool is _max_pool2d:
            args.update(dilation=m.dilation)
        else:
            args.update(count_include_pad=m.count_include_pad)
        return lambda x: pool(x, **args)
    return make


def _module_padding(m):
    if m.padding_mode != "zeros":
        _unsupported("Conv2d(padding_mode=%r)" % m.padding_mode)
    if isinstance(m.padding, str) and m.padding != "valid":
        _unsupported("Conv2d(padding=%r)" % m.padding)
    return 0 if isinstance(m.padding, str) else m.padding


def _conv_module(m, p, traced):
    padding = _module_padding(m)
    return lambda x: F.conv2d(x, p["weight"], p.get("bias"), m.stride, padding,
                              m.dilation, m.groups)


_MODULES = {
    nn.Linear: lambda m, p, traced: lambda x: _linear(x, p["weight"], p.get("bias")),
    nn.Conv2d: _conv_module,
    nn.MaxPool2d: _pool_module(_max_pool2d),
    nn.AvgPool2d: _pool_module(_avg_pool2d),
    nn.AdaptiveAvgPool2d: lambda m, p, traced: lambda x: F.adaptive_avg_pool2d(
        x, m.output_size),
    nn.BatchNorm2d: _batch_norm,
    nn.LayerNorm: lambda m, p, traced: lambda x: F.layer_norm(
        x, m.normalized_shape, p.get("weight"), p.get("bias"), m.eps),
    nn.Embedding: _embedding,
    nn.Flatten: lambda m, p, traced: lambda x: F.flatten(x, m.start_dim, m.end_dim),
    nn.Identity: lambda m, p, traced: lambda x: x,
    nn.Dropout: _dropout_module,
    nn.ReLU: lambda m, p, traced: Tensor.relu,
    nn.Tanh: lambda m, p, traced: Tensor.tanh,
    nn.Sigmoid: lambda m, p, traced: Tensor.sigmoid,
    nn.SiLU: lambda m, p, traced: Tensor.silu,
    nn.GELU: lambda m, p, traced: lambda x: _gelu(x, m.approximate),
    nn.ELU: lambda m, p, traced: lambda x: x.elu(m.alpha),
    nn.LeakyReLU: lambda m, p, traced: lambda x: x.leaky_relu(m.negative_slope),
    nn.Softplus: lambda m, p, traced: lambda x: x.softplus(m.beta, m.threshold),
    nn.Softmax: lambda m, p, traced: lambda x: _softmax("softmax")(x, m.dim),
    nn.LogSoftmax: lambda m, p, traced: lambda x: _softmax("log_softmax")(x, m.dim),
    nn.CrossEntropyLoss: lambda m, p, traced: lambda x, y: _cross_entropy(
        x, y, m.weight, None, m.ignore_index, None, m.reduction, m.label_smoothing),
    nn.MSELoss: lambda m, p, traced: lambda x, y: _mse_loss(x, y, reduction=m.reduction),
    nn.BCEWithLogitsLoss: lambda m, p, traced: lambda x, y: _bce_with_logits(
        x, y, m.weight, reduction=m.reduction, pos_weight=m.pos_weight),
}


def _to_tensor(value, requires_grad=False):
    """A tapegrad Tensor of a torch tensor or NumPy array (a copy); a Tensor or a
    Python number as it is."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return Tensor(value, dtype=value.dtype, requires_grad=requires_grad)
    return value


class TracedModule:
    """A torch.nn.Module traced by torch.fx, running on tapegrad (see
    tapegrad.from_torch). Parameters are tapegrad Tensors named as in the torch
    module's state_dict; train()/eval() start from the torch module's mode."""

    def __init__(self, module):
        if not isinstance(module, nn.Module):
            raise TypeError("from_torch: expected a torch.nn.Module, not %s"
                            % type(module).__name__)
        try:
            graph_module = (module if isinstance(module, torch.fx.GraphModule)
                            else torch.fx.symbolic_trace(module))
        except Exception as e:  # fx's TraceError and what tracing user code raises
            raise NotImplementedError("from_torch: torch.fx cannot trace %s: %s"
                                      % (type(module).__name__, e)) from e
        self.training = module.training
        self.graph = graph_module.graph
        self._params = {name: _to_tensor(p, p.requires_grad)
                        for name, p in module.named_parameters()}
        self._buffers = {name: _to_tensor(b) for name, b in module.named_buffers()
                         if b.is_floating_point()}
        self._steps = [self._compile(graph_module, node) for node in self.graph.nodes]

    def _state(self, prefix):
        """The copies of a submodule's own parameters and buffers, by local name."""
        state = {}
        for table in (self._params, self._buffers):
            for name, t in table.items():
                if name.rpartition(".")[0] == prefix:
                    state[name.rpartition(".")[2]] = t
        return state

    def _compile(self, graph_module, node):
        """What one node does, as (kind, node, function)."""
        op, target = node.op, node.target
        if op in ("placeholder", "output"):
            return op, node, None
        if op == "get_attr":
            if target not in self._params and target not in self._buffers:
                _unsupported("node %r: get_attr of %r, which is no floating-point "
                             "parameter or buffer" % (node.name, target))
            return op, node, None
        if op == "call_module":
            sub = graph_module.get_submodule(target)
            make = _MODULES.get(type(sub))
            if make is None:
                _unsupported("node %r: the module %r (%s)" % (node.name, target,
                                                              type(sub).__name__))
            return op, node, make(sub, self._state(target), self)
        table = _FUNCTIONS if op == "call_function" else _METHODS
        fn = table.get(target)
        if fn is None:
            name = target if isinstance(target, str) else torch.typename(target)
            _unsupported("node %r: %s %s" % (node.name, op, name))
        return op, node, fn

    def __call__(self, *inputs):
        env = {}
        remaining = list(inputs)
        load = lambda arg: torch.fx.node.map_arg(arg, lambda n: env[n])  # noqa: E731
        for op, node, fn in self._steps:
            if op == "placeholder":
                if remaining:
                    env[node] = _to_tensor(remaining.pop(0))
                elif node.args:  # the parameter's default
                    env[node] = node.args[0]
                else:
                    raise TypeError("%s: missing the input %r" % (self, node.target))
            elif op == "get_attr":
                env[node] = self._params.get(node.target, self._buffers.get(node.target))
            elif op == "output":
                return load(node.args[0])
            else:
                env[node] = fn(*load(node.args), **load(node.kwargs))
        raise ValueError("from_torch: the graph has no output node")

    def named_parameters(self):
        return list(self._params.items())

    def parameters(self):
        return list(self._params.values())

    def state_dict(self):
        """The parameters and floating-point buffers as NumPy arrays, by torch's
        names: torch's `load_state_dict(..., strict=False)` takes them back."""
        table = dict(self._params, **self._buffers)
        return {name: t.detach().numpy() for name, t in table.items()}

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def __repr__(self):
        return "from_torch(%d nodes, %d parameters)" % (len(self._steps), len(self._params))


def from_torch(module):
    """Traces `module` (a torch.nn.Module) with torch.fx and returns a
    TracedModule that runs it on tapegrad with a copy of its weights."""
    return TracedModule(module)
