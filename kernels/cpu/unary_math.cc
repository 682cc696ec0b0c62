// CPU kernels of the unary math ops, one pair (op, gradient) per row of
// TAPEGRAD_UNARY_MATH_OPS, with the formulas of core/internal/elementwise_math.h
// (which the CUDA backend compiles too). Contract as kernels/cpu/elementwise.cc's.
#include "core/internal/elementwise_math.h"
#include "core/internal/registry.h"
#include "kernels/cpu/map.h"

namespace tapegrad::cpu {
namespace {

// A row of TAPEGRAD_UNARY_MATH_OPS: y = Op::Forward(x, p0, p1).
template <class Op, class T>
absl::Status UnaryMath(const KernelCall& c) {
  const T p0 = T(c.attrs.scalar0), p1 = T(c.attrs.scalar1);
  MapUnary<T>(c, [=](T x) { return Op::Forward(x, p0, p1); });
  return absl::OkStatus();
}
// Its gradient kernel: (saved, g) -> Op::Backward(saved, g, p0, p1).
template <class Op, class T>
absl::Status UnaryMathGrad(const KernelCall& c) {
  const T p0 = T(c.attrs.scalar0), p1 = T(c.attrs.scalar1);
  MapBinary<T>(c, [=](T saved, T g) { return Op::Backward(saved, g, p0, p1); });
  return absl::OkStatus();
}

#define TAPEGRAD_CPU_UNARY_MATH(Y, Name, ...)                                     \
  TAPEGRAD_REGISTER_KERNEL(k##Name, kF32, kCpu, (UnaryMath<math::Name, float>));  \
  TAPEGRAD_REGISTER_KERNEL(k##Name, kF64, kCpu, (UnaryMath<math::Name, double>)); \
  TAPEGRAD_REGISTER_KERNEL(k##Name##Grad, kF32, kCpu,                             \
                           (UnaryMathGrad<math::Name, float>));                   \
  TAPEGRAD_REGISTER_KERNEL(k##Name##Grad, kF64, kCpu,                             \
                           (UnaryMathGrad<math::Name, double>));
TAPEGRAD_UNARY_MATH_OPS(TAPEGRAD_CPU_UNARY_MATH, )
#undef TAPEGRAD_CPU_UNARY_MATH

}  // namespace
}  // namespace tapegrad::cpu
