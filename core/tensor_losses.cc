// Losses and dropout.
#include <optional>

#include "absl/strings/str_format.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"
#include "core/tensor_ops.h"

namespace tapegrad {

Tensor CrossEntropy(const Tensor& logits, const Tensor& targets) {
  return internal::WithIndices("cross_entropy", OpKind::kCrossEntropy,
                               internal::GradOp::kCrossEntropy, logits, targets,
                               "needs logits [N, C] and i64 class indices [N]",
                               [](const TensorImpl& x, const TensorImpl& t, Layout* out) {
                                 out->rank = 0;
                                 return x.layout.rank == 2 && t.layout.rank == 1 &&
                                        t.layout.sizes[0] == x.layout.sizes[0];
                               });
}

Tensor Mse(const Tensor& pred, const Tensor& target) {
  const Tensor d = pred - target;
  return Mean(d * d);
}

Tensor BinaryCrossEntropyWithLogits(const Tensor& logits, const Tensor& targets) {
  return Mean(internal::Binary("binary_cross_entropy_with_logits", OpKind::kBceWithLogits,
                               internal::GradOp::kBceWithLogits, logits, targets));
}

Tensor Dropout(const Tensor& x, double p, uint64_t seed) {
  Tape* tape;
  TensorImpl* in;
  if (!internal::Prepare({&x}, &tape, &in)) return internal::Unprepared("dropout", {&x});
  if (!(p >= 0.0 && p <= 1.0)) {
    const TensorImpl* operands[] = {in};
    return internal::Fail(
        tape, internal::OpError("dropout", operands,
                                absl::StrFormat("p = %g is not in [0, 1]", p)));
  }
  if (p == 0.0) return x;
  OpAttrs attrs;
  attrs.scalar0 = p;
  attrs.seed = seed;
  return Mul(x, internal::Generate(tape, x.shape(), x, OpKind::kDropoutMask, attrs));
}

}  // namespace tapegrad
