#include "nn/optimizer.h"

#include <string>

#include "absl/strings/str_cat.h"
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

namespace {

Tensor Counter(int64_t value) {
  const int64_t data[1] = {value};
  return Tensor::FromData(absl::MakeConstSpan(data), {});
}

}  // namespace

std::vector<NamedTensor> Optimizer::state() const {
  std::vector<NamedTensor> out = {{"steps", Counter(steps_)}};
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const size_t first = out.size();
    AppendState(i, &out);
    for (size_t k = first; k < out.size(); ++k) {
      out[k].name = absl::StrCat("state.", i, ".", out[k].name);
    }
  }
  return out;
}

absl::Status Optimizer::set_state(absl::Span<const NamedTensor> state) {
  std::vector<Tensor> given;
  TG_RETURN_IF_ERROR(MatchByName("Optimizer::set_state", this->state(), state, &given));
  // given[k] is for state()'s entry k: "steps", then parameter by parameter in
  // AppendState's order.
  steps_ = static_cast<int64_t>(given[0].item());
  size_t k = 1;
  std::vector<NamedTensor> own;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    own.clear();
    AppendState(i, &own);
    for (const NamedTensor& entry : own) {
      const Tensor& value = given[k++];
      if (entry.tensor.dtype() == DType::kI64) {
        SetCounter(i, entry.name, static_cast<int64_t>(value.item()));
      } else {
        TG_RETURN_IF_ERROR(CopyElements(entry.tensor, value));
      }
    }
  }
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

void Sgd::AppendState(size_t i, std::vector<NamedTensor>* out) const {
  if (velocity_.empty()) return;
  out->push_back({"momentum_buffer", velocity_[i]});
  out->push_back({"started", Counter(started_[i] ? 1 : 0)});
}

void Sgd::SetCounter(size_t i, const std::string& name, int64_t value) {
  if (name == "started") started_[i] = value != 0;
}

void RmsProp::AppendState(size_t i, std::vector<NamedTensor>* out) const {
  out->push_back({"square_avg", square_avg_[i]});
}

void RmsProp::SetCounter(size_t, const std::string&, int64_t) {}

void Adam::AppendState(size_t i, std::vector<NamedTensor>* out) const {
  out->push_back({"exp_avg", exp_avg_[i]});
  out->push_back({"exp_avg_sq", exp_avg_sq_[i]});
  out->push_back({"step", Counter(updates_[i])});
}

void Adam::SetCounter(size_t i, const std::string& name, int64_t value) {
  if (name == "step") updates_[i] = value;
}

}  // namespace tapegrad::nn
