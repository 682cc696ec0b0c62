"""tapegrad.Tensor against NumPy: every op forward, indexing and views, gradients,
DLPack both ways,
tensor modules and optimizers, devices, and the error paths."""

import sys

import numpy as np
import pytest

import tapegrad
from tapegrad import Tensor
from tapegrad.nn import SGD, Adam, Linear, TensorMLP, TensorModule

rng = np.random.default_rng(0)


def close(t, expected, tol=1e-6):
    np.testing.assert_allclose(t.numpy(), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_ops_broadcast_like_numpy(dtype):
    a = rng.standard_normal((3, 4)).astype(dtype)
    b = rng.uniform(0.5, 2.0, (4,)).astype(dtype)
    ta, tb = Tensor(a), Tensor(b)
    close(ta + tb, a + b)
    close(ta - tb, a - b)
    close(ta * tb, a * b)
    close(ta / tb, a / b)
    close(ta.maximum(tb), np.maximum(a, b))
    close(ta.minimum(tb), np.minimum(a, b))
    close(ta * 2.5 + 1, a * 2.5 + 1)
    close(1 - ta, 1 - a)
    close(2 / tb, 2 / b)
    close(ta ** 2, a ** 2)
    close(ta @ Tensor(a.T.copy()), a @ a.T, 1e-5)


def test_unary_ops_match_numpy():
    x = rng.uniform(0.1, 2.0, (5, 3))
    t = Tensor(x)
    close(-t, -x)
    close(t.exp(), np.exp(x))
    close(t.log(), np.log(x))
    close(t.tanh(), np.tanh(x))
    close((t - 1).relu(), np.maximum(x - 1, 0))
    close(t.sigmoid(), 1 / (1 + np.exp(-x)))
    close(t.sqrt(), np.sqrt(x))
    close((t - 1).abs(), np.abs(x - 1))
    from math import erf
    close(t.gelu(), np.vectorize(lambda v: 0.5 * v * (1 + erf(v / np.sqrt(2))))(x))


def test_reductions_softmax_and_views():
    x = rng.standard_normal((2, 3, 4))
    t = Tensor(x)
    close(t.sum(), x.sum())
    close(t.sum(axis=1), x.sum(axis=1))
    close(t.mean(axis=(0, 2), keepdim=True), x.mean(axis=(0, 2), keepdims=True))
    close(t.max(axis=-1), x.max(axis=-1))
    close(t.min(), x.min())
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    close(t.softmax(), e / e.sum(axis=-1, keepdims=True))
    close(t.log_softmax(axis=-1), np.log(e / e.sum(axis=-1, keepdims=True)))
    close(t.reshape(6, 4), x.reshape(6, 4))
    close(t.reshape(-1), x.reshape(-1))
    close(Tensor(x[0]).T, x[0].T)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel() == 24 and len(t) == 2


def test_scalars_and_T_follow_numpy():
    # A number makes a 0-d tensor, as torch.tensor(0.5) does, not a 1-element one.
    assert Tensor(0.5).shape == () and Tensor(np.float64(2.0)).shape == ()
    assert Tensor(0.5).item() == 0.5
    # .T reverses every axis (a view; the tensor itself below 2-D), and its
    # gradient is the incoming one with the axes reversed back.
    for shape in [(), (3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        x = np.asarray(rng.standard_normal(shape))
        t = Tensor(x, requires_grad=True)
        close(t.T, x.T, 0)
        w = np.asarray(rng.standard_normal(x.T.shape))
        (t.T * Tensor(w)).sum().backward()
        close(t.grad, w.T, 0)


# Keys with NumPy's answers: basic indexing gives views, one integer array gives
# index_select, and an array separated from an integer by a slice moves its axis
# first (NumPy's rule for mixed advanced indices).
INDEX_KEYS = [
    1, -1, np.int64(1), (slice(None), slice(None, None, 2), -1), (None, Ellipsis, 0),
    (slice(None), [2, 0]), (Ellipsis, [3, -1]), (0, slice(1, None), [1]),
    (1, None, 2, slice(-2, None)), (slice(5, None),), (slice(None), []),
    (slice(-100, 100, 3), np.array([1, 1, 0]), 2),
]


@pytest.mark.parametrize("key", INDEX_KEYS, ids=repr)
def test_indexing_follows_numpy(key):
    x = rng.standard_normal((2, 3, 4))
    t = Tensor(x, requires_grad=True)
    y = t[key]
    close(y, x[key], 0)
    if y.numel() == 0:
        return
    # Every index kind is recorded: the gradient scatters back as np.add.at does,
    # repeated indices adding up.
    w = rng.standard_normal(x[key].shape)
    (y * Tensor(w)).sum().backward()
    expected = np.zeros_like(x)
    np.add.at(expected, key, w)
    close(t.grad, expected, 1e-12)


def test_indexing_errors_and_iteration():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert [row.tolist() for row in t] == [[0, 1, 2], [3, 4, 5]]
    assert t[Tensor(np.int64(1))].tolist() == [3, 4, 5]  # a 0-d integer tensor
    with pytest.raises(TypeError, match="0-d"):
        iter(Tensor(1.0))
    # NumPy takes the elements whole, not through the sequence protocol that
    # indexing opens (which would make an object array of 0-d Tensors).
    assert np.asarray(t).dtype == np.float64 and np.array_equal(np.asarray(t), t.numpy())
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    # Truth as in PyTorch: one element's, else an error (not len() != 0).
    assert not Tensor([0.0]) and Tensor(2.0)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(IndexError, match="out of bounds for axis 1 with size 3"):
        t[0, 3]
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 2"):
        t[[0, -3]]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="boolean masks"):
        t[np.array([True, False])]
    with pytest.raises(IndexError, match="at most one integer array"):
        t[[0], [1]]
    with pytest.raises(IndexError, match="single ellipsis"):
        t[..., ...]
    with pytest.raises(IndexError, match="float"):
        t[0.5]
    with pytest.raises(ValueError, match="steps must be > 0"):
        t[::-1]
    with pytest.raises(ValueError, match=r"index_select: index -1 .*f64\[2, 3\].*i64\[2\]"):
        t[Tensor(np.array([0, -1]))]  # a Tensor of indices goes to the library as is


def test_views_and_joins_match_numpy():
    x = rng.standard_normal((2, 1, 3))
    t = Tensor(x, requires_grad=True)
    close(t.permute(2, 0, 1), x.transpose(2, 0, 1), 0)
    close(t.permute((1, 2, 0)), x.transpose(1, 2, 0), 0)
    close(t.expand(4, 2, 5, 3), np.broadcast_to(x, (4, 2, 5, 3)), 0)
    assert t.squeeze().shape == (2, 3) and t.squeeze(1).shape == (2, 3)
    assert t.squeeze(0) is t  # size 2: unchanged, as in PyTorch
    assert t.unsqueeze(-1).shape == (2, 1, 3, 1) and t.unsqueeze(0).shape == (1, 2, 1, 3)
    c = t.transpose(0, 2).contiguous()
    close(c.reshape(-1), x.transpose(2, 1, 0).reshape(-1), 0)
    close(t.clamp(-0.5, 0.5), np.clip(x, -0.5, 0.5), 0)
    close(t.clamp(min=0), np.maximum(x, 0), 0)
    close(t.clamp(max=0), np.minimum(x, 0), 0)
    close(tapegrad.where(x > 0, t, 0.0), np.where(x > 0, x, 0.0), 0)
    close(t.index_select(-1, [2, 0, 2]), x[..., [2, 0, 2]], 0)
    close(tapegrad.cat([t, t * 2], axis=1), np.concatenate([x, x * 2], axis=1), 0)
    close(tapegrad.stack((t, t), axis=-1), np.stack([x, x], axis=-1), 0)
    # Gradients through every one of them at once.
    loss = (t.permute(2, 0, 1).expand(4, 3, 2, 1).sum() + t.clamp(-0.5, 0.5).sum()
            + tapegrad.where(x > 0, t, 1.0).sum() + t.index_select(2, [0, 0]).sum()
            + tapegrad.stack([t, t]).sum() + tapegrad.cat([t, t], -1).squeeze().sum())
    loss.backward()
    expected = 4 + (np.abs(x) <= 0.5) + (x > 0) + 4
    expected[..., 0] += 2
    close(t.grad, expected, 0)


def test_comparisons_are_masks_without_gradient():
    x = np.array([[1.0, -2.0], [3.0, np.nan]])
    t = Tensor(x, requires_grad=True)
    close(t > 0, (x > 0).astype(np.float64), 0)
    close(0 < t, (0 < x).astype(np.float64), 0)
    close(t >= np.array([1.0, 0.0]), (x >= [1.0, 0.0]).astype(np.float64), 0)
    close(t <= 1, (x <= 1).astype(np.float64), 0)
    close(t == t, (x == x).astype(np.float64), 0)  # NaN != NaN
    close(t != 3, (x != 3).astype(np.float64), 0)
    assert (t > 0).dtype == np.float64
    assert (t == None) is False and (t != None) is True  # noqa: E711
    assert {t: 1}[t] == 1  # hashed by identity, as PyTorch's tensors
    with pytest.raises(TypeError):
        t < "x"
    # The mask is a constant: d/dw sum(w * (w > 0)) is the mask.
    w = Tensor(np.array([-1.0, 2.0, 0.0]), requires_grad=True)
    (w * (w > 0)).sum().backward()
    close(w.grad, [0, 1, 0], 0)
    close(tapegrad.where(w > 0, w, 0.0), [0, 2, 0], 0)
    with pytest.raises(ValueError, match=r"less: shapes do not broadcast.*\[3\].*\[2\]"):
        w < Tensor(np.zeros(2))


def test_argmax_and_argmin_match_numpy():
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=(3, 4, 5)).astype(np.float32)  # many ties
    t = Tensor(x)
    for axis in (None, 0, 1, 2, -1):
        for keepdim in (False, True):
            got = t.argmax(axis, keepdim=keepdim).numpy()
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, np.argmax(x, axis=axis, keepdims=keepdim))
            np.testing.assert_array_equal(t.argmin(axis=axis, keepdim=keepdim).numpy(),
                                          np.argmin(x, axis=axis, keepdims=keepdim))
    # Strided input, and NaN counted as both extremes, as in NumPy.
    np.testing.assert_array_equal(t.permute(2, 0, 1).argmax(1).numpy(),
                                  np.argmax(x.transpose(2, 0, 1), 1))
    y = np.array([1.0, np.nan, 4.0, np.nan])
    assert int(Tensor(y).argmax().item()) == np.argmax(y) == 1
    assert int(Tensor(y).argmin().item()) == np.argmin(y) == 1
    # The indices pick rows; the gradient flows to the picked row only.
    w = Tensor(np.array([[1.0, 2.0], [5.0, 0.0]]), requires_grad=True)
    w[w.sum(1).argmax()].sum().backward()
    close(w.grad, [[0, 0], [1, 1]], 0)
    with pytest.raises(ValueError, match=r"argmax: axis 3 is out of range.*f32\[3, 4, 5\]"):
        t.argmax(3)
    with pytest.raises(TypeError, match="argmin: axis must be an integer"):
        t.argmin("1")
    with pytest.raises(ValueError, match="reduction over an empty axis"):
        Tensor(np.zeros((2, 0))).argmax(1)


