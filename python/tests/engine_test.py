"""tapegrad.engine.Value against micrograd: its examples, its demo loop's numbers,
its API details, and every error path."""

import math
import random
import sys
import threading

import numpy as np
import pytest

import micrograd_demo_reference as reference
import micrograd_reference
import moons
import tapegrad
from tapegrad.engine import Value
from tapegrad.nn import MLP, Layer, Neuron


def test_readme_examples():
    a, b = Value(-4.0), Value(3.0)
    g = (a * b + b**3).relu()
    g.backward()
    assert (a.grad, b.grad) == (3.0, 23.0)
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert g.data == pytest.approx(24.70408163265306, abs=1e-12)
    assert a.grad == pytest.approx(138.83381924198252, abs=1e-12)
    assert b.grad == pytest.approx(645.5772594752186, abs=1e-12)


def test_sanity_check():
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.data == -20.0
    assert x.grad == 46.0


def test_matches_micrograd_demo_loop_for_100_steps():
    history = moons.train(Value, MLP, 100)
    for k, ((loss, acc), ref_loss, ref_acc) in enumerate(
            zip(history, reference.LOSSES, reference.ACCURACIES)):
        assert loss == pytest.approx(ref_loss, abs=1e-9), k
        assert acc == ref_acc, k


def test_same_model_as_micrograd_from_the_same_seed():
    random.seed(42)
    ours = [p.data for p in MLP(3, [4, 2]).parameters()]
    random.seed(42)
    theirs = [p.data for p in micrograd_reference.MLP(3, [4, 2]).parameters()]
    assert ours == theirs


def test_reprs_and_graph_fields():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    model = MLP(2, [3, 1])
    assert repr(model) == ("MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2), "
                           "ReLUNeuron(2)], Layer of [LinearNeuron(3)]]")
    assert repr(Neuron(2, nonlin=False)) == "LinearNeuron(2)"
    assert repr(Layer(1, 2)) == "Layer of [ReLUNeuron(1), ReLUNeuron(1)]"
    a, b = Value(1.0), Value(2.0)
    c = a * b
    assert c._op == "*" and c._prev == {a, b}
    assert (a**2)._op == "**2" and a.relu()._op == "ReLU" and a._op == ""
    assert len((a + 1)._prev) == 2  # the number became a leaf, as in micrograd


def test_data_and_grad_are_settable():
    a = Value(3.0)
    b = a * a
    b.backward()
    assert a.grad == 6.0
    a.grad = 0
    a.data -= 1.0
    assert (a.data, a.grad) == (2.0, 0.0)
    assert (a * a).data == 4.0


def test_numpy_scalars_on_either_side():
    a = Value(2.0)
    for s in (np.float64(3.0), np.float32(3.0), np.int64(3)):
        assert (a * s).data == 6.0
        assert (s * a).data == 6.0
        assert (s - a).data == 1.0
        assert isinstance(s + a, Value)
        if not isinstance(s, np.integer):  # micrograd computes s**-1, as NumPy forbids
            assert (a / s).data == pytest.approx(2.0 / 3.0)


def test_backward_twice_accumulates_like_micrograd():
    ours, theirs = Value(2.0), micrograd_reference.Value(2.0)
    for v in (ours, theirs):
        y = (v * v + v).relu() * v
        y.backward()
        y.backward()
    assert ours.grad == theirs.grad


def test_more_ops_and_their_gradients():
    x = Value(0.3)
    for f, df in ((Value.tanh, lambda v: 1 - np.tanh(v) ** 2), (Value.exp, np.exp),
                  (Value.log, lambda v: 1 / v),
                  (Value.sigmoid, lambda v: np.exp(-v) / (1 + np.exp(-v)) ** 2)):
        x.grad = 0
        f(x).backward()
        assert x.grad == pytest.approx(df(0.3), rel=1e-12)


