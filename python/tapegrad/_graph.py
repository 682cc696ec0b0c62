"""Graph lifetime: how Python's garbage collector frees what the tape recorded.

micrograd never frees a graph explicitly: a step's graph goes when its last Value
does. A linear tape can only drop its top, and in a training loop the top is
always alive: `total_loss, acc = loss()` builds step k+1's graph on top of step
k's, and only then lets step k's go. So tapegrad's Python layer cuts the tape into
segments and moves the live ones down over the dead:

  - A segment is the part of the tape recorded between two backward() calls (or
    two step() scopes). Every Value holds its segment; a segment that no Value
    holds any more is dead (its reference count says so, at no cost per op).
  - At each backward(), dead segments are dropped: a dead top by a rewind, a dead
    middle by Tape::Compact, which moves the live segments above it down (one
    copy of their records) and re-addresses their Values through the segment
    object (a Value's handle is its segment's key plus its offset).
  - A dead segment whose values a live one still reads is not dropped (compaction
    refuses, since the tape would be wrong); it goes when that reader goes.
    Values hold their inputs (micrograd's _prev), so this only happens to a graph
    that is reachable anyway.

In micrograd's demo loop this keeps three graphs on the tape at most (the first
step's, which shares its segment with the parameters, the last and the current),
whatever the number of steps: memory is bounded and the step time flat.

`with tapegrad.step():` is the explicit alternative: everything recorded inside
is dropped at the end with one rewind, with no reference counting and no copy,
and the tape then allocates nothing in steady state. Values made inside are stale
after it (using one raises StaleValueError).

Tensors record on tapes of their own, one per segment, taken from a pool: a dead
tensor segment's tape is reset and reused, and tensor parameters (heap tensors)
live outside every tape. A tape tensor of one segment cannot be an operand of an
op in another (detach() it to carry it over).

Thread safety: each thread has its own tapes and segments; Values and tensors
belong to the thread that made them.
"""

import ctypes
import sys
import threading

from tapegrad._lib import TapeStats, check, lib

_getrefcount = sys.getrefcount


class Segment:
    """A stretch of the scalar tape: its mark and the key its Values add to."""

    __slots__ = ("ctx", "mark", "key")

    def __init__(self, ctx, mark, key):
        self.ctx = ctx
        self.mark = mark
        self.key = key  # (generation << 32) | first slot


class TensorSegment:
    """A tape of the pool on which one segment's tensor ops record."""

    __slots__ = ("ctx", "tape")

    def __init__(self, ctx, tape):
        self.ctx = ctx
        self.tape = tape


def _first_value(mark):
    """The handle the first Value made after `mark` has: a segment's key."""
    key = ctypes.c_uint64()
    check(lib.tg_mark_first_value(mark, ctypes.byref(key)))
    return key.value


def _held_only_by(lst):
    """Which items of `lst` nothing but `lst` refers to: the dead segments."""
    return [_getrefcount(item) <= _INTERNAL_REFS for item in lst]


# The references _held_only_by sees to an item nobody else holds (the list's, the
# loop variable's, getrefcount's argument), measured rather than assumed.
_INTERNAL_REFS = [_getrefcount(item) for item in [object()]][0]


class Context:
    """One thread's tapes: the scalar tape with its segments, and the tensor pool."""

    def __init__(self):
        # Kept as ctypes objects and raw addresses: the per-op calls then pass them
        # without conversion work (see _lib.py).
        self.tape = ctypes.c_void_p()
        check(lib.tg_tape_create(0, ctypes.byref(self.tape)))
        self.out = ctypes.c_uint64()
        self.out_addr = ctypes.addressof(self.out)
        self.number = ctypes.c_double()
        self.number_addr = ctypes.addressof(self.number)
        self.segments = []
        self.current = None
        self.tensor_segments = []
        self.tensor_pool = []
        self.tensor_current = None
        self.new_segment()
        self.new_tensor_segment()

    # ---- scalar segments

    def new_segment(self):
        mark = ctypes.c_void_p()
        check(lib.tg_tape_mark(self.tape, ctypes.byref(mark)))
        seg = Segment(self, mark.value, _first_value(mark))
        self.segments.append(seg)
        self.current = seg
        return seg

    def segment_of(self, handle):
        """The segment holding slot `handle` (for Values made from handles)."""
        slot = handle & 0xFFFFFFFF
        for seg in reversed(self.segments):
            if slot >= seg.key & 0xFFFFFFFF:
                return seg
        return self.segments[0]

    def collect(self):
        """Drops dead segments below the current one (see the module's notes)."""
        segs = self.segments
        dead = _held_only_by(segs)
        dead[-1] = False  # the current segment is where the next ops record
        i = 0
        while i < len(segs) - 1:
            if not dead[i]:
                i += 1
                continue
            j = i + 1  # [i, j): a run of dead segments
            while dead[j]:
                j += 1
            keep = segs[j:]
            marks = (ctypes.c_void_p * len(keep))(*[s.mark for s in keep])
            status = lib.tg_tape_compact(self.tape, segs[i].mark, len(keep), marks)
            if status:
                # A live segment still reads the run: try again at a later step.
                i = j
                continue
            for seg in segs[i:j]:
                lib.tg_mark_destroy(seg.mark)
            del segs[i:j]
            del dead[i:j]
            for seg in keep:
                seg.key = _first_value(seg.mark)

    def next_segments(self):
        """At a backward() or a step() scope's start: drops dead segments and starts
        new ones; returns the new (scalar, tensor) pair."""
        self.collect()
        self.collect_tensors()
        return self.new_segment(), self.new_tensor_segment()

    # ---- tensor segments

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

    # ---- step scopes

    def exit_step(self, scope):
        scalar, tensor = scope
        index = self.segments.index(scalar)
        check(lib.tg_tape_rewind(self.tape, scalar.mark))
        for seg in self.segments[index + 1:]:
            lib.tg_mark_destroy(seg.mark)
        del self.segments[index + 1:]
        # The scope's segment stays as the current one, empty again; its old Values
        # are stale because the rewind gave the tape a new generation.
        replacement = Segment(self, scalar.mark, _first_value(scalar.mark))
        self.segments[index] = replacement
        self.current = replacement
        first = self.tensor_segments.index(tensor)
        for seg in self.tensor_segments[first:]:
            check(lib.tg_tape_reset(seg.tape))
            self.tensor_pool.append(seg.tape)
        del self.tensor_segments[first:]
        self.new_tensor_segment()

    def stats(self):
        stats = TapeStats()
        check(lib.tg_tape_stats_get(self.tape, ctypes.byref(stats)))
        return {name: getattr(stats, name) for name, _ in TapeStats._fields_}


_local = threading.local()


def context():
    """This thread's Context, made on first use."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None:
        ctx = _local.ctx = Context()
    return ctx


class step:
    """`with tapegrad.step():` drops everything recorded inside at its end.

    The zero-allocation way to run a training step: the tape is rewound to where
    the scope began, so the next step reuses the same memory. Values and tape
    tensors made inside are stale afterwards; parameters (made before) are not.
    """

    def __enter__(self):
        self._ctx = context()
        self._scope = self._ctx.next_segments()
        return self

    def __exit__(self, *exc):
        self._ctx.exit_step(self._scope)
        return False


def tape_stats():
    """This thread's scalar tape: values, slot bytes and arena figures (a dict)."""
    return context().stats()
