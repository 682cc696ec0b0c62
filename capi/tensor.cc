// Tensors: creation from buffers, shape/dtype/device, ops, autograd.
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "capi/internal.h"
#include "capi/op_table.h"
#include "capi/tapegrad.h"
#include "core/internal/layout.h"
#include "core/tensor_ops.h"

namespace tapegrad::capi {

tg_status NewTensor(const char* call, Tensor t, tg_tensor** out) {
  if (!t.ok()) {
    // The caller hears of the failure now, so the tape must not keep it as its
    // sticky error and fail the next Backward with it.
    if (Tape* tape = Tape::Current()) tape->ClearError();
    if (t.tape() != nullptr) t.tape()->ClearError();
    return Fail(t.status());
  }
  return Guard(call, [&] {
    auto handle = std::make_unique<tg_tensor>(tg_tensor{std::move(t)});
    TrackTensor(handle.get());
    *out = handle.release();
    return TG_OK;
  });
}

tg_status Live(const char* call, const char* operand, const tg_tensor* t) {
  if (t == nullptr) return NullArgument(call, operand);
  if (!t->tensor.ok()) {
    return Fail(t->tensor.status().code(), absl::StrFormat("%s: %s: %s", call, operand,
                                                           t->tensor.status().message()));
  }
  return TG_OK;
}

namespace {

// Dispatch by the rows of capi/op_table.h. `params`: the op's parameters, or null
// for its defaults.
Tensor ApplyUnary(tg_unary_op op, const Tensor& x, const double* params) {
  switch (op) {
#define TAPEGRAD_CAPI_WITH_0(fn, p) fn(x)
#define TAPEGRAD_CAPI_WITH_1(fn, p) fn(x, p[0])
#define TAPEGRAD_CAPI_WITH_2(fn, p) fn(x, p[0], p[1])
#define TAPEGRAD_CAPI_CASE(e, name, fn, n) \
  case e:                                  \
    return params == nullptr ? fn(x) : TAPEGRAD_CAPI_WITH_##n(fn, params);
    TAPEGRAD_CAPI_UNARY_OPS(TAPEGRAD_CAPI_CASE)
#undef TAPEGRAD_CAPI_CASE
#undef TAPEGRAD_CAPI_WITH_0
#undef TAPEGRAD_CAPI_WITH_1
#undef TAPEGRAD_CAPI_WITH_2
  }
  return Tensor::Error(absl::InvalidArgumentError(
      absl::StrFormat("tg_tensor_unary: unknown op %d", static_cast<int>(op))));
}

Tensor ApplyBinary(tg_binary_op op, const Tensor& a, const Tensor& b) {
  switch (op) {
#define TAPEGRAD_CAPI_CASE(e, name, fn) \
  case e:                               \
    return fn(a, b);
    TAPEGRAD_CAPI_BINARY_OPS(TAPEGRAD_CAPI_CASE)
#undef TAPEGRAD_CAPI_CASE
  }
  return Tensor::Error(absl::InvalidArgumentError(
      absl::StrFormat("tg_tensor_binary: unknown op %d", static_cast<int>(op))));
}

Tensor ApplyReduce(tg_reduce_op op, const Tensor& x, absl::Span<const int64_t> axes,
                   bool keepdim) {
  switch (op) {
#define TAPEGRAD_CAPI_CASE(e, name, fn) \
  case e:                               \
    return fn(x, axes, keepdim);
    TAPEGRAD_CAPI_REDUCE_OPS(TAPEGRAD_CAPI_CASE)
#undef TAPEGRAD_CAPI_CASE
  }
  return Tensor::Error(absl::InvalidArgumentError(
      absl::StrFormat("tg_tensor_reduce: unknown op %d", static_cast<int>(op))));
}

Tensor ApplyArgReduce(tg_arg_reduce_op op, const Tensor& x, std::optional<int64_t> axis,
                      bool keepdim) {
  switch (op) {
#define TAPEGRAD_CAPI_CASE(e, name, fn) \
  case e:                               \
    return fn(x, axis, keepdim);
    TAPEGRAD_CAPI_ARG_REDUCE_OPS(TAPEGRAD_CAPI_CASE)
#undef TAPEGRAD_CAPI_CASE
  }
  return Tensor::Error(absl::InvalidArgumentError(
      absl::StrFormat("tg_tensor_arg_reduce: unknown op %d", static_cast<int>(op))));
}

}  // namespace
}  // namespace tapegrad::capi

