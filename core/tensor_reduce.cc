// Reductions over axes: sums, means, extremes and their positions.
#include <optional>

#include "absl/strings/str_format.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"
#include "core/tensor_ops.h"

namespace tapegrad {

namespace {

// The bit set of `axes` over rank `rank` (all axes if empty), or an error.
absl::StatusOr<uint32_t> AxesMask(const char* op, const TensorImpl& x,
                                  absl::Span<const int64_t> axes) {
  const int rank = x.layout.rank;
  if (axes.empty()) return rank == 0 ? 0u : (1u << rank) - 1;
  uint32_t mask = 0;
  for (int64_t axis : axes) {
    int a;
    const TensorImpl* operands[] = {&x};
    if (!NormalizeAxis(axis, rank, &a)) {
      return internal::OpError(op, operands,
                               absl::StrFormat("axis %d is out of range", axis));
    }
    if (mask & (1u << a)) {
      return internal::OpError(op, operands,
                               absl::StrFormat("axis %d is repeated", axis));
    }
    mask |= 1u << a;
  }
  return mask;
}

// Drops the reduced axes of a keepdim result in place (it is contiguous either way).
void DropAxes(TensorImpl* out, uint32_t mask) {
  for (int i = out->layout.rank - 1; i >= 0; --i) {
    if (mask & (1u << i)) out->layout = out->layout.WithoutAxis(i);
  }
}

// The bit set of the axes a reduction of `in` runs over, with the number of
// elements each output reduces in *count; an error for a bad axis, or for an empty
// reduction unless `allow_empty` (a sum of nothing is 0, a max is undefined).
absl::StatusOr<uint32_t> ReducedAxes(const char* name, const TensorImpl& in,
                                     absl::Span<const int64_t> axes, bool allow_empty,
                                     int64_t* count) {
  TG_ASSIGN_OR_RETURN(const uint32_t mask, AxesMask(name, in, axes));
  *count = 1;
  for (int i = 0; i < in.layout.rank; ++i) {
    if (mask & (1u << i)) *count *= in.layout.sizes[i];
  }
  if (!allow_empty && *count == 0) {
    const TensorImpl* operands[] = {&in};
    return internal::OpError(name, operands, "reduction over an empty axis");
  }
  return mask;
}

Tensor Reduce(const char* name, OpKind kernel, internal::GradOp grad_op, const Tensor& x,
              absl::Span<const int64_t> axes, bool keepdim, bool mean) {
  Tape* tape;
  TensorImpl* checked;
  if (!internal::Prepare({&x}, &tape, &checked)) return internal::Unprepared(name, {&x});
  int64_t count;
  absl::StatusOr<uint32_t> mask =
      ReducedAxes(name, *checked, axes, kernel == OpKind::kSum, &count);
  if (!mask.ok()) return internal::Fail(tape, mask.status());
  OpAttrs attrs;
  attrs.axes = *mask;
  attrs.scalar0 = mean ? 1.0 / static_cast<double>(count) : 1.0;
  absl::StatusOr<TensorImpl*> out =
      internal::RunReduce(tape, kernel, *checked, *mask, attrs.scalar0);
  if (!out.ok()) return internal::Fail(tape, out.status());
  if (!keepdim) DropAxes(*out, *mask);
  return internal::Finish(tape, *out, grad_op, {checked}, attrs);
}

// ArgMax and ArgMin: an i64 constant, over one axis or all of them.
Tensor ArgReduce(const char* name, OpKind kernel, const Tensor& x,
                 std::optional<int64_t> axis, bool keepdim) {
  Tape* tape;
  TensorImpl* checked;
  if (!internal::Prepare({&x}, &tape, &checked)) return internal::Unprepared(name, {&x});
  const int64_t one_axis[] = {axis.value_or(0)};
  int64_t count;
  absl::StatusOr<uint32_t> mask = ReducedAxes(
      name, *checked, axis ? absl::MakeConstSpan(one_axis) : absl::Span<const int64_t>(),
      /*allow_empty=*/false, &count);
  if (!mask.ok()) return internal::Fail(tape, mask.status());
  absl::StatusOr<TensorImpl*> out = internal::RunReduce(tape, kernel, *checked, *mask);
  if (!out.ok()) return internal::Fail(tape, out.status());
  if (!keepdim) DropAxes(*out, *mask);
  return internal::Finish(tape, *out, internal::GradOp::kCopy, {});
}

}  // namespace

Tensor Sum(const Tensor& x, absl::Span<const int64_t> axes, bool keepdim) {
  return Reduce("sum", OpKind::kSum, internal::GradOp::kSum, x, axes, keepdim, false);
}
Tensor Mean(const Tensor& x, absl::Span<const int64_t> axes, bool keepdim) {
  return Reduce("mean", OpKind::kSum, internal::GradOp::kSum, x, axes, keepdim, true);
}
Tensor Max(const Tensor& x, absl::Span<const int64_t> axes, bool keepdim) {
  return Reduce("max", OpKind::kMax, internal::GradOp::kMax, x, axes, keepdim, false);
}
Tensor Min(const Tensor& x, absl::Span<const int64_t> axes, bool keepdim) {
  return Reduce("min", OpKind::kMin, internal::GradOp::kMin, x, axes, keepdim, false);
}
Tensor ArgMax(const Tensor& x, std::optional<int64_t> axis, bool keepdim) {
  return ArgReduce("argmax", OpKind::kArgMax, x, axis, keepdim);
}
Tensor ArgMin(const Tensor& x, std::optional<int64_t> axis, bool keepdim) {
  return ArgReduce("argmin", OpKind::kArgMin, x, axis, keepdim);
}

}  // namespace tapegrad
