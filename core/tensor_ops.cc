// Forward passes of the differentiable tensor ops; their backward formulas are in
// tensor_backward.cc, the shared steps in tensor_dispatch.cc.
#include "core/tensor_ops.h"

#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"

namespace tapegrad {

using internal::Fail;
using internal::Finish;
using internal::GradOp;
using internal::OpError;

namespace {

// Checks the operands of an op: PlaceFast, then one dtype and device, f32 or f64.
// Sets *tape and impls[i] (operand i's impl, which the op uses from then on). False
// if a check fails; Unprepared then says which.
bool Prepare(std::initializer_list<const Tensor*> operands, Tape** tape,
             TensorImpl** impls) {
  if (!internal::PlaceFast(absl::MakeConstSpan(operands.begin(), operands.size()), tape,
                           impls)) {
    return false;
  }
  const absl::Span<const TensorImpl* const> checked(impls, operands.size());
  return internal::AllSameDTypeAndDevice(checked) && IsFloating(impls[0]->dtype);
}

// The error tensor of `op` for operands that Prepare refused: the first failed
// check's message, recorded on their tape (or the current one).
ABSL_ATTRIBUTE_NOINLINE Tensor Unprepared(const char* op,
                                          std::initializer_list<const Tensor*> operands) {
  Tape* tape = nullptr;
  absl::Status s =
      internal::Place(op, absl::MakeConstSpan(operands.begin(), operands.size()), &tape);
  if (s.ok()) {
    const TensorImpl* impls[3];  // the most any op here checks (where)
    size_t n = 0;
    for (const Tensor* t : operands) impls[n++] = t->impl();
    const absl::Span<const TensorImpl* const> checked(impls, n);
    s = internal::SameDTypeAndDevice(op, checked);
    TG_CHECK(!s.ok() || !IsFloating(impls[0]->dtype));  // else Prepare accepts them
    if (s.ok()) s = OpError(op, checked, "needs f32 or f64 operands");
  }
  Tape* any = nullptr;
  for (const Tensor* t : operands) any = any ? any : t->tape();
  return Fail(any ? any : Tape::Current(), s);
}

Tensor Binary(const char* name, OpKind kernel, GradOp grad_op, const Tensor& a,
              const Tensor& b) {
  Tape* tape;
  TensorImpl* in[2];
  if (!Prepare({&a, &b}, &tape, in)) return Unprepared(name, {&a, &b});
  absl::StatusOr<TensorImpl*> out = internal::RunBinary(tape, kernel, *in[0], *in[1]);
  if (!out.ok()) return Fail(tape, out.status());
  return Finish(tape, *out, grad_op, {in[0], in[1]});
}

// A comparison: computed as a binary op, but its result is a constant, recorded
// with no inputs, so no gradient flows through it.
Tensor Compare(const char* name, OpKind kernel, const Tensor& a, const Tensor& b) {
  Tape* tape;
  TensorImpl* in[2];
  if (!Prepare({&a, &b}, &tape, in)) return Unprepared(name, {&a, &b});
  absl::StatusOr<TensorImpl*> out = internal::RunBinary(tape, kernel, *in[0], *in[1]);
  if (!out.ok()) return Fail(tape, out.status());
  return Finish(tape, *out, GradOp::kCopy, {});
}

// `x` -> kernel(x); with `constant`, the result is recorded without inputs, so no
// gradient flows through it (as through Compare's results).
Tensor Unary(const char* name, OpKind kernel, GradOp grad_op, const Tensor& x,
             const OpAttrs& attrs = {}, bool constant = false) {
  Tape* tape;
  TensorImpl* in;
  if (!Prepare({&x}, &tape, &in)) return Unprepared(name, {&x});
  absl::StatusOr<TensorImpl*> out = internal::RunUnary(tape, kernel, *in, attrs);
  if (!out.ok()) return Fail(tape, out.status());
  if (constant) return Finish(tape, *out, GradOp::kCopy, {});
  return Finish(tape, *out, grad_op, {in}, attrs);
}

// A row of TAPEGRAD_UNARY_MATH_OPS, with parameters p0 and p1.
Tensor UnaryMath(const char* name, OpKind kernel, GradOp grad_op, internal::Saved saved,
                 const Tensor& x, double p0, double p1) {
  OpAttrs attrs;
  attrs.scalar0 = p0;
  attrs.scalar1 = p1;
  return Unary(name, kernel, grad_op, x, attrs, saved == internal::Saved::kNone);
}

// A constant (no gradient) of `shape` with the dtype and device of `like`, written
// by a kernel without inputs (kFill, kDropoutMask).
Tensor Generate(Tape* tape, Shape shape, const Tensor& like, OpKind kernel,
                const OpAttrs& attrs) {
  absl::StatusOr<TensorImpl*> out =
      internal::NewResult(tape, shape, like.dtype(), like.device());
  if (!out.ok()) return Fail(tape, out.status());
  if (absl::Status s = internal::Run(kernel, {}, {*out}, attrs); !s.ok()) {
    return Fail(tape, internal::Discard(*out, s));
  }
  return Finish(tape, *out, GradOp::kCopy, {});
}

// A 0-d constant like `like` (same dtype and device, and its tape if it has one).
Tensor ScalarLike(const Tensor& like, double value) {
  if (!like.ok()) return like;
  Tape* const tape = like.tape() != nullptr ? like.tape() : Tape::Current();
  if (!Representable(value, like.dtype())) {
    const TensorImpl* operands[] = {like.impl()};
    return Fail(tape, OpError("scalar", operands,
                              absl::StrFormat("%g is not a %s value", value,
                                              DTypeName(like.dtype()))));
  }
  OpAttrs attrs;
  attrs.scalar0 = value;
  return Generate(tape, {}, like, OpKind::kFill, attrs);
}

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
      return OpError(op, operands, absl::StrFormat("axis %d is out of range", axis));
    }
    if (mask & (1u << a)) {
      return OpError(op, operands, absl::StrFormat("axis %d is repeated", axis));
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
    return OpError(name, operands, "reduction over an empty axis");
  }
  return mask;
}

