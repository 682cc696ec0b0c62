"""Tensors and tensor modules on a CUDA device from Python: moved there and back,
ops and gradients equal to the CPU's, a TensorMLP trained there exactly as on the
CPU. Runs where Device.is_cuda_available(): a GPU, or the CUDA simulator
(bazel test --config=cudasim //python:cuda_test); elsewhere it checks that
asking for the device is a clear error.
"""
import sys

import numpy as np
import pytest

import tapegrad
from tapegrad import Device, Tensor, cross_entropy
from tapegrad.nn import Adam, TensorMLP

CUDA = Device.is_cuda_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device in this build or machine")


def test_without_a_device_asking_for_one_is_a_clear_error():
    if CUDA:
        assert Tensor(np.ones(2)).cuda().device == Device.cuda(0)
        return
    with pytest.raises(NotImplementedError, match="no CUDA backend"):
        Tensor(np.ones(2)).cuda()
    with pytest.raises(NotImplementedError, match="TensorMLP.to"):
        TensorMLP(2, [3]).cuda()


@needs_cuda
def test_round_trip_keeps_values_and_dtype():
    for dtype in ("float32", "float64"):
        a = np.arange(12.0).reshape(3, 4)
        t = Tensor(a, dtype=dtype).cuda()
        assert t.device == Device.cuda(0) and t.dtype == dtype
        back = t.to("cpu")
        assert back.device == Device.cpu()
        np.testing.assert_array_equal(back.numpy(), a)


@needs_cuda
def test_ops_and_gradients_equal_the_cpu():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((5, 7)), rng.standard_normal((7, 3))

    def run(device):
        xs = Tensor(x, requires_grad=True)
        ws = Tensor(w, requires_grad=True)
        y = (xs.to(device) @ ws.to(device)).relu() * 2.0 - 1.0
        loss = (y * y).mean()
        loss.backward()  # gradients come back to the CPU leaves
        return loss.item(), xs.grad.numpy(), ws.grad.numpy()

    cpu, gpu = run("cpu"), run("cuda:0")
    assert gpu[0] == pytest.approx(cpu[0], rel=1e-12)
    np.testing.assert_allclose(gpu[1], cpu[1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gpu[2], cpu[2], rtol=1e-12, atol=1e-15)


@needs_cuda
def test_tensor_mlp_trains_on_the_device_as_on_the_cpu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 2))
    labels = (x[:, 0] * x[:, 1] > 0).astype(np.int64)

    def train(device):
        model = TensorMLP(2, [16, 16, 2], dtype="float64", seed=3).to(device)
        assert all(p.device == Device.of(device) for p in model.parameters())
        adam = Adam(model.parameters(), lr=0.05)
        inputs, targets = Tensor(x).to(device), Tensor(labels).to(device)
        losses = []
        for _ in range(30):
            with tapegrad.step():
                loss = cross_entropy(model(inputs), targets)
                adam.zero_grad()
                loss.backward()
                adam.step()
                losses.append(loss.item())
        return losses, [p.cpu().numpy() for p in model.parameters()]

    cpu_losses, cpu_params = train("cpu")
    gpu_losses, gpu_params = train("cuda:0")
    assert gpu_losses[-1] < 0.5 * gpu_losses[0]
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-9)
    for g, c in zip(gpu_params, cpu_params):
        np.testing.assert_allclose(g, c, rtol=1e-8, atol=1e-12)


@needs_cuda
def test_values_stay_on_the_cpu():
    with pytest.raises(NotImplementedError, match="Tensors"):
        tapegrad.Value(1.0, device="cuda:0")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