def test_devices():
    a = Value(1.0)
    assert a.device == tapegrad.Device.cpu()
    assert a.cpu() is a and a.to("cpu") is a
    assert Value(1.0, device="cpu").device.is_cpu
    # Values are never on a GPU: the error says why (no GPU, or Tensors go there).
    reason = "no CUDA backend" if not tapegrad.Device.is_cuda_available() else "Tensors"
    with pytest.raises(NotImplementedError, match=reason):
        a.cuda()
    with pytest.raises(NotImplementedError, match=reason):
        Value(1.0, device=tapegrad.Device.cuda())
    with pytest.raises(NotImplementedError, match=reason):
        a.to("cuda:0")


def test_wrong_types_raise_type_error():
    a = Value(1.0)
    with pytest.raises(TypeError):
        a + "x"
    with pytest.raises(TypeError):
        "x" * a
    with pytest.raises(TypeError, match="only supporting int/float powers"):
        a ** Value(2.0)
    with pytest.raises(TypeError, match="real number"):
        Value("3")
    with pytest.raises(TypeError):
        Value(1.0, device=3)
    with pytest.raises(ValueError):
        tapegrad.Device("tpu")


def test_stale_value_after_step_scope_is_a_clear_error():
    w = Value(1.0)
    with tapegrad.step():
        inner = w * 2
        inner.backward()
    assert w.grad == 2.0  # made before the scope: still valid
    with pytest.raises(tapegrad.errors.StaleValueError, match="stale value"):
        inner.data
    with pytest.raises(RuntimeError):
        inner + w


def test_values_of_another_thread_work_as_in_micrograd():
    made = []
    thread = threading.Thread(target=lambda: made.append(Value(1.0) * 3))
    thread.start()
    thread.join()
    y = Value(2.0) + made[0]
    y.backward()
    assert (y.data, made[0].grad) == (5.0, 1.0)


# ---- micrograd's behaviour where code depends on it

def test_division_by_zero_and_overflow_raise_pythons_errors():
    for ours, theirs in ((Value, micrograd_reference.Value),):
        for expr in (lambda V: V(0.0) ** -1, lambda V: V(1.0) / V(0.0),
                     lambda V: 1 / V(0.0), lambda V: V(1.0) / 0):
            with pytest.raises(ZeroDivisionError):
                expr(theirs)
            with pytest.raises(ZeroDivisionError):
                expr(ours)
        with pytest.raises(OverflowError):
            theirs(10.0) ** 400
        with pytest.raises(OverflowError):
            ours(10.0) ** 400
    with pytest.raises(OverflowError):
        Value(1000.0).exp()  # math.exp's error (micrograd's lecture)
    with pytest.raises(ValueError, match="complex"):
        Value(-8.0) ** (1 / 3)
    assert (Value(0.0) ** 0).data == 1.0 and (Value(float("inf")) ** 2).data == float("inf")


def test_attributes_and_micrograd_style_constructed_ops():
    a = Value(2.0)
    a.label = "a"  # micrograd's lecture labels its nodes
    b = Value(-3.0, _op="", _children=())
    b.label = "b"
    e = a * b
    e.label = "e"
    assert (a.label, e.label, vars(e)) == ("a", "e", {"label": "e"})
    # An op written micrograd's way: Value(data, children, op). Without a _backward
    # it is a leaf, as micrograd's default `lambda: None` makes it.
    t = Value(np.tanh(e.data), (e,), "tanh")
    assert t._prev == {e} and t._op == "tanh"
    t.backward()
    assert (t.grad, e.grad, a.grad) == (1.0, 0.0, 0.0)


def custom_tanh(cls, self):
    """tanh written micrograd's way (its lecture's), for either Value class."""
    t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) + 1)
    out = cls(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t**2) * out.grad
    out._backward = _backward
    return out


def custom_mul(cls, a, b):
    out = cls(a.data * b.data, (a, b), "mul")

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad
    out._backward = _backward
    return out


def custom_graph(cls):
    """Built-in and user ops mixed: a user op reads a user op, a Value reaches the
    root along several paths, and a child of a user op is a fresh leaf."""
    a, b = cls(0.7), cls(-0.3)
    c = custom_tanh(cls, a * b + a)
    d = custom_mul(cls, c, c + b) * a + custom_mul(cls, cls(2.0), c).relu()
    return (d * d + c).relu() + a, (a, b)


