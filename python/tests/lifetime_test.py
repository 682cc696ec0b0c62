"""Graph lifetime in the Python layer: micrograd's loop, run unchanged, keeps the
tape and Python's memory bounded and its step time flat; step() reuses memory."""

import gc
import statistics
import sys
import threading
import time
import tracemalloc

import pytest

import micrograd_reference
import moons
import tapegrad
from tapegrad.engine import Value
from tapegrad.nn import MLP


def small_demo(steps, record):
    """micrograd's demo loop on a smaller model and batch: 1,000 steps stay quick."""
    import random
    random.seed(0)
    X, y = moons.make_moons(16)
    model = MLP(2, [8, 1])
    loss = moons.make_loss(Value, model, X, y)
    for k in range(steps):
        start = time.perf_counter()
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        record(k, time.perf_counter() - start)


def test_memory_and_step_time_stay_flat_over_1000_steps():
    values, times, python_bytes = [], [], []
    tracemalloc.start()

    def record(k, seconds):
        times.append(seconds)
        values.append(tapegrad.tape_stats()["values"])
        if k % 100 == 99:
            gc.collect()
            python_bytes.append(tracemalloc.get_traced_memory()[0])

    small_demo(1000, record)
    tracemalloc.stop()
    # The tape holds a bounded number of graphs, whatever the step count: it grows
    # between collections and shrinks at each, to the same peak (within a step).
    assert max(values[100:]) <= max(values[10:100]) + 2 * (values[12] - values[11]), (
        max(values[10:100]), max(values))
    # Python's own memory does not grow either (a leak of one Value per op would
    # add megabytes; allow allocator noise).
    assert python_bytes[-1] - python_bytes[1] < 64 * 1024, python_bytes
    # Per-step time: the last hundred steps cost what the first hundred did (a
    # tape growing with the step count would make them ~10x slower).
    early = statistics.median(times[10:110])
    late = statistics.median(times[-100:])
    assert late < 2.0 * early, (early, late)


def test_step_scope_allocates_nothing_on_the_tape_in_steady_state():
    import random
    random.seed(1)
    X, y = moons.make_moons(16)
    model = MLP(2, [8, 1])
    loss = moons.make_loss(Value, model, X, y)
    stats = []
    losses = []
    for k in range(30):
        with tapegrad.step():
            total_loss, _ = loss()
            model.zero_grad()
            total_loss.backward()
            for p in model.parameters():
                p.data -= 0.05 * p.grad
            losses.append(total_loss.data)
        stats.append(tapegrad.tape_stats())
    for s in stats[2:]:
        assert s["arena_bytes_reserved"] == stats[1]["arena_bytes_reserved"]
        assert s["slot_bytes"] == stats[1]["slot_bytes"]
        assert s["values"] == stats[1]["values"]
    assert losses[-1] < losses[0]


def test_a_kept_graph_stays_usable_while_later_ones_are_freed():
    w = Value(0.5)
    keep = (w * 3).tanh()  # an old graph someone still holds
    for _ in range(5):
        y = (w * w + 1).relu()
        y.backward()
    w.grad = 0
    keep.backward()  # its segment was never dropped, only moved
    assert w.grad == pytest.approx(3 * (1 - keep.data**2))


def test_a_graph_built_on_an_old_value_keeps_it_alive():
    def run(Value):
        w = Value(0.5)
        h = w * 2
        h.backward()       # h's segment ends here; h keeps its grad of 1
        y = h * h          # the next segment reads h
        del h              # h's Python object lives on in y's inputs
        for _ in range(3):
            (w * 1).backward()
        w.grad = 0
        y.backward()       # micrograd propagates h's old grad again
        return w.grad

    assert run(Value) == run(micrograd_reference.Value)


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def _flat(run, iterations, sample_every):
    """Runs run(i) `iterations` times; (tape values, RSS) sampled along the way."""
    samples = []
    for i in range(iterations):
        run(i)
        if i % sample_every == sample_every - 1:
            samples.append((tapegrad.tape_stats()["values"], _rss_mb()))
    return samples


def _assert_flat(samples):
    warm = len(samples) // 5
    values = [v for v, _ in samples]
    rss = [r for _, r in samples]
    # The tape is collected as it grows (Note [Collection] in python/ext/graph.c):
    # it never holds more than the live Values plus 2^16 records, twice over.
    assert max(values[warm:]) <= 2 * (max(values[:warm]) + 2**16), values
    assert rss[-1] - rss[warm] < 16, rss


def test_a_forward_only_loop_stays_flat():
    # An evaluation loop that never calls backward(): micrograd frees each graph
    # when `out` is rebound; so must the tape.
    model = MLP(2, [16, 16, 1])
    _assert_flat(_flat(lambda i: model([0.5, -0.3 + i * 1e-6]), 50_000, 2_500))


def test_kept_scalars_hold_nothing_of_their_step():
    model = MLP(2, [16, 16, 1])
    kept = []

    def step(i):
        loss = model([0.5, -0.3])
        model.zero_grad()
        loss.backward()
        kept.append(Value(loss.data))  # a leaf made from a number

    _assert_flat(_flat(step, 5_000, 250))
    assert tapegrad.tape_stats()["live_values"] < 2_000  # the model and one graph


def test_ended_threads_leave_nothing_behind():
    w = Value(0.5)

    def work():
        x = Value(0.1)
        for _ in range(2_000):
            x = x * 0.5 + w

    def run(i):
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()

    _assert_flat(_flat(run, 1_000, 50))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