Tensor Reduce(const char* name, OpKind kernel, GradOp grad_op, const Tensor& x,
              absl::Span<const int64_t> axes, bool keepdim, bool mean) {
  Tape* tape;
  TensorImpl* checked;
  if (!Prepare({&x}, &tape, &checked)) return Unprepared(name, {&x});
  int64_t count;
  absl::StatusOr<uint32_t> mask =
      ReducedAxes(name, *checked, axes, kernel == OpKind::kSum, &count);
  if (!mask.ok()) return Fail(tape, mask.status());
  OpAttrs attrs;
  attrs.axes = *mask;
  attrs.scalar0 = mean ? 1.0 / static_cast<double>(count) : 1.0;
  absl::StatusOr<TensorImpl*> out =
      internal::RunReduce(tape, kernel, *checked, *mask, attrs.scalar0);
  if (!out.ok()) return Fail(tape, out.status());
  if (!keepdim) DropAxes(*out, *mask);
  return Finish(tape, *out, grad_op, {checked}, attrs);
}

// ArgMax and ArgMin: an i64 constant, over one axis or all of them.
Tensor ArgReduce(const char* name, OpKind kernel, const Tensor& x,
                 std::optional<int64_t> axis, bool keepdim) {
  Tape* tape;
  TensorImpl* checked;
  if (!Prepare({&x}, &tape, &checked)) return Unprepared(name, {&x});
  const int64_t one_axis[] = {axis.value_or(0)};
  int64_t count;
  absl::StatusOr<uint32_t> mask = ReducedAxes(
      name, *checked, axis ? absl::MakeConstSpan(one_axis) : absl::Span<const int64_t>(),
      /*allow_empty=*/false, &count);
  if (!mask.ok()) return Fail(tape, mask.status());
  absl::StatusOr<TensorImpl*> out = internal::RunReduce(tape, kernel, *checked, *mask);
  if (!out.ok()) return Fail(tape, out.status());
  if (!keepdim) DropAxes(*out, *mask);
  return Finish(tape, *out, GradOp::kCopy, {});
}

