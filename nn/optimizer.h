// Optimizers over a model's parameters, as torch.optim: SGD (momentum, Nesterov,
// weight decay), RMSprop, Adam and AdamW, with per-parameter state.
//
//   tapegrad::AdamOptions options;
//   options.lr = 1e-3;
//   tapegrad::nn::Adam opt(model.parameters(), options);
//   const tapegrad::TapeMark step = tape.Mark();
//   for (...) {
//     tapegrad::Tensor loss = tapegrad::nn::CrossEntropyLoss(model(x), y);
//     opt.ZeroGrad();
//     TG_RETURN_IF_ERROR(loss.Backward());
//     TG_RETURN_IF_ERROR(opt.Step());
//     TG_RETURN_IF_ERROR(tape.Rewind(step));
//   }
//
// State (velocities, moment estimates) is allocated next to each parameter when
// the optimizer is made, so Step allocates nothing. Step updates each parameter
// with the registry kernel of core/internal/parameter_update.h, on the parameter's
// device, and skips parameters that have no gradient yet (as PyTorch does).
//
// Thread safety: Step and ZeroGrad write the parameters; nothing may use the model
// meanwhile.
#ifndef TAPEGRAD_NN_OPTIMIZER_H_
#define TAPEGRAD_NN_OPTIMIZER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/internal/parameter_update.h"
#include "core/tensor.h"
#include "nn/module.h"

namespace tapegrad::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter that has a gradient.
  absl::Status Step();
  // Sets every parameter's gradient to zero (keeping its memory).
  void ZeroGrad();
  // The learning rate of the next Step (schedules set it, see nn/lr_schedule.h).
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  const std::vector<Tensor>& parameters() const { return parameters_; }
  // Number of Step calls so far.
  int64_t steps() const { return steps_; }

  // The optimizer's state, for checkpoints (nn/checkpoint.h): "steps", then for
  // parameter i "state.i.<name>" with PyTorch's names (momentum_buffer,
  // square_avg, exp_avg, exp_avg_sq, step). Counters are i64 scalars; buffers
  // are the optimizer's own tensors (shared storage).
  std::vector<NamedTensor> state() const;
  // Restores what state() gave, from tensors with its names, dtypes and shapes
  // (all of them: nothing changes on an error). Needs exclusive access.
  absl::Status set_state(absl::Span<const NamedTensor> state);

 protected:
  explicit Optimizer(std::vector<Tensor> parameters)
      : parameters_(std::move(parameters)) {}
  // A zero tensor per parameter (its shape, dtype and device).
  std::vector<Tensor> ZerosLikeParameters() const;
  // Updates parameter i, whose gradient is `grad`.
  virtual absl::Status Update(size_t i, const Tensor& grad) = 0;
  // Parameter i's entries of state(), named without the "state.i." that state()
  // puts before them: a buffer's own tensor, or a counter's value as an i64 scalar.
  virtual void AppendState(size_t i, std::vector<NamedTensor>* out) const = 0;
  // Sets counter `name` of parameter i (buffers are copied by set_state itself).
  virtual void SetCounter(size_t i, const std::string& name, int64_t value) = 0;

  std::vector<Tensor> parameters_;
  int64_t steps_ = 0;
};

// An optimizer configured by an options struct with a learning rate `lr`.
template <class Options>
class OptimizerWith : public Optimizer {
 public:
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override { options_.lr = lr; }
  const Options& options() const { return options_; }

 protected:
  OptimizerWith(std::vector<Tensor> parameters, const Options& options)
      : Optimizer(std::move(parameters)), options_(options) {}
  Options options_;
};

class Sgd : public OptimizerWith<SgdOptions> {
 public:
  Sgd(std::vector<Tensor> parameters, const SgdOptions& options);

 private:
  absl::Status Update(size_t i, const Tensor& grad) override;
  void AppendState(size_t i, std::vector<NamedTensor>* out) const override;
  void SetCounter(size_t i, const std::string& name, int64_t value) override;
  std::vector<Tensor> velocity_;  // empty without momentum
  std::vector<bool> started_;     // velocity i has history
};

class RmsProp : public OptimizerWith<RmspropOptions> {
 public:
  RmsProp(std::vector<Tensor> parameters, const RmspropOptions& options);

 private:
  absl::Status Update(size_t i, const Tensor& grad) override;
  void AppendState(size_t i, std::vector<NamedTensor>* out) const override;
  void SetCounter(size_t i, const std::string& name, int64_t value) override;
  std::vector<Tensor> square_avg_;
};

// Adam, or AdamW when options.decoupled_weight_decay is set.
class Adam : public OptimizerWith<AdamOptions> {
 public:
  Adam(std::vector<Tensor> parameters, const AdamOptions& options);

 private:
  absl::Status Update(size_t i, const Tensor& grad) override;
  void AppendState(size_t i, std::vector<NamedTensor>* out) const override;
  void SetCounter(size_t i, const std::string& name, int64_t value) override;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  std::vector<int64_t> updates_;  // per parameter: its bias-correction step
};

// PyTorch's AdamW defaults: decoupled weight decay of 0.01.
struct AdamWOptions : AdamOptions {
  AdamWOptions() {
    weight_decay = 0.01;
    decoupled_weight_decay = true;
  }
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> parameters, const AdamWOptions& options)
      : Adam(std::move(parameters), options) {}
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_OPTIMIZER_H_
