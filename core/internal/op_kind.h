// Every kernel the registry knows, by name. One OpKind is one kernel contract
// (inputs, outputs, attributes), implemented once per (dtype, device).
//
//   tapegrad::OpKindName(tapegrad::OpKind::kMatMul);   // "matmul"
//
// Differentiable ops use these for their forward pass and, in their backward
// formulas (core/tensor_backward.cc), for their gradients, so that a device with
// every kernel gets autograd for free. The *Grad kinds exist only for backward.
// The numbers are internal: the C ABI and messages name kinds by OpKindName.
//
// Thread safety: constants and pure functions only.
#ifndef TAPEGRAD_CORE_INTERNAL_OP_KIND_H_
#define TAPEGRAD_CORE_INTERNAL_OP_KIND_H_

#include <cstdint>

#include "core/internal/elementwise_math.h"

namespace tapegrad {

// X(enumerator, name, number of inputs, number of outputs). The counts are the
// usual ones: kConv2d may take a bias as a third input, and kConv2dWeightGrad
// then write its gradient as a second output (core/internal/registry.h).
#define TAPEGRAD_OP_KINDS(X)                             \
  /* elementwise, broadcasting */                        \
  TAPEGRAD_BINARY_MATH_OPS(TAPEGRAD_BINARY_MATH_KIND, X) \
  X(kWhere, "where", 3, 1)                               \
  X(kNeg, "neg", 1, 1)                                   \
  X(kClamp, "clamp", 1, 1)                               \
  X(kPow, "pow", 1, 1)                                   \
  X(kScale, "scale", 1, 1)                               \
  X(kCopy, "copy", 1, 1)                                 \
  X(kFill, "fill", 0, 1)                                 \
  X(kAxpy, "axpy", 1, 1)                                 \
  /* gradients of elementwise ops */                     \
  X(kClampGrad, "clamp_grad", 2, 1)                      \
  X(kPowGrad, "pow_grad", 2, 1)                          \
  X(kMaximumGrad, "maximum_grad", 3, 2)                  \
  /* reductions over axes */                             \
  X(kSum, "sum", 1, 1)                                   \
  X(kMax, "max", 1, 1)                                   \
  X(kMin, "min", 1, 1)                                   \
  /* linear algebra */                                   \
  X(kMatMul, "matmul", 2, 1)                             \
  /* windows over the last two axes (NCHW) */            \
  X(kConv2d, "conv2d", 2, 1)                             \
  X(kConv2dInputGrad, "conv2d_input_grad", 2, 1)         \
  X(kConv2dWeightGrad, "conv2d_weight_grad", 2, 1)       \
  X(kMaxPool2d, "max_pool2d", 1, 2)                      \
  X(kMaxPool2dGrad, "max_pool2d_grad", 2, 1)             \
  X(kAvgPool2d, "avg_pool2d", 1, 1)                      \
  X(kAvgPool2dGrad, "avg_pool2d_grad", 1, 1)             \
  /* batch normalization with batch statistics */        \
  X(kBatchNorm, "batch_norm", 3, 3)                      \
  X(kBatchNormGrad, "batch_norm_grad", 5, 3)             \
  /* along one axis */                                   \
  X(kSoftmax, "softmax", 1, 1)                           \
  X(kLogSoftmax, "log_softmax", 1, 1)                    \
  X(kCrossEntropy, "cross_entropy", 2, 1)                \
  X(kCrossEntropyGrad, "cross_entropy_grad", 3, 1)       \
  /* rows */                                             \
  X(kIndexSelect, "index_select", 2, 1)                  \
  X(kIndexAdd, "index_add", 2, 1)                        \
  /* losses and randomness */                            \
  X(kBceWithLogits, "bce_with_logits", 2, 1)             \
  X(kDropoutMask, "dropout_mask", 0, 1)                  \
  /* optimizer updates: in place, outside tapes */       \
  X(kSgdStep, "sgd_step", 1, 2)                          \
  X(kRmspropStep, "rmsprop_step", 1, 2)                  \
  X(kAdamStep, "adam_step", 1, 3)                        \
  /* index reductions: i64 results */                    \
  X(kArgMax, "argmax", 1, 1)                             \
  X(kArgMin, "argmin", 1, 1)                             \
  /* the unary math ops, each with its gradient */       \
  TAPEGRAD_UNARY_MATH_OPS(TAPEGRAD_UNARY_MATH_KINDS, X)

// kName, computing Name::Forward(a, b), for each row of TAPEGRAD_BINARY_MATH_OPS.
#define TAPEGRAD_BINARY_MATH_KIND(X, Name, name, enumerator, gradient) \
  X(k##Name, name, 2, 1)

// kName, computing y from x, and kNameGrad, computing dL/dx from (saved, g), for
// each row of TAPEGRAD_UNARY_MATH_OPS.
#define TAPEGRAD_UNARY_MATH_KINDS(X, Name, name, enumerator, saved, params) \
  X(k##Name, name, 1, 1)                                                    \
  X(k##Name##Grad, name "_grad", 2, 1)

enum class OpKind : uint16_t {
#define TAPEGRAD_OP_ENUM(e, name, in, out) e,
  TAPEGRAD_OP_KINDS(TAPEGRAD_OP_ENUM)
#undef TAPEGRAD_OP_ENUM
};

inline constexpr int kNumOpKinds = 0
#define TAPEGRAD_OP_COUNT(e, name, in, out) +1
    TAPEGRAD_OP_KINDS(TAPEGRAD_OP_COUNT)
#undef TAPEGRAD_OP_COUNT
    ;

const char* OpKindName(OpKind op);

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_OP_KIND_H_