Tensor AlongAxis(const char* name, OpKind kernel, GradOp grad_op, const Tensor& x,
                 int64_t axis) {
  // An x that is not ok() is reported by Unary's own checks.
  int a = 0;
  if (x.ok() && !NormalizeAxis(axis, x.dim(), &a)) {
    const TensorImpl* operands[] = {x.impl()};
    return Fail(
        x.tape() ? x.tape() : Tape::Current(),
        OpError(name, operands, absl::StrFormat("axis %d is out of range", axis)));
  }
  OpAttrs attrs;
  attrs.axis = a;
  return Unary(name, kernel, grad_op, x, attrs);
}

// An op on floating `x` and an i64 operand (class labels, row indices) on the
// same device. `fits` checks the shapes and sets the output's.
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

}  // namespace

Tensor Add(const Tensor& a, const Tensor& b) {
  return Binary("add", OpKind::kAdd, GradOp::kAdd, a, b);
}
Tensor Sub(const Tensor& a, const Tensor& b) {
  return Binary("sub", OpKind::kSub, GradOp::kSub, a, b);
}
Tensor Mul(const Tensor& a, const Tensor& b) {
  return Binary("mul", OpKind::kMul, GradOp::kMul, a, b);
}
Tensor Div(const Tensor& a, const Tensor& b) {
  return Binary("div", OpKind::kDiv, GradOp::kDiv, a, b);
}
Tensor Maximum(const Tensor& a, const Tensor& b) {
  return Binary("maximum", OpKind::kMaximum, GradOp::kMaximum, a, b);
}
Tensor Minimum(const Tensor& a, const Tensor& b) {
  return Binary("minimum", OpKind::kMinimum, GradOp::kMinimum, a, b);
}

Tensor Greater(const Tensor& a, const Tensor& b) {
  return Compare("greater", OpKind::kGreater, a, b);
}
Tensor GreaterEqual(const Tensor& a, const Tensor& b) {
  return Compare("greater_equal", OpKind::kGreaterEqual, a, b);
}
Tensor Less(const Tensor& a, const Tensor& b) {
  return Compare("less", OpKind::kLess, a, b);
}
Tensor LessEqual(const Tensor& a, const Tensor& b) {
  return Compare("less_equal", OpKind::kLessEqual, a, b);
}
Tensor Equal(const Tensor& a, const Tensor& b) {
  return Compare("equal", OpKind::kEqual, a, b);
}
Tensor NotEqual(const Tensor& a, const Tensor& b) {
  return Compare("not_equal", OpKind::kNotEqual, a, b);
}

Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Tape* tape;
  TensorImpl* in[3];
  if (!Prepare({&cond, &a, &b}, &tape, in)) return Unprepared("where", {&cond, &a, &b});
  const TensorImpl* const impls[] = {in[0], in[1], in[2]};
  Layout ab, shape;
  if (!BroadcastShapes(in[1]->layout.shape(), in[2]->layout.shape(), &ab.rank,
                       ab.sizes) ||
      !BroadcastShapes(in[0]->layout.shape(), ab.shape(), &shape.rank, shape.sizes)) {
    return Fail(tape, OpError("where", impls, "shapes do not broadcast"));
  }
  if (absl::Status s = CheckShape("where", shape.shape()); !s.ok()) return Fail(tape, s);
  absl::StatusOr<TensorImpl*> out =
      internal::NewResult(tape, shape.shape(), in[1]->dtype, in[1]->device);
  if (!out.ok()) return Fail(tape, out.status());
  TensorImpl vc, va, vb;
  internal::InitView(&vc, *in[0], in[0]->layout.Expanded(shape.shape()));
  internal::InitView(&va, *in[1], in[1]->layout.Expanded(shape.shape()));
  internal::InitView(&vb, *in[2], in[2]->layout.Expanded(shape.shape()));
  if (absl::Status s = internal::Run(OpKind::kWhere, {&vc, &va, &vb}, {*out}); !s.ok()) {
    return Fail(tape, internal::Discard(*out, s));
  }
  return Finish(tape, *out, GradOp::kWhere, {in[0], in[1], in[2]});
}