def test_views_and_joins_reject_bad_arguments():
    t = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="min, max or both"):
        t.clamp()
    with pytest.raises(TypeError, match="clamp: min must be a number"):
        t.clamp("a")
    with pytest.raises(TypeError, match="permute"):
        t.permute(0, "x")
    with pytest.raises(ValueError, match=r"permute.*f64\[2, 3\]"):
        t.permute(0, 0)
    with pytest.raises(ValueError, match=r"expand: cannot broadcast to \[3, 3\]"):
        t.expand(3, 3)
    with pytest.raises(TypeError, match="cat: tensors must be a list"):
        tapegrad.cat(t)
    with pytest.raises(TypeError, match=r"tensors\[1\] is of type int"):
        tapegrad.stack([t, 1])
    with pytest.raises(ValueError, match=r"concatenate.*f64\[2, 3\].*i64\[1\]"):
        tapegrad.cat([t, Tensor([1])])
    with pytest.raises(ValueError, match="unsqueeze: axis 9"):
        t.unsqueeze(9)
    with pytest.raises(IndexError, match="index_select: axis 5"):
        t.index_select(5, [0])
    with pytest.raises(TypeError, match="where: a or b must be a Tensor"):
        tapegrad.where([1], 1, 2)


def test_ints_beyond_int64_are_errors_not_wrapped():
    # ctypes keeps an int's low 64 bits: 2**64 + 1 would quietly become axis 1.
    t = Tensor(np.zeros((2, 3)))
    for call in (lambda: t.sum(2**64 + 1), lambda: t.max((0, 2**64))):
        with pytest.raises(ValueError, match=r"(sum|max): axis \d+ is out of range"):
            call()
    with pytest.raises(ValueError, match="argmax: axis -36893488147419103232 is out of range"):
        t.argmax(-2**65)
    with pytest.raises(ValueError, match="softmax: axis"):
        t.softmax(2**64 - 1)
    with pytest.raises(ValueError, match="reshape: size or axis 18446744073709551622"):
        t.reshape(2**64 + 6)
    with pytest.raises(ValueError, match="Linear: in_features"):
        tapegrad.nn.Linear(2**64 + 3, 1)
    with pytest.raises(ValueError, match="TensorMLP: layer size"):
        tapegrad.nn.TensorMLP(3, [2**64 + 1])


