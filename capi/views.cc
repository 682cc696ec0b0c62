// Views through the C ABI: reshape, transpose, permute, slice, expand, squeeze,
// unsqueeze, and contiguous() for when a view must become plain memory again.
#include <cstdint>

#include "absl/types/span.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"

using tapegrad::Tensor;
using tapegrad::capi::MapTensor;
using tapegrad::capi::NullArgument;

extern "C" {

tg_status tg_tensor_reshape(const tg_tensor* x, const int64_t* shape, size_t ndim,
                            tg_tensor** out) {
  if (shape == nullptr && ndim != 0) return NullArgument("tg_tensor_reshape", "shape");
  return MapTensor("tg_tensor_reshape", x, out, [&](const Tensor& t) {
    return t.Reshape(absl::MakeConstSpan(shape, ndim));
  });
}

tg_status tg_tensor_transpose(const tg_tensor* x, int64_t a, int64_t b, tg_tensor** out) {
  return MapTensor("tg_tensor_transpose", x, out,
                   [=](const Tensor& t) { return t.Transpose(a, b); });
}

tg_status tg_tensor_permute(const tg_tensor* x, const int64_t* order, size_t ndim,
                            tg_tensor** out) {
  if (order == nullptr && ndim != 0) return NullArgument("tg_tensor_permute", "order");
  return MapTensor("tg_tensor_permute", x, out, [&](const Tensor& t) {
    return t.Permute(absl::MakeConstSpan(order, ndim));
  });
}

tg_status tg_tensor_slice(const tg_tensor* x, int64_t axis, int64_t start, int64_t stop,
                          int64_t step, tg_tensor** out) {
  return MapTensor("tg_tensor_slice", x, out,
                   [=](const Tensor& t) { return t.Slice(axis, start, stop, step); });
}

tg_status tg_tensor_expand(const tg_tensor* x, const int64_t* shape, size_t ndim,
                           tg_tensor** out) {
  if (shape == nullptr && ndim != 0) return NullArgument("tg_tensor_expand", "shape");
  return MapTensor("tg_tensor_expand", x, out, [&](const Tensor& t) {
    return t.Expand(absl::MakeConstSpan(shape, ndim));
  });
}

tg_status tg_tensor_squeeze(const tg_tensor* x, int64_t axis, tg_tensor** out) {
  return MapTensor("tg_tensor_squeeze", x, out,
                   [axis](const Tensor& t) { return t.Squeeze(axis); });
}

tg_status tg_tensor_unsqueeze(const tg_tensor* x, int64_t axis, tg_tensor** out) {
  return MapTensor("tg_tensor_unsqueeze", x, out,
                   [axis](const Tensor& t) { return t.Unsqueeze(axis); });
}

tg_status tg_tensor_contiguous(const tg_tensor* x, tg_tensor** out) {
  return MapTensor("tg_tensor_contiguous", x, out,
                   [](const Tensor& t) { return t.Contiguous(); });
}

}  // extern "C"
