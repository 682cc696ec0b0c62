// micrograd's demo as a reusable training loop: MLP(2, [16, 16, 1]) on 100 two-moons
// points, max-margin loss plus 1e-4 L2, plain SGD.
//
//   tapegrad::examples::MoonsTrainer trainer(/*points=*/100, /*seed=*/1337);
//   for (int k = 0; k < 100; ++k) {
//     absl::StatusOr<MoonsStep> step = trainer.Step(1.0 - 0.9 * k / 100);
//   }
//
// One Step builds the loss on the tape after the model's mark, sweeps back,
// updates the parameters and rewinds: after the first step it allocates nothing.
//
// TensorMoonsTrainer is the same demo with tensors: the same points, the same
// initial weights (copied from the scalar model), nn::MLP, nn::HingeLoss and
// nn::Sgd; in f64 its losses match the scalar run's to rounding.
//
// Thread safety: one thread at a time.
#ifndef TAPEGRAD_EXAMPLES_MOONS_TRAINER_H_
#define TAPEGRAD_EXAMPLES_MOONS_TRAINER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dtype.h"
#include "core/tape.h"
#include "core/tensor.h"
#include "nn/micrograd.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "nn/two_moons.h"

namespace tapegrad::examples {

struct MoonsStep {
  double loss;      // data loss + regularisation, before the update
  double accuracy;  // fraction of points on the right side, before the update
};

class MoonsTrainer {
 public:
  MoonsTrainer(int points, uint64_t seed);
  absl::StatusOr<MoonsStep> Step(double learning_rate);
  const nn::micrograd::MLP& model() const { return model_; }
  const nn::TwoMoons& data() const { return data_; }
  const Tape& tape() const { return tape_; }

 private:
  Tape tape_;
  nn::TwoMoons data_;
  nn::micrograd::MLP model_;
  TapeMark step_mark_;
  std::vector<Value> losses_;  // scratch, reused every step
};

class TensorMoonsTrainer {
 public:
  TensorMoonsTrainer(int points, uint64_t seed, DType dtype = DType::kF64);
  absl::StatusOr<MoonsStep> Step(double learning_rate);
  nn::MLP& model() { return model_; }

 private:
  Tensor x_, y_;  // [points, 2] and [points, 1] (labels -1 or +1)
  Random init_rng_;
  nn::MLP model_;
  std::vector<Tensor> parameters_;
  nn::Sgd sgd_;
  Tape tape_;
  TapeMark step_mark_;
};

}  // namespace tapegrad::examples

#endif  // TAPEGRAD_EXAMPLES_MOONS_TRAINER_H_