def test_bools_are_not_axes_or_sizes():
    # As in NumPy: True is no axis 1, and no size 1.
    t = Tensor(np.zeros((2, 3)))
    calls = (("sum", lambda: t.sum(True)), ("max", lambda: t.max((0, True))),
             ("argmax", lambda: t.argmax(np.True_)), ("softmax", lambda: t.softmax(False)),
             ("transpose", lambda: t.transpose(True, 0)),
             ("Linear", lambda: tapegrad.nn.Linear(True, 1)))
    for op, call in calls:
        with pytest.raises(TypeError, match=op + r": .* must be an integer, not bool"):
            call()
    with pytest.raises(TypeError, match=r"reshape: sizes and axes must be integers, not \(6, True\)"):
        t.reshape(6, True)
    assert t.sum(1).shape == (2,)  # ints still are


def test_gradients_match_the_analytic_ones():
    x = rng.standard_normal((4, 3))
    w_np = rng.standard_normal((3, 2))
    w = Tensor(w_np, requires_grad=True)
    loss = ((Tensor(x) @ w).tanh() ** 2).sum()
    loss.backward()
    h = np.tanh(x @ w_np)
    close(w.grad, x.T @ (2 * h * (1 - h**2)), 1e-10)


def test_losses():
    logits = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    ce = tapegrad.cross_entropy(Tensor(logits), Tensor(labels))
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert ce.item() == pytest.approx(-log_p[np.arange(5), labels].mean())
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    assert tapegrad.mse_loss(Tensor(a), Tensor(b)).item() == pytest.approx(((a - b) ** 2).mean())
    y = (b > 0).astype(np.float64)
    bce = np.mean(np.maximum(a, 0) - a * y + np.log1p(np.exp(-np.abs(a))))
    assert tapegrad.binary_cross_entropy_with_logits(Tensor(a), Tensor(y)).item() == \
        pytest.approx(bce)


