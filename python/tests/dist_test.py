"""tapegrad.dist across real processes: run by python/dist_test.sh under
`mpirun -np 2` and `-np 3` (every rank runs every test, in the same order, as
collectives require). Each rank also trains a reference model on the whole batch
in-process, which data-parallel training must match."""

import ctypes

import numpy as np
import pytest

import tapegrad
import tapegrad.dist as dist
from tapegrad import Tensor, _lib, nn

if not _lib.has_dist:  # a plain `pytest python/tests`: the MPI runs are elsewhere
    pytest.skip("run under mpirun by python/dist_test.sh and tools/wheel_test.sh",
                allow_module_level=True)
GROUP = dist.ProcessGroup(timeout=60)


def model(seed, hidden=8):
    return nn.Sequential(nn.Linear(4, hidden, dtype="float64", seed=seed), nn.ReLU(),
                         nn.Linear(hidden, 3, dtype="float64", seed=seed + 1))


def test_collectives():
    t = Tensor(np.full(5, float(GROUP.rank)))
    GROUP.allreduce(t, "sum")
    np.testing.assert_array_equal(t.numpy(), sum(range(GROUP.size)))
    GROUP.allreduce(t, "mean")
    np.testing.assert_array_equal(t.numpy(), sum(range(GROUP.size)))
    b = Tensor(np.array([1.0, 2.0]) * (GROUP.rank + 1))
    GROUP.broadcast(b, GROUP.size - 1)
    np.testing.assert_array_equal(b.numpy(), [GROUP.size, 2.0 * GROUP.size])
    GROUP.barrier()


def test_bad_arguments_are_errors_naming_them():
    with pytest.raises(TypeError, match="expected a Tensor"):
        GROUP.allreduce(np.zeros(3))
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        GROUP.allreduce(Tensor(np.zeros(3)), "max")
    with pytest.raises(tapegrad.errors.TapegradError, match="allreduce"):
        GROUP.allreduce(Tensor(np.zeros(3, np.int64)))
    with pytest.raises(tapegrad.errors.TapegradError, match="root 7 is not a rank"):
        GROUP.broadcast(Tensor(np.zeros(3)), 7)
    # The C call names a bad buffer as a buffer (before any collective).
    params = model(1).parameters()
    no_buffer = (ctypes.c_void_p * 1)(None)
    with pytest.raises(tapegrad.errors.TapegradError, match="buffer 0 is NULL"):
        _lib.check(_lib.lib.tg_data_parallel_create(
            GROUP._h, dist._handles(params), len(params), no_buffer, 1, 0, 1,
            ctypes.byref(ctypes.c_void_p())))


def train_and_compare(group, overlap):
    """Six SGD steps with momentum on the group's device, each rank on its shard
    of a global batch, equal the same steps on the whole batch on the CPU, and the
    replicas stay bitwise equal."""
    shard, size, rank, device = 5, group.size, group.rank, group.device
    data = np.random.default_rng(11)  # the same global batch on every rank
    x = data.standard_normal((shard * size, 4))
    y = np.arange(shard * size) % 3
    ours = model(100 + rank).to(device)  # different on every rank until DataParallel
    reference = model(100)  # rank 0's initialisation
    ddp = dist.DataParallel(group, ours, bucket_bytes=100, overlap=overlap)
    opt = nn.SGD(ours.parameters(), lr=0.5, momentum=0.9)
    ref_opt = nn.SGD(reference.parameters(), lr=0.5, momentum=0.9)
    mine = slice(rank * shard, (rank + 1) * shard)
    for _ in range(6):
        for net, optimizer, rows, where in ((ddp, opt, mine, device),
                                            (reference, ref_opt, slice(None), "cpu")):
            with tapegrad.step():
                loss = tapegrad.cross_entropy(net(Tensor(x[rows]).to(where)),
                                              Tensor(y[rows]).to(where))
                optimizer.zero_grad()
                loss.backward()
                if net is ddp:
                    ddp.average_gradients()
                optimizer.step()
    for a, b in zip(ours.parameters(), reference.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-9)
        # Bitwise equal across ranks: each rank's parameters against rank 0's.
        theirs = GROUP.broadcast(Tensor(a.numpy().copy()), 0)
        assert np.array_equal(theirs.numpy(), a.numpy())


@pytest.mark.parametrize("overlap", [True, False])
def test_training_equals_one_process_on_the_whole_batch(overlap):
    train_and_compare(GROUP, overlap)


CUDA = tapegrad.Device.is_cuda_available()


@pytest.mark.skipif(not CUDA, reason="no CUDA device (the simulator has two)")
def test_nccl_group_on_this_ranks_gpu():
    gpu = tapegrad.Device.cuda(GROUP.rank % tapegrad.Device.cuda_device_count())
    group = dist.ProcessGroup(timeout=60, device=gpu)
    assert (group.rank, group.size, group.device) == (GROUP.rank, GROUP.size, gpu)
    t = group.allreduce(Tensor(np.full(3, float(GROUP.rank))).to(gpu), "sum")
    np.testing.assert_array_equal(t.numpy(), sum(range(GROUP.size)))
    with pytest.raises(tapegrad.errors.TapegradError, match="nccl group"):
        group.allreduce(Tensor(np.zeros(3)))  # on the CPU
    for overlap in (True, False):
        train_and_compare(group, overlap)


def test_different_models_are_an_error_on_every_rank():
    if GROUP.size == 1:
        pytest.skip("needs two ranks")
    with pytest.raises(tapegrad.errors.TapegradError, match="different models"):
        dist.DataParallel(GROUP, model(1, hidden=8 + GROUP.rank))


def test_shards_cover_the_data_once():
    n = 101
    counts = np.zeros(n)
    rows = dist.shard(n, GROUP, seed=3, epoch=2)
    np.add.at(counts, rows, 1.0)
    seen = GROUP.allreduce(Tensor(counts), "sum").numpy()
    padding = -(-n // GROUP.size) * GROUP.size - n
    assert len(rows) == -(-n // GROUP.size)
    assert (seen == 1).sum() == n - padding and (seen == 2).sum() == padding
    assert not np.array_equal(rows, dist.shard(n, GROUP, seed=3, epoch=3))