using tapegrad::Tensor;
using tapegrad::capi::Fail;
using tapegrad::capi::Guard;
using tapegrad::capi::Live;
using tapegrad::capi::MapTensor;
using tapegrad::capi::NewTensor;

extern "C" {

tg_status tg_tensor_from_buffer(const void* data, tg_dtype dtype, const int64_t* shape,
                                size_t ndim, tg_device_type device, tg_tensor** out) {
  constexpr char kCall[] = "tg_tensor_from_buffer";
  TG_CAPI_NOT_NULL(kCall, out);
  if (shape == nullptr && ndim != 0) return tapegrad::capi::NullArgument(kCall, "shape");
  if (dtype != TG_F32 && dtype != TG_F64 && dtype != TG_I64) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("%s: unknown dtype %d", kCall, static_cast<int>(dtype)));
  }
  if (device != TG_CPU && device != TG_CUDA) {
    return Fail(
        absl::StatusCode::kInvalidArgument,
        absl::StrFormat("%s: unknown device type %d", kCall, static_cast<int>(device)));
  }
  if (absl::Status s = tapegrad::CheckShape(kCall, absl::MakeConstSpan(shape, ndim));
      !s.ok()) {
    return Fail(s);
  }
  const int64_t numel = tapegrad::CheckedNumel(absl::MakeConstSpan(shape, ndim));
  if (data == nullptr && numel != 0) return tapegrad::capi::NullArgument(kCall, "data");
  return Guard(kCall, [&]() -> tg_status {
    const absl::Span<const int64_t> dims(shape, ndim);
    const size_t n = static_cast<size_t>(numel);
    Tensor t;
    switch (dtype) {
      case TG_F32:
        t = Tensor::FromData(absl::MakeConstSpan(static_cast<const float*>(data), n),
                             dims);
        break;
      case TG_F64:
        t = Tensor::FromData(absl::MakeConstSpan(static_cast<const double*>(data), n),
                             dims, tapegrad::DType::kF64);
        break;
      case TG_I64:
        t = Tensor::FromData(absl::MakeConstSpan(static_cast<const int64_t*>(data), n),
                             dims);
        break;
    }
    // Made on the host, then copied (the first GPU: use tg_tensor_to for others).
    if (device == TG_CUDA) t = t.To(tapegrad::Device::Cuda(0));
    return NewTensor(kCall, std::move(t), out);
  });
}

const char* tg_op_name(tg_op_family family, int op) {
  switch (family) {
#define TAPEGRAD_CAPI_NAME(e, name, ...) \
  case e:                                \
    return name;
    case TG_OPS_UNARY:
      switch (op) { TAPEGRAD_CAPI_UNARY_OPS(TAPEGRAD_CAPI_NAME) }
      break;
    case TG_OPS_BINARY:
      switch (op) { TAPEGRAD_CAPI_BINARY_OPS(TAPEGRAD_CAPI_NAME) }
      break;
    case TG_OPS_REDUCE:
      switch (op) { TAPEGRAD_CAPI_REDUCE_OPS(TAPEGRAD_CAPI_NAME) }
      break;
    case TG_OPS_ARG_REDUCE:
      switch (op) { TAPEGRAD_CAPI_ARG_REDUCE_OPS(TAPEGRAD_CAPI_NAME) }
      break;
#undef TAPEGRAD_CAPI_NAME
  }
  return nullptr;
}

void tg_tensor_destroy(tg_tensor* t) {
  if (t == nullptr) return;
  tapegrad::capi::UntrackTensor(t);
  delete t;
}

tg_status tg_tensor_clone_handle(const tg_tensor* t, tg_tensor** out) {
  TG_CAPI_NOT_NULL("tg_tensor_clone_handle", t);
  TG_CAPI_NOT_NULL("tg_tensor_clone_handle", out);
  return NewTensor("tg_tensor_clone_handle", t->tensor, out);
}

tg_status tg_tensor_ndim(const tg_tensor* t, size_t* out) {
  TG_CAPI_NOT_NULL("tg_tensor_ndim", out);
  if (tg_status s = Live("tg_tensor_ndim", "t", t)) return s;
  *out = static_cast<size_t>(t->tensor.dim());
  return TG_OK;
}

tg_status tg_tensor_shape(const tg_tensor* t, int64_t* out, size_t capacity) {
  if (out == nullptr && capacity != 0) {
    return tapegrad::capi::NullArgument("tg_tensor_shape", "out");
  }
  if (tg_status s = Live("tg_tensor_shape", "t", t)) return s;
  const tapegrad::Shape shape = t->tensor.shape();
  for (size_t i = 0; i < shape.size() && i < capacity; ++i) out[i] = shape[i];
  return TG_OK;
}

