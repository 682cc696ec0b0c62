// Elementwise CPU kernels: arithmetic, activations, their gradients, fill, copy.
// Contract (core/registry.h): operands share one shape, any strides; the output
// may alias an input of the same layout. Rows with unit strides (and stride-0
// scalars) take loops that g++ vectorises at -O3 (see the BUILD file).
#include <cmath>

#include "absl/base/attributes.h"
#include "core/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/streaming.h"

namespace tapegrad::cpu {
namespace {

template <class T>
T* At(char* p) {
  return reinterpret_cast<T*>(p);
}

// Runs rows(begin, end) over a flat range of n, on both cores when it is large.
// Small ranges call `rows` directly, not through ParallelFor's FunctionRef, so
// that the loop inlines here.
template <class Rows>
void FlatRows(int64_t n, const Rows& rows) {
  if (n < 2 * kParallelGrain) {
    rows(0, n);
  } else {
    ParallelFor(n, kParallelGrain, rows);
  }
}

// o[i] = value(i) for i < n, where the op reads and writes `arrays` contiguous
// arrays of n Ts in all: on both cores when n is large, and with streaming stores
// when those arrays together exceed the cache (kernels/cpu/streaming.h).
template <class T, class Value>
void MapContiguous(T* o, int64_t n, int arrays, const Value& value) {
  if (StreamsOutput(arrays * n * int64_t{sizeof(T)})) {
    FlatRows(n, [&](int64_t begin, int64_t end) { StreamRows(o, begin, end, value); });
    return;
  }
  FlatRows(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) o[i] = value(i);
  });
}

// MapUnary's general path, out of line: the strided loop's set-up needs a large
// stack frame that the contiguous path of every small op would pay for too.
template <class T, class F>
ABSL_ATTRIBUTE_NOINLINE void MapUnaryStrided(const KernelCall& c, F f) {
  Loop<2>({c.outputs[0], c.inputs[0]})
      .Run(true, [&](int64_t n, char** p, const int64_t* s) {
        T* o = At<T>(p[0]);
        const T* x = At<T>(p[1]);
        if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
        } else {
          const int64_t so = s[0] / sizeof(T), sx = s[1] / sizeof(T);
          for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx]);
        }
      });
}

// out = f(x). `f` must be a lambda (a function pointer would not inline).
template <class T, class F>
void MapUnary(const KernelCall& c, F f) {
  const TensorImpl &out = *c.outputs[0], &x = *c.inputs[0];
  if (out.layout.IsContiguous() && x.layout.IsContiguous()) {
    const T* px = x.data_as<T>();
    MapContiguous(out.data_as<T>(), out.numel(), 2, [=](int64_t i) { return f(px[i]); });
    return;
  }
  MapUnaryStrided<T>(c, f);
}

// MapBinary's general path, out of line (see MapUnaryStrided).
template <class T, class F>
ABSL_ATTRIBUTE_NOINLINE void MapBinaryStrided(const KernelCall& c, F f) {
  Loop<3>({c.outputs[0], c.inputs[0], c.inputs[1]})
      .Run(true, [&](int64_t n, char** p, const int64_t* s) {
        T* o = At<T>(p[0]);
        const T* a = At<T>(p[1]);
        const T* b = At<T>(p[2]);
        constexpr int64_t u = sizeof(T);
        if (s[0] == u && s[1] == u && s[2] == u) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
        } else if (s[0] == u && s[1] == u && s[2] == 0) {
          const T bv = *b;
          for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
        } else if (s[0] == u && s[1] == 0 && s[2] == u) {
          const T av = *a;
          for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
        } else {
          const int64_t so = s[0] / u, sa = s[1] / u, sb = s[2] / u;
          for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb]);
        }
      });
}

// out = f(a, b), with fast rows for contiguous operands and for a scalar one.
template <class T, class F>
void MapBinary(const KernelCall& c, F f) {
  const TensorImpl &out = *c.outputs[0], &a = *c.inputs[0], &b = *c.inputs[1];
  if (out.layout.IsContiguous() && a.layout.IsContiguous() && b.layout.IsContiguous()) {
    // One flat row: skips the strided loop's set-up, which dominates small tensors.
    const T* pa = a.data_as<T>();
    const T* pb = b.data_as<T>();
    MapContiguous(out.data_as<T>(), out.numel(), 3,
                  [=](int64_t i) { return f(pa[i], pb[i]); });
    return;
  }
  MapBinaryStrided<T>(c, f);
}

