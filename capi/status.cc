// Status codes, the thread's last error message, and versions.
#include "absl/status/status.h"

#include <string>

#include "absl/strings/str_format.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"

namespace tapegrad::capi {
namespace {

// One buffer per thread, so a message stays valid while other threads fail.
std::string& LastError() {
  thread_local std::string message;
  return message;
}

}  // namespace

tg_status Fail(const absl::Status& status) {
  if (status.ok()) return TG_OK;
  LastError().assign(status.message().data(), status.message().size());
  return static_cast<tg_status>(status.code());
}

tg_status Fail(absl::StatusCode code, const std::string& message) {
  LastError() = message;
  return static_cast<tg_status>(code);
}

tg_status DeviceOf(const char* call, tg_device_type type, int index, Device* out) {
  if ((type != TG_CPU && type != TG_CUDA) || index < 0 ||
      (type == TG_CPU && index != 0)) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("%s: no device of type %d and index %d", call,
                                static_cast<int>(type), index));
  }
  *out = type == TG_CPU ? Device::Cpu() : Device::Cuda(index);
  return TG_OK;
}

tg_status NullArgument(const char* call, const char* what) {
  return Fail(absl::StatusCode::kInvalidArgument,
              absl::StrFormat("%s: %s is NULL", call, what));
}

tg_status WriteText(const char* call, const std::string& text, char* buf, size_t capacity,
                    size_t* length) {
  TG_CAPI_NOT_NULL(call, length);
  if (buf == nullptr && capacity != 0) return NullArgument(call, "buf");
  *length = text.size();
  if (capacity != 0) {
    const size_t n = text.size() < capacity ? text.size() : capacity - 1;
    std::memcpy(buf, text.data(), n);
    buf[n] = '\0';
  }
  return TG_OK;
}

}  // namespace tapegrad::capi

extern "C" {

const char* tg_version(void) { return "1.0.0"; }

int tg_abi_version(void) { return TG_ABI_VERSION; }

const char* tg_status_name(int status) {
  switch (status) {
    case TG_OK:
      return "OK";
    case TG_CANCELLED:
      return "CANCELLED";
    case TG_UNKNOWN:
      return "UNKNOWN";
    case TG_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case TG_DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case TG_NOT_FOUND:
      return "NOT_FOUND";
    case TG_ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case TG_PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case TG_RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case TG_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case TG_ABORTED:
      return "ABORTED";
    case TG_OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case TG_UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case TG_INTERNAL:
      return "INTERNAL";
    case TG_UNAVAILABLE:
      return "UNAVAILABLE";
    case TG_DATA_LOSS:
      return "DATA_LOSS";
    case TG_UNAUTHENTICATED:
      return "UNAUTHENTICATED";
  }
  return "UNKNOWN_STATUS";
}

const char* tg_last_error_message(void) { return tapegrad::capi::LastError().c_str(); }

}  // extern "C"
