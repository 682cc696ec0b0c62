"""Scalar Values from many threads: micrograd's objects work from any thread with
the GIL, and so must tapegrad's, with no crash and no wrong number.

Each test runs 8 threads for TAPEGRAD_THREAD_SECONDS (default 1) seconds; run
with a larger value to soak (the README gives the command).
"""

import os
import random
import sys
import threading
import time

import pytest

import tapegrad
from tapegrad.engine import Value
from tapegrad.nn import MLP

SECONDS = float(os.environ.get("TAPEGRAD_THREAD_SECONDS", "1"))
THREADS = 8


def run_threads(work):
    """Runs work(rank, stop) on THREADS threads; returns what each returned and
    re-raises the first exception any raised."""
    stop = time.monotonic() + SECONDS
    results, errors = [None] * THREADS, []

    def body(rank):
        try:
            results[rank] = work(rank, stop)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(r,)) for r in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def assert_always_right(check):
    """Runs check(rank) on every thread until time is up; all must be True."""
    def work(rank, stop):
        wrong = checked = 0
        while time.monotonic() < stop:
            wrong += not check(rank)
            checked += 1
        return wrong, checked

    results = run_threads(work)
    assert sum(w for w, _ in results) == 0, results
    assert all(c > 0 for _, c in results)


def test_user_backward_closures_from_8_threads():
    # Closures run between tape accesses, so threads interleave inside backward();
    # each thread's own gradients must still be exact, and collections (paused
    # while a loop holds tape handles) must not disturb them.
    w = Value(0.5)

    def check(rank):
        x = Value(float(rank + 1))
        out = Value(w.data * x.data, (w, x), "mul")

        def _backward():
            x.grad += w.data * out.grad
        out._backward = _backward
        y = out * 3.0 + x * x
        y.backward()
        return x.grad == 3.0 * 0.5 + 2.0 * (rank + 1) and y.grad == 1.0

    assert_always_right(check)


def test_backward_on_a_shared_value_from_8_threads():
    # The program that used to abort with a corrupted heap: every thread builds
    # on the same leaf and runs backward; the grads accumulate, as in micrograd.
    w = Value(0.5)

    def work(rank, stop):
        n = 0
        while time.monotonic() < stop:
            (w * 2.0 + 1.0).backward()
            n += 1
        return n

    total = sum(run_threads(work))
    assert total > THREADS
    assert w.grad == 2.0 * total


def test_results_are_right_from_any_thread():
    w = Value(0.5)

    def check(rank):
        i = random.randrange(1, 10**6)
        return (w * float(i) + rank).data == 0.5 * i + rank

    assert_always_right(check)


def test_a_model_built_on_one_thread_serves_gradients_to_others():
    random.seed(3)
    model = MLP(3, [8, 8, 1])
    inputs = [[random.uniform(-1, 1) for _ in range(3)] for _ in range(16)]

    def input_grads(x):
        xs = [Value(v) for v in x]
        out = model(xs)
        out.backward()
        return out.data, [v.grad for v in xs]

    expected = [input_grads(x) for x in inputs]

    def check(rank):
        # Grads may differ in the last bit when a collection has moved the records
        # (the sweep's accumulation order follows their layout), never more.
        k = random.randrange(len(inputs))
        data, grads = input_grads(inputs[k])
        return data == expected[k][0] and grads == pytest.approx(expected[k][1], rel=1e-12)

    assert_always_right(check)


def test_a_step_scope_leaves_other_threads_values_valid():
    w = Value(1.5)
    started, done = threading.Event(), threading.Event()
    kept = []

    def other():
        started.set()
        while not done.is_set():
            kept.append(w * 2.0)
            kept[-1].data  # stays readable while the main thread's scopes end
        kept.append(w * 2.0)

    t = threading.Thread(target=other)
    t.start()
    started.wait()
    for _ in range(200):
        with tapegrad.step():
            y = (w * w).tanh()
            y.backward()
    done.set()
    t.join()
    assert all(v.data == 3.0 for v in kept)


def test_scopes_end_in_order():
    scope = tapegrad.step()
    scope.__enter__()
    scope.__exit__(None, None, None)
    with pytest.raises(RuntimeError, match="already ended"):
        scope.__exit__(None, None, None)
    outer, inner = tapegrad.step(), tapegrad.step()
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(RuntimeError, match="reverse order"):
        outer.__exit__(None, None, None)
    inner.__exit__(None, None, None)
    outer.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
