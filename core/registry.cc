#include "core/internal/registry.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tapegrad {

const char* OpKindName(OpKind op) {
  switch (op) {
#define TAPEGRAD_OP_NAME(e, name, in, out) \
  case OpKind::e:                          \
    return name;
    TAPEGRAD_OP_KINDS(TAPEGRAD_OP_NAME)
#undef TAPEGRAD_OP_NAME
  }
  return "invalid op";
}

KernelRegistry& KernelRegistry::Global() {
  static auto* registry = new KernelRegistry;
  return *registry;
}

absl::Status KernelRegistry::Register(KernelKey key, KernelFn fn, const char* where) {
  absl::MutexLock lock(&mu_);
  Entry& entry = table_[Index(key.op, key.dtype, key.device)];
  if (entry.fn.load(std::memory_order_relaxed) != nullptr) {
    return absl::AlreadyExistsError(absl::StrFormat(
        "kernel registry: (%s, %s, %s) is registered twice: at %s and at %s",
        OpKindName(key.op), DTypeName(key.dtype), DeviceTypeName(key.device), entry.where,
        where));
  }
  entry.where = where;
  entry.fn.store(fn, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status KernelRegistry::Missing(OpKind op, DType dtype, DeviceType device) const {
  std::vector<std::string> have;
  for (int t = 0; t < kNumDTypes; ++t) {
    for (int d = 0; d < kNumDeviceTypes; ++d) {
      if (FindOrNull(op, DType(t), DeviceType(d)) != nullptr) {
        have.push_back(absl::StrFormat("(%s, %s)", DTypeName(DType(t)),
                                       DeviceTypeName(DeviceType(d))));
      }
    }
  }
  return absl::UnimplementedError(
      absl::StrFormat("%s: no kernel for dtype %s on device %s; registered for: %s",
                      OpKindName(op), DTypeName(dtype), DeviceTypeName(device),
                      have.empty() ? "nothing (is the kernel library linked?)"
                                   : absl::StrJoin(have, ", ")));
}

std::vector<KernelKey> KernelRegistry::List() const {
  std::vector<KernelKey> keys;
  for (int op = 0; op < kNumOpKinds; ++op) {
    for (int t = 0; t < kNumDTypes; ++t) {
      for (int d = 0; d < kNumDeviceTypes; ++d) {
        if (FindOrNull(OpKind(op), DType(t), DeviceType(d)) != nullptr) {
          keys.push_back(KernelKey{OpKind(op), DType(t), DeviceType(d)});
        }
      }
    }
  }
  return keys;
}

absl::Status KernelRegistry::registration_status() const {
  absl::MutexLock lock(&mu_);
  return registration_status_;
}

KernelRegistration::KernelRegistration(KernelKey key, KernelFn fn, const char* where) {
  KernelRegistry& registry = KernelRegistry::Global();
  absl::Status status = registry.Register(key, fn, where);
  if (!status.ok()) {
    absl::MutexLock lock(&registry.mu_);
    if (registry.registration_status_.ok()) registry.registration_status_ = status;
  }
}

}  // namespace tapegrad