def test_dlpack_round_trips_with_numpy():
    x = rng.standard_normal((3, 4))
    t = tapegrad.from_dlpack(x)
    close(t, x)
    x[0, 0] = 42.0  # shared memory, not a copy
    assert t.numpy()[0, 0] == 42.0
    back = np.from_dlpack(t)
    np.testing.assert_array_equal(back, x)
    strided = tapegrad.from_dlpack(x[:, ::2])
    close(strided, x[:, ::2])
    assert Tensor([1.0]).__dlpack_device__() == (1, 0)
    result = Tensor(x) * 2  # a tape tensor exports a copy
    np.testing.assert_array_equal(np.from_dlpack(result), x * 2)
    with pytest.raises(ValueError, match="dtype"):
        tapegrad.from_dlpack(np.zeros(3, dtype=np.int8))


def test_dtypes_follow_pytorch_defaults():
    assert Tensor([1.0, 2.0]).dtype == np.float32
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor([1.0], dtype="float64").dtype == np.float64


def test_mlp_and_adam_learn_xor():
    model = TensorMLP(2, [8, 1], activation="tanh", dtype="float64", seed=3)
    assert "Linear(in_features=2, out_features=8, bias=True)" in repr(model)
    params = model.parameters()
    assert [p.shape for p in params] == [(2, 8), (8,), (8, 1), (1,)]
    opt = Adam(params, lr=0.05)
    x = Tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64))
    y = Tensor(np.array([[0], [1], [1], [0]], dtype=np.float64))
    losses = []
    for _ in range(200):
        loss = tapegrad.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]


