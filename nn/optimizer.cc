#include "nn/optimizer.h"

#include "core/status_macros.h"

namespace tapegrad::nn {

void Optimizer::ZeroGrad() {
  for (Tensor& p : parameters_) p.ZeroGrad();
}

std::vector<Tensor> Optimizer::ZerosLikeParameters() const {
  std::vector<Tensor> out;
  out.reserve(parameters_.size());
  for (const Tensor& p : parameters_) {
    out.push_back(Tensor::Zeros(p.shape(), p.dtype(), p.device()));
  }
  return out;
}

absl::Status Optimizer::Step() {
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const Tensor grad = parameters_[i].grad();
    if (grad.ok()) TG_RETURN_IF_ERROR(Update(i, grad));
  }
  ++steps_;
  return absl::OkStatus();
}

Sgd::Sgd(std::vector<Tensor> parameters, const SgdOptions& options)
    : OptimizerWith(std::move(parameters), options) {
  if (options_.momentum != 0.0) velocity_ = ZerosLikeParameters();
  started_.assign(parameters_.size(), false);
}

absl::Status Sgd::Update(size_t i, const Tensor& grad) {
  const Tensor none;
  TG_RETURN_IF_ERROR(SgdUpdate(parameters_[i], grad,
                               velocity_.empty() ? none : velocity_[i], options_,
                               /*first=*/!started_[i]));
  started_[i] = true;
  return absl::OkStatus();
}

RmsProp::RmsProp(std::vector<Tensor> parameters, const RmspropOptions& options)
    : OptimizerWith(std::move(parameters), options), square_avg_(ZerosLikeParameters()) {}

absl::Status RmsProp::Update(size_t i, const Tensor& grad) {
  return RmspropUpdate(parameters_[i], grad, square_avg_[i], options_);
}

Adam::Adam(std::vector<Tensor> parameters, const AdamOptions& options)
    : OptimizerWith(std::move(parameters), options),
      exp_avg_(ZerosLikeParameters()),
      exp_avg_sq_(ZerosLikeParameters()),
      updates_(parameters_.size(), 0) {}

absl::Status Adam::Update(size_t i, const Tensor& grad) {
  return AdamUpdate(parameters_[i], grad, exp_avg_[i], exp_avg_sq_[i], options_,
                    ++updates_[i]);
}

}  // namespace tapegrad::nn
