"""Hostile input from Python: huge and negative shapes, byte orders, object and
non-contiguous arrays, NaN and infinities, DLPack capsules used twice, objects
deleted mid-graph, threads, and a fuzzer that calls every Tensor method with
arguments of the wrong type. Nothing may crash the interpreter or give a wrong
number; every refusal is a Python exception (ValueError, TypeError, ...)."""

import gc
import math
import random
import sys
import threading

import numpy as np
import pytest

import tapegrad
from tapegrad import Tensor
from tapegrad.errors import TapegradError

INF = float("inf")


# ---- sizes

def test_shapes_past_the_limit_are_errors():
    one = Tensor([[1.0]])
    with pytest.raises(ValueError, match=r"expand: shape \[2147483648, 2147483648\] has more"):
        one.expand(2**31, 2**31).contiguous()
    with pytest.raises(ValueError, match="expand: shape"):
        repr(one.expand(2**32, 2**32))
    with pytest.raises(ValueError, match="add: shape"):
        one.expand(2**30, 1) + one.expand(1, 2**30)
    with pytest.raises(ValueError, match="reshape: cannot view 4 elements"):
        Tensor(np.zeros(4, np.float32)).reshape(2**40, 2**40, -1)


def test_a_large_expanded_view_prints_what_it_shows():
    wide = Tensor([[2.0]]).expand(2**24, 2**24)  # 2^48 elements, the most allowed
    assert wide.numel() == 2**48
    text = repr(wide)
    assert "2., 2., 2., ..., 2., 2., 2." in text or "2. 2. 2. ... 2. 2. 2." in text


def test_negative_sizes_are_errors_and_minus_one_keeps_a_size():
    with pytest.raises(ValueError, match="expand: cannot broadcast"):
        Tensor([1.0]).expand(-5)
    with pytest.raises(ValueError, match="expand"):
        Tensor([[1.0], [2.0]]).expand(-2, 3)
    assert Tensor([[1.0], [2.0]]).expand(-1, 3).shape == (2, 3)
    np.testing.assert_array_equal(Tensor([[1.0], [2.0]]).expand(-1, 3).numpy(),
                                  [[1, 1, 1], [2, 2, 2]])
    with pytest.raises(ValueError):
        Tensor([1.0, 2.0]).reshape(-2, -1)


# ---- NumPy arrays of every kind

@pytest.mark.parametrize("code", [">f8", "<f8", ">f4", "<f4", ">i8", "<i8", ">i4", ">u2"])
def test_every_byte_order_reads_the_same_numbers(code):
    values = np.array([1.0, 2.0, -3.0 if code[1] != "u" else 3.0]).astype(code)
    t = Tensor(values)
    assert t.tolist() == values.astype(values.dtype.newbyteorder("=")).tolist()


def test_unsigned_values_past_int64_are_errors():
    with pytest.raises(ValueError, match="does not fit"):
        Tensor(np.array([2**64 - 1], dtype=np.uint64))
    assert Tensor(np.array([2**63 - 1], dtype=np.uint64)).tolist() == [2**63 - 1]


def test_object_complex_and_string_arrays_are_type_errors():
    for bad in (np.array([1, "a"], dtype=object), np.array([1 + 2j]), np.array(["x"]),
                [[1.0], [2.0, 3.0]], {"a": 1}, None):
        with pytest.raises((TypeError, ValueError)):
            Tensor(bad)


def test_non_contiguous_arrays_are_read_in_order():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    for view in (base[::2, ::3], base.T, np.asfortranarray(base), base[:, ::-1],
                 np.broadcast_to(base[0], (3, 6))):
        np.testing.assert_array_equal(Tensor(view).numpy(), view)


# ---- NaN and infinities (PyTorch's values)

def test_infinite_logits_as_pytorch():
    x = Tensor([[INF, 0.0, 1.0]], dtype=np.float64, requires_grad=True)
    p = x.softmax(1).numpy()[0]
    assert math.isnan(p[0]) and p[1] == 0 and p[2] == 0
    lp = x.log_softmax(1).numpy()[0]
    assert math.isnan(lp[0]) and lp[1] == -INF and lp[2] == -INF
    loss = tapegrad.cross_entropy(x, Tensor([1]))
    assert loss.item() == INF
    loss.backward()
    g = x.grad.numpy()[0]
    assert math.isnan(g[0]) and g[1] == -1 and g[2] == 0


def test_maximum_with_nan_sends_the_gradient_to_both():
    a = Tensor([math.nan, 1.0, 2.0], dtype=np.float64, requires_grad=True)
    b = Tensor([0.0, 1.0, 1.0], dtype=np.float64, requires_grad=True)
    a.maximum(b).sum().backward()
    assert a.grad.tolist() == [1.0, 0.5, 1.0]
    assert b.grad.tolist() == [1.0, 0.5, 0.0]


