// Learning-rate schedules: the rate for an epoch (or step) number, as PyTorch's
// StepLR and CosineAnnealingLR compute it in closed form.
//
//   tapegrad::nn::CosineLr schedule(/*base_lr=*/1e-3, /*period=*/epochs);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     optimizer.set_lr(schedule(epoch));
//     ...
//   }
//
// Schedules are stateless functions of the epoch, so resuming or skipping needs
// no bookkeeping.
//
// Thread safety: immutable after construction.
#ifndef TAPEGRAD_NN_LR_SCHEDULE_H_
#define TAPEGRAD_NN_LR_SCHEDULE_H_

#include <cstdint>

namespace tapegrad::nn {

// base_lr * gamma^floor(epoch / step_size).
class StepLr {
 public:
  StepLr(double base_lr, int64_t step_size, double gamma = 0.1)
      : base_lr_(base_lr), step_size_(step_size > 0 ? step_size : 1), gamma_(gamma) {}
  double operator()(int64_t epoch) const;

 private:
  double base_lr_;
  int64_t step_size_;
  double gamma_;
};

// min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / period)) / 2: base_lr at
// epoch 0, min_lr at epoch `period`, and back up after it (PyTorch's closed form).
class CosineLr {
 public:
  CosineLr(double base_lr, int64_t period, double min_lr = 0.0)
      : base_lr_(base_lr), period_(period > 0 ? period : 1), min_lr_(min_lr) {}
  double operator()(int64_t epoch) const;

 private:
  double base_lr_;
  int64_t period_;
  double min_lr_;
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_LR_SCHEDULE_H_
