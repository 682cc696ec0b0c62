// Module: the base of tensor models, as torch.nn.Module: a forward function, the
// parameters it owns, its child modules, and a train/eval switch.
//
//   tapegrad::Random rng(0);
//   tapegrad::nn::MLP model(784, {256, 256, 10}, rng);     // a Sequential
//   tapegrad::Tensor logits = model(x);                    // records on the tape
//   for (const auto& [name, p] : model.named_parameters()) ...  // "0.weight", ...
//   model.eval();                                          // Dropout off
//
// Parameters are heap tensors with RequiresGrad, so they live outside the step's
// region of the tape: record a training step after a Mark, Backward, update, and
// Rewind; the parameters and their gradients survive every Rewind.
//
// A module registers its parameters and children (which it owns as members) in
// its constructor; modules therefore neither copy nor move. Hold them by value in
// their owner or by std::unique_ptr.
//
// Thread safety: Forward records on the calling thread's tape and reads the
// parameters; many threads may run Forward of one model at once on their own tapes
// if nothing updates it meanwhile (Dropout keeps a counter: give each thread its
// own). zero_grad, train and optimizer steps need exclusive access.
#ifndef TAPEGRAD_NN_MODULE_H_
#define TAPEGRAD_NN_MODULE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/tensor.h"

namespace tapegrad::nn {

struct NamedTensor {
  std::string name;
  Tensor tensor;
};

class Module {
 public:
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // The module's function. Errors (a bad input shape) come back as an error
  // tensor naming the failing op, as every op does.
  virtual Tensor Forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return Forward(x); }

  // Every parameter of this module and its children, depth first in order of
  // registration (PyTorch's order). The handles share the parameters' storage.
  std::vector<Tensor> parameters() const;
  // The same with dotted names, as PyTorch's named_parameters(): "0.weight".
  std::vector<NamedTensor> named_parameters() const;
  // Buffers: state that is not a parameter (BatchNorm's running statistics), with
  // dotted names in the same order, as PyTorch's named_buffers().
  std::vector<NamedTensor> named_buffers() const;
  std::vector<Tensor> buffers() const;
  // Sets every parameter's gradient to zero (keeping its memory).
  void zero_grad() const;
  // Training mode (the default) or evaluation mode, for this module and its
  // children; Dropout is the identity in evaluation mode.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer of this module and its children to `device`
  // (new heap copies; parameters require grad, gradients start empty), as torch's
  // module.to(device).
  // Call it before handing parameters() to an optimizer: the optimizer holds the
  // handles it was given.
  absl::Status To(Device device);

  // PyTorch's repr: "Linear(in_features=2, out_features=16, bias=True)"; containers
  // list their children one per line.
  virtual std::string ToString() const = 0;

 protected:
  Module() = default;
  // `parameter` must be a member of the derived module; it becomes a leaf that
  // collects gradients.
  void RegisterParameter(std::string name, Tensor* parameter);
  // `buffer` must be a member of the derived module; it collects no gradient.
  void RegisterBuffer(std::string name, Tensor* buffer);
  // `child` must be owned by the derived module and outlive it being used.
  void RegisterModule(std::string name, Module* child);

 private:
  using Registered = std::vector<std::pair<std::string, Tensor*>>;
  void Collect(Registered Module::*which, const std::string& prefix,
               std::vector<NamedTensor>* out) const;

  Registered parameters_;
  Registered buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

// For loading state into tensors that exist (a checkpoint into a model or an
// optimizer): finds, for each of `into`, the tensor of `from` with its name, with
// the same dtype and shape, and writes it to (*matched)[i]. An error, naming the
// tensor and `op`, if one is missing, differs, or `from` has a name `into` lacks;
// nothing is written then.
absl::Status MatchByName(const char* op, absl::Span<const NamedTensor> into,
                         absl::Span<const NamedTensor> from,
                         std::vector<Tensor>* matched);
// Copies `from`'s elements into the heap tensor `into` (same dtype and shape, f32
// or f64).
absl::Status CopyElements(Tensor into, const Tensor& from);

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_MODULE_H_
