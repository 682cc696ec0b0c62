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

// X(enumerator, name, function of (a, b)): the rows of TAPEGRAD_BINARY_MATH_OPS,
// then the binary ops outside it.
#define TAPEGRAD_CAPI_BINARY_OPS(X)                          \
  TAPEGRAD_BINARY_MATH_OPS(TAPEGRAD_CAPI_BINARY_MATH_ROW, X) \
  X(TG_MATMUL, "matmul", MatMul)                             \
  X(TG_MSE, "mse", Mse)                                      \
  X(TG_CROSS_ENTROPY, "cross_entropy", CrossEntropy)         \
  X(TG_BCE_WITH_LOGITS, "bce_with_logits", BinaryCrossEntropyWithLogits)
#define TAPEGRAD_CAPI_BINARY_MATH_ROW(X, Name, name, enumerator, gradient) \
  X(TG_##enumerator, name, Name)

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
