// The math of the elementwise ops, written once: the CPU kernels compile this
// header and every NVRTC module of the CUDA backend starts with its text (a
// genrule embeds it), so the two backends cannot drift apart.
//
//   float y = tapegrad::math::Softplus::Forward(x, /*beta=*/1.0f, /*threshold=*/20.0f);
//   float dx = tapegrad::math::Softplus::Backward(x, dy, 1.0f, 20.0f);
//
// TAPEGRAD_UNARY_MATH_OPS is the table of the differentiable unary ops whose
// forward and gradient are one formula each. A row there is the whole op: its
// kernel kinds (kName, kNameGrad), both backends' kernels, its backward rule, its
// C++ function and its C ABI dispatch are made from the row and the formula.
// Each formula is a struct with
//   static T Forward(T x, T p0, T p1)          the op, with its parameters
//   static T Backward(T saved, T g, T p0, T p1) dL/dx given dL/dy = g, where
//                                              saved is x or y (the row says)
// Ops without parameters ignore p0 and p1.
//
// TAPEGRAD_BINARY_MATH_OPS does the same for the broadcasting binary ops, whose
// formula is a struct with static T Forward(T a, T b); their backward rules are
// written by hand (core/tensor_backward.cc), since each reads other operands.
//
// The header must stay plain C++ that NVRTC accepts: no includes under
// __CUDACC_RTC__, no std:: in formulas (the host brings std's overloads into this
// namespace), no library constants such as M_PI.
//
// Thread safety: pure functions.
#ifndef TAPEGRAD_CORE_INTERNAL_ELEMENTWISE_MATH_H_
#define TAPEGRAD_CORE_INTERNAL_ELEMENTWISE_MATH_H_

#ifdef __CUDACC_RTC__
#define TAPEGRAD_MATH __device__ __forceinline__
#else
#include <cmath>
#define TAPEGRAD_MATH inline
#endif

// X(Y, Name, name, C enumerator, saved, parameters)
//   Name       the formula struct below, and the C++ function (core/tensor_ops.h)
//   name       the op's name in messages, the C ABI (tg_op_name) and Python
//   enumerator the tg_unary_op of capi/tapegrad_tensor.h, without its TG_ prefix
//   saved      what Backward reads: kInput (x), kOutput (y) or kNone (no gradient:
//              the result is recorded as a constant)
//   parameters how many of p0, p1 the C++ function takes (0, 1 or 2; their
//              defaults are the C++ declaration's, in core/tensor_ops.h)
// Y is passed through to X, so that a row can be expanded inside another table.
#define TAPEGRAD_UNARY_MATH_OPS(X, Y)                  \
  X(Y, Exp, "exp", EXP, kOutput, 0)                    \
  X(Y, Log, "log", LOG, kInput, 0)                     \
  X(Y, Tanh, "tanh", TANH, kOutput, 0)                 \
  X(Y, Relu, "relu", RELU, kInput, 0)                  \
  X(Y, Sigmoid, "sigmoid", SIGMOID, kOutput, 0)        \
  X(Y, Gelu, "gelu", GELU, kInput, 0)                  \
  X(Y, Sqrt, "sqrt", SQRT, kOutput, 0)                 \
  X(Y, Abs, "abs", ABS, kInput, 0)                     \
  X(Y, Softplus, "softplus", SOFTPLUS, kInput, 2)      \
  X(Y, Silu, "silu", SILU, kInput, 0)                  \
  X(Y, LeakyRelu, "leaky_relu", LEAKY_RELU, kInput, 1) \
  X(Y, Elu, "elu", ELU, kInput, 1)                     \
  X(Y, Log1p, "log1p", LOG1P, kInput, 0)               \
  X(Y, Expm1, "expm1", EXPM1, kOutput, 0)              \
  X(Y, Sin, "sin", SIN, kInput, 0)                     \
  X(Y, Cos, "cos", COS, kInput, 0)                     \
  X(Y, Square, "square", SQUARE, kInput, 0)            \
  X(Y, Rsqrt, "rsqrt", RSQRT, kOutput, 0)              \
  X(Y, Sign, "sign", SIGN, kNone, 0)                   \
  X(Y, Erf, "erf", ERF, kInput, 0)

