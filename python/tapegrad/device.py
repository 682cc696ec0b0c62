"""Device: where a Value or Tensor lives (micrograd_rs's Device).

    Device.cpu(); Device.cuda(0); Device.is_cuda_available()

Device.cuda(i) works where libtapegrad was built with --config=cuda and a GPU
answers (Device.is_cuda_available()); elsewhere asking to put data there raises
NotImplementedError with the reason, never a silent copy to the CPU.
"""

from tapegrad._lib import lib


class Device:
    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=0):
        if type not in ("cpu", "cuda"):
            raise ValueError("Device: type must be 'cpu' or 'cuda', not %r" % (type,))
        if not isinstance(index, int) or not 0 <= index < 2**31:  # the C ABI's int
            raise ValueError("Device: index must be an int in [0, 2**31), not %r" % (index,))
        self.type = type
        self.index = index

    @staticmethod
    def cpu():
        return Device("cpu", 0)

    @staticmethod
    def cuda(index=0):
        return Device("cuda", index)

    @staticmethod
    def is_cuda_available():
        return bool(lib.tg_cuda_available())

    @staticmethod
    def cuda_device_count():
        """The number of CUDA devices (0 without the CUDA backend or a GPU)."""
        return int(lib.tg_cuda_device_count())

    @staticmethod
    def of(device):
        """A Device from a Device or a string such as 'cpu' or 'cuda:1'."""
        if isinstance(device, Device):
            return device
        if isinstance(device, str):
            kind, _, index = device.partition(":")
            return Device(kind, int(index) if index else 0)
        raise TypeError("expected a Device or a string like 'cuda:0', not %s"
                        % type(device).__name__)

    @property
    def is_cpu(self):
        return self.type == "cpu"

    @property
    def is_cuda(self):
        return self.type == "cuda"

    def require_available(self, what):
        if self.is_cuda and not Device.is_cuda_available():
            raise NotImplementedError(
                "%s: device %s is not available: this libtapegrad has no CUDA backend "
                "(build with --config=cuda) or no GPU (Device.is_cuda_available() is "
                "False)" % (what, self))

    def __eq__(self, other):
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return "cpu" if self.is_cpu else "cuda:%d" % self.index

    def __repr__(self):
        return "Device(%r)" % str(self)
