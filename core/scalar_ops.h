// Differentiable operations on scalar Values, micrograd's set and a few more.
//
//   Value y = (x * w + b).tanh();      // one record (Note [Temporaries fuse])
//   Value z = 2.0 * y - y.pow(3) / 4;  // numbers on either side
//   z += relu(y);                      // compound assignment records z + relu(y)
//   Value s = Dot(weights, inputs) + bias;   // one record with 2n+1 inputs
//
// Each op computes its result and its local partial derivatives at once and
// records them (Jacobian taping); backward never re-evaluates an op. The rules
// for every op are in core/internal/scalar_rules.h, one small struct each: to add
// an op, add a rule there and a function that names it here.
//
// Semantics follow micrograd: a / b is a * b**-1, relu passes gradient where the
// output is positive, pow takes a number as exponent. log of a non-positive number
// and pow of a negative base to a fractional exponent give NaN, as in C and PyTorch.
//
// Thread safety: as Tape; ops record on their operands' tape, on its thread.
#ifndef TAPEGRAD_CORE_SCALAR_OPS_H_
#define TAPEGRAD_CORE_SCALAR_OPS_H_

#include <utility>

#include "absl/base/attributes.h"
#include "absl/types/span.h"
#include "core/internal/scalar_rules.h"  // IWYU pragma: export
#include "core/tape.h"
#include "core/value.h"

namespace tapegrad {

#define TG_INTERNAL_SCALAR_BINARY(op, Rule)                                   \
  template <class A, class B, internal::EnableIfScalarOperands<A, B> = 0>     \
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline Value operator op(A&& a, B&& b) {       \
    return ScalarOpsAccess::Binary<internal::Rule>(std::forward<A>(a),        \
                                                   std::forward<B>(b));       \
  }                                                                           \
  template <class B, internal::EnableIfScalarOperands<Value, B> = 0>          \
  Value& operator op##=(Value& a, B&& b) {                                    \
    a = ScalarOpsAccess::Binary<internal::Rule>(static_cast<const Value&>(a), \
                                                std::forward<B>(b));          \
    return a;                                                                 \
  }

TG_INTERNAL_SCALAR_BINARY(+, AddRule)
TG_INTERNAL_SCALAR_BINARY(-, SubRule)
TG_INTERNAL_SCALAR_BINARY(*, MulRule)
TG_INTERNAL_SCALAR_BINARY(/, DivRule)
#undef TG_INTERNAL_SCALAR_BINARY

#define TG_INTERNAL_SCALAR_UNARY(name, Rule)                             \
  template <class A, internal::EnableIfValue<A> = 0>                     \
  ABSL_ATTRIBUTE_ALWAYS_INLINE inline Value name(A&& a) {                \
    return ScalarOpsAccess::Unary(std::forward<A>(a), internal::Rule{}); \
  }

TG_INTERNAL_SCALAR_UNARY(operator-, NegRule)
TG_INTERNAL_SCALAR_UNARY(relu, ReluRule)
TG_INTERNAL_SCALAR_UNARY(tanh, TanhRule)
TG_INTERNAL_SCALAR_UNARY(exp, ExpRule)
TG_INTERNAL_SCALAR_UNARY(log, LogRule)
TG_INTERNAL_SCALAR_UNARY(sigmoid, SigmoidRule)
#undef TG_INTERNAL_SCALAR_UNARY

// a ** exponent.
template <class A, internal::EnableIfValue<A> = 0>
Value pow(A&& a, double exponent) {
  return ScalarOpsAccess::Unary(std::forward<A>(a), internal::PowRule{{}, exponent});
}

namespace internal {

template <class V>
struct ValueMethods {
  template <class A>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Relu(A&& a) {
    return tapegrad::relu(std::forward<A>(a));
  }
  template <class A>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Tanh(A&& a) {
    return tapegrad::tanh(std::forward<A>(a));
  }
  template <class A>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Exp(A&& a) {
    return tapegrad::exp(std::forward<A>(a));
  }
  template <class A>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Log(A&& a) {
    return tapegrad::log(std::forward<A>(a));
  }
  template <class A>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Sigmoid(A&& a) {
    return tapegrad::sigmoid(std::forward<A>(a));
  }
  template <class A>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static Value Pow(A&& a, double exponent) {
    return tapegrad::pow(std::forward<A>(a), exponent);
  }
};

}  // namespace internal

// The sum of `values` as one record (micrograd's sum() over a list, without the
// chain of additions). An empty span is an error: there is no tape to put 0 on.
inline Value Sum(absl::Span<const Value> values) { return ScalarOpsAccess::Sum(values); }

// The dot product of two equally long spans as one record: a Neuron's w . x.
inline Value Dot(absl::Span<const Value> a, absl::Span<const Value> b) {
  return ScalarOpsAccess::Dot(a, b);
}

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_SCALAR_OPS_H_