// X(Y, Name, name, C enumerator, gradient)
//   Name, name  as in TAPEGRAD_UNARY_MATH_OPS
//   enumerator  the tg_binary_op of capi/tapegrad_tensor.h, without its TG_ prefix
//   gradient    Rule: Name##Backward in core/tensor_backward.cc is its backward
//               rule; None: the result (1 or 0) is recorded as a constant
#define TAPEGRAD_BINARY_MATH_OPS(X, Y)                     \
  X(Y, Add, "add", ADD, Rule)                              \
  X(Y, Sub, "sub", SUB, Rule)                              \
  X(Y, Mul, "mul", MUL, Rule)                              \
  X(Y, Div, "div", DIV, Rule)                              \
  X(Y, Maximum, "maximum", MAXIMUM, Rule)                  \
  X(Y, Minimum, "minimum", MINIMUM, Rule)                  \
  X(Y, Greater, "greater", GREATER, None)                  \
  X(Y, GreaterEqual, "greater_equal", GREATER_EQUAL, None) \
  X(Y, Less, "less", LESS, None)                           \
  X(Y, LessEqual, "less_equal", LESS_EQUAL, None)          \
  X(Y, Equal, "equal", EQUAL, None)                        \
  X(Y, NotEqual, "not_equal", NOT_EQUAL, None)

namespace tapegrad {
namespace math {

#ifndef __CUDACC_RTC__
using std::cos;
using std::erf;
using std::exp;
using std::expm1;
using std::fabs;
using std::log;
using std::log1p;
using std::pow;
using std::sin;
using std::sqrt;
using std::tanh;
#endif

// sqrt(1/2) and 2/sqrt(pi), to double precision.
#define TAPEGRAD_MATH_SQRT1_2 0.70710678118654752440
#define TAPEGRAD_MATH_2_SQRTPI 1.12837916709551257390

// Stable on both sides: exp of a non-positive number never overflows.
template <class T>
TAPEGRAD_MATH T StableSigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  const T e = exp(x);
  return e / (T(1) + e);
}

struct Exp {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return exp(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T y, T g, T, T) {
    return g * y;
  }
};

struct Log {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return log(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    return g / x;
  }
};

struct Tanh {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return tanh(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T y, T g, T, T) {
    return (T(1) - y * y) * g;
  }
};

// NaN stays NaN and the gradient at 0 is 0, as in PyTorch.
struct Relu {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return x < T(0) ? T(0) : x;
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    return x > T(0) ? g : T(0);
  }
};

struct Sigmoid {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return StableSigmoid(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T y, T g, T, T) {
    return y * (T(1) - y) * g;
  }
};

// The exact form with erf (PyTorch's approximate="none").
struct Gelu {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return T(0.5) * x * (T(1) + erf(x * T(TAPEGRAD_MATH_SQRT1_2)));
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    const T cdf = T(0.5) * (T(1) + erf(x * T(TAPEGRAD_MATH_SQRT1_2)));
    const T pdf =
        exp(T(-0.5) * x * x) * T(0.5 * TAPEGRAD_MATH_2_SQRTPI * TAPEGRAD_MATH_SQRT1_2);
    return (cdf + x * pdf) * g;
  }
};

struct Sqrt {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return sqrt(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T y, T g, T, T) {
    return g / y * T(0.5);
  }
};

// The gradient at 0 is 0, as in PyTorch.
struct Abs {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return fabs(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    return x > T(0) ? g : x < T(0) ? -g : T(0);
  }
};

// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold, as PyTorch.
struct Softplus {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T beta, T threshold) {
    return x * beta > threshold ? x : log1p(exp(x * beta)) / beta;
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T beta, T threshold) {
    return x * beta > threshold ? g : g * StableSigmoid(x * beta);
  }
};

// x sigmoid(x).
struct Silu {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return x * StableSigmoid(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    const T s = StableSigmoid(x);
    return g * s * (T(1) + x * (T(1) - s));
  }
};

// The slope applies at 0 too, as in PyTorch.
struct LeakyRelu {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T slope, T) {
    return x > T(0) ? x : x * slope;
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T slope, T) {
    return x > T(0) ? g : g * slope;
  }
};

// alpha (exp(x) - 1) for x <= 0, with expm1 (PyTorch 1.13 subtracts 1 from exp,
// losing every digit for tiny |x|); the gradient at 0 is alpha, as in PyTorch.
struct Elu {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T alpha, T) {
    return x > T(0) ? x : alpha * expm1(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T alpha, T) {
    return x > T(0) ? g : g * alpha * exp(x);
  }
};

struct Log1p {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return log1p(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    return g / (x + T(1));
  }
};

