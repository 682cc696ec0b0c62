#include "core/internal/parameter_update.h"

#include <cmath>
#include <initializer_list>

#include "absl/strings/str_format.h"
#include "core/internal/layout.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"

namespace tapegrad {
namespace {

// Checks the operands of update `name`: grad first, then the parameter and its
// state, which must be live heap tensors; all contiguous, one shape, dtype, device.
absl::Status CheckOperands(const char* name, const Tensor& grad,
                           std::initializer_list<const Tensor*> targets) {
  const TensorImpl* impls[4];
  size_t n = 0;
  TG_RETURN_IF_ERROR(grad.status());
  impls[n++] = grad.impl();
  for (const Tensor* t : targets) {
    TG_RETURN_IF_ERROR(t->status());
    impls[n++] = t->impl();
  }
  const absl::Span<const TensorImpl* const> operands(impls, n);
  TG_RETURN_IF_ERROR(internal::SameDTypeAndDevice(name, operands));
  if (!IsFloating(impls[0]->dtype)) {
    return internal::OpError(name, operands, "needs f32 or f64 operands");
  }
  for (const TensorImpl* t : operands) {
    if (!SameShape(t->layout, impls[0]->layout)) {
      return internal::OpError(name, operands, "shapes differ");
    }
    if (!t->layout.IsContiguous()) {
      return internal::OpError(name, operands, "needs contiguous operands");
    }
  }
  for (const Tensor* t : targets) {
    if (t->on_tape()) {
      return internal::OpError(name, operands,
                               "the parameter and its state must be heap tensors");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SgdUpdate(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                       const SgdOptions& o, bool first) {
  const double scalars[] = {o.lr,           o.momentum,         o.dampening,
                            o.weight_decay, double(o.nesterov), double(first)};
  if (o.momentum == 0.0) {
    TG_RETURN_IF_ERROR(CheckOperands("sgd_update", grad, {&param}));
    return internal::Run(OpKind::kSgdStep, {grad.impl()}, {param.impl()}, {}, scalars);
  }
  TG_RETURN_IF_ERROR(CheckOperands("sgd_update", grad, {&param, &velocity}));
  return internal::Run(OpKind::kSgdStep, {grad.impl()}, {param.impl(), velocity.impl()},
                       {}, scalars);
}

absl::Status RmspropUpdate(const Tensor& param, const Tensor& grad,
                           const Tensor& square_avg, const RmspropOptions& o) {
  TG_RETURN_IF_ERROR(CheckOperands("rmsprop_update", grad, {&param, &square_avg}));
  const double scalars[] = {o.lr, o.alpha, o.eps, o.weight_decay};
  return internal::Run(OpKind::kRmspropStep, {grad.impl()},
                       {param.impl(), square_avg.impl()}, {}, scalars);
}

absl::Status AdamUpdate(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                        const Tensor& exp_avg_sq, const AdamOptions& o, int64_t step) {
  TG_RETURN_IF_ERROR(CheckOperands("adam_update", grad, {&param, &exp_avg, &exp_avg_sq}));
  if (step < 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("adam_update: step is %d; the first update is step 1", step));
  }
  const double scalars[] = {o.lr,        o.beta1,        o.beta2,
                            o.eps,       o.weight_decay, double(o.decoupled_weight_decay),
                            double(step)};
  return internal::Run(OpKind::kAdamStep, {grad.impl()},
                       {param.impl(), exp_avg.impl(), exp_avg_sq.impl()}, {}, scalars);
}

AdamFactors FoldAdamScalars(absl::Span<const double> scalars) {
  const double lr = scalars[0], beta1 = scalars[1], beta2 = scalars[2];
  const double decay = scalars[4], step = scalars[6];
  const bool decoupled = scalars[5] != 0;
  return AdamFactors{decoupled ? 0.0 : decay, decoupled ? 1.0 - lr * decay : 1.0,
                     lr / (1.0 - std::pow(beta1, step)),
                     1.0 / std::sqrt(1.0 - std::pow(beta2, step))};
}

}  // namespace tapegrad
