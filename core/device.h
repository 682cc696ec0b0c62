// Where a tensor's memory lives.
//
//   tapegrad::Device d = tapegrad::Device::Cpu();
//   tapegrad::Device g = tapegrad::Device::Cuda(0);
//   std::string s = d.ToString();                   // "cpu", "cuda:0"
//
// Ops never copy between devices on their own: operands on different devices are
// an error that names both. DeviceType numbers are part of the C ABI and of the
// kernel registry's key; new ones are appended.
//
// Thread safety: a plain value type.
#ifndef TAPEGRAD_CORE_DEVICE_H_
#define TAPEGRAD_CORE_DEVICE_H_

#include <cstdint>
#include <string>

namespace tapegrad {

enum class DeviceType : uint8_t { kCpu = 0, kCuda = 1 };
inline constexpr int kNumDeviceTypes = 2;
const char* DeviceTypeName(DeviceType t);

struct Device {
  DeviceType type = DeviceType::kCpu;
  int16_t index = 0;  // which GPU; always 0 on the CPU

  static constexpr Device Cpu() { return Device{DeviceType::kCpu, 0}; }
  static constexpr Device Cuda(int index = 0) {
    return Device{DeviceType::kCuda, static_cast<int16_t>(index)};
  }
  bool is_cpu() const { return type == DeviceType::kCpu; }
  std::string ToString() const;

  friend bool operator==(Device a, Device b) {
    return a.type == b.type && a.index == b.index;
  }
  friend bool operator!=(Device a, Device b) { return !(a == b); }
};

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_DEVICE_H_
