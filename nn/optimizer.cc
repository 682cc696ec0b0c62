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

std::string StateName(size_t i, const char* name) {
  return absl::StrCat("state.", i, ".", name);
}

}  // namespace

std::vector<NamedTensor> Optimizer::state() const {
  std::vector<NamedTensor> out = {{"steps", Counter(steps_)}};
  for (size_t i = 0; i < parameters_.size(); ++i) AppendState(i, &out);
  return out;
}

absl::Status Optimizer::set_state(absl::Span<const NamedTensor> state) {
  const std::vector<NamedTensor> current = this->state();
  std::vector<Tensor> given;
  TG_RETURN_IF_ERROR(MatchByName("Optimizer::set_state", current, state, &given));
  // Counters are i64 scalars; a buffer's tensor is the optimizer's own.
  for (size_t k = 0; k < current.size(); ++k) {
    if (current[k].tensor.dtype() != DType::kI64) {
      TG_RETURN_IF_ERROR(CopyElements(current[k].tensor, given[k]));
    }
  }
  for (size_t k = 0; k < current.size(); ++k) {
    if (current[k].tensor.dtype() != DType::kI64) continue;
    const int64_t value = static_cast<int64_t>(given[k].item());
    const std::string& name = current[k].name;
    if (name == "steps") {
      steps_ = value;
      continue;
    }
    // "state.<i>.<counter>"
    const size_t dot = name.find('.', 6);
    SetCounter(std::stoul(name.substr(6, dot - 6)), name.substr(dot + 1), value);
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
  out->push_back({StateName(i, "momentum_buffer"), velocity_[i]});
  out->push_back({StateName(i, "started"), Counter(started_[i] ? 1 : 0)});
}

void Sgd::SetCounter(size_t i, const std::string& name, int64_t value) {
  if (name == "started") started_[i] = value != 0;
}

void RmsProp::AppendState(size_t i, std::vector<NamedTensor>* out) const {
  out->push_back({StateName(i, "square_avg"), square_avg_[i]});
}

void RmsProp::SetCounter(size_t, const std::string&, int64_t) {}

void Adam::AppendState(size_t i, std::vector<NamedTensor>* out) const {
  out->push_back({StateName(i, "exp_avg"), exp_avg_[i]});
  out->push_back({StateName(i, "exp_avg_sq"), exp_avg_sq_[i]});
  out->push_back({StateName(i, "step"), Counter(updates_[i])});
}

void Adam::SetCounter(size_t i, const std::string& name, int64_t value) {
  if (name == "step") updates_[i] = value;
}

}  // namespace tapegrad::nn