tg_status tg_tensor_dtype(const tg_tensor* t, tg_dtype* out) {
  TG_CAPI_NOT_NULL("tg_tensor_dtype", out);
  if (tg_status s = Live("tg_tensor_dtype", "t", t)) return s;
  *out = static_cast<tg_dtype>(t->tensor.dtype());
  return TG_OK;
}

tg_status tg_tensor_device(const tg_tensor* t, tg_device_type* type, int* index) {
  TG_CAPI_NOT_NULL("tg_tensor_device", type);
  TG_CAPI_NOT_NULL("tg_tensor_device", index);
  if (tg_status s = Live("tg_tensor_device", "t", t)) return s;
  *type = static_cast<tg_device_type>(t->tensor.device().type);
  *index = t->tensor.device().index;
  return TG_OK;
}

tg_status tg_tensor_numel(const tg_tensor* t, int64_t* out) {
  TG_CAPI_NOT_NULL("tg_tensor_numel", out);
  if (tg_status s = Live("tg_tensor_numel", "t", t)) return s;
  *out = t->tensor.numel();
  return TG_OK;
}

tg_status tg_tensor_to_buffer(const tg_tensor* t, void* out, size_t bytes) {
  constexpr char kCall[] = "tg_tensor_to_buffer";
  if (tg_status s = Live(kCall, "t", t)) return s;
  const tapegrad::DType dtype = t->tensor.dtype();
  const size_t need = static_cast<size_t>(t->tensor.numel()) * tapegrad::DTypeSize(dtype);
  if (bytes != need) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("%s: buffer of %d bytes for a %s tensor of %d elements "
                                "(%d bytes)",
                                kCall, bytes, tapegrad::DTypeName(dtype),
                                t->tensor.numel(), need));
  }
  if (out == nullptr && need != 0) return tapegrad::capi::NullArgument(kCall, "out");
  return Guard(kCall, [&] {
    // A contiguous host copy puts the elements in row-major order whatever the
    // view or device.
    const Tensor c = t->tensor.Contiguous().Cpu();
    if (!c.ok()) return Fail(c.status());
    if (need != 0) std::memcpy(out, c.impl()->data(), need);
    return TG_OK;
  });
}

tg_status tg_tensor_format(const tg_tensor* t, char* buf, size_t capacity,
                           size_t* length) {
  if (tg_status s = Live("tg_tensor_format", "t", t)) return s;
  return Guard("tg_tensor_format", [&] {
    return tapegrad::capi::WriteText("tg_tensor_format", t->tensor.ToString(), buf,
                                     capacity, length);
  });
}

tg_status tg_tensor_unary(tg_unary_op op, const tg_tensor* x, tg_tensor** out) {
  return MapTensor("tg_tensor_unary", x, out, [op](const Tensor& t) {
    return tapegrad::capi::ApplyUnary(op, t, nullptr);
  });
}

tg_status tg_tensor_unary_with(tg_unary_op op, const tg_tensor* x, double param0,
                               double param1, tg_tensor** out) {
  const double params[2] = {param0, param1};
  return MapTensor("tg_tensor_unary_with", x, out, [&](const Tensor& t) {
    return tapegrad::capi::ApplyUnary(op, t, params);
  });
}

tg_status tg_tensor_binary(tg_binary_op op, const tg_tensor* a, const tg_tensor* b,
                           tg_tensor** out) {
  return tapegrad::capi::ResultOf("tg_tensor_binary", {{"a", a}, {"b", b}}, out, [&] {
    return tapegrad::capi::ApplyBinary(op, a->tensor, b->tensor);
  });
}

tg_status tg_tensor_pow(const tg_tensor* x, double exponent, tg_tensor** out) {
  return MapTensor("tg_tensor_pow", x, out,
                   [exponent](const Tensor& t) { return tapegrad::Pow(t, exponent); });
}

tg_status tg_tensor_clamp(const tg_tensor* x, double low, double high, tg_tensor** out) {
  return MapTensor("tg_tensor_clamp", x, out,
                   [=](const Tensor& t) { return tapegrad::Clamp(t, low, high); });
}

tg_status tg_tensor_affine(const tg_tensor* x, double factor, double offset,
                           tg_tensor** out) {
  return MapTensor("tg_tensor_affine", x, out, [=](const Tensor& t) {
    Tensor y = factor == 1.0 ? t : tapegrad::Scale(t, factor);
    return offset != 0.0 ? y + offset : y;
  });
}

