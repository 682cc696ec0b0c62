"""micrograd's demo training step in Python: micrograd (reproduced faithfully in
python/tests/micrograd_reference.py) against tapegrad running the same user code,
and against tapegrad's tensor version of the same step, in one process.

    bazel run -c opt //bench:python_step_benchmark

The step: moons data (100 points), MLP(2, [16, 16, 1]), micrograd's SVM max-margin
loss with L2 regularisation, backward, SGD update: python/tests/moons.py, the
demo's own code. Prints ms per step (median over the timed steps) and ratios.
"""

import gc
import random
import statistics
import sys
import time

import numpy as np

import micrograd_reference
import moons
import tapegrad
from tapegrad import nn as tnn


def time_steps(step, warmup, steps):
    for k in range(warmup):
        step(k)
    times = []
    for k in range(steps):
        start = time.perf_counter()
        step(warmup + k)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def scalar_step(Value, MLP, scope=None):
    random.seed(1337)
    X, y = moons.make_moons(100)
    model = MLP(2, [16, 16, 1])
    loss = moons.make_loss(Value, model, X, y)

    def step(k):
        with scope() if scope else _null():
            total_loss, acc = loss()
            model.zero_grad()
            total_loss.backward()
            learning_rate = 1.0 - 0.9 * (k % 100) / 100
            for p in model.parameters():
                p.data -= learning_rate * p.grad

    return step


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def tensor_step():
    """The same model, loss and update with tensors: one op per layer."""
    X, y = moons.make_moons(100)
    x = tapegrad.Tensor(np.array(X, dtype=np.float64))
    labels = tapegrad.Tensor(np.array(y, dtype=np.float64).reshape(-1, 1))
    model = tnn.TensorMLP(2, [16, 16, 1], dtype="float64", seed=1337)
    params = model.parameters()
    opt = tnn.SGD(params, lr=1.0)

    def step(k):
        with tapegrad.step():
            scores = model(x)
            data_loss = (1 - labels * scores).relu().mean()
            reg_loss = 1e-4 * sum((p * p).sum() for p in params)
            total_loss = data_loss + reg_loss
            opt.zero_grad()
            total_loss.backward()
            opt.lr = 1.0 - 0.9 * (k % 100) / 100
            opt.step()

    return step


def main():
    rows = []
    micrograd = time_steps(scalar_step(micrograd_reference.Value, micrograd_reference.MLP),
                           1, 3)
    rows.append(("micrograd (reference, Python's default GC)", micrograd))
    gc.disable()
    micrograd_nogc = time_steps(
        scalar_step(micrograd_reference.Value, micrograd_reference.MLP), 1, 3)
    gc.enable()
    gc.collect()
    rows.append(("micrograd, cyclic GC disabled", micrograd_nogc))
    from tapegrad.engine import Value
    from tapegrad.nn import MLP
    ours = time_steps(scalar_step(Value, MLP), 3, 20)
    rows.append(("tapegrad, micrograd's code unchanged", ours))
    scoped = time_steps(scalar_step(Value, MLP, tapegrad.step), 3, 20)
    rows.append(("tapegrad, the step inside `with tapegrad.step()`", scoped))
    tensor = time_steps(tensor_step(), 20, 500)
    rows.append(("tapegrad tensors (TensorMLP, SGD)", tensor))
    print("%-50s %12s %14s" % ("micrograd demo step, 100 points", "ms/step", "vs micrograd"))
    for name, ms in rows:
        print("%-50s %12.3f %13.1fx" % (name, ms, micrograd / ms))
    print("(vs micrograd with GC disabled: unchanged code %.1fx, tensors %.0fx)"
          % (micrograd_nogc / ours, micrograd_nogc / tensor))
    print()
    print("%-50s %12s" % ("one op from Python (median of 7 x 10^5)", "ns/op"))
    for name, ns in op_costs():
        print("%-50s %12.0f" % (name, ns))
    print()
    print("%-50s %12s" % ("a * b of one-element tensors, a requiring grad", "ns/op"))
    for name, ns in tensor_op_costs():
        print("%-50s %12.0f" % (name, ns))


def op_costs():
    """ns per `a * b` (and `a + 1.0`) from Python, each in one timeit statement."""
    import timeit
    from tapegrad.engine import Value
    rows = []
    for name, make in (("Python floats", float), ("micrograd Value, GC disabled",
                                                  micrograd_reference.Value),
                       ("tapegrad Value", Value)):
        for stmt in ("a * b", "a + 1.0"):
            a, b = make(1.5), make(0.5)
            gc.disable()
            runs = timeit.repeat(stmt, globals={"a": a, "b": b}, number=100_000, repeat=7)
            gc.enable()
            rows.append(("%s: %s" % (name, stmt), statistics.median(runs) * 1e4))
    return rows


def tensor_op_costs():
    """ns per `a * b` of one-element tensors (a requires grad), 1000 ops per block,
    each library as its users run it: tapegrad inside `with tapegrad.step()` (the
    step's ops then reuse the tape's memory) and without (the tape grows until the
    next backward()), PyTorch 1.13, NumPy (no gradient at all)."""
    import timeit
    import torch
    from tapegrad import Tensor

    def block(a, b, scope=None):
        def run():
            if scope is None:
                for _ in range(1000):
                    a * b
            else:
                with scope():
                    for _ in range(1000):
                        a * b
        return run

    cases = (
        ("tapegrad Tensor, in a step() scope",
         block(Tensor([1.5], requires_grad=True), Tensor([0.5]), tapegrad.step)),
        ("tapegrad Tensor, no scope",
         block(Tensor([1.5], requires_grad=True), Tensor([0.5]))),
        ("PyTorch 1.13 tensor",
         block(torch.tensor([1.5], requires_grad=True), torch.tensor([0.5]))),
        ("NumPy array", block(np.array([1.5]), np.array([0.5]))),
    )
    rows = []
    for name, run in cases:
        gc.disable()
        runs = timeit.repeat(run, number=100, repeat=7)
        gc.enable()
        rows.append((name, statistics.median(runs) * 1e4))
    return rows


if __name__ == "__main__":
    sys.exit(main())
