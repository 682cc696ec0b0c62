// The forms most tensor ops take (checks, then a kernel, then a record), and the
// elementwise ops and operators built on them. Reductions are in
// tensor_reduce.cc, linear algebra in tensor_linalg.cc, losses in
// tensor_losses.cc, joins and gathers in tensor_joins.cc; their backward formulas
// in tensor_backward.cc, the shared steps in tensor_dispatch.cc.
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_format.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"
#include "core/tensor_ops.h"

namespace tapegrad {
namespace internal {

bool Prepare(absl::Span<const Tensor* const> operands, Tape** tape, TensorImpl** impls) {
  if (!internal::PlaceFast(operands, tape, impls)) return false;
  const absl::Span<const TensorImpl* const> checked(impls, operands.size());
  return internal::AllSameDTypeAndDevice(checked) && IsFloating(impls[0]->dtype);
}

ABSL_ATTRIBUTE_NOINLINE Tensor Unprepared(const char* op,
                                          absl::Span<const Tensor* const> operands) {
  Tape* tape = nullptr;
  absl::Status s = internal::Place(op, operands, &tape);
  if (s.ok()) {
    absl::InlinedVector<const TensorImpl*, 5> impls;
    for (const Tensor* t : operands) impls.push_back(t->impl());
    s = internal::SameDTypeAndDevice(op, impls);
    TG_CHECK(!s.ok() || !IsFloating(impls[0]->dtype));  // else Prepare accepts them
    if (s.ok()) s = OpError(op, impls, "needs f32 or f64 operands");
  }
  Tape* any = nullptr;
  for (const Tensor* t : operands) any = any ? any : t->tape();
  return Fail(any ? any : Tape::Current(), s);
}

Tensor Binary(const char* name, OpKind kernel, GradOp grad_op, const Tensor& a,
              const Tensor& b, bool constant) {
  Tape* tape;
  TensorImpl* in[2];
  if (!Prepare({&a, &b}, &tape, in)) return Unprepared(name, {&a, &b});
  absl::StatusOr<TensorImpl*> out = internal::RunBinary(tape, kernel, *in[0], *in[1]);
  if (!out.ok()) return Fail(tape, out.status());
  if (constant) return Finish(tape, *out, GradOp::kCopy, {});
  return Finish(tape, *out, grad_op, {in[0], in[1]});
}

Tensor Unary(const char* name, OpKind kernel, GradOp grad_op, const Tensor& x,
             const OpAttrs& attrs, bool constant) {
  Tape* tape;
  TensorImpl* in;
  if (!Prepare({&x}, &tape, &in)) return Unprepared(name, {&x});
  absl::StatusOr<TensorImpl*> out = internal::RunUnary(tape, kernel, *in, attrs);
  if (!out.ok()) return Fail(tape, out.status());
  if (constant) return Finish(tape, *out, GradOp::kCopy, {});
  return Finish(tape, *out, grad_op, {in}, attrs);
}

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

namespace {

// A row of TAPEGRAD_UNARY_MATH_OPS, with parameters p0 and p1.
Tensor UnaryMath(const char* name, OpKind kernel, GradOp grad_op, internal::Saved saved,
                 const Tensor& x, double p0, double p1) {
  OpAttrs attrs;
  attrs.scalar0 = p0;
  attrs.scalar1 = p1;
  return Unary(name, kernel, grad_op, x, attrs, saved == internal::Saved::kNone);
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

}  // namespace
}  // namespace internal

using internal::Binary;
using internal::Fail;
using internal::Finish;
using internal::Generate;
using internal::GradOp;
using internal::OpError;
using internal::Prepare;
using internal::ScalarLike;
using internal::Unary;
using internal::UnaryMath;
using internal::Unprepared;

// The rows of TAPEGRAD_BINARY_MATH_OPS: differentiable ones record their rule,
// comparisons a constant.
#define TAPEGRAD_BINARY_MATH_DEFINITION(Y, Name, name, enumerator, gradient) \
  Tensor Name(const Tensor& a, const Tensor& b) {                            \
    TAPEGRAD_BINARY_MATH_##gradient(Name, name)                              \
  }
#define TAPEGRAD_BINARY_MATH_Rule(Name, name) \
  return Binary(name, OpKind::k##Name, GradOp::k##Name, a, b);
#define TAPEGRAD_BINARY_MATH_None(Name, name) \
  return Binary(name, OpKind::k##Name, GradOp::kCopy, a, b, /*constant=*/true);
TAPEGRAD_BINARY_MATH_OPS(TAPEGRAD_BINARY_MATH_DEFINITION, )
#undef TAPEGRAD_BINARY_MATH_DEFINITION
#undef TAPEGRAD_BINARY_MATH_Rule
#undef TAPEGRAD_BINARY_MATH_None

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
