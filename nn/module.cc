#include "nn/module.h"

#include <ostream>

#include "absl/strings/str_cat.h"

namespace tapegrad::nn {

void Module::RegisterParameter(std::string name, Tensor* parameter) {
  parameter->RequiresGrad();
  parameters_.emplace_back(std::move(name), parameter);
}

absl::Status Module::To(Device device) {
  for (auto& [name, parameter] : parameters_) {
    Tensor moved = parameter->To(device);
    if (!moved.ok()) {
      return absl::Status(moved.status().code(), absl::StrCat("parameter ", name, ": ",
                                                              moved.status().message()));
    }
    if (moved.SharesStorageWith(*parameter)) continue;  // already there
    *parameter = std::move(moved);
    parameter->RequiresGrad();
  }
  for (auto& [name, child] : children_) {
    if (absl::Status s = child->To(device); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void Module::RegisterModule(std::string name, Module* child) {
  children_.emplace_back(std::move(name), child);
}

void Module::CollectParameters(const std::string& prefix,
                               std::vector<NamedTensor>* out) const {
  for (const auto& [name, p] : parameters_) out->push_back({prefix + name, *p});
  for (const auto& [name, child] : children_) {
    child->CollectParameters(prefix + name + ".", out);
  }
}

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  CollectParameters("", &out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (NamedTensor& p : named_parameters()) out.push_back(std::move(p.tensor));
  return out;
}

void Module::zero_grad() const {
  for (const auto& [name, p] : parameters_) p->ZeroGrad();
  for (const auto& [name, child] : children_) child->zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (const auto& [name, child] : children_) child->train(on);
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.ToString(); }

}  // namespace tapegrad::nn
