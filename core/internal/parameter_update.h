// In-place parameter updates: the arithmetic of SGD, RMSprop, Adam and AdamW, run
// as registry kernels (kSgdStep, kRmspropStep, kAdamStep) so that every device
// with those kernels can train. nn/optimizer.h keeps the per-parameter state and
// calls these; use them directly to write an optimizer of your own.
//
//   tapegrad::AdamOptions adam{.lr = 1e-3};
//   absl::Status s = tapegrad::AdamUpdate(w, w.grad(), m, v, adam, /*step=*/1);
//
// Formulas are PyTorch's (torch.optim, one tensor at a time), in the parameter's
// dtype; Adam's bias corrections are computed in double. The parameter and the
// state tensors must be heap tensors (never tape tensors), contiguous, of the
// parameter's shape, dtype and device; the gradient must match them too. A
// mismatch is an InvalidArgument status naming the update and every operand.
//
// Thread safety: an update writes the parameter and its state; nothing else may
// use them meanwhile. Updates of different parameters may run concurrently.
#ifndef TAPEGRAD_CORE_INTERNAL_PARAMETER_UPDATE_H_
#define TAPEGRAD_CORE_INTERNAL_PARAMETER_UPDATE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "core/tensor.h"

namespace tapegrad {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2: adds weight_decay * param to the gradient
  bool nesterov = false;
};

// param -= lr * step, where step is the (decayed) gradient, or with momentum the
// velocity (Nesterov: gradient + momentum * velocity). `velocity` is needed when
// momentum != 0 and may be an empty Tensor otherwise; `first` says it holds no
// history yet (PyTorch starts it at the gradient, without dampening).
absl::Status SgdUpdate(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                       const SgdOptions& options, bool first);

struct RmspropOptions {
  double lr = 0.01;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

// square_avg = alpha * square_avg + (1 - alpha) * g^2;
// param -= lr * g / (sqrt(square_avg) + eps).
absl::Status RmspropUpdate(const Tensor& param, const Tensor& grad,
                           const Tensor& square_avg, const RmspropOptions& options);

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  // false: Adam, weight decay is L2 added to the gradient. true: AdamW, the
  // parameter is multiplied by (1 - lr * weight_decay) before the update.
  bool decoupled_weight_decay = false;
};

// Adam's update number `step` (1 for the first), with bias correction.
absl::Status AdamUpdate(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                        const Tensor& exp_avg_sq, const AdamOptions& options,
                        int64_t step);

// For kAdamStep kernels: the per-update constants folded in double from the
// kernel's scalars (lr, beta1, beta2, eps, weight_decay, decoupled, step), so that
// every backend computes, per element, with d = g + l2 * p:
//   p = p * shrink - step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps).
struct AdamFactors {
  double l2;            // L2 strength added to the gradient (Adam; 0 for AdamW)
  double shrink;        // factor on p (AdamW's decoupled decay; 1 for Adam)
  double step_size;     // lr / (1 - beta1^step)
  double inv_sqrt_bc2;  // 1 / sqrt(1 - beta2^step)
};
AdamFactors FoldAdamScalars(absl::Span<const double> scalars);

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_PARAMETER_UPDATE_H_
