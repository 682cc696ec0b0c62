// Ops of several tensors through the C ABI that are not elementwise binaries:
// where, index_select, and concatenate / stack over a caller's array of handles.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"
#include "core/tensor_ops.h"

using tapegrad::Tensor;
using tapegrad::capi::ResultOf;

namespace tapegrad::capi {
namespace {

// Hands back join(tensors, axis) for the caller's `n` handles, every one checked
// first and named by its position ("tensors[2]") when it is not usable.
template <class Join>
tg_status JoinTensors(const char* call, const tg_tensor* const* tensors, size_t n,
                      int64_t axis, tg_tensor** out, Join&& join) {
  if (out == nullptr) return NullArgument(call, "out");
  if (tensors == nullptr && n != 0) return NullArgument(call, "tensors");
  return Guard(call, [&]() -> tg_status {
    std::vector<Tensor> parts;
    parts.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const std::string operand = absl::StrFormat("tensors[%d]", i);
      if (tg_status s = Live(call, operand.c_str(), tensors[i])) return s;
      parts.push_back(tensors[i]->tensor);
    }
    return NewTensor(call, join(parts, axis), out);
  });
}

}  // namespace
}  // namespace tapegrad::capi

extern "C" {

tg_status tg_tensor_where(const tg_tensor* cond, const tg_tensor* a, const tg_tensor* b,
                          tg_tensor** out) {
  return ResultOf("tg_tensor_where", {{"cond", cond}, {"a", a}, {"b", b}}, out,
                  [&] { return tapegrad::Where(cond->tensor, a->tensor, b->tensor); });
}

tg_status tg_tensor_index_select(const tg_tensor* x, const tg_tensor* indices,
                                 tg_tensor** out) {
  return ResultOf("tg_tensor_index_select", {{"x", x}, {"indices", indices}}, out,
                  [&] { return tapegrad::IndexSelect(x->tensor, indices->tensor); });
}

tg_status tg_tensor_concatenate(const tg_tensor* const* tensors, size_t n, int64_t axis,
                                tg_tensor** out) {
  return tapegrad::capi::JoinTensors("tg_tensor_concatenate", tensors, n, axis, out,
                                     [](const std::vector<Tensor>& parts, int64_t a) {
                                       return tapegrad::Concatenate(parts, a);
                                     });
}

tg_status tg_tensor_stack(const tg_tensor* const* tensors, size_t n, int64_t axis,
                          tg_tensor** out) {
  return tapegrad::capi::JoinTensors("tg_tensor_stack", tensors, n, axis, out,
                                     [](const std::vector<Tensor>& parts, int64_t a) {
                                       return tapegrad::Stack(parts, a);
                                     });
}

}  // extern "C"
