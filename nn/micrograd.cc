#include "nn/micrograd.h"

#include <utility>

#include "absl/strings/str_format.h"
#include "core/scalar_ops.h"

namespace tapegrad::nn::micrograd {

void Module::zero_grad() const {
  for (const Value& p : parameters()) p.set_grad(0.0);
}

absl::Status Module::set_parameters(absl::Span<const double> values) const {
  const std::vector<Value>& params = parameters();
  if (values.size() != params.size()) {
    return absl::InvalidArgumentError(
        absl::StrFormat("set_parameters: the module has %d parameters, given %d",
                        params.size(), values.size()));
  }
  for (const Value& p : params) {
    if (absl::Status s = p.status(); !s.ok()) return s;
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].set_data(values[i]);
  return absl::OkStatus();
}

Neuron::Neuron(Tape& tape, int nin, bool nonlin, Random& rng)
    : b_(tape.Leaf(0.0)), nonlin_(nonlin) {
  w_.reserve(nin);
  for (int i = 0; i < nin; ++i) w_.push_back(tape.Leaf(rng.Uniform(-1.0, 1.0)));
  parameters_ = w_;
  parameters_.push_back(b_);
}

Value Neuron::operator()(absl::Span<const Value> x) const {
  Value act = Dot(w_, x) + b_;
  return nonlin_ ? std::move(act).relu() : act;
}

Layer::Layer(Tape& tape, int nin, int nout, bool nonlin, Random& rng) {
  neurons_.reserve(nout);
  for (int i = 0; i < nout; ++i) {
    neurons_.emplace_back(tape, nin, nonlin, rng);
    for (const Value& p : neurons_.back().parameters()) parameters_.push_back(p);
  }
}

void Layer::Forward(absl::Span<const Value> x, std::vector<Value>* out) const {
  out->clear();
  for (const Neuron& n : neurons_) out->push_back(n(x));
}

MLP::MLP(Tape& tape, int nin, std::initializer_list<int> nouts, uint64_t seed)
    : MLP(tape, nin, absl::Span<const int>(nouts.begin(), nouts.size()), seed) {}

MLP::MLP(Tape& tape, int nin, absl::Span<const int> nouts, uint64_t seed) {
  Random rng(seed);
  int in = nin;
  for (size_t i = 0; i < nouts.size(); ++i) {
    layers_.emplace_back(tape, in, nouts[i], /*nonlin=*/i + 1 != nouts.size(), rng);
    for (const Value& p : layers_.back().parameters()) parameters_.push_back(p);
    in = nouts[i];
  }
  activations_.resize(layers_.size());
  for (size_t i = 0; i < layers_.size(); ++i) activations_[i].reserve(nouts[i]);
}

absl::Span<const Value> MLP::Forward(absl::Span<const Value> x) const {
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers_[i].Forward(i == 0 ? x : absl::Span<const Value>(activations_[i - 1]),
                       &activations_[i]);
  }
  return activations_.back();
}

std::ostream& operator<<(std::ostream& os, const Neuron& n) {
  return os << (n.nonlin() ? "ReLU" : "Linear") << "Neuron(" << n.nin() << ")";
}

std::ostream& operator<<(std::ostream& os, const Layer& l) {
  os << "Layer of [";
  for (size_t i = 0; i < l.neurons().size(); ++i) os << (i ? ", " : "") << l.neurons()[i];
  return os << "]";
}

std::ostream& operator<<(std::ostream& os, const MLP& m) {
  os << "MLP of [";
  for (size_t i = 0; i < m.layers().size(); ++i) os << (i ? ", " : "") << m.layers()[i];
  return os << "]";
}

}  // namespace tapegrad::nn::micrograd