def test_nan_and_inf_flow_through_ops_without_errors():
    x = Tensor([math.nan, INF, -INF, 0.0, -0.0], dtype=np.float64, requires_grad=True)
    y = (x.exp() + x.tanh() + x.relu() + x.sigmoid() + x.abs()).sum()
    y.backward()
    assert x.grad.shape == (5,)
    assert math.isnan(y.item())


# ---- lifetimes

def test_a_dlpack_capsule_is_consumed_once():
    t = Tensor([1.0, 2.0])
    capsule = t.__dlpack__()
    first = tapegrad.from_dlpack(_Capsule(capsule))
    assert first.tolist() == [1.0, 2.0]
    with pytest.raises((ValueError, TypeError, RuntimeError)):
        tapegrad.from_dlpack(_Capsule(capsule))
    del t, first
    gc.collect()


class _Capsule:
    """An object whose __dlpack__ hands out one capsule, every time it is asked."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, stream=None):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)


def test_operands_deleted_mid_graph():
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    x = Tensor(np.ones((4, 3)))
    h = (x @ w).relu()
    del x
    gc.collect()
    loss = (h * 2.0).sum()
    del h
    gc.collect()
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((3, 2), 8.0))
    del w
    gc.collect()
    assert loss.item() == 48.0


def test_the_first_op_in_a_new_thread_is_recorded():
    x = Tensor([1.0, 2.0], requires_grad=True)
    errors = []

    def worker():
        try:
            (x * 2).sum().backward()
        except Exception as e:  # noqa: BLE001 - the test reports whatever it was
            errors.append(e)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors == []
    assert x.grad.tolist() == [2.0, 2.0]


def test_losses_of_a_non_tensor_are_type_errors():
    # Found by the fuzzer below: an AttributeError from inside the library.
    for loss in (tapegrad.cross_entropy, tapegrad.mse_loss,
                 tapegrad.binary_cross_entropy_with_logits):
        with pytest.raises(TypeError, match="must be a Tensor, not object"):
            loss(object(), Tensor([1.0]))


# ---- the wrong-type fuzzer

_WRONG = [None, "x", b"x", [], [1, "a"], {}, (), object(), 1.5, math.nan, INF, -1, 0,
          2**31, 2**63, -2**63 - 1, 2**70, True, np.float32(2), np.int64(-7),
          np.array([1, 2]), np.zeros((2, 2, 2)), slice(None), Ellipsis, 1j]


def _operands():
    return [Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True),
            Tensor(np.arange(6, dtype=np.float64).reshape(2, 3)),
            Tensor([0, 1]),
            Tensor([1.0]).expand(3, 4)]


_METHODS = ["__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
            "__truediv__", "__rtruediv__", "__pow__", "__matmul__", "__rmatmul__",
            "__gt__", "__ge__", "__lt__", "__le__", "__eq__", "__ne__", "maximum", "minimum",
            "sum", "mean", "max", "min", "argmax", "argmin", "clamp", "softmax",
            "log_softmax", "reshape", "view", "transpose", "permute", "expand", "squeeze",
            "unsqueeze", "index_select", "__getitem__", "to", "backward", "requires_grad_"]
_FUNCTIONS = [tapegrad.cat, tapegrad.stack, tapegrad.where, tapegrad.cross_entropy,
              tapegrad.mse_loss, tapegrad.binary_cross_entropy_with_logits,
              tapegrad.from_dlpack]


def test_wrong_types_never_crash():
    rng = random.Random(1234)
    calls = 0
    for _ in range(4000):
        operands = _operands()
        pool = _WRONG + operands
        args = [rng.choice(pool) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.8:
            target = rng.choice(operands)
            fn = getattr(target, rng.choice(_METHODS))
        else:
            fn = rng.choice(_FUNCTIONS)
        try:
            result = fn(*args)
            if isinstance(result, Tensor):
                repr(result)
                result.tolist()
        except (TypeError, ValueError, IndexError, RuntimeError, NotImplementedError,
                MemoryError, ZeroDivisionError, OverflowError, TapegradError):
            pass
        calls += 1
    assert calls == 4000



def test_dist_without_its_library_says_how_to_get_it():
    """Outside mpirun tapegrad loads libtapegrad.so, which has no MPI."""
    import tapegrad.dist as dist
    with pytest.raises(RuntimeError, match="run under mpirun"):
        dist.ProcessGroup()
    with pytest.raises(RuntimeError, match="libtapegrad_dist.so"):
        dist.DataParallel(None, None)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
