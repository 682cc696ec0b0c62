// Normalization (batch and layer) and embedding lookup. Batch normalization with
// batch statistics, weight and bias runs as one kernel each way (kBatchNorm,
// kBatchNormGrad, which may apply a ReLU after it) where the device has them; every other
// form is composed of recorded ops, so that its gradients are those ops'. Both are
// checked against finite differences and against each other. Operands are checked first,
// so that a wrong shape is reported under the function's own name.
#include <algorithm>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_format.h"
#include "core/grad_mode.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"
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

// Adds momentum * (batch - running) to a running statistic, off the record.
absl::Status UpdateRunning(Tensor& running, const Tensor& batch, double momentum) {
  if (Absent(running)) return absl::OkStatus();
  NoGradScope no_grad;
  return running.AddInPlace(batch - running, momentum);
}

// Training-mode batch norm as one kernel: y is recorded with (x, weight, bias) and
// the batch's mean and variance, which its backward reads. With `relu`, y is the
// ReLU of that, in the same pass (and its backward recomputes the ReLU's input).
Tensor FusedBatchNorm(Tape* tape, const Tensor& input, Tensor& running_mean,
                      Tensor& running_var, const Tensor& weight, const Tensor& bias,
                      double momentum, double eps, double unbiased, bool relu) {
  const Tensor x = input.Contiguous(), w = weight.Contiguous(), b = bias.Contiguous();
  for (const Tensor* t : {&x, &w, &b}) {
    if (!t->ok()) return *t;
  }
  const int64_t c[] = {x.size(1)};
  absl::StatusOr<TensorImpl*> out =
      internal::NewResult(tape, x.shape(), x.dtype(), x.device());
  if (!out.ok()) return internal::Fail(tape, out.status());
  TensorImpl* stats[2];
  for (TensorImpl*& stat : stats) {
    absl::StatusOr<TensorImpl*> fresh =
        internal::NewResult(tape, c, x.dtype(), x.device());
    if (!fresh.ok()) return internal::Fail(tape, internal::Discard(*out, fresh.status()));
    stat = *fresh;
  }
  OpAttrs attrs;
  attrs.scalar0 = eps;
  attrs.scalar1 = relu ? 1.0 : 0.0;
  if (absl::Status s = internal::Run(OpKind::kBatchNorm, {x.impl(), w.impl(), b.impl()},
                                     {*out, stats[0], stats[1]}, attrs);
      !s.ok()) {
    internal::Discard(stats[0], s).IgnoreError();
    internal::Discard(stats[1], s).IgnoreError();
    return internal::Fail(tape, internal::Discard(*out, s));
  }
  // The statistics as constants, then y reading them.
  const Tensor mean = internal::Finish(tape, stats[0], internal::GradOp::kCopy, {});
  const Tensor var = internal::Finish(tape, stats[1], internal::GradOp::kCopy, {});
  Tensor y = internal::Finish(tape, *out, internal::GradOp::kBatchNorm,
                              {x.impl(), w.impl(), b.impl(), stats[0], stats[1]}, attrs);
  if (!y.ok()) return y;
  if (absl::Status s = UpdateRunning(running_mean, mean, momentum); !s.ok()) {
    return internal::Fail(tape, s);
  }
  if (absl::Status s = UpdateRunning(running_var, var * unbiased, momentum); !s.ok()) {
    return internal::Fail(tape, s);
  }
  return y;
}

// BatchNorm, and with `relu` its ReLU, fused into the kernel where there is one.
Tensor BatchNormThen(const Tensor& x, Tensor& running_mean, Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool training,
                     double momentum, double eps, bool relu) {
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
  const double unbiased = static_cast<double>(per_channel) / (per_channel - 1);
  if (training && !Absent(weight) && !Absent(bias) &&
      KernelRegistry::Global().FindOrNull(OpKind::kBatchNorm, x.dtype(),
                                          x.device().type) != nullptr) {
    return FusedBatchNorm(tape, x, running_mean, running_var, weight, bias, momentum, eps,
                          unbiased, relu);
  }
  Axes axes;
  for (int i = 0; i < x.dim(); ++i) {
    if (i != 1) axes.push_back(i);
  }
  Tensor centered, var;
  if (training) {
    const Tensor mean = Mean(x, axes, /*keepdim=*/true);
    centered = x - mean;
    var = Mean(Square(centered), axes, /*keepdim=*/true);
    if (absl::Status s = UpdateRunning(running_mean, mean.Reshape(c), momentum);
        !s.ok()) {
      return internal::Fail(tape, s);
    }
    if (absl::Status s = UpdateRunning(running_var, var.Reshape(c) * unbiased, momentum);
        !s.ok()) {
      return internal::Fail(tape, s);
    }
  } else {
    centered = x - internal::PerChannel(running_mean, x.dim());
    var = internal::PerChannel(running_var, x.dim());
  }
  Tensor y = centered * Rsqrt(var + eps);
  if (!Absent(weight)) y = y * internal::PerChannel(weight, x.dim());
  if (!Absent(bias)) y = y + internal::PerChannel(bias, x.dim());
  return relu ? Relu(y) : y;
}

}  // namespace

Tensor BatchNorm(const Tensor& x, Tensor& running_mean, Tensor& running_var,
                 const Tensor& weight, const Tensor& bias, bool training, double momentum,
                 double eps) {
  return BatchNormThen(x, running_mean, running_var, weight, bias, training, momentum,
                       eps, /*relu=*/false);
}

Tensor BatchNormRelu(const Tensor& x, Tensor& running_mean, Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool training,
                     double momentum, double eps) {
  return BatchNormThen(x, running_mean, running_var, weight, bias, training, momentum,
                       eps, /*relu=*/true);
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

namespace internal {

absl::Status BatchNormBackward(TensorRecord& r, Tape& tape, TensorImpl& g) {
  TensorImpl* const x = r.inputs[0];
  TensorImpl* const w = r.inputs[1];
  TensorImpl* const b = r.inputs[2];
  if (!Wanted(*x) && !Wanted(*w) && !Wanted(*b)) return absl::OkStatus();
  TensorImpl* grads[3];
  const TensorImpl* const likes[] = {x, w, b};
  for (int i = 0; i < 3; ++i) {
    TG_ASSIGN_OR_RETURN(grads[i], NewResult(&tape, likes[i]->layout.shape(),
                                            likes[i]->dtype, likes[i]->device));
  }
  // With the ReLU fused, the kernel takes g through it first, recomputing its
  // input from x and the bias.
  if (r.attrs.scalar1 != 0) {
    TG_RETURN_IF_ERROR(Run(OpKind::kBatchNormGrad,
                           {&g, x, w, r.inputs[3], r.inputs[4], b},
                           {grads[0], grads[1], grads[2]}, r.attrs));
  } else {
    TG_RETURN_IF_ERROR(Run(OpKind::kBatchNormGrad, {&g, x, w, r.inputs[3], r.inputs[4]},
                           {grads[0], grads[1], grads[2]}, r.attrs));
  }
  for (int i = 0; i < 3; ++i) {
    TensorImpl& input = *r.inputs[i];
    if (Wanted(input)) TG_RETURN_IF_ERROR(Accumulate(tape, input, *grads[i], true));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace tapegrad
