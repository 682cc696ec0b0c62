"""Data-parallel training across processes, over MPI, and over NCCL for models
on GPUs (the C ABI's capi/tapegrad_dist.h, dist/ in C++). Start the job with
mpirun:

    mpirun -np 2 python3 train.py

    import tapegrad.dist as dist
    group = dist.ProcessGroup()                 # group.rank, group.size
    # or, with a model on this rank's GPU (a library built with --config=cuda):
    # group = dist.ProcessGroup(device=tapegrad.Device.cuda(local_rank))
    ddp = dist.DataParallel(group, model)       # checks and broadcasts the model
    rows = dist.shard(len(images), group, seed=0, epoch=epoch)  # this rank's rows
    for at in range(0, len(rows), batch):       # batch: the global batch / size
        with tapegrad.step():
            loss = tapegrad.cross_entropy(ddp(Tensor(images[rows[at:at + batch]])), ...)
            opt.zero_grad(); loss.backward()
            ddp.average_gradients()             # the mean over ranks
            opt.step()

Every rank makes the same calls in the same order. A collective that waits longer
than the group's timeout (a rank died, hung or took another path) raises
DeadlineExceeded instead of hanging, and the group refuses later calls.

These calls live in libtapegrad_dist.so, which tapegrad loads instead of
libtapegrad.so in a process that mpirun started (or with TAPEGRAD_DIST=1), so that
plain use of tapegrad needs no MPI. Outside mpirun a group is one process.

Thread safety: a group, and a DataParallel over it, is used by one thread at a
time.
"""

import ctypes
import numbers

import numpy as np

from tapegrad import _lib
from tapegrad.device import Device
from tapegrad.tensor import Tensor

_c = _lib.lib
_check = _lib.check


def _require_dist(what):
    if not _lib.has_dist:
        raise RuntimeError(
            "tapegrad.dist.%s: the loaded library has no data-parallel calls; run "
            "under mpirun (or set TAPEGRAD_DIST=1) so that tapegrad loads "
            "libtapegrad_dist.so (`bazel build //capi:libtapegrad_dist.so`)" % what)


def _tensor(what, t):
    if not isinstance(t, Tensor):
        raise TypeError("tapegrad.dist.%s: expected a Tensor, not %s"
                        % (what, type(t).__name__))
    return t._h


class ProcessGroup:
    """The job's processes (MPI_COMM_WORLD). `timeout`: the seconds a collective
    may wait for the other ranks. `device`: where the group's tensors live: the
    CPU (MPI), or this rank's CUDA device (NCCL, set up over MPI)."""

    def __init__(self, timeout=300.0, device="cpu"):
        _require_dist("ProcessGroup")
        if not isinstance(timeout, numbers.Real) or not timeout > 0:
            raise ValueError("tapegrad.dist.ProcessGroup: timeout must be a positive "
                             "number of seconds, not %r" % (timeout,))
        self.device = Device.of(device)
        timeout_ms = max(1, int(timeout * 1000))
        handle = ctypes.c_void_p()
        _check(_c.tg_process_group_mpi(timeout_ms, ctypes.byref(handle)))
        if self.device.is_cuda:
            bootstrap = handle.value
            handle = ctypes.c_void_p()
            try:
                _check(_c.tg_process_group_nccl(bootstrap, self.device.index, timeout_ms,
                                                ctypes.byref(handle)))
            finally:
                _c.tg_process_group_destroy(bootstrap)
        self._h = handle.value
        rank, size = ctypes.c_int(), ctypes.c_int()
        _check(_c.tg_process_group_rank(self._h, ctypes.byref(rank), ctypes.byref(size)))
        self.rank, self.size = rank.value, size.value

    def __del__(self):
        handle = getattr(self, "_h", None)
        if handle:
            _c.tg_process_group_destroy(handle)
            self._h = None

    def allreduce(self, tensor, op="mean"):
        """Replaces `tensor` (contiguous, f32 or f64, on the group's device) in
        place by its sum (op="sum") or mean (op="mean") over the ranks; returns it."""
        if op not in ("sum", "mean"):
            raise ValueError("tapegrad.dist.allreduce: op must be 'sum' or 'mean', not %r"
                             % (op,))
        _check(_c.tg_process_group_allreduce(self._h, _tensor("allreduce", tensor),
                                             1 if op == "mean" else 0))
        return tensor

    def broadcast(self, tensor, root=0):
        """Copies rank `root`'s values of `tensor` into every rank's; returns it."""
        if not isinstance(root, numbers.Integral):
            raise TypeError("tapegrad.dist.broadcast: root must be an int")
        _check(_c.tg_process_group_broadcast(self._h, _tensor("broadcast", tensor),
                                             int(root)))
        return tensor

    def barrier(self):
        _check(_c.tg_process_group_barrier(self._h))

    def __repr__(self):
        return "ProcessGroup(rank=%d, size=%d, device=%s)" % (self.rank, self.size,
                                                              self.device)


