// micrograd's nn module in C++: Neuron, Layer, MLP on scalar Values.
//
//   tapegrad::Tape tape;
//   tapegrad::nn::micrograd::MLP model(tape, 2, {16, 16, 1}, /*seed=*/1337);
//   std::vector<tapegrad::Value> x = {tape.Leaf(0.5), tape.Leaf(-1.0)};
//   tapegrad::Value score = model(x);                 // one output
//   absl::Status s = score.Backward();
//   for (const tapegrad::Value& p : model.parameters()) p.grad();
//   absl::Status s2 = model.set_parameters(weights);  // initial weights, not a seed
//
// Semantics are micrograd's: weights uniform in [-1, 1) (from a seeded generator
// instead of Python's `random`), biases 0, ReLU on every layer but the last. A
// neuron records w . x + b and its ReLU as one tape record (core's Dot, fused).
// Parameters are leaves created on the tape at construction: take the training
// step's Mark after building the model, and they survive every Rewind.
//
// Forward passes reuse the model's scratch buffers, so steady-state training does
// no heap allocation; the price is that a model is used by one thread at a time.
//
// Thread safety: one thread at a time (the tape's thread).
#ifndef TAPEGRAD_NN_MICROGRAD_H_
#define TAPEGRAD_NN_MICROGRAD_H_

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/random.h"
#include "core/tape.h"
#include "core/value.h"

namespace tapegrad::nn::micrograd {

class Module {
 public:
  virtual ~Module() = default;
  // Every trainable Value, in micrograd's order.
  virtual const std::vector<Value>& parameters() const = 0;
  // Sets every parameter's grad to 0.
  void zero_grad() const;
  // Sets the parameters' numbers to `values`, in parameters()'s order (layer by
  // layer, each neuron's weights, then its bias): initial weights from elsewhere
  // (a file, another framework, a test). InvalidArgument, changing nothing, if
  // the count differs.
  absl::Status set_parameters(absl::Span<const double> values) const;
};

class Neuron : public Module {
 public:
  Neuron(Tape& tape, int nin, bool nonlin, Random& rng);
  Value operator()(absl::Span<const Value> x) const;
  const std::vector<Value>& parameters() const override { return parameters_; }
  int nin() const { return static_cast<int>(w_.size()); }
  bool nonlin() const { return nonlin_; }

 private:
  std::vector<Value> w_;
  Value b_;
  bool nonlin_;
  std::vector<Value> parameters_;  // w..., b
};

class Layer : public Module {
 public:
  Layer(Tape& tape, int nin, int nout, bool nonlin, Random& rng);
  // Writes one Value per neuron to `out` (cleared first; its capacity is reused).
  void Forward(absl::Span<const Value> x, std::vector<Value>* out) const;
  const std::vector<Value>& parameters() const override { return parameters_; }
  const std::vector<Neuron>& neurons() const { return neurons_; }

 private:
  std::vector<Neuron> neurons_;
  std::vector<Value> parameters_;
};

class MLP : public Module {
 public:
  MLP(Tape& tape, int nin, std::initializer_list<int> nouts, uint64_t seed);
  MLP(Tape& tape, int nin, absl::Span<const int> nouts, uint64_t seed);
  // The outputs of the last layer.
  absl::Span<const Value> Forward(absl::Span<const Value> x) const;
  // The single output of a model whose last layer has one neuron (micrograd
  // returns out[0] then); for wider models, the first output.
  Value operator()(absl::Span<const Value> x) const { return Forward(x)[0]; }
  const std::vector<Value>& parameters() const override { return parameters_; }
  const std::vector<Layer>& layers() const { return layers_; }

 private:
  std::vector<Layer> layers_;
  std::vector<Value> parameters_;
  mutable std::vector<std::vector<Value>> activations_;  // scratch, one per layer
};

// micrograd's reprs: "ReLUNeuron(2)", "Layer of [ReLUNeuron(2), ...]",
// "MLP of [Layer of [...], ...]".
std::ostream& operator<<(std::ostream& os, const Neuron& n);
std::ostream& operator<<(std::ostream& os, const Layer& l);
std::ostream& operator<<(std::ostream& os, const MLP& m);

}  // namespace tapegrad::nn::micrograd

#endif  // TAPEGRAD_NN_MICROGRAD_H_
