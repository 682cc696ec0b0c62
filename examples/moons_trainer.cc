#include "examples/moons_trainer.h"

#include <array>

#include "core/scalar_ops.h"
#include "core/status_macros.h"

namespace tapegrad::examples {

MoonsTrainer::MoonsTrainer(int points, uint64_t seed)
    : data_(nn::MakeMoons(points, 0.1, seed)), model_(tape_, 2, {16, 16, 1}, seed) {
  losses_.reserve(points);
  step_mark_ = tape_.Mark();  // the parameters stay below it
}

absl::StatusOr<MoonsStep> MoonsTrainer::Step(double learning_rate) {
  constexpr double kAlpha = 1e-4;
  losses_.clear();
  int correct = 0;
  for (size_t i = 0; i < data_.x.size(); ++i) {
    const std::array<Value, 2> x = {tape_.Leaf(data_.x[i][0]), tape_.Leaf(data_.x[i][1])};
    const Value score = model_(x);
    losses_.push_back((1 + -data_.y[i] * score).relu());  // one fused record
    correct += (data_.y[i] > 0) == (score.data() > 0);
  }
  const std::vector<Value>& params = model_.parameters();
  Value data_loss = Sum(losses_) * (1.0 / static_cast<double>(losses_.size()));
  Value total = data_loss + kAlpha * Dot(params, params);
  const MoonsStep step{total.data(), static_cast<double>(correct) / data_.x.size()};

  model_.zero_grad();
  TG_RETURN_IF_ERROR(total.Backward());
  for (const Value& p : params) p.set_data(p.data() - learning_rate * p.grad());
  TG_RETURN_IF_ERROR(tape_.Rewind(step_mark_));
  return step;
}

}  // namespace tapegrad::examples
