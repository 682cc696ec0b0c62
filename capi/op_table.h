// The C ABI's tensor ops, one row each: the TG_ number, the name tg_op_name gives
// for it (and the Python package reads at import), and the tapegrad function the
// call dispatches to. Dispatch and names both come from these rows, so a number
// cannot reach one op and be named as another; tests/capi_test.c checks every
// enumerator of capi/tapegrad_tensor.h against tg_op_name. Not installed.
#ifndef TAPEGRAD_CAPI_OP_TABLE_H_
#define TAPEGRAD_CAPI_OP_TABLE_H_

#include "core/internal/elementwise_math.h"

// X(enumerator, name, function of (x, parameters...), number of parameters):
// neg, then the rows of TAPEGRAD_UNARY_MATH_OPS (core/internal/elementwise_math.h).
#define TAPEGRAD_CAPI_UNARY_OPS(X) \
  X(TG_NEG, "neg", Neg, 0)         \
  TAPEGRAD_UNARY_MATH_OPS(TAPEGRAD_CAPI_UNARY_MATH_ROW, X)
#define TAPEGRAD_CAPI_UNARY_MATH_ROW(X, Name, name, enumerator, saved, params) \
  X(TG_##enumerator, name, Name, params)

// X(enumerator, name, function of (a, b))
#define TAPEGRAD_CAPI_BINARY_OPS(X)                                      \
  X(TG_ADD, "add", Add)                                                  \
  X(TG_SUB, "sub", Sub)                                                  \
  X(TG_MUL, "mul", Mul)                                                  \
  X(TG_DIV, "div", Div)                                                  \
  X(TG_MAXIMUM, "maximum", Maximum)                                      \
  X(TG_MINIMUM, "minimum", Minimum)                                      \
  X(TG_MATMUL, "matmul", MatMul)                                         \
  X(TG_MSE, "mse", Mse)                                                  \
  X(TG_CROSS_ENTROPY, "cross_entropy", CrossEntropy)                     \
  X(TG_BCE_WITH_LOGITS, "bce_with_logits", BinaryCrossEntropyWithLogits) \
  X(TG_GREATER, "greater", Greater)                                      \
  X(TG_GREATER_EQUAL, "greater_equal", GreaterEqual)                     \
  X(TG_LESS, "less", Less)                                               \
  X(TG_LESS_EQUAL, "less_equal", LessEqual)                              \
  X(TG_EQUAL, "equal", Equal)                                            \
  X(TG_NOT_EQUAL, "not_equal", NotEqual)

// X(enumerator, name, function of (x, axes, keepdim))
#define TAPEGRAD_CAPI_REDUCE_OPS(X) \
  X(TG_SUM, "sum", Sum)             \
  X(TG_MEAN, "mean", Mean)          \
  X(TG_MAX, "max", Max)             \
  X(TG_MIN, "min", Min)

// X(enumerator, name, function of (x, axis or all, keepdim))
#define TAPEGRAD_CAPI_ARG_REDUCE_OPS(X) \
  X(TG_ARGMAX, "argmax", ArgMax)        \
  X(TG_ARGMIN, "argmin", ArgMin)

#endif  // TAPEGRAD_CAPI_OP_TABLE_H_
