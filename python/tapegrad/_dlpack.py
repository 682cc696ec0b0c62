"""DLPack capsules ("dltensor" PyCapsules) over libtapegrad's DLManagedTensor.

The protocol: a producer returns a capsule named "dltensor" holding a
DLManagedTensor*; a consumer takes the pointer, renames the capsule
"used_dltensor" and calls the tensor's deleter when done. A capsule nobody
consumed calls the deleter from its destructor.
"""

import ctypes

from tapegrad import _lib

_api = ctypes.pythonapi
_DLTENSOR = b"dltensor"
_USED = b"used_dltensor"

_api.PyCapsule_New.restype = ctypes.py_object
_api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_SetName.restype = ctypes.c_int
_api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]


class _DLTensorHead(ctypes.Structure):
    # DLTensor (v0.6): data, device {type, id}, ndim, dtype {code, bits, lanes},
    # shape, strides, byte_offset.
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32),
                ("device_id", ctypes.c_int32), ("ndim", ctypes.c_int32),
                ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("byte_offset", ctypes.c_uint64)]


_Deleter = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensorHead), ("manager_ctx", ctypes.c_void_p),
                ("deleter", _Deleter)]


# The destructor gets the dying capsule's address: it must not be turned into a
# py_object (that would take a reference to an object being freed).
_is_valid_raw = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_IsValid", _api))
_get_pointer_raw = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", _api))


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)
def _capsule_destructor(capsule_address):
    if _is_valid_raw(capsule_address, _DLTENSOR):  # nobody consumed it
        pointer = _get_pointer_raw(capsule_address, _DLTENSOR)
        managed = _DLManagedTensor.from_address(pointer)
        if managed.deleter:
            managed.deleter(pointer)


def new_capsule(managed_address):
    return _api.PyCapsule_New(managed_address, _DLTENSOR,
                              ctypes.cast(_capsule_destructor, ctypes.c_void_p))


def consume_capsule(capsule):
    """A tg_tensor* that owns the capsule's tensor (the capsule is marked used)."""
    if not _api.PyCapsule_IsValid(capsule, _DLTENSOR):
        raise ValueError("from_dlpack: not an unconsumed 'dltensor' capsule")
    pointer = _api.PyCapsule_GetPointer(capsule, _DLTENSOR)
    out = ctypes.c_void_p()
    _lib.check(_lib.lib.tg_tensor_from_dlpack(pointer, ctypes.byref(out)))
    _api.PyCapsule_SetName(capsule, _USED)
    return out.value