template <class T>
T Relu(T x) {
  return x > T(0) ? x : T(0);
}
template <class T>
T Sigmoid(T x) {
  // Stable on both sides: exp of a non-positive number never overflows.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
template <class T>
T Gelu(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2)));
}
template <class T>
T GeluGrad(T x) {
  const T cdf = T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
  const T pdf = std::exp(T(-0.5) * x * x) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);
  return cdf + x * pdf;
}
template <class T>
T Maximum(T a, T b) {
  return (a > b || a != a) ? a : b;  // NaN wins, as in PyTorch
}
template <class T>
T Minimum(T a, T b) {
  return (a < b || a != a) ? a : b;
}

template <class T>
absl::Status Add(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a + b; });
  return absl::OkStatus();
}
template <class T>
absl::Status Sub(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a - b; });
  return absl::OkStatus();
}
template <class T>
absl::Status Mul(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a * b; });
  return absl::OkStatus();
}
template <class T>
absl::Status Div(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a / b; });
  return absl::OkStatus();
}
template <class T>
absl::Status MaximumKernel(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return Maximum(a, b); });
  return absl::OkStatus();
}
template <class T>
absl::Status MinimumKernel(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return Minimum(a, b); });
  return absl::OkStatus();
}
template <class T>
absl::Status Equal(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a == b ? T(1) : T(0); });
  return absl::OkStatus();
}
template <class T>
absl::Status NotEqual(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a != b ? T(1) : T(0); });
  return absl::OkStatus();
}
template <class T>
absl::Status Greater(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a > b ? T(1) : T(0); });
  return absl::OkStatus();
}
template <class T>
absl::Status GreaterEqual(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a >= b ? T(1) : T(0); });
  return absl::OkStatus();
}
template <class T>
absl::Status Less(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a < b ? T(1) : T(0); });
  return absl::OkStatus();
}
template <class T>
absl::Status LessEqual(const KernelCall& c) {
  MapBinary<T>(c, [](T a, T b) { return a <= b ? T(1) : T(0); });
  return absl::OkStatus();
}

// Gradient kernels take (saved x or y, g).
template <class T>
absl::Status ReluGrad(const KernelCall& c) {
  MapBinary<T>(c, [](T x, T g) { return x > T(0) ? g : T(0); });
  return absl::OkStatus();
}
template <class T>
absl::Status TanhGrad(const KernelCall& c) {
  MapBinary<T>(c, [](T y, T g) { return (T(1) - y * y) * g; });
  return absl::OkStatus();
}
template <class T>
absl::Status SigmoidGrad(const KernelCall& c) {
  MapBinary<T>(c, [](T y, T g) { return y * (T(1) - y) * g; });
  return absl::OkStatus();
}
template <class T>
absl::Status GeluGradKernel(const KernelCall& c) {
  MapBinary<T>(c, [](T x, T g) { return GeluGrad(x) * g; });
  return absl::OkStatus();
}
template <class T>
absl::Status AbsGrad(const KernelCall& c) {
  MapBinary<T>(c, [](T x, T g) { return x > T(0) ? g : x < T(0) ? -g : T(0); });
  return absl::OkStatus();
}
template <class T>
absl::Status ClampGrad(const KernelCall& c) {
  const T low = T(c.attrs.scalar0), high = T(c.attrs.scalar1);
  MapBinary<T>(c, [=](T x, T g) { return x >= low && x <= high ? g : T(0); });
  return absl::OkStatus();
}
template <class T>
absl::Status PowGrad(const KernelCall& c) {
  const T p = T(c.attrs.scalar0);
  MapBinary<T>(
      c, [=](T x, T g) { return p == T(0) ? T(0) : p * std::pow(x, p - T(1)) * g; });
  return absl::OkStatus();
}