Tensor Neg(const Tensor& x) { return Unary("neg", OpKind::kNeg, GradOp::kNeg, x); }

// The rows of TAPEGRAD_UNARY_MATH_OPS, by their number of parameters (the
// defaults are the declarations').
#define TAPEGRAD_UNARY_MATH_CALL(Name, name, saved, a, b) \
  UnaryMath(name, OpKind::k##Name, GradOp::k##Name, internal::Saved::saved, x, a, b)
#define TAPEGRAD_UNARY_MATH_0(Name, name, saved)              \
  Tensor Name(const Tensor& x) {                              \
    return TAPEGRAD_UNARY_MATH_CALL(Name, name, saved, 0, 0); \
  }
#define TAPEGRAD_UNARY_MATH_1(Name, name, saved)              \
  Tensor Name(const Tensor& x, double a) {                    \
    return TAPEGRAD_UNARY_MATH_CALL(Name, name, saved, a, 0); \
  }
#define TAPEGRAD_UNARY_MATH_2(Name, name, saved)              \
  Tensor Name(const Tensor& x, double a, double b) {          \
    return TAPEGRAD_UNARY_MATH_CALL(Name, name, saved, a, b); \
  }
#define TAPEGRAD_UNARY_MATH_DEFINE(Y, Name, name, enumerator, saved, params) \
  TAPEGRAD_UNARY_MATH_##params(Name, name, saved)
TAPEGRAD_UNARY_MATH_OPS(TAPEGRAD_UNARY_MATH_DEFINE, )
#undef TAPEGRAD_UNARY_MATH_DEFINE
#undef TAPEGRAD_UNARY_MATH_CALL
#undef TAPEGRAD_UNARY_MATH_0
#undef TAPEGRAD_UNARY_MATH_1
#undef TAPEGRAD_UNARY_MATH_2

Tensor Clamp(const Tensor& x, double low, double high) {
  OpAttrs attrs;
  attrs.scalar0 = low;
  attrs.scalar1 = high;
  if (!(low <= high)) {
    return Fail(x.tape(), absl::InvalidArgumentError(absl::StrFormat(
                              "clamp: low %g is above high %g (operand %s)", low, high,
                              Describe(x))));
  }
  return Unary("clamp", OpKind::kClamp, GradOp::kClamp, x, attrs);
}

Tensor Pow(const Tensor& x, double exponent) {
  OpAttrs attrs;
  attrs.scalar0 = exponent;
  return Unary("pow", OpKind::kPow, GradOp::kPow, x, attrs);
}

Tensor Scale(const Tensor& x, double factor) {
  OpAttrs attrs;
  attrs.scalar0 = factor;
  return Unary("scale", OpKind::kScale, GradOp::kScale, x, attrs);
}

Tensor Sum(const Tensor& x, absl::Span<const int64_t> axes, bool keepdim) {
  return Reduce("sum", OpKind::kSum, GradOp::kSum, x, axes, keepdim, false);
}
Tensor Mean(const Tensor& x, absl::Span<const int64_t> axes, bool keepdim) {
  return Reduce("mean", OpKind::kSum, GradOp::kSum, x, axes, keepdim, true);
}
Tensor Max(const Tensor& x, absl::Span<const int64_t> axes, bool keepdim) {
  return Reduce("max", OpKind::kMax, GradOp::kMax, x, axes, keepdim, false);
}
Tensor Min(const Tensor& x, absl::Span<const int64_t> axes, bool keepdim) {
  return Reduce("min", OpKind::kMin, GradOp::kMin, x, axes, keepdim, false);
}
Tensor ArgMax(const Tensor& x, std::optional<int64_t> axis, bool keepdim) {
  return ArgReduce("argmax", OpKind::kArgMax, x, axis, keepdim);
}
Tensor ArgMin(const Tensor& x, std::optional<int64_t> axis, bool keepdim) {
  return ArgReduce("argmin", OpKind::kArgMin, x, axis, keepdim);
}

Tensor MatMul(const Tensor& a, const Tensor& b) {
  Tape* tape;
  TensorImpl* in[2];
  if (!Prepare({&a, &b}, &tape, in)) return Unprepared("matmul", {&a, &b});
  const TensorImpl* const impls[] = {in[0], in[1]};
  if (a.dim() == 0 || b.dim() == 0) {
    return Fail(tape,
                OpError("matmul", impls, "operands must have at least 1 dimension"));
  }
  const int64_t k_a = a.shape().back();
  const int64_t k_b = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  if (k_a != k_b) {
    return Fail(tape,
                OpError("matmul", impls,
                        absl::StrFormat("inner dimensions differ (%d vs %d)", k_a, k_b)));
  }
  // torch.matmul: a 1-D operand is promoted to a matrix and the added axis removed.
  const Tensor a2 = a.dim() == 1 ? a.Unsqueeze(0) : a;
  const Tensor b2 = b.dim() == 1 ? b.Unsqueeze(-1) : b;
  if (!a2.ok()) return a2;
  if (!b2.ok()) return b2;
  absl::StatusOr<TensorImpl*> out = internal::RunMatMul(tape, *a2.impl(), *b2.impl());
  if (!out.ok()) return Fail(tape, out.status());
  Tensor c = Finish(tape, *out, GradOp::kMatMul, {a2.impl(), b2.impl()});
  if (a.dim() == 1) c = c.Squeeze(-2);
  if (b.dim() == 1) c = c.Squeeze(-1);
  return c;
}

Tensor Softmax(const Tensor& x, int64_t axis) {
  return AlongAxis("softmax", OpKind::kSoftmax, GradOp::kSoftmax, x, axis);
}
Tensor LogSoftmax(const Tensor& x, int64_t axis) {
  return AlongAxis("log_softmax", OpKind::kLogSoftmax, GradOp::kLogSoftmax, x, axis);
}

Tensor CrossEntropy(const Tensor& logits, const Tensor& targets) {
  return WithIndices("cross_entropy", OpKind::kCrossEntropy, GradOp::kCrossEntropy,
                     logits, targets, "needs logits [N, C] and i64 class indices [N]",
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
  return Mean(Binary("binary_cross_entropy_with_logits", OpKind::kBceWithLogits,
                     GradOp::kBceWithLogits, logits, targets));
}

Tensor Dropout(const Tensor& x, double p, uint64_t seed) {
  Tape* tape;
  TensorImpl* in;
  if (!Prepare({&x}, &tape, &in)) return Unprepared("dropout", {&x});
  if (!(p >= 0.0 && p <= 1.0)) {
    const TensorImpl* operands[] = {in};
    return Fail(tape, OpError("dropout", operands,
                              absl::StrFormat("p = %g is not in [0, 1]", p)));
  }
  if (p == 0.0) return x;
  OpAttrs attrs;
  attrs.scalar0 = p;
  attrs.seed = seed;
  return Mul(x, Generate(tape, x.shape(), x, OpKind::kDropoutMask, attrs));
}

Tensor IndexSelect(const Tensor& x, const Tensor& indices) {
  return WithIndices("index_select", OpKind::kIndexSelect, GradOp::kIndexSelect, x,
                     indices,
                     "needs a tensor of rank >= 1 and i64 indices [K] on its device",
                     [](const TensorImpl& x, const TensorImpl& i, Layout* out) {
                       *out = x.layout;
                       out->sizes[0] = i.layout.sizes[0];
                       return x.layout.rank >= 1 && i.layout.rank == 1;
                     });
}

Tensor Concatenate(absl::Span<const Tensor> tensors, int64_t axis) {
  if (tensors.empty()) {
    return Fail(Tape::Current(),
                absl::InvalidArgumentError("concatenate: needs at least one tensor"));
  }
  absl::InlinedVector<const Tensor*, 8> operands;
  for (const Tensor& t : tensors) operands.push_back(&t);
  Tape* tape;
  if (absl::Status s = internal::Place("concatenate", operands, &tape); !s.ok()) {
    return Fail(tape, s);
  }
  absl::InlinedVector<TensorImpl*, 8> impls;
  for (const Tensor& t : tensors) impls.push_back(t.impl());
  const absl::InlinedVector<const TensorImpl*, 8> const_impls(impls.begin(), impls.end());
  if (absl::Status s = internal::SameDTypeAndDevice("concatenate", const_impls);
      !s.ok()) {
    return Fail(tape, s);
  }
  const Layout& first = impls[0]->layout;
  int a;
  if (!NormalizeAxis(axis, first.rank, &a)) {
    return Fail(tape, OpError("concatenate", const_impls,
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
      return Fail(tape, OpError("concatenate", const_impls,
                                absl::StrFormat("shapes differ outside axis %d", a)));
    }
    if (!CheckedAdd(shape.sizes[a], t->layout.sizes[a], &shape.sizes[a])) {
      return Fail(tape, OpError("concatenate", const_impls,
                                absl::StrFormat("the result would have more than %d "
                                                "elements along axis %d",
                                                kMaxElements, a)));
    }
  }
  if (absl::Status s = CheckShape("concatenate", shape.shape()); !s.ok()) {
    return Fail(tape, s);
  }
  absl::StatusOr<TensorImpl*> out =
      internal::NewResult(tape, shape.shape(), impls[0]->dtype, impls[0]->device);
  if (!out.ok()) return Fail(tape, out.status());
  int64_t start = 0;
  for (const TensorImpl* t : impls) {
    TensorImpl part;
    const int64_t size = t->layout.sizes[a];
    internal::InitView(&part, **out, (*out)->layout.Sliced(a, start, start + size, 1));
    if (absl::Status s = internal::Run(OpKind::kCopy, {t}, {&part}); !s.ok()) {
      return Fail(tape, internal::Discard(*out, s));
    }
    start += size;
  }
  const int64_t extra[] = {a};
  return internal::FinishN(tape, *out, GradOp::kConcat, impls, OpAttrs{}, extra);
}

Tensor Stack(absl::Span<const Tensor> tensors, int64_t axis) {
  if (tensors.empty()) {
    return Fail(Tape::Current(),
                absl::InvalidArgumentError("stack: needs at least one tensor"));
  }
  int a;
  if (!NormalizeAxis(axis, tensors[0].dim() + 1, &a)) {
    return Fail(tensors[0].tape(), absl::InvalidArgumentError(absl::StrFormat(
                                       "stack: axis %d is out of range for %s", axis,
                                       Describe(tensors[0]))));
  }
  absl::InlinedVector<Tensor, 8> expanded;
  for (const Tensor& t : tensors) expanded.push_back(t.Unsqueeze(a));
  return Concatenate(expanded, a);
}

Tensor operator+(const Tensor& a, const Tensor& b) { return Add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return Sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return Mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return Div(a, b); }
Tensor operator-(const Tensor& x) { return Neg(x); }
Tensor operator+(const Tensor& a, double b) { return Add(a, ScalarLike(a, b)); }
Tensor operator+(double a, const Tensor& b) { return Add(ScalarLike(b, a), b); }
Tensor operator-(const Tensor& a, double b) { return Sub(a, ScalarLike(a, b)); }
Tensor operator-(double a, const Tensor& b) { return Sub(ScalarLike(b, a), b); }
Tensor operator*(const Tensor& a, double b) { return Scale(a, b); }
Tensor operator*(double a, const Tensor& b) { return Scale(b, a); }
Tensor operator/(const Tensor& a, double b) { return Scale(a, 1.0 / b); }
Tensor operator/(double a, const Tensor& b) { return Div(ScalarLike(b, a), b); }

}  // namespace tapegrad
