"""The image ops and modules (tapegrad.functional, tapegrad.nn) against PyTorch:
forward values and gradients in f64 and f32 over strides, paddings, dilations,
groups and odd sizes; running statistics; reprs; errors; a CNN that learns."""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tapegrad
import tapegrad.functional as F
from tapegrad import Tensor, nn

rng = np.random.default_rng(3)
TOL = {np.float64: 1e-10, np.float32: 2e-5}


def both(shape, dtype, positive=False):
    a = rng.uniform(0.5, 2.0, shape) if positive else rng.standard_normal(shape)
    a = a.astype(dtype)
    return (Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))


def check(ours, theirs, inputs, dtype):
    """Forward values, then the gradients of sum(y * r) for a random r."""
    tol = TOL[dtype]
    y, ty = ours(*[t for t, _ in inputs]), theirs(*[t for _, t in inputs])
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    r = rng.standard_normal(tuple(ty.shape)).astype(dtype)
    (y * Tensor(r)).sum().backward()
    (ty * torch.tensor(r)).sum().backward()
    for i, (t, tt) in enumerate(inputs):
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=tol, atol=tol,
                                   err_msg="gradient of input %d" % i)


CONVS = [  # x shape, w shape, stride, padding, dilation, groups
    ((2, 3, 6, 5), (4, 3, 3, 3), 1, 0, 1, 1),
    ((1, 4, 7, 6), (6, 2, 3, 2), (2, 1), (1, 2), (2, 1), 2),
    ((2, 3, 5, 5), (3, 1, 3, 3), 1, 1, 1, 3),
    ((1, 2, 4, 4), (5, 2, 1, 1), 2, 0, 1, 1),
    ((3, 1, 9, 8), (2, 1, 4, 3), 3, 2, 2, 1),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CONVS)
def test_conv2d_matches_torch(dtype, case):
    xs, ws, stride, padding, dilation, groups = case
    inputs = [both(xs, dtype), both(ws, dtype), both((ws[0],), dtype)]
    check(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups),
          lambda x, w, b: TF.conv2d(x, w, b, stride, padding, dilation, groups),
          inputs, dtype)


