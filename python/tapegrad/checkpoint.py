"""Checkpoints in the safetensors format (nn/checkpoint.h does the work).

    tapegrad.save({"w": w, "b": b}, "model.safetensors")   # Tensors or arrays
    state = tapegrad.load("model.safetensors")             # {"w": Tensor, ...}
    model.save("mlp.safetensors", optimizer=adam)          # a TensorMLP / Linear
    model.load("mlp.safetensors", optimizer=adam)

Files are safetensors (an 8-byte header length, a JSON header, little-endian
data), readable by any safetensors reader; dtypes float32, float64 and int64.
Writes are atomic (a crash leaves the old file or the new one). A corrupt file is a
DataLossError (a ValueError), a model that does not match an InvalidArgumentError
naming the tensor; nothing is loaded then.
"""

import ctypes
import os

import numpy as np

from tapegrad import _lib
from tapegrad.tensor import Tensor

_c = _lib.lib


def _path(op, path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("%s: path must be a str or os.PathLike, not %s"
                        % (op, type(path).__name__))
    return os.fsencode(path)


def save(tensors, path):
    """Writes a mapping of names to Tensors (or arrays) to `path`, atomically."""
    if not hasattr(tensors, "items"):
        raise TypeError("save: tensors must be a mapping of names to Tensors, not %s"
                        % type(tensors).__name__)
    names, handles, keep = [], [], []
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError("save: names must be str, not %s" % type(name).__name__)
        if not isinstance(t, Tensor):
            array = np.asarray(t)
            t = Tensor(array, dtype=array.dtype)
        keep.append(t)
        names.append(name.encode())
        handles.append(t._h)
    count = len(names)
    _lib.check(_c.tg_tensors_save(_path("save", path), (ctypes.c_char_p * count)(*names),
                                  (ctypes.c_void_p * count)(*handles), count))


def load(path):
    """Every tensor of a safetensors file, as {name: Tensor} in file order."""
    out = ctypes.c_void_p()
    _lib.check(_c.tg_tensors_load(_path("load", path), ctypes.byref(out)))
    try:
        count = ctypes.c_size_t()
        _lib.check(_c.tg_tensor_list_size(out, ctypes.byref(count)))
        result = {}
        for i in range(count.value):
            name, handle = ctypes.c_char_p(), ctypes.c_void_p()
            _lib.check(_c.tg_tensor_list_get(out, i, ctypes.byref(name),
                                             ctypes.byref(handle)))
            result[name.value.decode()] = Tensor._from_heap(handle.value)
        return result
    finally:
        _c.tg_tensor_list_destroy(out)


def save_module(handle, optimizer, path):
    _lib.check(_c.tg_module_save(handle, optimizer._handle if optimizer else None,
                                 _path("save", path)))


def load_module(handle, optimizer, path):
    _lib.check(_c.tg_module_load(handle, optimizer._handle if optimizer else None,
                                 _path("load", path)))
