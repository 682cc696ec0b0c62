#include "examples/moons_trainer.h"

#include <array>

#include "core/scalar_ops.h"
#include "core/status_macros.h"
#include "core/tensor_ops.h"
#include "nn/loss.h"

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

namespace {

Tensor MoonsFeatures(const nn::TwoMoons& data, DType dtype) {
  std::vector<double> x;
  for (const auto& point : data.x) x.insert(x.end(), point.begin(), point.end());
  return Tensor::FromData(x, {int64_t(data.x.size()), 2}, dtype);
}

// Copies micrograd's initial weights into the tensor MLP: neuron j of layer l
// becomes column j of Linear l's weight [in, out].
void CopyWeights(const nn::micrograd::MLP& from, nn::MLP& to) {
  std::vector<Tensor> parameters = to.parameters();  // weight, bias per layer
  for (size_t l = 0; l < from.layers().size(); ++l) {
    const std::vector<nn::micrograd::Neuron>& neurons = from.layers()[l].neurons();
    const int nin = neurons[0].nin(), nout = int(neurons.size());
    std::vector<double> w(static_cast<size_t>(nin * nout));
    std::vector<double> b(static_cast<size_t>(nout));
    for (int j = 0; j < nout; ++j) {
      const std::vector<Value>& p = neurons[j].parameters();  // w..., b
      for (int k = 0; k < nin; ++k) w[size_t(k) * nout + j] = p[k].data();
      b[j] = p[nin].data();
    }
    (void)parameters[2 * l].CopyFrom(w);
    (void)parameters[2 * l + 1].CopyFrom(b);
  }
}

}  // namespace

TensorMoonsTrainer::TensorMoonsTrainer(int points, uint64_t seed, DType dtype)
    : init_rng_(seed),
      model_(2, {16, 16, 1}, init_rng_, nn::Nonlinearity::kReLU, dtype),
      parameters_(model_.parameters()),
      sgd_(parameters_, SgdOptions()) {
  const nn::TwoMoons data = nn::MakeMoons(points, 0.1, seed);
  x_ = MoonsFeatures(data, dtype);
  y_ = Tensor::FromData(data.y, {int64_t(data.y.size()), 1}, dtype);
  Tape scratch;
  CopyWeights(nn::micrograd::MLP(scratch, 2, {16, 16, 1}, seed), model_);
  step_mark_ = tape_.Mark();
}

absl::StatusOr<MoonsStep> TensorMoonsTrainer::Step(double learning_rate) {
  constexpr double kAlpha = 1e-4;
  TapeScope scope(&tape_);
  const Tensor scores = model_(x_);
  Tensor l2 = Sum(parameters_[0] * parameters_[0]);
  for (size_t i = 1; i < parameters_.size(); ++i) {
    l2 = l2 + Sum(parameters_[i] * parameters_[i]);
  }
  const Tensor total = nn::HingeLoss(scores, y_) + kAlpha * l2;
  TG_RETURN_IF_ERROR(total.status());
  int correct = 0;
  for (int64_t i = 0; i < scores.size(0); ++i) {
    correct += (y_.at({i, 0}) > 0) == (scores.at({i, 0}) > 0);
  }
  const MoonsStep step{total.item(), double(correct) / double(scores.size(0))};
  sgd_.ZeroGrad();
  TG_RETURN_IF_ERROR(total.Backward());
  sgd_.set_lr(learning_rate);
  TG_RETURN_IF_ERROR(sgd_.Step());
  TG_RETURN_IF_ERROR(tape_.Rewind(step_mark_));
  return step;
}

}  // namespace tapegrad::examples
