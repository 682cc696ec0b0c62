// Views: new shapes and strides over the same storage. On a tape they record, so
// that gradients flow back through them (tensor_backward.cc).
#include <numeric>

#include "absl/strings/str_format.h"
#include "core/internal/tensor_internal.h"
#include "core/tensor.h"

namespace tapegrad {

using internal::GradOp;

namespace {

// Makes a view of `x` with `layout`, recorded as `op` with `extra`.
Tensor View(const char* name, const Tensor& x, const Layout& layout, GradOp op,
            absl::Span<const int64_t> extra = {}) {
  Tape* tape;
  const Tensor* operands[] = {&x};
  if (absl::Status s = internal::Place(name, operands, &tape); !s.ok()) {
    return internal::Fail(tape, s);
  }
  absl::StatusOr<TensorImpl*> out = internal::NewView(tape, *x.impl(), layout);
  if (!out.ok()) return internal::Fail(tape, out.status());
  return internal::Finish(tape, *out, op, {x.impl()}, OpAttrs{}, extra);
}

Tensor ViewError(const char* name, const Tensor& x, const std::string& what) {
  if (!x.ok()) return View(name, x, Layout(), GradOp::kReshape);  // reports x's error
  const TensorImpl* operands[] = {x.impl()};
  return internal::Fail(x.tape() ? x.tape() : Tape::Current(),
                        internal::OpError(name, operands, what));
}

}  // namespace

Tensor Tensor::Transpose(int64_t a, int64_t b) const {
  int ia, ib;
  if (!ok() || !NormalizeAxis(a, dim(), &ia) || !NormalizeAxis(b, dim(), &ib)) {
    return ViewError("transpose", *this,
                     absl::StrFormat("axes (%d, %d) are out of range", a, b));
  }
  int64_t order[kMaxRank];
  std::iota(order, order + dim(), 0);
  std::swap(order[ia], order[ib]);
  return View("transpose", *this, impl_->layout.Transposed(ia, ib), GradOp::kPermute,
              {order, size_t(dim())});
}

Tensor Tensor::T() const {
  if (ok() && dim() < 2) return ViewError("T", *this, "needs at least 2 dimensions");
  return Transpose(-2, -1);
}

Tensor Tensor::Permute(Shape order) const {
  bool valid = ok() && order.size() == size_t(dim());
  int normalized[kMaxRank];
  int64_t extra[kMaxRank];
  uint32_t seen = 0;
  for (int i = 0; valid && i < dim(); ++i) {
    valid =
        NormalizeAxis(order[i], dim(), &normalized[i]) && !(seen & (1u << normalized[i]));
    if (!valid) break;  // normalized[i] is unset when the axis is out of range
    seen |= 1u << normalized[i];
    extra[i] = normalized[i];
  }
  if (!valid) {
    return ViewError(
        "permute", *this,
        absl::StrFormat("%s is not a permutation of the axes", ShapeString(order)));
  }
  return View("permute", *this, impl_->layout.Permuted({normalized, size_t(dim())}),
              GradOp::kPermute, {extra, size_t(dim())});
}

Tensor Tensor::Reshape(Shape shape) const {
  if (!ok()) return ViewError("reshape", *this, "");
  int64_t sizes[kMaxRank];
  int infer = -1;
  int64_t known = 1;
  bool valid = shape.size() <= size_t(kMaxRank);
  for (size_t i = 0; valid && i < shape.size(); ++i) {
    sizes[i] = shape[i];
    if (shape[i] == -1 && infer < 0) {
      infer = static_cast<int>(i);
    } else {
      valid = CheckedMul(known, shape[i], &known);  // false for negative sizes too
    }
  }
  if (valid && infer >= 0) {
    valid = known != 0 && numel() % known == 0;
    if (valid) sizes[infer] = numel() / known;
  }
  // Also refuses sizes whose product, with empty axes as 1, passes the limit: a
  // view of 0 elements as [0, 2^62, 18] would have strides that overflow.
  if (!valid || CheckedNumel({sizes, shape.size()}) != numel()) {
    return ViewError(
        "reshape", *this,
        absl::StrFormat("cannot view %d elements as %s", numel(), ShapeString(shape)));
  }
  if (!is_contiguous()) {
    return ViewError("reshape", *this, "needs contiguous data; call Contiguous() first");
  }
  Layout layout = Layout::Contiguous({sizes, shape.size()});
  layout.offset = impl_->layout.offset;
  return View("reshape", *this, layout, GradOp::kReshape);
}

Tensor Tensor::Slice(int64_t axis, int64_t start, int64_t stop, int64_t step) const {
  int a;
  if (!ok() || !NormalizeAxis(axis, dim(), &a) || step <= 0) {
    return ViewError(
        "slice", *this,
        absl::StrFormat("axis %d / step %d is invalid (steps must be > 0)", axis, step));
  }
  // Python's rules: negative bounds count from the end; out-of-range ones clamp.
  const int64_t n = impl_->layout.sizes[a];
  auto clamp = [n](int64_t i) {
    return std::min(std::max(i < 0 ? i + n : i, int64_t{0}), n);
  };
  start = clamp(start);
  stop = std::max(clamp(stop), start);
  const int64_t extra[] = {a, start, stop, step};
  return View("slice", *this, impl_->layout.Sliced(a, start, stop, step), GradOp::kSlice,
              extra);
}

Tensor Tensor::Expand(Shape shape) const {
  bool valid = ok() && shape.size() >= size_t(dim()) && shape.size() <= size_t(kMaxRank);
  int64_t sizes[kMaxRank];
  const int added = valid ? static_cast<int>(shape.size()) - dim() : 0;
  for (int i = 0; valid && i < static_cast<int>(shape.size()); ++i) {
    // As PyTorch: -1 keeps an existing axis's size; new leading axes need a size.
    const int64_t have = i >= added ? impl_->layout.sizes[i - added] : 1;
    sizes[i] = shape[i] == -1 && i >= added ? have : shape[i];
    valid = sizes[i] >= 0 && (have == sizes[i] || have == 1);
  }
  if (!valid) {
    return ViewError("expand", *this,
                     absl::StrFormat("cannot broadcast to %s", ShapeString(shape)));
  }
  // The one view whose sizes are the caller's, not derived from a valid layout's
  // (Note [Size limits]).
  const Shape expanded(sizes, shape.size());
  if (absl::Status s = CheckShape("expand", expanded); !s.ok()) {
    return internal::Fail(tape_ != nullptr ? tape_ : Tape::Current(), s);
  }
  return View("expand", *this, impl_->layout.Expanded(expanded), GradOp::kExpand);
}

Tensor Tensor::Squeeze(int64_t axis) const {
  int a;
  if (!ok() || !NormalizeAxis(axis, dim(), &a) || impl_->layout.sizes[a] != 1) {
    return ViewError("squeeze", *this, absl::StrFormat("axis %d is not of size 1", axis));
  }
  return View("squeeze", *this, impl_->layout.WithoutAxis(a), GradOp::kReshape);
}

Tensor Tensor::Unsqueeze(int64_t axis) const {
  int a;
  if (!ok() || dim() >= kMaxRank || !NormalizeAxis(axis, dim() + 1, &a)) {
    return ViewError("unsqueeze", *this,
                     absl::StrFormat("axis %d is out of range", axis));
  }
  return View("unsqueeze", *this, impl_->layout.WithAxis(a), GradOp::kReshape);
}

Tensor Tensor::Contiguous() const {
  if (ok() && is_contiguous()) return *this;
  Tape* tape;
  const Tensor* operands[] = {this};
  if (absl::Status s = internal::Place("contiguous", operands, &tape); !s.ok()) {
    return internal::Fail(tape_ ? tape_ : Tape::Current(), s);
  }
  absl::StatusOr<TensorImpl*> out = internal::RunUnary(tape, OpKind::kCopy, *impl_);
  if (!out.ok()) return internal::Fail(tape, out.status());
  return internal::Finish(tape, *out, GradOp::kCopy, {impl_});
}

Tensor Tensor::Detach() const {
  if (!ok()) return Error(status());
  absl::StatusOr<TensorImpl*> out = internal::RunUnary(nullptr, OpKind::kCopy, *impl_);
  if (!out.ok()) return Error(out.status());
  return Wrap(*out);
}

Tensor internal::PerChannel(const Tensor& v, int64_t rank) {
  Tensor out = v.Unsqueeze(0);
  for (int64_t axis = 2; axis < rank; ++axis) out = out.Unsqueeze(axis);
  return out;
}

}  // namespace tapegrad