def _buffers(module):
    """The running statistics of the module's BatchNorm2d layers, in order."""
    found = []
    for name in ("running_mean", "running_var"):
        t = getattr(module, name, None)
        if isinstance(t, Tensor):
            found.append(t)
    children = getattr(module, "_children", None)
    for child in (children() if children else []):
        found += _buffers(child)
    return found


def _handles(tensors):
    array = (ctypes.c_void_p * max(1, len(tensors)))()
    for i, t in enumerate(tensors):
        array[i] = t._h
    return array


class DataParallel:
    """`module` replicated on every rank of `group`: checks that every rank built
    the same parameters (shapes and dtypes, in order; an error on every rank if
    not), copies rank 0's parameters and BatchNorm running statistics to the
    others, and averages gradients in buckets of at most `bucket_bytes` (None: 25
    MB), started during the backward with `overlap` (set False to accumulate
    gradients over several backwards per step)."""

    def __init__(self, group, module, bucket_bytes=None, overlap=True):
        _require_dist("DataParallel")
        if not isinstance(group, ProcessGroup):
            raise TypeError("tapegrad.dist.DataParallel: group must be a ProcessGroup")
        if bucket_bytes is not None and (not isinstance(bucket_bytes, numbers.Integral)
                                         or bucket_bytes <= 0):
            raise ValueError("tapegrad.dist.DataParallel: bucket_bytes must be a "
                             "positive int or None")
        self.group, self.module = group, module
        # Handles kept for the C object's life: it holds the tensors themselves.
        self._parameters = list(module.parameters())
        self._buffers = _buffers(module)
        handle = ctypes.c_void_p()
        _check(_c.tg_data_parallel_create(
            group._h, _handles(self._parameters), len(self._parameters),
            _handles(self._buffers), len(self._buffers), int(bucket_bytes or 0),
            1 if overlap else 0, ctypes.byref(handle)))
        self._h = handle.value

    def __del__(self):
        handle = getattr(self, "_h", None)
        if handle:
            _c.tg_data_parallel_destroy(handle)
            self._h = None

    def __call__(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def average_gradients(self):
        """Replaces every parameter's gradient by its mean over the ranks."""
        _check(_c.tg_data_parallel_average_gradients(self._h))


def shard(n, group, seed=0, epoch=0):
    """This rank's rows of a data set of `n` rows for one epoch, as
    torch.utils.data.DistributedSampler deals them: a permutation from (seed,
    epoch), the same on every rank, padded by its first rows to a multiple of
    the ranks, then every size-th row from this rank's. Disjoint across ranks but
    for the padding, and equally long."""
    order = np.random.default_rng([int(seed), int(epoch)]).permutation(int(n))
    total = -(-int(n) // group.size) * group.size
    order = np.concatenate([order, order[:total - len(order)]])
    return order[group.rank::group.size]
