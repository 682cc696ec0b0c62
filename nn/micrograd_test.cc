// nn::micrograd's Neuron, Layer and MLP: micrograd's shapes, reprs and order of
// parameters, initial weights given by the caller, and the gradient of a forward
// pass against finite differences.
#include "nn/micrograd.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "core/scalar_ops.h"
#include "core/tape.h"
#include "core/value.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tapegrad::nn::micrograd {
namespace {

using ::testing::HasSubstr;

TEST(MicrogradMLP, ShapesAndReprAreMicrograds) {
  Tape tape;
  MLP model(tape, 2, {3, 1}, /*seed=*/7);
  EXPECT_EQ(model.parameters().size(), 3u * 3 + 4);
  std::ostringstream repr;
  repr << model;
  EXPECT_EQ(repr.str(),
            "MLP of [Layer of [ReLUNeuron(2), ReLUNeuron(2), ReLUNeuron(2)], "
            "Layer of [LinearNeuron(3)]]");
  for (const Value& p : model.parameters()) {
    EXPECT_GE(p.data(), -1.0);
    EXPECT_LT(p.data(), 1.0);
  }
}

// Weights and biases from the caller, in parameters()'s order; the forward pass
// is then micrograd's arithmetic on them.
TEST(MicrogradMLP, SetParametersGivesInitialWeights) {
  Tape tape;
  MLP model(tape, 2, {2, 1}, /*seed=*/1);
  // Layer 1: n0 = relu(1 x0 - 2 x1 + 0.5), n1 = relu(-1 x0 + 0.25 x1 - 0.1);
  // layer 2: out = 3 n0 - 1 n1 + 0.2.
  const std::vector<double> weights = {1, -2, 0.5, -1, 0.25, -0.1, 3, -1, 0.2};
  ASSERT_TRUE(model.set_parameters(weights).ok());
  for (size_t i = 0; i < weights.size(); ++i) {
    EXPECT_EQ(model.parameters()[i].data(), weights[i]);
  }
  const TapeMark mark = tape.Mark();
  const std::vector<Value> x = {tape.Leaf(0.5), tape.Leaf(-1.5)};
  const Value out = model(x);
  const double n0 = std::max(0.0, 0.5 + 3.0 + 0.5);
  const double n1 = std::max(0.0, -0.5 - 0.375 - 0.1);
  EXPECT_DOUBLE_EQ(out.data(), 3 * n0 - n1 + 0.2);
  ASSERT_TRUE(out.Backward().ok());
  EXPECT_DOUBLE_EQ(model.parameters()[0].grad(), 3 * 0.5);  // d out / d w00
  EXPECT_DOUBLE_EQ(model.parameters()[3].grad(), 0.0);      // n1 is off
  EXPECT_DOUBLE_EQ(model.parameters()[8].grad(), 1.0);      // the last bias
  EXPECT_TRUE(tape.Rewind(mark).ok());
}

TEST(MicrogradMLP, SetParametersOfTheWrongCountChangesNothing) {
  Tape tape;
  MLP model(tape, 2, {2, 1}, /*seed=*/1);
  const double before = model.parameters()[0].data();
  const std::vector<double> weights(8, 0.5);
  const absl::Status s = model.set_parameters(weights);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("has 9 parameters, given 8"));
  EXPECT_EQ(model.parameters()[0].data(), before);
}

// The gradient of a scalar loss through a 2-16-16-1 model (records longer than
// the fused limit: 16-input neurons) against central differences.
TEST(MicrogradMLP, GradientsMatchFiniteDifferences) {
  Tape tape;
  MLP model(tape, 2, {16, 16, 1}, /*seed=*/1337);
  const std::vector<Value> x = {tape.Leaf(0.3), tape.Leaf(-0.8)};
  const TapeMark mark = tape.Mark();
  auto loss = [&] {
    const Value out = model(x);
    return (out * out).tanh();
  };
  const Value l = loss();
  ASSERT_TRUE(l.Backward().ok());
  std::vector<double> grads;
  for (const Value& p : model.parameters()) grads.push_back(p.grad());
  ASSERT_TRUE(tape.Rewind(mark).ok());
  const double h = 1e-6;
  for (size_t i = 0; i < model.parameters().size(); i += 7) {
    const Value& p = model.parameters()[i];
    const double saved = p.data();
    p.set_data(saved + h);
    const double up = loss().data();
    ASSERT_TRUE(tape.Rewind(mark).ok());
    p.set_data(saved - h);
    const double down = loss().data();
    ASSERT_TRUE(tape.Rewind(mark).ok());
    p.set_data(saved);
    EXPECT_NEAR(grads[i], (up - down) / (2 * h), 1e-7) << "parameter " << i;
  }
}

}  // namespace
}  // namespace tapegrad::nn::micrograd
