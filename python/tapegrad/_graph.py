"""Graph lifetime: how Python's garbage collector frees what the tapes recorded.

micrograd never frees a graph explicitly: a step's graph goes when its last Value
does. tapegrad keeps that contract on a linear tape.

Scalar Values (python/ext/graph.c) share one process-wide tape. Every Value on it
is in one list; now and then the tape keeps the slots of the listed Values and
drops the rest with Tape::Retain, which moves the kept records down and
re-addresses their Values. A Value holds its inputs (micrograd's _prev), so what a
kept record reads is kept too. This runs as the tape grows (Note [Collection] in
graph.c), whether or not backward() ever runs: forward-only loops, kept scalars
and threads that ended hold nothing of the graphs that are gone. A leaf made from
a number takes a slot only when an op first reads it.

`with tapegrad.step():` is the explicit alternative: everything recorded inside
is dropped at the end with one rewind, with no reference counting and no copy,
and the tape then allocates nothing in steady state. Op results made inside are
stale after it (using one raises StaleValueError); leaves are not. If another
thread records scalar ops while a scope is open, the scope does not rewind (that
would make the other thread's Values stale): its graph then goes as outside a
scope, when its Values go.

Tensors record on tapes of their own, one per segment (what is recorded between
two tensor backward() calls or step() scopes), taken from a per-thread pool: a
segment that no tensor holds any more is dead (its reference count says so), and
its tape is reset and reused. Tensor parameters (heap tensors) live outside every
tape. A tape tensor of one segment cannot be an
operand of an op in another (detach() it to carry it over). A thread's tensor
tapes are destroyed when the thread has ended and none of its tensors is left.

Thread safety: scalar Values may be used from any thread (one process-wide tape,
each operation atomic under the GIL). Tape tensors belong to the thread that
made them; heap tensors (parameters) may be read from any thread.
"""

import ctypes
import sys
import threading

from tapegrad._lib import check, lib, load_engine

_engine = load_engine()
_getrefcount = sys.getrefcount


class TensorSegment:
    """A tape of the pool on which one segment's tensor ops record."""

    __slots__ = ("ctx", "tape")

    def __init__(self, ctx, tape):
        self.ctx = ctx
        self.tape = tape


def _held_only_by(lst):
    """Which items of `lst` nothing but `lst` refers to: the dead segments."""
    return [_getrefcount(item) <= _INTERNAL_REFS for item in lst]


# The references _held_only_by sees to an item nobody else holds (the list's, the
# loop variable's, getrefcount's argument), measured rather than assumed.
_INTERNAL_REFS = [_getrefcount(item) for item in [object()]][0]


class Context:
    """One thread's tensor tapes: the live segments and a pool of reset tapes."""

    def __init__(self):
        self.tensor_segments = []
        self.tensor_pool = []
        self.tensor_current = None
        self.new_tensor_segment()

    def __del__(self):
        # Every segment holds this context, so none is alive: neither is any tensor
        # recorded on these tapes.
        for tape in self.tensor_pool + [s.tape for s in self.tensor_segments]:
            lib.tg_tape_destroy(tape)

    def next_segments(self):
        """At a tensor backward() or a step() scope's start: drops dead tensor
        segments and starts a new one."""
        self.collect_tensors()
        return self.new_tensor_segment()

    def new_tensor_segment(self):
        if self.tensor_pool:
            tape = self.tensor_pool.pop()
        else:
            handle = ctypes.c_void_p()
            check(lib.tg_tape_create(0, ctypes.byref(handle)))
            tape = handle.value
        seg = TensorSegment(self, tape)
        self.tensor_segments.append(seg)
        self.tensor_current = seg
        _engine._set_segment(seg)  # where TensorBase's ops find it
        check(lib.tg_tape_set_current(tape))
        return seg

    def collect_tensors(self):
        live = []
        dead = _held_only_by(self.tensor_segments)
        for seg, is_dead in zip(self.tensor_segments, dead):
            if is_dead and seg is not self.tensor_current:
                check(lib.tg_tape_reset(seg.tape))
                self.tensor_pool.append(seg.tape)
            else:
                live.append(seg)
        self.tensor_segments = live

    def exit_step(self, tensor):
        first = self.tensor_segments.index(tensor)
        for seg in self.tensor_segments[first:]:
            check(lib.tg_tape_reset(seg.tape))
            self.tensor_pool.append(seg.tape)
        del self.tensor_segments[first:]
        self.new_tensor_segment()


_local = threading.local()


def context():
    """This thread's tensor Context, made on first use."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        ctx = _local.ctx = Context()
    return ctx


class step:
    """`with tapegrad.step():` drops everything recorded inside at its end.

    The zero-allocation way to run a training step: the tapes are rewound to where
    the scope began, so the next step reuses the same memory. Op results and tape
    tensors made inside are stale afterwards; parameters and other leaves are not.
    """

    def __enter__(self):
        self._ctx = context()
        self._tensor = self._ctx.next_segments()
        self._token = _engine._step_begin()
        return self

    def __exit__(self, *exc):
        token = getattr(self, "_token", None)
        if token is None:
            raise RuntimeError("tapegrad.step: the scope has not begun or has already ended")
        _engine._step_end(token)  # out of order: raises, and the scope stays open
        self._token = None
        self._ctx.exit_step(self._tensor)
        return False


def tape_stats():
    """The scalar tape: values, slot bytes, arena figures and segments (a dict)."""
    return _engine.tape_stats()
