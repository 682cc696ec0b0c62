#include "nn/module.h"

#include <ostream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tapegrad::nn {
namespace {

std::string ShapeString(Shape shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace

void Module::RegisterParameter(std::string name, Tensor* parameter) {
  parameter->RequiresGrad();
  parameters_.emplace_back(std::move(name), parameter);
}

void Module::RegisterBuffer(std::string name, Tensor* buffer) {
  buffers_.emplace_back(std::move(name), buffer);
}

absl::Status Module::To(Device device) {
  // Parameters are heap tensors whatever tape is current: a copy recorded on the
  // caller's tape would die at its next Rewind.
  TapeScope no_tape(nullptr);
  for (Registered* which : {&parameters_, &buffers_}) {
    for (auto& [name, tensor] : *which) {
      Tensor moved = tensor->To(device);
      if (!moved.ok()) {
        return absl::Status(moved.status().code(),
                            absl::StrCat(which == &parameters_ ? "parameter " : "buffer ",
                                         name, ": ", moved.status().message()));
      }
      if (moved.SharesStorageWith(*tensor)) continue;  // already there
      *tensor = std::move(moved);
      if (which == &parameters_) tensor->RequiresGrad();
    }
  }
  for (auto& [name, child] : children_) {
    if (absl::Status s = child->To(device); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void Module::RegisterModule(std::string name, Module* child) {
  children_.emplace_back(std::move(name), child);
}

void Module::Collect(Registered Module::*which, const std::string& prefix,
                     std::vector<NamedTensor>* out) const {
  for (const auto& [name, t] : this->*which) out->push_back({prefix + name, *t});
  for (const auto& [name, child] : children_) {
    child->Collect(which, prefix + name + ".", out);
  }
}

std::vector<NamedTensor> Module::named_parameters() const {
  std::vector<NamedTensor> out;
  Collect(&Module::parameters_, "", &out);
  return out;
}

std::vector<NamedTensor> Module::named_buffers() const {
  std::vector<NamedTensor> out;
  Collect(&Module::buffers_, "", &out);
  return out;
}

std::vector<Tensor> Module::buffers() const {
  std::vector<Tensor> out;
  for (NamedTensor& b : named_buffers()) out.push_back(std::move(b.tensor));
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

absl::Status MatchByName(const char* op, absl::Span<const NamedTensor> into,
                         absl::Span<const NamedTensor> from,
                         std::vector<Tensor>* matched) {
  absl::flat_hash_map<absl::string_view, const Tensor*> by_name;
  for (const NamedTensor& t : from) by_name[t.name] = &t.tensor;
  matched->clear();
  for (const NamedTensor& t : into) {
    auto found = by_name.find(t.name);
    if (found == by_name.end()) {
      return absl::NotFoundError(absl::StrFormat("%s: no tensor '%s' (%s%s) to load", op,
                                                 t.name, DTypeName(t.tensor.dtype()),
                                                 ShapeString(t.tensor.shape())));
    }
    const Tensor& given = *found->second;
    if (given.dtype() != t.tensor.dtype() || given.shape() != t.tensor.shape()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: tensor '%s' is %s%s where %s%s is expected", op, t.name,
                          DTypeName(given.dtype()), ShapeString(given.shape()),
                          DTypeName(t.tensor.dtype()), ShapeString(t.tensor.shape())));
    }
    matched->push_back(given);
    by_name.erase(found);
  }
  if (!by_name.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: tensor '%s' has no place to load into", op, by_name.begin()->first));
  }
  return absl::OkStatus();
}

absl::Status CopyElements(Tensor into, const Tensor& from) {
  if (into.dtype() == DType::kF32) return into.CopyFrom(from.ToFloatVector());
  if (into.dtype() == DType::kF64) return into.CopyFrom(from.ToVector());
  return absl::InvalidArgumentError(absl::StrFormat(
      "CopyElements: %s tensors are not loaded in place", DTypeName(into.dtype())));
}

}  // namespace tapegrad::nn
