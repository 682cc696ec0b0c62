// The C ABI's image ops (capi/tapegrad_image.h): argument checks, then the ops of
// core/tensor_ops.h.
#include <array>
#include <cstdint>

#include "capi/internal.h"
#include "capi/tapegrad.h"
#include "core/tensor_ops.h"

using tapegrad::Tensor;
using tapegrad::capi::Live;
using tapegrad::capi::NullArgument;
using tapegrad::capi::ResultOf;

namespace {

using Pair = std::array<int64_t, 2>;

Pair ToPair(const int64_t* p) { return {p[0], p[1]}; }

// An optional operand: Tensor() for NULL.
Tensor Optional(const tg_tensor* t) { return t == nullptr ? Tensor() : t->tensor; }

// NULL, or a live handle.
tg_status LiveOrNull(const char* call, const char* operand, const tg_tensor* t) {
  return t == nullptr ? TG_OK : Live(call, operand, t);
}

// tg_tensor_batch_norm and tg_tensor_batch_norm_relu: `op` is BatchNorm or
// BatchNormRelu.
template <class Op>
tg_status BatchNormCall(const char* call, const Op& op, const tg_tensor* x,
                        tg_tensor* running_mean, tg_tensor* running_var,
                        const tg_tensor* weight, const tg_tensor* bias, int training,
                        double momentum, double eps, tg_tensor** out) {
  for (auto [name, t] :
       {std::pair{"running_mean", running_mean}, std::pair{"running_var", running_var}}) {
    if (tg_status s = LiveOrNull(call, name, t)) return s;
  }
  if (tg_status s = LiveOrNull(call, "weight", weight)) return s;
  if (tg_status s = LiveOrNull(call, "bias", bias)) return s;
  return ResultOf(call, {{"x", x}}, out, [&] {
    // The running statistics are updated in place, through the caller's handles.
    Tensor none_mean, none_var;
    Tensor& mean = running_mean == nullptr ? none_mean : running_mean->tensor;
    Tensor& var = running_var == nullptr ? none_var : running_var->tensor;
    return op(x->tensor, mean, var, Optional(weight), Optional(bias), training != 0,
              momentum, eps);
  });
}

}  // namespace

extern "C" {

tg_status tg_tensor_conv2d(const tg_tensor* x, const tg_tensor* weight,
                           const tg_tensor* bias, const int64_t stride[2],
                           const int64_t padding[2], const int64_t dilation[2],
                           int64_t groups, tg_tensor** out) {
  constexpr char kCall[] = "tg_tensor_conv2d";
  TG_CAPI_NOT_NULL(kCall, stride);
  TG_CAPI_NOT_NULL(kCall, padding);
  TG_CAPI_NOT_NULL(kCall, dilation);
  if (tg_status s = LiveOrNull(kCall, "bias", bias)) return s;
  return ResultOf(kCall, {{"x", x}, {"weight", weight}}, out, [&] {
    tapegrad::Conv2dOptions o;
    o.stride = ToPair(stride);
    o.padding = ToPair(padding);
    o.dilation = ToPair(dilation);
    o.groups = groups;
    return bias == nullptr ? tapegrad::Conv2d(x->tensor, weight->tensor, o)
                           : tapegrad::Conv2d(x->tensor, weight->tensor, bias->tensor, o);
  });
}

tg_status tg_tensor_pool2d(int average, const tg_tensor* x, const int64_t kernel[2],
                           const int64_t stride[2], const int64_t padding[2],
                           const int64_t dilation[2], int count_include_pad,
                           tg_tensor** out) {
  constexpr char kCall[] = "tg_tensor_pool2d";
  TG_CAPI_NOT_NULL(kCall, kernel);
  TG_CAPI_NOT_NULL(kCall, stride);
  TG_CAPI_NOT_NULL(kCall, padding);
  TG_CAPI_NOT_NULL(kCall, dilation);
  if (average && (dilation[0] != 1 || dilation[1] != 1)) {
    return tapegrad::capi::Fail(absl::InvalidArgumentError(
        "tg_tensor_pool2d: average pooling has no dilation; pass {1, 1}"));
  }
  return ResultOf(kCall, {{"x", x}}, out, [&] {
    tapegrad::Pool2dOptions o;
    o.kernel = ToPair(kernel);
    o.stride = ToPair(stride);
    o.padding = ToPair(padding);
    o.dilation = ToPair(dilation);
    o.count_include_pad = count_include_pad != 0;
    return average ? tapegrad::AvgPool2d(x->tensor, o)
                   : tapegrad::MaxPool2d(x->tensor, o);
  });
}

tg_status tg_tensor_adaptive_avg_pool2d(const tg_tensor* x, const int64_t size[2],
                                        tg_tensor** out) {
  TG_CAPI_NOT_NULL("tg_tensor_adaptive_avg_pool2d", size);
  return ResultOf("tg_tensor_adaptive_avg_pool2d", {{"x", x}}, out,
                  [&] { return tapegrad::AdaptiveAvgPool2d(x->tensor, ToPair(size)); });
}

tg_status tg_tensor_batch_norm(const tg_tensor* x, tg_tensor* running_mean,
                               tg_tensor* running_var, const tg_tensor* weight,
                               const tg_tensor* bias, int training, double momentum,
                               double eps, tg_tensor** out) {
  return BatchNormCall("tg_tensor_batch_norm", tapegrad::BatchNorm, x, running_mean,
                       running_var, weight, bias, training, momentum, eps, out);
}

tg_status tg_tensor_batch_norm_relu(const tg_tensor* x, tg_tensor* running_mean,
                                    tg_tensor* running_var, const tg_tensor* weight,
                                    const tg_tensor* bias, int training, double momentum,
                                    double eps, tg_tensor** out) {
  return BatchNormCall("tg_tensor_batch_norm_relu", tapegrad::BatchNormRelu, x,
                       running_mean, running_var, weight, bias, training, momentum, eps,
                       out);
}

tg_status tg_tensor_layer_norm(const tg_tensor* x, int64_t normalized_axes,
                               const tg_tensor* weight, const tg_tensor* bias, double eps,
                               tg_tensor** out) {
  constexpr char kCall[] = "tg_tensor_layer_norm";
  if (tg_status s = LiveOrNull(kCall, "weight", weight)) return s;
  if (tg_status s = LiveOrNull(kCall, "bias", bias)) return s;
  return ResultOf(kCall, {{"x", x}}, out, [&] {
    const int axes = normalized_axes < 0 || normalized_axes > 8
                         ? -1
                         : static_cast<int>(normalized_axes);
    return tapegrad::LayerNorm(x->tensor, axes, Optional(weight), Optional(bias), eps);
  });
}

tg_status tg_tensor_embedding(const tg_tensor* weight, const tg_tensor* indices,
                              tg_tensor** out) {
  return ResultOf("tg_tensor_embedding", {{"weight", weight}, {"indices", indices}}, out,
                  [&] { return tapegrad::Embedding(weight->tensor, indices->tensor); });
}

tg_status tg_tensor_flatten(const tg_tensor* x, int64_t start, int64_t end,
                            tg_tensor** out) {
  return ResultOf("tg_tensor_flatten", {{"x", x}}, out,
                  [&] { return tapegrad::Flatten(x->tensor, start, end); });
}

}  // extern "C"
