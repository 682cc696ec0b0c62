// Matrix products and the ops along one axis (softmax, log-softmax).
#include <optional>

#include "absl/strings/str_format.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"
#include "core/tensor_ops.h"

namespace tapegrad {

namespace {

Tensor AlongAxis(const char* name, OpKind kernel, internal::GradOp grad_op,
                 const Tensor& x, int64_t axis) {
  // An x that is not ok() is reported by internal::Unary's own checks.
  int a = 0;
  if (x.ok() && !NormalizeAxis(axis, x.dim(), &a)) {
    const TensorImpl* operands[] = {x.impl()};
    return internal::Fail(
        x.tape() ? x.tape() : Tape::Current(),
        internal::OpError(name, operands,
                          absl::StrFormat("axis %d is out of range", axis)));
  }
  OpAttrs attrs;
  attrs.axis = a;
  return internal::Unary(name, kernel, grad_op, x, attrs);
}

}  // namespace

Tensor MatMul(const Tensor& a, const Tensor& b) {
  Tape* tape;
  TensorImpl* in[2];
  if (!internal::Prepare({&a, &b}, &tape, in))
    return internal::Unprepared("matmul", {&a, &b});
  const TensorImpl* const impls[] = {in[0], in[1]};
  if (a.dim() == 0 || b.dim() == 0) {
    return internal::Fail(
        tape,
        internal::OpError("matmul", impls, "operands must have at least 1 dimension"));
  }
  const int64_t k_a = a.shape().back();
  const int64_t k_b = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  if (k_a != k_b) {
    return internal::Fail(
        tape, internal::OpError(
                  "matmul", impls,
                  absl::StrFormat("inner dimensions differ (%d vs %d)", k_a, k_b)));
  }
  // torch.matmul: a 1-D operand is promoted to a matrix and the added axis removed.
  const Tensor a2 = a.dim() == 1 ? a.Unsqueeze(0) : a;
  const Tensor b2 = b.dim() == 1 ? b.Unsqueeze(-1) : b;
  if (!a2.ok()) return a2;
  if (!b2.ok()) return b2;
  absl::StatusOr<TensorImpl*> out = internal::RunMatMul(tape, *a2.impl(), *b2.impl());
  if (!out.ok()) return internal::Fail(tape, out.status());
  Tensor c =
      internal::Finish(tape, *out, internal::GradOp::kMatMul, {a2.impl(), b2.impl()});
  if (a.dim() == 1) c = c.Squeeze(-2);
  if (b.dim() == 1) c = c.Squeeze(-1);
  return c;
}

Tensor Softmax(const Tensor& x, int64_t axis) {
  return AlongAxis("softmax", OpKind::kSoftmax, internal::GradOp::kSoftmax, x, axis);
}
Tensor LogSoftmax(const Tensor& x, int64_t axis) {
  return AlongAxis("log_softmax", OpKind::kLogSoftmax, internal::GradOp::kLogSoftmax, x,
                   axis);
}

}  // namespace tapegrad
