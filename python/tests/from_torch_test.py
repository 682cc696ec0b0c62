"""tapegrad.from_torch against PyTorch 1.13: outputs, parameter and input gradients,
training steps and BatchNorm's running statistics, on an MLP, a module written with
functional calls and Tensor methods, and a small CNN; unsupported nodes are
NotImplementedErrors that name them."""

import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as TF

import tapegrad
import tapegrad.nn
from tapegrad import Tensor

F32 = dict(rtol=2e-5, atol=2e-6)
F64 = dict(rtol=1e-12, atol=1e-13)


def run_both(net, inputs, loss_fn, grad_inputs=(0,)):
    """Forward and backward of loss_fn(net(*inputs), ...) on torch and on tapegrad;
    returns both outputs, losses and gradients (parameters by name, then inputs)."""
    traced = tapegrad.from_torch(net)
    t_in = [torch.tensor(x, requires_grad=i in grad_inputs) for i, x in enumerate(inputs)]
    g_in = [Tensor(x, dtype=x.dtype, requires_grad=i in grad_inputs)
            for i, x in enumerate(inputs)]
    t_out = net(*t_in)
    t_loss = loss_fn(torch, t_out)
    t_loss.backward()
    g_out = traced(*g_in)
    g_loss = loss_fn(tapegrad, g_out)
    g_loss.backward()
    t_grads = {n: p.grad.numpy() for n, p in net.named_parameters()}
    g_grads = {n: p.grad.numpy() for n, p in traced.named_parameters()}
    for i in grad_inputs:
        t_grads["input%d" % i] = t_in[i].grad.numpy()
        g_grads["input%d" % i] = g_in[i].grad.numpy()
    return (t_out.detach().numpy(), g_out.numpy(), t_loss.item(), g_loss.item(), t_grads,
            g_grads, traced)


def assert_same(result, tol):
    t_out, g_out, t_loss, g_loss, t_grads, g_grads, _ = result
    np.testing.assert_allclose(g_out, t_out, **tol)
    np.testing.assert_allclose(g_loss, t_loss, **tol)
    assert t_grads.keys() == g_grads.keys()
    for name in t_grads:
        np.testing.assert_allclose(g_grads[name], t_grads[name], err_msg=name, **tol)


def sum_of_squares(lib, out):
    return (out * out).sum()


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 3))


@pytest.mark.parametrize("dtype,tol", [(np.float32, F32), (np.float64, F64)])
def test_mlp_matches_torch(dtype, tol):
    net = mlp().to(torch.float32 if dtype == np.float32 else torch.float64)
    x = np.random.default_rng(1).standard_normal((8, 4)).astype(dtype)
    labels = np.random.default_rng(2).integers(0, 3, 8)
    result = run_both(net, [x], lambda lib, out: lib.nn.functional.cross_entropy(
        out, torch.tensor(labels)) if lib is torch else tapegrad.cross_entropy(
            out, Tensor(labels)))
    assert_same(result, tol)
    assert [n for n, _ in result[-1].named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]


def test_training_steps_match_torch():
    net = mlp().double()
    traced = tapegrad.from_torch(net)
    rng = np.random.default_rng(3)
    torch_opt = torch.optim.SGD(net.parameters(), lr=0.1)
    opt = tapegrad.nn.SGD(traced.parameters(), lr=0.1)
    for _ in range(5):
        x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
        torch_opt.zero_grad()
        TF.cross_entropy(net(torch.tensor(x)), torch.tensor(y)).backward()
        torch_opt.step()
        opt.zero_grad()
        tapegrad.cross_entropy(traced(x), Tensor(y)).backward()
        opt.step()
    for name, p in net.named_parameters():
        np.testing.assert_allclose(traced.state_dict()[name], p.detach().numpy(), **F64)
    # The weights go back into torch by name.
    fresh = mlp().double()
    fresh.load_state_dict({k: torch.tensor(v) for k, v in traced.state_dict().items()})
    np.testing.assert_allclose(fresh(torch.tensor(x)).detach().numpy(),
                               traced(x).numpy(), **F64)


