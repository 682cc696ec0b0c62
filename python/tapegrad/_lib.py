"""Loads libtapegrad.so and the extension module, and declares the C ABI
(capi/tapegrad.h) for ctypes.

The library is found, in order, at $TAPEGRAD_LIBRARY, next to this package
(an installed layout), or as capi/libtapegrad.so in the Bazel runfiles or build
output above this file (`bazel build //python:tapegrad` in a checkout). A process
that mpirun started (or one with TAPEGRAD_DIST=1) looks for libtapegrad_dist.so
first at each place: the same library plus tapegrad.dist's calls, linking Open MPI,
which libtapegrad.so does without. The
extension module tapegrad._engine (python/ext) sits next to this file, or in the
build output's python/tapegrad; it takes its tg_* symbols from this library,
which is therefore loaded with RTLD_GLOBAL first.

The library is loaded with ctypes.PyDLL: calls keep the GIL. They are short (a
scalar op is tens of nanoseconds of C), so releasing and re-taking the GIL would
cost more than the call, and holding it means no two threads are ever inside the
library's per-tape state at once.
"""

import ctypes
import importlib.machinery
import importlib.util
import os
import sys

from tapegrad import errors

_HERE = os.path.dirname(os.path.abspath(__file__))


def _wants_dist():
    """Whether this process is a rank of an MPI job (Open MPI's mpirun sets
    OMPI_COMM_WORLD_SIZE), or asks for tapegrad.dist with TAPEGRAD_DIST=1."""
    return ("OMPI_COMM_WORLD_SIZE" in os.environ
            or os.environ.get("TAPEGRAD_DIST") == "1")


def _candidates():
    env = os.environ.get("TAPEGRAD_LIBRARY")
    if env:
        yield env
    names = (["libtapegrad_dist.so"] if _wants_dist() else []) + ["libtapegrad.so"]
    # Bazel runfiles put the package at <runfiles>/tapegrad/python/tapegrad and the
    # library at <runfiles>/tapegrad/capi; a checkout has it under bazel-bin/capi.
    root = os.path.dirname(os.path.dirname(_HERE))
    for folder in (_HERE, os.path.join(root, "capi"), os.path.join(root, "bazel-bin", "capi")):
        for name in names:
            yield os.path.join(folder, name)


def _load():
    tried = []
    for path in _candidates():
        if os.path.exists(path):
            return ctypes.PyDLL(path, mode=ctypes.RTLD_GLOBAL)
        tried.append(path)
    raise ImportError(
        "tapegrad: libtapegrad.so not found (tried %s); build it with "
        "`bazel build //capi:libtapegrad.so` or set TAPEGRAD_LIBRARY" % ", ".join(tried))


lib = _load()


