// Trainer: the standard supervised loop for a classifier, on a tape of its own.
//
//   tapegrad::Random rng(0);
//   tapegrad::nn::MLP model(64, {128, 10}, rng);
//   tapegrad::nn::Adam adam(model.parameters(), tapegrad::AdamOptions());
//   tapegrad::nn::Trainer trainer(model, adam);
//   tapegrad::nn::BatchIterator batches(train, options);
//   for (int epoch = 0; epoch < 20; ++epoch) {
//     absl::StatusOr<tapegrad::nn::EpochStats> stats = trainer.Epoch(batches);
//     absl::StatusOr<double> accuracy = trainer.Evaluate(test, 512);
//   }
//
// Each Step records forward and cross-entropy loss after the tape's mark, runs
// Backward, the optimizer's Step, and rewinds: after the first steps, a step
// allocates nothing (tests/steady_state_test.cc proves it). Evaluate runs the
// model in eval mode without recording gradients, batch by batch on the same tape.
// A model moved to a GPU (Module::To) trains there: batches are copied to its
// device in each step, on the tape, and the step stays free of allocations from
// the device driver after the first (kernels/cuda's caching allocator).
//
// Thread safety: one thread at a time; the model and optimizer belong to it.
#ifndef TAPEGRAD_NN_TRAINER_H_
#define TAPEGRAD_NN_TRAINER_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "core/tape.h"
#include "core/tensor.h"
#include "nn/dataset.h"
#include "nn/module.h"
#include "nn/optimizer.h"

namespace tapegrad::nn {

struct StepStats {
  double loss;      // mean cross-entropy of the batch, before the update
  int64_t correct;  // rows whose argmax is the label, before the update
};

struct EpochStats {
  double loss;      // mean of the steps' losses, weighted by batch size
  double accuracy;  // training accuracy over the epoch, measured during it
  double seconds;   // wall time of the epoch
  int64_t steps;
};

struct TrainerOptions {
  // Runs after each step's backward and before the optimizer's step: where data
  // parallelism averages the gradients over processes (dist::DataParallel). An
  // error fails the step.
  std::function<absl::Status()> after_backward;
};

class Trainer {
 public:
  // `model` and `optimizer` (over the model's parameters) must outlive the trainer.
  Trainer(Module& model, Optimizer& optimizer, TrainerOptions options = {});

  // One update on a batch: x [B, ...], labels i64 [B].
  absl::StatusOr<StepStats> Step(const Tensor& x, const Tensor& labels);
  // One pass over `batches` (Reset first), in training mode.
  absl::StatusOr<EpochStats> Epoch(BatchIterator& batches);
  // Accuracy on `data` in eval mode, `batch_size` rows at a time; restores the
  // model's mode afterwards.
  absl::StatusOr<double> Evaluate(const Dataset& data, int64_t batch_size = 1024);

  Tape& tape() { return tape_; }

 private:
  Module& model_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  Device device_;  // the model's: batches are copied there
  Tape tape_;
  TapeMark mark_;
};

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_TRAINER_H_