POOLS = [  # x shape, kernel, stride, padding, dilation (max) / count_include_pad (avg)
    ((2, 3, 6, 6), 2, None, 0, 1),
    ((1, 2, 7, 5), 3, 2, 1, 1),
    ((1, 2, 7, 7), (2, 3), (1, 2), 1, 2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", POOLS)
def test_max_pool2d_matches_torch(dtype, case):
    xs, k, s, p, d = case
    check(lambda x: F.max_pool2d(x, k, s, p, d), lambda x: TF.max_pool2d(x, k, s, p, d),
          [both(xs, dtype)], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("case", POOLS)
def test_avg_pool2d_matches_torch(dtype, count_include_pad, case):
    xs, k, s, p, _ = case
    check(lambda x: F.avg_pool2d(x, k, s, p, count_include_pad),
          lambda x: TF.avg_pool2d(x, k, s, p, count_include_pad=count_include_pad),
          [both(xs, dtype)], dtype)


@pytest.mark.parametrize("size", [1, (3, 2), (2, 5)])
def test_adaptive_avg_pool2d_matches_torch(size):
    check(lambda x: F.adaptive_avg_pool2d(x, size),
          lambda x: TF.adaptive_avg_pool2d(x, size), [both((2, 3, 7, 5), np.float64)],
          np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_norm_layer_norm_embedding_flatten_match_torch(dtype):
    check(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
          lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
          [both((4, 3, 2, 3), dtype), both((3,), dtype, True), both((3,), dtype)], dtype)
    check(lambda x, w, b: F.layer_norm(x, (4, 5), w, b),
          lambda x, w, b: TF.layer_norm(x, (4, 5), w, b),
          [both((3, 4, 5), dtype), both((4, 5), dtype, True), both((4, 5), dtype)], dtype)
    idx = np.array([[4, 0, 4], [2, 0, 4]])
    check(lambda w: F.embedding(Tensor(idx), w),
          lambda w: TF.embedding(torch.tensor(idx), w), [both((5, 3), dtype)], dtype)
    check(lambda x: F.flatten(x, 1), lambda x: torch.flatten(x, 1),
          [both((2, 3, 2, 4), dtype)], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batch_norm_relu_matches_torch(dtype):
    check(lambda x, w, b: F.batch_norm_relu(x, None, None, w, b, training=True),
          lambda x, w, b: TF.relu(TF.batch_norm(x, None, None, w, b, training=True)),
          [both((4, 3, 2, 3), dtype), both((3,), dtype, True), both((3,), dtype)], dtype)


def test_sequential_batch_norm2d_relu_matches_torch():
    """Sequential runs BatchNorm2d, ReLU as one op: the numbers stay PyTorch's."""
    ours = nn.Sequential(nn.BatchNorm2d(3, dtype="float64"), nn.ReLU())
    theirs = torch.nn.Sequential(torch.nn.BatchNorm2d(3), torch.nn.ReLU()).double()
    x = rng.standard_normal((4, 3, 2, 2)) + 0.3
    up = rng.standard_normal((4, 3, 2, 2))
    xo, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    (yo * Tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[0].weight.grad.numpy(),
                               theirs[0].weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours[0].running_var.numpy(),
                               theirs[0].running_var.numpy(), rtol=1e-12)


def test_batch_norm2d_running_statistics_match_torch():
    ours, theirs = nn.BatchNorm2d(3, dtype="float64"), torch.nn.BatchNorm2d(3).double()
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 2)) * 2 + 1
        ours(Tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(),
                               rtol=1e-12)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 2, 2))
    np.testing.assert_allclose(ours(Tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_module_reprs_match_torch():
    pairs = [
        (nn.Conv2d(1, 32, 3, padding=1), torch.nn.Conv2d(1, 32, 3, padding=1)),
        (nn.Conv2d(4, 6, (3, 1), stride=2, groups=2, bias=False),
         torch.nn.Conv2d(4, 6, (3, 1), stride=2, groups=2, bias=False)),
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.AvgPool2d(3, 2, 1), torch.nn.AvgPool2d(3, 2, 1)),
        (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
        (nn.Flatten(), torch.nn.Flatten()),
        (nn.BatchNorm2d(32), torch.nn.BatchNorm2d(32)),
        (nn.LayerNorm(128), torch.nn.LayerNorm(128)),
        (nn.Embedding(10, 3), torch.nn.Embedding(10, 3)),
        (nn.ReLU(), torch.nn.ReLU()),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    conv = nn.Conv2d(3, 8, 3, seed=1)
    bound = 1 / np.sqrt(27)
    w = conv.weight.numpy()
    assert w.shape == (8, 3, 3, 3) and np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.8 * bound
    assert [tuple(p.shape) for p in conv.parameters()] == [(8, 3, 3, 3), (8,)]


def test_errors_name_the_op_and_operands():
    x = Tensor(np.zeros((2, 4, 5, 5), np.float32))
    w = Tensor(np.zeros((8, 3, 3, 3), np.float32))
    with pytest.raises(tapegrad.errors.InvalidArgumentError) as e:
        F.conv2d(x, w)
    assert "conv2d" in str(e.value) and "f32[2, 4, 5, 5]" in str(e.value)
    with pytest.raises(tapegrad.errors.InvalidArgumentError, match="larger than the padded"):
        F.max_pool2d(Tensor(np.zeros((1, 1, 2, 2), np.float32)), 3)
    with pytest.raises(TypeError, match="conv2d: stride"):
        F.conv2d(x, w, stride="2")
    with pytest.raises(TypeError, match="conv2d: bias must be a Tensor or None"):
        F.conv2d(x, w, bias=3)
    with pytest.raises(ValueError, match="BatchNorm2d"):
        nn.BatchNorm2d(4)(Tensor(np.zeros((2, 4), np.float32)))
    with pytest.raises(tapegrad.errors.InvalidArgumentError,
                       match="must not exceed the input's height and width"):
        F.adaptive_avg_pool2d(Tensor(np.zeros((1, 1, 4, 4), np.float32)), (1 << 30, 3))


def test_a_small_cnn_learns_one_batch():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=0), nn.BatchNorm2d(4),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3, seed=0))
    opt = nn.Adam(model.parameters(), lr=0.01)
    x = Tensor(rng.standard_normal((8, 1, 6, 6)).astype(np.float32))
    y = Tensor(np.array([0, 1, 2, 0, 1, 2, 0, 1]))
    losses = []
    for _ in range(40):
        with tapegrad.step():
            loss = tapegrad.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


@pytest.mark.skipif(not tapegrad.Device.is_cuda_available(),
                    reason="no CUDA device (--config=cudasim has two)")
def test_module_to_moves_parameters_and_buffers():
    torch_free = nn.Sequential(nn.Conv2d(1, 2, 3, dtype="float64", seed=5),
                               nn.BatchNorm2d(2, dtype="float64"), nn.ReLU())
    on_gpu = nn.Sequential(nn.Conv2d(1, 2, 3, dtype="float64", seed=5),
                           nn.BatchNorm2d(2, dtype="float64"), nn.ReLU())
    gpu = tapegrad.Device.cuda(0)
    assert on_gpu.to(gpu) is on_gpu
    bn = on_gpu[1]
    for t in on_gpu.parameters() + [bn.running_mean, bn.running_var]:
        assert t.device == gpu
    assert all(p.requires_grad for p in on_gpu.parameters())
    assert not bn.running_mean.requires_grad
    x = rng.standard_normal((2, 1, 5, 5))
    np.testing.assert_allclose(on_gpu(Tensor(x).to(gpu)).numpy(),
                               torch_free(Tensor(x)).numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.numpy(), torch_free[1].running_mean.numpy(),
                               rtol=1e-12, atol=1e-12)
    on_gpu.cpu()
    assert all(p.device == tapegrad.Device.cpu() for p in on_gpu.parameters())