def test_user_backward_closures_run_as_in_micrograd():
    root, (a, b) = custom_graph(Value)
    ref_root, (ra, rb) = custom_graph(micrograd_reference.Value)
    root.backward()
    ref_root.backward()
    assert root.data == pytest.approx(ref_root.data, rel=1e-15)
    assert (a.grad, b.grad) == pytest.approx((ra.grad, rb.grad), rel=1e-14)
    # The same graph with built-in ops: the same gradients.
    x, y = Value(0.7), Value(-0.3)
    z = (x * y + x).tanh()
    w = (z * (z + y)) * x + (2.0 * z).relu()
    ((w * w + z).relu() + x).backward()
    assert (a.grad, b.grad) == pytest.approx((x.grad, y.grad), rel=1e-14)
    assert isinstance(root._prev, set) and root._op == "+"


def test_micrograd_lecture_topological_loop_over_builtin_backwards():
    # micrograd's own backward (build_topo over _prev, then each _backward()), run
    # on tapegrad's Values: built-in ops' _backward add their partials.
    root, (a, b) = custom_graph(Value)
    micrograd_reference.Value.backward(root)
    by_hand = (a.grad, b.grad)
    root, (a, b) = custom_graph(Value)
    root.backward()
    assert by_hand == pytest.approx((a.grad, b.grad), rel=1e-14)


def test_user_backward_on_a_deep_graph_and_its_errors():
    x = Value(1.0)
    y = x
    for _ in range(50000):  # far deeper than Python's recursion limit
        y = y * 1.0 + 0.0
    z = custom_tanh(Value, y)
    z.backward()
    assert x.grad == pytest.approx(1 - math.tanh(1.0)**2, rel=1e-14)
    with pytest.raises(TypeError, match="callable"):
        z._backward = 3.0

    def fails():
        raise KeyError("from the closure")
    z._backward = fails
    with pytest.raises(KeyError, match="from the closure"):
        z.backward()
    del z._backward  # back to the built-in one: a leaf's, which adds nothing
    x.grad = 0.0
    z.backward()
    assert (z.grad, x.grad) == (1.0, 0.0)


def test_prev_is_a_stable_set():
    a, b = Value(1.0), Value(2.0)
    c = a + b
    assert c._prev is c._prev and c._prev == {a, b}
    assert Value(1.0)._prev == set()


def test_copies_and_pickles_are_independent_values():
    import copy
    import pickle
    a = Value(3.0)
    a.label = "a"
    c = a * 2
    c.backward()
    for twin in (copy.copy(c), copy.deepcopy(c), pickle.loads(pickle.dumps(c))):
        assert (twin.data, twin.grad, twin._op) == (6.0, 1.0, "*")
        assert sorted(x.data for x in twin._prev) == [2.0, 3.0]
        twin.data = 10.0
        twin.grad = 0.0
        assert (c.data, c.grad) == (6.0, 1.0)
    twin = pickle.loads(pickle.dumps(a))
    assert (twin.data, twin.grad, twin.label) == (3.0, 2.0, "a")
    twin.label = "b"
    assert a.label == "a"


def test_a_long_chain_is_freed_without_recursion():
    x = Value(1.0)
    for _ in range(200_000):
        x = x * 1.0
    del x  # a C recursion per link would overflow the stack here


def test_draw_dot_and_write_dot(tmp_path):
    a, b = Value(2.0), Value(-3.0)
    out = (a * b + 1).relu()
    out.backward()
    dot = tapegrad.draw_dot(out)
    assert "ReLU" in dot.source and "data -5.0000" in dot.source
    path = tmp_path / "graph.dot"
    tapegrad.write_dot(out, str(path))
    assert path.read_text().startswith("digraph tape {")


def test_kernel_registry_lists_cpu_kernels():
    kernels = tapegrad.kernels()
    assert ("matmul", "float32", "cpu") in kernels
    assert ("add", "float64", "cpu") in kernels


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
