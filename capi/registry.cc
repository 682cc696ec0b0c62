// The kernel registry's contents, whether CUDA can be used, and the CPU kernels'
// thread count.
#include "core/internal/registry.h"

#include <vector>

#include "capi/internal.h"
#include "capi/tapegrad.h"
#include "core/internal/op_kind.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cuda/cuda.h"

extern "C" {

tg_status tg_registry_kernels(tg_kernel_info* out, size_t capacity, size_t* count) {
  constexpr char kCall[] = "tg_registry_kernels";
  TG_CAPI_NOT_NULL(kCall, count);
  if (out == nullptr && capacity != 0) return tapegrad::capi::NullArgument(kCall, "out");
  return tapegrad::capi::Guard(kCall, [&] {
    const std::vector<tapegrad::KernelKey> keys =
        tapegrad::KernelRegistry::Global().List();
    *count = keys.size();
    for (size_t i = 0; i < keys.size() && i < capacity; ++i) {
      out[i] = tg_kernel_info{tapegrad::OpKindName(keys[i].op),
                              static_cast<tg_dtype>(keys[i].dtype),
                              static_cast<tg_device_type>(keys[i].device)};
    }
    return TG_OK;
  });
}

// False in a build without --config=cuda and on machines without a GPU.
int tg_cuda_available(void) { return tapegrad::cuda::IsAvailable() ? 1 : 0; }

int tg_cuda_device_count(void) { return tapegrad::cuda::DeviceCount(); }

tg_status tg_set_num_threads(int n) {
  if (n < 1) {
    return tapegrad::capi::Fail(
        absl::StatusCode::kInvalidArgument,
        absl::StrFormat("tg_set_num_threads: n = %d; at least one thread", n));
  }
  tapegrad::cpu::SetNumThreads(n);
  return TG_OK;
}

tg_status tg_num_threads(int* out) {
  TG_CAPI_NOT_NULL("tg_num_threads", out);
  *out = tapegrad::cpu::NumThreads();
  return TG_OK;
}

}  // extern "C"