tg_status tg_tensor_reduce(tg_reduce_op op, const tg_tensor* x, const int64_t* axes,
                           size_t n_axes, int keepdim, tg_tensor** out) {
  if (axes == nullptr && n_axes != 0) {
    return tapegrad::capi::NullArgument("tg_tensor_reduce", "axes");
  }
  return MapTensor("tg_tensor_reduce", x, out, [&](const Tensor& t) {
    return tapegrad::capi::ApplyReduce(op, t, absl::MakeConstSpan(axes, n_axes),
                                       keepdim != 0);
  });
}

tg_status tg_tensor_arg_reduce(tg_arg_reduce_op op, const tg_tensor* x,
                               const int64_t* axis, int keepdim, tg_tensor** out) {
  constexpr char kCall[] = "tg_tensor_arg_reduce";
  if (tg_op_name(TG_OPS_ARG_REDUCE, op) == nullptr) {
    return Fail(absl::StatusCode::kInvalidArgument,
                absl::StrFormat("%s: unknown op %d", kCall, static_cast<int>(op)));
  }
  const std::optional<int64_t> along =
      axis == nullptr ? std::nullopt : std::optional<int64_t>(*axis);
  return MapTensor(kCall, x, out, [&](const Tensor& t) {
    return tapegrad::capi::ApplyArgReduce(op, t, along, keepdim != 0);
  });
}

tg_status tg_tensor_softmax(const tg_tensor* x, int64_t axis, int log, tg_tensor** out) {
  return MapTensor("tg_tensor_softmax", x, out, [=](const Tensor& t) {
    return log ? tapegrad::LogSoftmax(t, axis) : tapegrad::Softmax(t, axis);
  });
}

tg_status tg_tensor_set_requires_grad(tg_tensor* t, int requires) {
  if (tg_status s = Live("tg_tensor_set_requires_grad", "t", t)) return s;
  if (t->tensor.tape() != nullptr) {
    return Fail(absl::StatusCode::kFailedPrecondition,
                "tg_tensor_set_requires_grad: only heap tensors (leaves) can require "
                "grad; this one was recorded on a tape");
  }
  t->tensor.RequiresGrad(requires != 0);
  return TG_OK;
}

tg_status tg_tensor_requires_grad(const tg_tensor* t, int* out) {
  TG_CAPI_NOT_NULL("tg_tensor_requires_grad", out);
  if (tg_status s = Live("tg_tensor_requires_grad", "t", t)) return s;
  *out = t->tensor.requires_grad() ? 1 : 0;
  return TG_OK;
}

tg_status tg_tensor_grad(const tg_tensor* t, tg_tensor** out) {
  TG_CAPI_NOT_NULL("tg_tensor_grad", out);
  if (tg_status s = Live("tg_tensor_grad", "t", t)) return s;
  Tensor grad = t->tensor.grad();
  if (!grad.ok()) {
    *out = nullptr;
    return TG_OK;
  }
  return NewTensor("tg_tensor_grad", std::move(grad), out);
}

tg_status tg_tensor_zero_grad(tg_tensor* t) {
  if (tg_status s = Live("tg_tensor_zero_grad", "t", t)) return s;
  t->tensor.ZeroGrad();
  return TG_OK;
}

tg_status tg_tensor_backward(const tg_tensor* t) {
  if (tg_status s = Live("tg_tensor_backward", "t", t)) return s;
  return Guard("tg_tensor_backward", [&] {
    const absl::Status s = t->tensor.Backward();
    if (tapegrad::Tape* tape = t->tensor.tape()) tape->ClearError();
    return Fail(s);
  });
}

tg_status tg_tensor_to(const tg_tensor* t, tg_device_type device, int index,
                       tg_tensor** out) {
  constexpr char kCall[] = "tg_tensor_to";
  TG_CAPI_NOT_NULL(kCall, out);
  if (tg_status s = Live(kCall, "t", t)) return s;
  tapegrad::Device target;
  if (tg_status s = tapegrad::capi::DeviceOf(kCall, device, index, &target)) return s;
  return Guard(kCall, [&] { return NewTensor(kCall, t->tensor.To(target), out); });
}

tg_status tg_tensor_detach(const tg_tensor* x, tg_tensor** out) {
  return MapTensor("tg_tensor_detach", x, out,
                   [](const Tensor& t) { return t.Detach(); });
}

}  // extern "C"
