// Joins (concatenate, stack) and row gathers, and the form of ops on an i64
// operand.
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"
#include "core/tensor_ops.h"

namespace tapegrad {

namespace internal {

Tensor WithIndices(
    const char* name, OpKind kernel, GradOp grad_op, const Tensor& x,
    const Tensor& indices, const char* expected,
    absl::FunctionRef<bool(const TensorImpl&, const TensorImpl&, Layout*)> fits) {
  Tape* tape;
  TensorImpl* checked;
  if (!Prepare({&x}, &tape, &checked)) return Unprepared(name, {&x});
  const Tensor* operands[] = {&x, &indices};
  if (absl::Status s = internal::Place(name, operands, &tape); !s.ok())
    return Fail(tape, s);
  TensorImpl* const index = indices.impl();
  const TensorImpl* const impls[] = {checked, index};
  Layout shape;
  if (index->dtype != DType::kI64 || checked->device != index->device ||
      !fits(*checked, *index, &shape)) {
    return Fail(tape, OpError(name, impls, expected));
  }
  absl::StatusOr<TensorImpl*> out =
      internal::NewResult(tape, shape.shape(), checked->dtype, checked->device);
  if (!out.ok()) return Fail(tape, out.status());
  if (absl::Status s = internal::Run(kernel, {checked, index}, {*out}); !s.ok()) {
    // The kernel finds the bad index; the message names the operands as well.
    if (s.code() == absl::StatusCode::kInvalidArgument) {
      s = OpError(name, impls,
                  std::string(absl::StripPrefix(s.message(), absl::StrCat(name, ": "))));
    }
    return Fail(tape, internal::Discard(*out, s));
  }
  return Finish(tape, *out, grad_op, {checked, index});
}

}  // namespace internal

Tensor IndexSelect(const Tensor& x, const Tensor& indices) {
  return internal::WithIndices(
      "index_select", OpKind::kIndexSelect, internal::GradOp::kIndexSelect, x, indices,
      "needs a tensor of rank >= 1 and i64 indices [K] on its device",
      [](const TensorImpl& x, const TensorImpl& i, Layout* out) {
        *out = x.layout;
        out->sizes[0] = i.layout.sizes[0];
        return x.layout.rank >= 1 && i.layout.rank == 1;
      });
}

Tensor Concatenate(absl::Span<const Tensor> tensors, int64_t axis) {
  if (tensors.empty()) {
    return internal::Fail(Tape::Current(), absl::InvalidArgumentError(
                                               "concatenate: needs at least one tensor"));
  }
  absl::InlinedVector<const Tensor*, 8> operands;
  for (const Tensor& t : tensors) operands.push_back(&t);
  Tape* tape;
  if (absl::Status s = internal::Place("concatenate", operands, &tape); !s.ok()) {
    return internal::Fail(tape, s);
  }
  absl::InlinedVector<TensorImpl*, 8> impls;
  for (const Tensor& t : tensors) impls.push_back(t.impl());
  const absl::InlinedVector<const TensorImpl*, 8> const_impls(impls.begin(), impls.end());
  if (absl::Status s = internal::SameDTypeAndDevice("concatenate", const_impls);
      !s.ok()) {
    return internal::Fail(tape, s);
  }
  const Layout& first = impls[0]->layout;
  int a;
  if (!NormalizeAxis(axis, first.rank, &a)) {
    return internal::Fail(
        tape, internal::OpError("concatenate", const_impls,
                                absl::StrFormat("axis %d is out of range", axis)));
  }
  Layout shape = Layout::Contiguous(first.shape());
  shape.sizes[a] = 0;
  for (const TensorImpl* t : impls) {
    bool fits = t->layout.rank == first.rank;
    for (int d = 0; fits && d < first.rank; ++d) {
      fits = d == a || t->layout.sizes[d] == first.sizes[d];
    }
    if (!fits) {
      return internal::Fail(
          tape, internal::OpError("concatenate", const_impls,
                                  absl::StrFormat("shapes differ outside axis %d", a)));
    }
    if (!CheckedAdd(shape.sizes[a], t->layout.sizes[a], &shape.sizes[a])) {
      return internal::Fail(
          tape, internal::OpError("concatenate", const_impls,
                                  absl::StrFormat("the result would have more than %d "
                                                  "elements along axis %d",
                                                  kMaxElements, a)));
    }
  }
  if (absl::Status s = CheckShape("concatenate", shape.shape()); !s.ok()) {
    return internal::Fail(tape, s);
  }
  absl::StatusOr<TensorImpl*> out =
      internal::NewResult(tape, shape.shape(), impls[0]->dtype, impls[0]->device);
  if (!out.ok()) return internal::Fail(tape, out.status());
  int64_t start = 0;
  for (const TensorImpl* t : impls) {
    TensorImpl part;
    const int64_t size = t->layout.sizes[a];
    internal::InitView(&part, **out, (*out)->layout.Sliced(a, start, start + size, 1));
    if (absl::Status s = internal::Run(OpKind::kCopy, {t}, {&part}); !s.ok()) {
      return internal::Fail(tape, internal::Discard(*out, s));
    }
    start += size;
  }
  const int64_t extra[] = {a};
  return internal::FinishN(tape, *out, internal::GradOp::kConcat, impls, OpAttrs{},
                           extra);
}

Tensor Stack(absl::Span<const Tensor> tensors, int64_t axis) {
  if (tensors.empty()) {
    return internal::Fail(Tape::Current(),
                          absl::InvalidArgumentError("stack: needs at least one tensor"));
  }
  int a;
  if (!NormalizeAxis(axis, tensors[0].dim() + 1, &a)) {
    return internal::Fail(tensors[0].tape(), absl::InvalidArgumentError(absl::StrFormat(
                                                 "stack: axis %d is out of range for %s",
                                                 axis, Describe(tensors[0]))));
  }
  absl::InlinedVector<Tensor, 8> expanded;
  for (const Tensor& t : tensors) expanded.push_back(t.Unsqueeze(a));
  return Concatenate(expanded, a);
}

}  // namespace tapegrad
