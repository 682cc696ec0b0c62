// Elementwise CPU kernels: the rows of TAPEGRAD_BINARY_MATH_OPS (arithmetic,
// comparisons), neg, clamp, pow, scale, fill, copy, axpy, where, maximum_grad and
// binary cross-entropy. The unary math ops of TAPEGRAD_UNARY_MATH_OPS are in
// unary_math.cc.
// Contract (core/internal/registry.h): operands share one shape, any strides; the output
// may alias an input of the same layout. The math is core/internal/elementwise_math.h's,
// which the CUDA backend compiles too.
#include "core/internal/elementwise_math.h"
#include "core/internal/registry.h"
#include "kernels/cpu/map.h"

namespace tapegrad::cpu {
namespace {

// A row of TAPEGRAD_BINARY_MATH_OPS: out = Op::Forward(a, b).
template <class Op, class T>
absl::Status BinaryMath(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return Op::Forward(a, b); });
  return absl::OkStatus();
}

template <class T>
absl::Status Neg(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return -x; });
  return absl::OkStatus();
}
template <class T>
absl::Status Clamp(const KernelCall& c) {
  const T low = T(c.attrs.scalar0), high = T(c.attrs.scalar1);
  MapUnary<T>(c, [=](T x) { return math::Clamp(x, low, high); });
  return absl::OkStatus();
}
template <class T>
absl::Status ClampGrad(const KernelCall& c) {
  const T low = T(c.attrs.scalar0), high = T(c.attrs.scalar1);
  MapBinary<T>(c, [=](T x, T g) { return math::ClampGrad(x, g, low, high); });
  return absl::OkStatus();
}
template <class T>
absl::Status Pow(const KernelCall& c) {
  const T p = T(c.attrs.scalar0);
  if (p == T(2)) {  // the common square, as a multiply that vectorises
    MapUnary<T>(c, [](T x) { return math::Pow(x, T(2)); });
  } else {
    MapUnary<T>(c, [=](T x) { return math::Pow(x, p); });
  }
  return absl::OkStatus();
}
template <class T>
absl::Status PowGrad(const KernelCall& c) {
  const T p = T(c.attrs.scalar0);
  MapBinary<T>(c, [=](T x, T g) { return math::PowGrad(x, g, p); });
  return absl::OkStatus();
}
template <class T>
absl::Status Scale(const KernelCall& c) {
  const T f = T(c.attrs.scalar0);
  MapUnary<T>(c, [=](T x) { return x * f; });
  return absl::OkStatus();
}
template <class T>
absl::Status Copy(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return x; });
  return absl::OkStatus();
}

template <class T>
absl::Status Fill(const KernelCall& c) {
  const T v = T(c.attrs.scalar0);
  Loop<1>({c.outputs[0]}).Run(true, [&](int64_t n, char** p, const int64_t* s) {
    T* o = At<T>(p[0]);
    if (s[0] == sizeof(T)) {
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * (s[0] / int64_t(sizeof(T)))] = v;
    }
  });
  return absl::OkStatus();
}

template <class T>
absl::Status BceWithLogits(const KernelCall& c) {
  MapBinary<T>(c, [](T x, T y) { return math::BceWithLogits(x, y); });
  return absl::OkStatus();
}

// out += alpha * x, in place.
template <class T>
absl::Status Axpy(const KernelCall& c) {
  const T alpha = T(c.attrs.scalar0);
  TensorImpl* out = c.outputs[0];
  MapBinary<T>(KernelCall{c.op, {out, c.inputs[0]}, c.outputs, c.attrs},
               [=](T o, T x) { return o + alpha * x; });
  return absl::OkStatus();
}

template <class T>
absl::Status Where(const KernelCall& c) {
  Loop<4>({c.outputs[0], c.inputs[0], c.inputs[1], c.inputs[2]})
      .Run(true, [&](int64_t n, char** p, const int64_t* s) {
        for (int64_t i = 0; i < n; ++i) {
          const T cond = *At<T>(p[1] + i * s[1]);
          *At<T>(p[0] + i * s[0]) =
              cond != T(0) ? *At<T>(p[2] + i * s[2]) : *At<T>(p[3] + i * s[3]);
        }
      });
  return absl::OkStatus();
}

// (a, b, g) -> (a's share, b's share) of maximum(a, b)'s gradient.
template <class T>
absl::Status MaximumGrad(const KernelCall& c) {
  Loop<5>({c.outputs[0], c.outputs[1], c.inputs[0], c.inputs[1], c.inputs[2]})
      .Run(true, [&](int64_t n, char** p, const int64_t* s) {
        for (int64_t i = 0; i < n; ++i) {
          const T a = *At<T>(p[2] + i * s[2]);
          const T b = *At<T>(p[3] + i * s[3]);
          const T g = *At<T>(p[4] + i * s[4]);
          *At<T>(p[0] + i * s[0]) = math::MaximumShare(a, b, g);
          *At<T>(p[1] + i * s[1]) = math::MaximumShare(b, a, g);
        }
      });
  return absl::OkStatus();
}

#define TAPEGRAD_CPU_BINARY_MATH(Y, Name, ...)                                    \
  TAPEGRAD_REGISTER_KERNEL(k##Name, kF32, kCpu, (BinaryMath<math::Name, float>)); \
  TAPEGRAD_REGISTER_KERNEL(k##Name, kF64, kCpu, (BinaryMath<math::Name, double>));
TAPEGRAD_BINARY_MATH_OPS(TAPEGRAD_CPU_BINARY_MATH, )
#undef TAPEGRAD_CPU_BINARY_MATH
TAPEGRAD_REGISTER_FLOAT_KERNELS(kWhere, kCpu, Where);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kNeg, kCpu, Neg);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kClamp, kCpu, Clamp);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kClampGrad, kCpu, ClampGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kPow, kCpu, Pow);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kPowGrad, kCpu, PowGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kScale, kCpu, Scale);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kCopy, kCpu, Copy);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kFill, kCpu, Fill);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kAxpy, kCpu, Axpy);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kMaximumGrad, kCpu, MaximumGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kBceWithLogits, kCpu, BceWithLogits);
// i64 tensors are created, copied and filled, never differentiated.
TAPEGRAD_REGISTER_KERNEL(kCopy, kI64, kCpu, Copy<int64_t>);
TAPEGRAD_REGISTER_KERNEL(kFill, kI64, kCpu, Fill<int64_t>);

}  // namespace
}  // namespace tapegrad::cpu