class Functional(nn.Module):
    """Functional calls, Tensor methods and operators, as hand-written forwards have."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 6)
        self.norm = nn.LayerNorm(6)
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, 6))

    def forward(self, x, other):
        b = x.size(0)
        h = self.norm(self.proj(x)) * self.scale + 1.0
        h = TF.gelu(h) - torch.sigmoid(other) / 2
        h = h.view(b, 2, 3).permute(0, 2, 1).reshape(b, -1)
        h = torch.cat([h.softmax(dim=1), TF.log_softmax(h, dim=-1), h.tanh()], dim=1)
        s = h.sum(dim=1, keepdim=True) + h.mean(1, keepdim=True) ** 2
        return (h @ h.t()).exp().mean(dim=(0,)) + s.flatten() + x.shape[1]


def test_functional_module_matches_torch():
    torch.manual_seed(1)
    net = Functional().double()
    rng = np.random.default_rng(4)
    x, other = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    assert_same(run_both(net, [x, other], sum_of_squares, grad_inputs=(0, 1)), F64)


class SmallCNN(nn.Module):

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 6, 3, stride=1, padding=1, groups=2), nn.SiLU(),
            nn.AvgPool2d(2), nn.AdaptiveAvgPool2d((2, 2)))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(24, 10))

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize("training", [True, False])
def test_cnn_matches_torch(training):
    torch.manual_seed(2)
    net = SmallCNN().double()
    net.features[1].running_mean.uniform_(-0.5, 0.5)  # eval uses them: not 0 and 1
    net.features[1].running_var.uniform_(0.5, 2.0)
    net.train(training)
    net.head[1].p = 0.0 if training else 0.5  # a train-mode dropout cannot match
    x = np.random.default_rng(5).standard_normal((3, 1, 8, 8))
    labels = np.array([1, 7, 3])
    result = run_both(net, [x], lambda lib, out: lib.nn.functional.cross_entropy(
        out, torch.tensor(labels)) if lib is torch else tapegrad.cross_entropy(
            out, Tensor(labels)))
    assert_same(result, F64)
    traced = result[-1]
    assert traced.training == training
    for name, b in net.named_buffers():  # running statistics, updated alike
        if b.is_floating_point():
            np.testing.assert_allclose(traced.state_dict()[name], b.numpy(), **F64)


def test_cnn_in_float32_matches_float64():
    torch.manual_seed(3)
    net = SmallCNN().eval()
    x = np.random.default_rng(6).standard_normal((2, 1, 8, 8))
    out32 = tapegrad.from_torch(net)(x.astype(np.float32)).numpy()
    out64 = tapegrad.from_torch(net.double())(x).numpy()
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)


def test_torch_and_numpy_inputs():
    net = mlp()
    traced = tapegrad.from_torch(net)
    x = torch.randn(2, 4)
    np.testing.assert_allclose(traced(x).numpy(), traced(x.numpy()).numpy())
    np.testing.assert_allclose(traced(x).numpy(), net(x).detach().numpy(), **F32)


class Cumsum(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=0)


class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: fx cannot trace it
            return x
        return -x


def test_unsupported_nodes_are_named():
    with pytest.raises(NotImplementedError, match="cumsum"):
        tapegrad.from_torch(Cumsum())
    with pytest.raises(NotImplementedError, match="GRU"):
        tapegrad.from_torch(nn.Sequential(nn.Linear(2, 2), nn.GRU(2, 2)))
    with pytest.raises(NotImplementedError, match="ceil_mode"):
        tapegrad.from_torch(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)))
    with pytest.raises(NotImplementedError, match="reduction='sum'"):
        tapegrad.from_torch(nn.MSELoss(reduction="sum"))(np.ones(2), np.ones(2))
    with pytest.raises(NotImplementedError, match="cannot trace Branchy"):
        tapegrad.from_torch(Branchy())
    with pytest.raises(TypeError, match="torch.nn.Module"):
        tapegrad.from_torch(lambda x: x)
    train_dropout = tapegrad.from_torch(nn.Sequential(nn.Dropout(0.5)).train())
    with pytest.raises(NotImplementedError, match="dropout in training mode"):
        train_dropout(np.ones((2, 2), np.float32))
    assert train_dropout.eval()(np.ones((2, 2), np.float32)).numpy().sum() == 4.0


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
