#include "core/dtype.h"

#include "absl/strings/str_cat.h"
#include "core/device.h"

namespace tapegrad {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF64:
      return "f64";
    case DType::kI64:
      return "i64";
  }
  return "invalid dtype";
}

const char* DeviceTypeName(DeviceType t) {
  switch (t) {
    case DeviceType::kCpu:
      return "cpu";
    case DeviceType::kCuda:
      return "cuda";
  }
  return "invalid device";
}

std::string Device::ToString() const {
  if (type == DeviceType::kCpu) return "cpu";
  return absl::StrCat(DeviceTypeName(type), ":", index);
}

}  // namespace tapegrad
