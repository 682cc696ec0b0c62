// Normalization (batch and layer) and embedding lookup, composed of recorded ops,
// so that their gradients are those ops' (checked against finite differences like
// every other op). Operands are checked first, so that a wrong shape is reported
// under the function's own name.
#include <algorithm>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_format.h"
#include "core/grad_mode.h"
#include "core/internal/tensor_internal.h"
#include "core/tensor_ops.h"

namespace tapegrad {
namespace {

// A Tensor() given for an optional operand.
bool Absent(const Tensor& t) { return t.impl() == nullptr && !t.has_error(); }

// The impls of the operands that are present, on the stack (no allocation).
using Impls = absl::InlinedVector<const TensorImpl*, 5>;
using Axes = absl::InlinedVector<int64_t, kMaxRank>;

// Prepare and Unprepared over x and the optional operands that are present.
bool CheckPresent(const char* op, const Tensor& x,
                  std::initializer_list<const Tensor*> optional, Impls* impls,
                  Tape** tape, Tensor* error) {
  absl::InlinedVector<const Tensor*, 5> present = {&x};
  for (const Tensor* t : optional) {
    if (!Absent(*t)) present.push_back(t);
  }
  TensorImpl* checked[5];
  if (!internal::Prepare(present, tape, checked)) {
    *error = internal::Unprepared(op, present);
    return false;
  }
  impls->assign(checked, checked + present.size());
  return true;
}

Tensor Refuse(Tape* tape, const char* op, const Impls& impls, const std::string& what) {
  return internal::Fail(tape, internal::OpError(op, impls, what));
}

// t of `like`'s shape, or absent.
bool Fits(const Tensor& t, absl::Span<const int64_t> like) {
  if (Absent(t)) return true;
  const Shape shape = t.shape();
  return std::equal(shape.begin(), shape.end(), like.begin(), like.end());
}

}  // namespace

Tensor BatchNorm(const Tensor& x, Tensor& running_mean, Tensor& running_var,
                 const Tensor& weight, const Tensor& bias, bool training, double momentum,
                 double eps) {
  Impls impls;
  Tape* tape;
  Tensor error;
  if (!CheckPresent("batch_norm", x, {&weight, &bias, &running_mean, &running_var},
                    &impls, &tape, &error)) {
    return error;
  }
  if (x.dim() < 2) return Refuse(tape, "batch_norm", impls, "needs an input [N, C, ...]");
  const int64_t channels = x.size(1);
  const int64_t per_channel = channels == 0 ? 0 : x.numel() / channels;
  const int64_t c[] = {channels};
  if (!Fits(weight, c) || !Fits(bias, c) || !Fits(running_mean, c) ||
      !Fits(running_var, c)) {
    return Refuse(
        tape, "batch_norm", impls,
        absl::StrFormat("weight, bias and running statistics must be [%d]", channels));
  }
  if (!training && (Absent(running_mean) || Absent(running_var))) {
    return Refuse(tape, "batch_norm", impls,
                  "evaluation needs the running mean and variance");
  }
  if (training && per_channel < 2) {
    return Refuse(tape, "batch_norm", impls,
                  "training needs more than one value per channel");
  }
  Axes axes, per_channel_shape(x.dim(), 1);
  for (int i = 0; i < x.dim(); ++i) {
    if (i != 1) axes.push_back(i);
  }
  per_channel_shape[1] = channels;
  Tensor centered, var;
  if (training) {
    const Tensor mean = Mean(x, axes, /*keepdim=*/true);
    centered = x - mean;
    var = Mean(Square(centered), axes, /*keepdim=*/true);
    NoGradScope no_grad;
    const double unbiased = static_cast<double>(per_channel) / (per_channel - 1);
    if (!Absent(running_mean)) {
      const Tensor step = mean.Reshape(c) - running_mean;
      if (absl::Status s = running_mean.AddInPlace(step, momentum); !s.ok()) {
        return internal::Fail(tape, s);
      }
    }
    if (!Absent(running_var)) {
      const Tensor step = var.Reshape(c) * unbiased - running_var;
      if (absl::Status s = running_var.AddInPlace(step, momentum); !s.ok()) {
        return internal::Fail(tape, s);
      }
    }
  } else {
    centered = x - running_mean.Reshape(per_channel_shape);
    var = running_var.Reshape(per_channel_shape);
  }
  Tensor y = centered * Rsqrt(var + eps);
  if (!Absent(weight)) y = y * weight.Reshape(per_channel_shape);
  if (!Absent(bias)) y = y + bias.Reshape(per_channel_shape);
  return y;
}

Tensor LayerNorm(const Tensor& x, int normalized_axes, const Tensor& weight,
                 const Tensor& bias, double eps) {
  Impls impls;
  Tape* tape;
  Tensor error;
  if (!CheckPresent("layer_norm", x, {&weight, &bias}, &impls, &tape, &error)) {
    return error;
  }
  if (normalized_axes < 1 || normalized_axes > x.dim()) {
    return Refuse(tape, "layer_norm", impls,
                  absl::StrFormat("cannot normalize over the last %d axes of a tensor of "
                                  "rank %d",
                                  normalized_axes, x.dim()));
  }
  const Shape shape = x.shape();
  const Shape normalized = shape.subspan(shape.size() - normalized_axes);
  if (!Fits(weight, normalized) || !Fits(bias, normalized)) {
    return Refuse(tape, "layer_norm", impls,
                  "weight and bias must have the shape of the normalized axes");
  }
  Axes axes;
  for (int i = x.dim() - normalized_axes; i < x.dim(); ++i) axes.push_back(i);
  const Tensor mean = Mean(x, axes, /*keepdim=*/true);
  const Tensor centered = x - mean;
  const Tensor var = Mean(Square(centered), axes, /*keepdim=*/true);
  Tensor y = centered * Rsqrt(var + eps);
  if (!Absent(weight)) y = y * weight;
  if (!Absent(bias)) y = y + bias;
  return y;
}

Tensor Embedding(const Tensor& weight, const Tensor& indices) {
  Tape* tape;
  const Tensor* operands[] = {&weight, &indices};
  if (absl::Status s = internal::Place("embedding", operands, &tape); !s.ok()) {
    return internal::Fail(tape, s);
  }
  if (weight.dim() != 2 || indices.dtype() != DType::kI64) {
    const TensorImpl* const impls[] = {weight.impl(), indices.impl()};
    return internal::Fail(
        tape, internal::OpError("embedding", impls,
                                "needs a weight [V, D] and i64 indices of any shape"));
  }
  const Shape index_shape = indices.shape();
  Axes shape(index_shape.begin(), index_shape.end());
  shape.push_back(weight.size(1));
  return IndexSelect(weight, indices.Contiguous().Reshape({-1})).Reshape(shape);
}

}  // namespace tapegrad