def test_linear_and_sgd():
    layer = Linear(3, 2, dtype="float64", seed=1)
    w, b = layer.parameters()
    x = rng.standard_normal((4, 3))
    close(layer(Tensor(x)), x @ w.numpy() + b.numpy(), 1e-12)
    opt = SGD([w, b], lr=0.1)
    loss = layer(Tensor(x)).sum()
    loss.backward()
    before = w.numpy()
    opt.step()
    close(w, before - 0.1 * np.tile(x.sum(axis=0)[:, None], (1, 2)), 1e-12)
    assert opt.lr == pytest.approx(0.1)


def test_errors_name_the_op_and_operands():
    a = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"matmul.*\[2, 3\].*\[2, 3\]"):
        a @ a
    with pytest.raises(ValueError, match="f32"):
        a + Tensor(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="broadcast"):
        a + Tensor(np.zeros((4,)))
    with pytest.raises(TypeError):
        a + "x"
    with pytest.raises(TypeError):
        a ** a
    with pytest.raises(TypeError):
        Tensor(["a"])
    with pytest.raises(TypeError, match="real numbers"):
        Tensor(3j, "float64")  # never silently drops the imaginary part
    with pytest.raises(TypeError, match="Linear"):
        TensorModule(-1)  # no Python value becomes a module handle
    with pytest.raises(TypeError):
        TensorMLP(2, [1])("not a tensor")
    with pytest.raises(ValueError):
        TensorMLP(2, [1], activation="swish")
    with pytest.raises(TypeError):
        SGD([1.0])
    with pytest.raises(ValueError, match="item"):
        a.item()
    if not tapegrad.Device.is_cuda_available():
        with pytest.raises(NotImplementedError):
            a.cuda()


def test_stale_tape_tensor_after_step_scope():
    w = Tensor(np.ones(3), requires_grad=True)
    with tapegrad.step():
        y = (w * 2).sum()
        y.backward()
    assert w.grad.numpy().tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(tapegrad.errors.StaleValueError):
        y.item()


def test_tensors_of_an_earlier_step():
    w = Tensor(np.ones(3), requires_grad=True)
    old = w * 2
    old.sum().backward()
    assert w.grad.numpy().tolist() == [2.0, 2.0, 2.0]
    new = w * 3
    # An old step's tape tensor records on its own tape: alone it works, but mixed
    # with this step's it is an error (detach() carries it over).
    assert (old * 1).sum().item() == 6.0
    with pytest.raises(ValueError, match="tape"):
        old + new
    assert (old.detach() + new).sum().item() == 15.0


def test_device_api():
    assert tapegrad.Device.cpu() == tapegrad.Device.of("cpu")
    assert str(tapegrad.Device.cuda(1)) == "cuda:1"
    assert isinstance(tapegrad.Device.is_cuda_available(), bool)
    assert Tensor([1.0]).device.is_cpu
    for bad in (-1, 2**32, "0"):  # 2**32 would have reached the C ABI as cuda:0
        with pytest.raises(ValueError, match=r"Device: index must be an int in \[0, 2\*\*31\)"):
            tapegrad.Device("cuda", bad)


def test_no_grad():
    w = Tensor(np.ones(2), requires_grad=True)
    with tapegrad.no_grad():
        assert not tapegrad.is_grad_enabled()
        y = (w * 3).sum()
    assert tapegrad.is_grad_enabled()
    assert y.item() == 6.0


def test_num_threads_set_and_read_back():
    before = tapegrad.get_num_threads()
    assert before >= 1
    try:
        tapegrad.set_num_threads(1)
        assert tapegrad.get_num_threads() == 1
        with pytest.raises(tapegrad.errors.InvalidArgumentError, match="at least one"):
            tapegrad.set_num_threads(0)
        with pytest.raises(TypeError, match="must be an int"):
            tapegrad.set_num_threads(1.5)
    finally:
        tapegrad.set_num_threads(before)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