template <class T>
absl::Status Neg(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return -x; });
  return absl::OkStatus();
}
template <class T>
absl::Status Exp(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return std::exp(x); });
  return absl::OkStatus();
}
template <class T>
absl::Status Log(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return std::log(x); });
  return absl::OkStatus();
}
template <class T>
absl::Status Tanh(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return std::tanh(x); });
  return absl::OkStatus();
}
template <class T>
absl::Status ReluKernel(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return Relu(x); });
  return absl::OkStatus();
}
template <class T>
absl::Status SigmoidKernel(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return Sigmoid(x); });
  return absl::OkStatus();
}
template <class T>
absl::Status GeluKernel(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return Gelu(x); });
  return absl::OkStatus();
}
template <class T>
absl::Status Sqrt(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return std::sqrt(x); });
  return absl::OkStatus();
}
template <class T>
absl::Status Abs(const KernelCall& c) {
  MapUnary<T>(c, [](T x) { return std::abs(x); });
  return absl::OkStatus();
}
template <class T>
absl::Status Clamp(const KernelCall& c) {
  const T low = T(c.attrs.scalar0), high = T(c.attrs.scalar1);
  MapUnary<T>(c, [=](T x) { return x < low ? low : x > high ? high : x; });
  return absl::OkStatus();
}
template <class T>
absl::Status Pow(const KernelCall& c) {
  const T p = T(c.attrs.scalar0);
  if (p == T(2)) {
    MapUnary<T>(c, [](T x) { return x * x; });
  } else {
    MapUnary<T>(c, [=](T x) { return std::pow(x, p); });
  }
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

// Binary cross-entropy of logits x against targets y, elementwise:
// softplus(x) - x*y, written so that exp never overflows.
template <class T>
absl::Status BceWithLogits(const KernelCall& c) {
  MapBinary<T>(c, [](T x, T y) {
    return (x > T(0) ? x : T(0)) - x * y + std::log1p(std::exp(-std::abs(x)));
  });
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

// (a, b, g) -> (g * [!(a < b)], g * [!(a > b)]), each halved where a == b
template <class T>
absl::Status MaximumGrad(const KernelCall& c) {
  Loop<5>({c.outputs[0], c.outputs[1], c.inputs[0], c.inputs[1], c.inputs[2]})
      .Run(true, [&](int64_t n, char** p, const int64_t* s) {
        for (int64_t i = 0; i < n; ++i) {
          const T a = *At<T>(p[2] + i * s[2]);
          const T b = *At<T>(p[3] + i * s[3]);
          const T g = *At<T>(p[4] + i * s[4]);
          // As PyTorch: ties split the gradient; with a NaN operand (no order)
          // both get all of it, since NaN is what the result is.
          *At<T>(p[0] + i * s[0]) = g * (a == b ? T(0.5) : a < b ? T(0) : T(1));
          *At<T>(p[1] + i * s[1]) = g * (a == b ? T(0.5) : a > b ? T(0) : T(1));
        }
      });
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_FLOAT_KERNELS(kAdd, kCpu, Add);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kSub, kCpu, Sub);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kMul, kCpu, Mul);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kDiv, kCpu, Div);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kMaximum, kCpu, MaximumKernel);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kMinimum, kCpu, MinimumKernel);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kEqual, kCpu, Equal);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kNotEqual, kCpu, NotEqual);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kGreater, kCpu, Greater);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kGreaterEqual, kCpu, GreaterEqual);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kLess, kCpu, Less);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kLessEqual, kCpu, LessEqual);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kWhere, kCpu, Where);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kNeg, kCpu, Neg);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kExp, kCpu, Exp);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kLog, kCpu, Log);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kTanh, kCpu, Tanh);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kRelu, kCpu, ReluKernel);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kSigmoid, kCpu, SigmoidKernel);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kGelu, kCpu, GeluKernel);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kSqrt, kCpu, Sqrt);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kAbs, kCpu, Abs);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kClamp, kCpu, Clamp);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kPow, kCpu, Pow);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kScale, kCpu, Scale);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kCopy, kCpu, Copy);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kFill, kCpu, Fill);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kAxpy, kCpu, Axpy);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kReluGrad, kCpu, ReluGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kTanhGrad, kCpu, TanhGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kSigmoidGrad, kCpu, SigmoidGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kGeluGrad, kCpu, GeluGradKernel);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kAbsGrad, kCpu, AbsGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kClampGrad, kCpu, ClampGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kPowGrad, kCpu, PowGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kMaximumGrad, kCpu, MaximumGrad);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kBceWithLogits, kCpu, BceWithLogits);
// i64 tensors are created, copied and filled, never differentiated.
TAPEGRAD_REGISTER_KERNEL(kCopy, kI64, kCpu, Copy<int64_t>);
TAPEGRAD_REGISTER_KERNEL(kFill, kI64, kCpu, Fill<int64_t>);

}  // namespace
}  // namespace tapegrad::cpu
