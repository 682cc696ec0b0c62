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
// with the registry kernel of core/parameter_update.h, on the parameter's device,
// and skips parameters that have no gradient yet (as PyTorch does).
//
// Thread safety: Step and ZeroGrad write the parameters; nothing may use the model
// meanwhile.
#ifndef TAPEGRAD_NN_OPTIMIZER_H_
#define TAPEGRAD_NN_OPTIMIZER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/parameter_update.h"
#include "core/tensor.h"

namespace tapegrad::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter that has a gradient.
  virtual absl::Status Step() = 0;
  // Sets every parameter's gradient to zero (keeping its memory).
  void ZeroGrad();
  // The learning rate of the next Step (schedules set it, see nn/lr_schedule.h).
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  const std::vector<Tensor>& parameters() const { return parameters_; }
  // Number of Step calls so far.
  int64_t steps() const { return steps_; }

 protected:
  explicit Optimizer(std::vector<Tensor> parameters)
      : parameters_(std::move(parameters)) {}
  // A zero tensor per parameter (its shape, dtype and device).
  std::vector<Tensor> ZerosLikeParameters() const;

  std::vector<Tensor> parameters_;
  int64_t steps_ = 0;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Tensor> parameters, SgdOptions options);
  absl::Status Step() override;
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override { options_.lr = lr; }

 private:
  SgdOptions options_;
  std::vector<Tensor> velocity_;  // empty without momentum
  std::vector<bool> started_;     // velocity i has history
};

class RmsProp : public Optimizer {
 public:
  RmsProp(std::vector<Tensor> parameters, RmspropOptions options);
  absl::Status Step() override;
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override { options_.lr = lr; }

 private:
  RmspropOptions options_;
  std::vector<Tensor> square_avg_;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> parameters, AdamOptions options);
  absl::Status Step() override;
  double lr() const override { return options_.lr; }
  void set_lr(double lr) override { options_.lr = lr; }

 private:
  AdamOptions options_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  std::vector<int64_t> updates_;  // per parameter: its bias-correction step
};

// Adam with decoupled weight decay (PyTorch's AdamW; weight_decay defaults to 0.01).
class AdamW : public Adam {
 public:
  struct Options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.01;
  };
  AdamW(std::vector<Tensor> parameters, Options options)
      : Adam(std::move(parameters),
             AdamOptions{options.lr, options.beta1, options.beta2, options.eps,
                         options.weight_decay, /*decoupled_weight_decay=*/true}) {}
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_OPTIMIZER_H_
