// Copies between devices: Tensor::To and the host copies behind element reads.
// Copies are explicit; no op moves data between devices on its own.
#include <cstring>

#include "absl/strings/str_format.h"
#include "core/internal/device_memory.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"

namespace tapegrad {
namespace internal {
absl::Status CopyBytes(TensorImpl& dst, const TensorImpl& src) {
  const size_t bytes = static_cast<size_t>(src.numel()) * DTypeSize(src.dtype);
  if (bytes == 0) return absl::OkStatus();
  if (src.device.is_cpu() && dst.device.is_cpu()) {
    std::memcpy(dst.data(), src.data(), bytes);
    return absl::OkStatus();
  }
  const Device device = src.device.is_cpu() ? dst.device : src.device;
  DeviceMemory* memory = DeviceMemoryFor(device.type);
  if (memory == nullptr) return NoDeviceMemory(device);
  if (dst.device.is_cpu())
    return memory->CopyToHost(dst.data(), src.device, src.data(), bytes);
  if (src.device.is_cpu()) {
    return memory->CopyFromHost(dst.device, dst.data(), src.data(), bytes);
  }
  if (src.device.type != dst.device.type) {
    const TensorImpl* operands[] = {&src, &dst};
    return OpError("to", operands,
                   "copies between two kinds of device go through the cpu");
  }
  return memory->CopyOnDevice(dst.device, dst.data(), src.device, src.data(), bytes);
}

absl::StatusOr<TensorImpl*> CopyToDevice(Tape* tape, const TensorImpl& t, Device device) {
  // The source is made contiguous on its own device first, so that one block copy
  // moves it.
  TensorImpl* packed = nullptr;
  if (!t.layout.IsContiguous()) {
    TG_ASSIGN_OR_RETURN(packed, RunUnary(nullptr, OpKind::kCopy, t));
  }
  const TensorImpl& src = packed != nullptr ? *packed : t;
  absl::StatusOr<TensorImpl*> out = NewResult(tape, t.layout.shape(), t.dtype, device);
  absl::Status copied = out.ok() ? CopyBytes(**out, src) : out.status();
  if (packed != nullptr) packed->Unref();
  if (!copied.ok()) {
    if (out.ok()) return Discard(*out, copied);
    return copied;
  }
  return out;
}

}  // namespace internal

Tensor Tensor::To(Device device) const {
  Tape* tape = nullptr;
  const Tensor* operands[] = {this};
  if (absl::Status s = internal::Place("to", operands, &tape); !s.ok()) {
    return internal::Fail(tape, s);
  }
  if (device == impl_->device) return *this;
  absl::StatusOr<TensorImpl*> out = internal::CopyToDevice(tape, *impl_, device);
  if (!out.ok()) {
    return internal::Fail(
        tape,
        absl::Status(out.status().code(), absl::StrFormat("to(%s): %s", device.ToString(),
                                                          out.status().message())));
  }
  return internal::Finish(tape, *out, internal::GradOp::kToDevice, {impl_});
}

}  // namespace tapegrad