struct Expm1 {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return expm1(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T y, T g, T, T) {
    return g * (y + T(1));
  }
};

struct Sin {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return sin(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    return g * cos(x);
  }
};

struct Cos {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return cos(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    return -(g * sin(x));
  }
};

struct Square {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return x * x;
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    return g * T(2) * x;
  }
};

// 1 / sqrt(x); its gradient is -y^3 / 2.
struct Rsqrt {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return T(1) / sqrt(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T y, T g, T, T) {
    return T(-0.5) * g * y * y * y;
  }
};

// -1, 0 or 1; 0 keeps its sign bit as in PyTorch, and NaN stays NaN as in NumPy
// (PyTorch gives 0 there: its x > 0 - x < 0). No gradient: the row saves nothing,
// so Backward never runs.
struct Sign {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return x > T(0) ? T(1) : x < T(0) ? T(-1) : x;
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T, T, T, T) {
    return T(0);
  }
};

struct Erf {
  template <class T>
  static TAPEGRAD_MATH T Forward(T x, T, T) {
    return erf(x);
  }
  template <class T>
  static TAPEGRAD_MATH T Backward(T x, T g, T, T) {
    return g * T(TAPEGRAD_MATH_2_SQRTPI) * exp(-(x * x));
  }
};

// The rows of TAPEGRAD_BINARY_MATH_OPS.
#define TAPEGRAD_BINARY_FORMULA(Name, expression) \
  struct Name {                                   \
    template <class T>                            \
    static TAPEGRAD_MATH T Forward(T a, T b) {    \
      return expression;                          \
    }                                             \
  };
TAPEGRAD_BINARY_FORMULA(Add, a + b)
TAPEGRAD_BINARY_FORMULA(Sub, a - b)
TAPEGRAD_BINARY_FORMULA(Mul, a* b)
TAPEGRAD_BINARY_FORMULA(Div, a / b)
// NaN wins, as in PyTorch.
TAPEGRAD_BINARY_FORMULA(Maximum, (a > b || a != a) ? a : b)
TAPEGRAD_BINARY_FORMULA(Minimum, (a < b || a != a) ? a : b)
// Comparisons give 1 or 0 in the operands' dtype; NaN compares unequal to all.
TAPEGRAD_BINARY_FORMULA(Greater, a > b ? T(1) : T(0))
TAPEGRAD_BINARY_FORMULA(GreaterEqual, a >= b ? T(1) : T(0))
TAPEGRAD_BINARY_FORMULA(Less, a < b ? T(1) : T(0))
TAPEGRAD_BINARY_FORMULA(LessEqual, a <= b ? T(1) : T(0))
TAPEGRAD_BINARY_FORMULA(Equal, a == b ? T(1) : T(0))
TAPEGRAD_BINARY_FORMULA(NotEqual, a != b ? T(1) : T(0))
#undef TAPEGRAD_BINARY_FORMULA

// The formulas of the elementwise ops outside the tables (their C++ functions
// validate arguments or have signatures of their own).

// The share of a in the gradient g of maximum(a, b) (of b: swap them): as in
// PyTorch ties split the gradient; with a NaN operand (no order) both get all of
// it, since NaN is what the result is. minimum(a, b)'s shares are maximum(-a, -b)'s.
template <class T>
TAPEGRAD_MATH T MaximumShare(T a, T b, T g) {
  return g * (a == b ? T(0.5) : a < b ? T(0) : T(1));
}

template <class T>
TAPEGRAD_MATH T Clamp(T x, T low, T high) {
  return x < low ? low : x > high ? high : x;
}
template <class T>
TAPEGRAD_MATH T ClampGrad(T x, T g, T low, T high) {
  return x >= low && x <= high ? g : T(0);
}

template <class T>
TAPEGRAD_MATH T Pow(T x, T p) {
  return p == T(2) ? x * x : pow(x, p);
}
template <class T>
TAPEGRAD_MATH T PowGrad(T x, T g, T p) {
  return p == T(0) ? T(0) : p * pow(x, p - T(1)) * g;
}

// Binary cross-entropy of logit x against target y: softplus(x) - x y, written
// so that exp never overflows.
template <class T>
TAPEGRAD_MATH T BceWithLogits(T x, T y) {
  return (x > T(0) ? x : T(0)) - x * y + log1p(exp(-fabs(x)));
}

}  // namespace math
}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_ELEMENTWISE_MATH_H_
