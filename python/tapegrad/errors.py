"""Python exceptions for the C ABI's status codes.

Every failure of the library is a TapegradError, and also the built-in exception a
Python programmer expects: a bad shape or argument is a ValueError, a stale value
(its graph was freed by a rewind, a step scope or compaction) a RuntimeError, a
memory limit a MemoryError, a missing file a FileNotFoundError, a corrupt file
a ValueError (DataLossError), a failed write an OSError, an absent feature (such
as CUDA in a CPU build) a NotImplementedError.
"""


class TapegradError(Exception):
    """Base of every error raised by tapegrad; .status is the C status name."""

    status = "UNKNOWN"


class InvalidArgumentError(TapegradError, ValueError):
    status = "INVALID_ARGUMENT"


class StaleValueError(TapegradError, RuntimeError):
    status = "FAILED_PRECONDITION"


class ResourceExhaustedError(TapegradError, MemoryError):
    status = "RESOURCE_EXHAUSTED"


class NotFoundError(TapegradError, FileNotFoundError):
    status = "NOT_FOUND"


class UnimplementedError(TapegradError, NotImplementedError):
    status = "UNIMPLEMENTED"


class UnavailableError(TapegradError, OSError):
    status = "UNAVAILABLE"


class DataLossError(TapegradError, ValueError):
    status = "DATA_LOSS"


class InternalError(TapegradError, RuntimeError):
    status = "INTERNAL"


_BY_CODE = {
    3: InvalidArgumentError,
    5: NotFoundError,
    8: ResourceExhaustedError,
    9: StaleValueError,
    11: InvalidArgumentError,  # OUT_OF_RANGE: a bad index is a bad argument
    12: UnimplementedError,
    14: UnavailableError,
    15: DataLossError,
}


def from_status(code, message):
    return _BY_CODE.get(code, InternalError)(message)