def load_engine():
    """The extension module tapegrad._engine, imported normally when it sits in the
    package, else from the Bazel build output of a checkout."""
    try:
        from tapegrad import _engine
        return _engine
    except ImportError:
        pass
    root = os.path.dirname(os.path.dirname(_HERE))
    path = os.path.join(root, "bazel-bin", "python", "tapegrad", "_engine.so")
    if not os.path.exists(path):
        raise ImportError("tapegrad: the extension module _engine.so is not built (tried "
                          "%s and %s); run `bazel build //python:tapegrad`" % (_HERE, path))
    loader = importlib.machinery.ExtensionFileLoader("tapegrad._engine", path)
    spec = importlib.util.spec_from_file_location("tapegrad._engine", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tapegrad._engine"] = module
    loader.exec_module(module)
    return module

c_p = ctypes.c_void_p
u64 = ctypes.c_uint64
i64 = ctypes.c_int64
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1  # the range of the C ABI's int64_t
f64 = ctypes.c_double
size_t = ctypes.c_size_t
c_int = ctypes.c_int
P = ctypes.POINTER


class TapeStats(ctypes.Structure):
    _fields_ = [(name, u64) for name in (
        "values", "slot_bytes", "arena_bytes_used", "arena_bytes_reserved",
        "arena_chunks", "arena_high_water_bytes")]


class KernelInfo(ctypes.Structure):
    _fields_ = [("op", ctypes.c_char_p), ("dtype", c_int), ("device", c_int)]


_SIGNATURES = {
    # status, versions
    "tg_version": (ctypes.c_char_p, []),
    "tg_abi_version": (c_int, []),
    "tg_status_name": (ctypes.c_char_p, [c_int]),
    "tg_last_error_message": (ctypes.c_char_p, []),
    # tapes
    "tg_tape_create": (c_int, [u64, P(c_p)]),
    "tg_tape_destroy": (None, [c_p]),
    "tg_tape_set_current": (c_int, [c_p]),
    "tg_tape_reset": (c_int, [c_p]),
    "tg_tape_stats_get": (c_int, [c_p, P(TapeStats)]),
    "tg_no_grad_enter": (c_int, []),
    "tg_no_grad_exit": (c_int, []),
    "tg_is_grad_enabled": (c_int, []),
    # (scalar values are the extension module's: python/ext)
    # tensors
    "tg_tensor_from_buffer": (c_int, [c_p, c_int, P(i64), size_t, c_int, P(c_p)]),
    "tg_tensor_destroy": (None, [c_p]),
    "tg_tensor_ndim": (c_int, [c_p, P(size_t)]),
    "tg_tensor_shape": (c_int, [c_p, P(i64), size_t]),
    "tg_tensor_dtype": (c_int, [c_p, P(c_int)]),
    "tg_tensor_device": (c_int, [c_p, P(c_int), P(c_int)]),
    "tg_tensor_numel": (c_int, [c_p, P(i64)]),
    "tg_tensor_to_buffer": (c_int, [c_p, c_p, size_t]),
    "tg_tensor_format": (c_int, [c_p, ctypes.c_char_p, size_t, P(size_t)]),
    "tg_tensor_unary": (c_int, [c_int, c_p, P(c_p)]),
    "tg_tensor_unary_with": (c_int, [c_int, c_p, f64, f64, P(c_p)]),
    "tg_tensor_binary": (c_int, [c_int, c_p, c_p, P(c_p)]),
    "tg_tensor_pow": (c_int, [c_p, f64, P(c_p)]),
    "tg_tensor_reduce": (c_int, [c_int, c_p, P(i64), size_t, c_int, P(c_p)]),
    "tg_tensor_arg_reduce": (c_int, [c_int, c_p, P(i64), c_int, P(c_p)]),
    "tg_tensor_softmax": (c_int, [c_p, i64, c_int, P(c_p)]),
    "tg_tensor_reshape": (c_int, [c_p, P(i64), size_t, P(c_p)]),
    "tg_tensor_transpose": (c_int, [c_p, i64, i64, P(c_p)]),
    "tg_tensor_permute": (c_int, [c_p, P(i64), size_t, P(c_p)]),
    "tg_tensor_slice": (c_int, [c_p, i64, i64, i64, i64, P(c_p)]),
    "tg_tensor_expand": (c_int, [c_p, P(i64), size_t, P(c_p)]),
    "tg_tensor_squeeze": (c_int, [c_p, i64, P(c_p)]),
    "tg_tensor_unsqueeze": (c_int, [c_p, i64, P(c_p)]),
    "tg_tensor_contiguous": (c_int, [c_p, P(c_p)]),
    "tg_tensor_clamp": (c_int, [c_p, f64, f64, P(c_p)]),
    "tg_tensor_where": (c_int, [c_p, c_p, c_p, P(c_p)]),
    "tg_tensor_index_select": (c_int, [c_p, c_p, P(c_p)]),
    "tg_tensor_concatenate": (c_int, [P(c_p), size_t, i64, P(c_p)]),
    "tg_tensor_stack": (c_int, [P(c_p), size_t, i64, P(c_p)]),
    "tg_tensor_conv2d": (c_int, [c_p, c_p, c_p, P(i64), P(i64), P(i64), i64, P(c_p)]),
    "tg_tensor_pool2d": (c_int, [c_int, c_p, P(i64), P(i64), P(i64), P(i64), c_int,
                                 P(c_p)]),
    "tg_tensor_adaptive_avg_pool2d": (c_int, [c_p, P(i64), P(c_p)]),
    "tg_tensor_batch_norm": (c_int, [c_p, c_p, c_p, c_p, c_p, c_int, f64, f64, P(c_p)]),
    "tg_tensor_batch_norm_relu": (c_int, [c_p, c_p, c_p, c_p, c_p, c_int, f64, f64,
                                          P(c_p)]),
    "tg_tensor_layer_norm": (c_int, [c_p, i64, c_p, c_p, f64, P(c_p)]),
    "tg_tensor_embedding": (c_int, [c_p, c_p, P(c_p)]),
    "tg_tensor_flatten": (c_int, [c_p, i64, i64, P(c_p)]),
    "tg_tensor_set_requires_grad": (c_int, [c_p, c_int]),
    "tg_tensor_requires_grad": (c_int, [c_p, P(c_int)]),
    "tg_tensor_grad": (c_int, [c_p, P(c_p)]),
    "tg_tensor_zero_grad": (c_int, [c_p]),
    "tg_tensor_backward": (c_int, [c_p]),
    "tg_tensor_detach": (c_int, [c_p, P(c_p)]),
    "tg_tensor_to": (c_int, [c_p, c_int, c_int, P(c_p)]),
    "tg_tensor_to_dlpack": (c_int, [c_p, P(c_p)]),
    "tg_tensor_from_dlpack": (c_int, [c_p, P(c_p)]),
    # nn
    "tg_linear_create": (c_int, [i64, i64, c_int, c_int, u64, P(c_p)]),
    "tg_mlp_create": (c_int, [i64, P(i64), size_t, c_int, c_int, u64, P(c_p)]),
    "tg_module_destroy": (None, [c_p]),
    "tg_module_forward": (c_int, [c_p, c_p, P(c_p)]),
    "tg_module_parameters": (c_int, [c_p, P(c_p), size_t, P(size_t)]),
    "tg_module_zero_grad": (c_int, [c_p]),
    "tg_module_to": (c_int, [c_p, c_int, c_int]),
    "tg_module_train": (c_int, [c_p, c_int]),
    "tg_module_format": (c_int, [c_p, ctypes.c_char_p, size_t, P(size_t)]),
    "tg_sgd_create": (c_int, [P(c_p), size_t, f64, f64, f64, c_int, P(c_p)]),
    "tg_adam_create": (c_int, [P(c_p), size_t, f64, f64, f64, f64, f64, c_int, P(c_p)]),
    "tg_optimizer_destroy": (None, [c_p]),
    "tg_optimizer_step": (c_int, [c_p]),
    "tg_optimizer_zero_grad": (c_int, [c_p]),
    "tg_optimizer_set_lr": (c_int, [c_p, f64]),
    "tg_optimizer_lr": (c_int, [c_p, P(f64)]),
    # checkpoints (safetensors)
    "tg_tensors_save": (c_int, [ctypes.c_char_p, P(ctypes.c_char_p), P(c_p), size_t]),
    "tg_tensors_load": (c_int, [ctypes.c_char_p, P(c_p)]),
    "tg_tensor_list_size": (c_int, [c_p, P(size_t)]),
    "tg_tensor_list_get": (c_int, [c_p, size_t, P(ctypes.c_char_p), P(c_p)]),
    "tg_tensor_list_destroy": (None, [c_p]),
    "tg_module_save": (c_int, [c_p, c_p, ctypes.c_char_p]),
    "tg_module_load": (c_int, [c_p, c_p, ctypes.c_char_p]),
    # registry
    "tg_op_name": (ctypes.c_char_p, [c_int, c_int]),
    "tg_registry_kernels": (c_int, [P(KernelInfo), size_t, P(size_t)]),
    "tg_cuda_available": (c_int, []),
    "tg_cuda_device_count": (c_int, []),
    "tg_set_num_threads": (c_int, [c_int]),
    "tg_num_threads": (c_int, [P(c_int)]),
}

# Only in libtapegrad_dist.so (capi/tapegrad_dist.h).
DIST_SIGNATURES = {
    "tg_process_group_mpi": (c_int, [i64, P(c_p)]),
    "tg_process_group_nccl": (c_int, [c_p, c_int, i64, P(c_p)]),
    "tg_process_group_destroy": (None, [c_p]),
    "tg_process_group_rank": (c_int, [c_p, P(c_int), P(c_int)]),
    "tg_process_group_allreduce": (c_int, [c_p, c_p, c_int]),
    "tg_process_group_broadcast": (c_int, [c_p, c_p, c_int]),
    "tg_process_group_barrier": (c_int, [c_p]),
    "tg_data_parallel_create": (c_int, [c_p, P(c_p), size_t, P(c_p), size_t, i64, c_int,
                                        P(c_p)]),
    "tg_data_parallel_destroy": (None, [c_p]),
    "tg_data_parallel_average_gradients": (c_int, [c_p]),
}

has_dist = hasattr(lib, "tg_process_group_mpi")

for _name, (_restype, _argtypes) in list(_SIGNATURES.items()) + (
        list(DIST_SIGNATURES.items()) if has_dist else []):
    _fn = getattr(lib, _name)
    _fn.restype = _restype
    _fn.argtypes = _argtypes

if lib.tg_abi_version() != 1:
    raise ImportError("tapegrad: libtapegrad.so has ABI version %d, this package "
                      "speaks version 1" % lib.tg_abi_version())


# The C ABI's op families (tg_op_family), as tg_op_name numbers them.
UNARY, BINARY, REDUCE, ARG_REDUCE = 0, 1, 2, 3


def op_numbers(family):
    """{name: number} of one family of ops, as the library names them (numbers run
    0, 1, 2, ... until tg_op_name answers NULL), so none is copied by hand."""
    numbers = {}
    while True:
        name = lib.tg_op_name(family, len(numbers))
        if name is None:
            return numbers
        numbers[name.decode()] = len(numbers)


def raise_status(status):
    """Raises the exception for a failed call's status and this thread's message."""
    message = lib.tg_last_error_message().decode("utf-8", "replace")
    raise errors.from_status(status, message)


def check(status):
    if status:
        raise_status(status)


def read_text(fn, handle):
    """Calls a tg_*_format function, growing the buffer to the text's length."""
    length = size_t()
    check(fn(handle, None, 0, ctypes.byref(length)))
    buf = ctypes.create_string_buffer(length.value + 1)
    check(fn(handle, buf, len(buf), ctypes.byref(length)))
    return buf.value.decode("utf-8")
