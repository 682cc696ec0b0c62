// Optimizer steps against values computed by hand in f64 (Adam's bias correction
// included), f32 against f64, learning-rate schedules, and the error paths.
#include "nn/optimizer.h"

#include <cmath>
#include <memory>
#include <vector>

#include "core/tape.h"
#include "core/tensor.h"
#include "core/tensor_ops.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nn/lr_schedule.h"

namespace tapegrad::nn {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// p starts at [1, -2]; every step's gradient is g = [0.5, -1.5] (the loss is
// sum(p * g)).
class OptimizerTest : public ::testing::Test {
 protected:
  explicit OptimizerTest(DType dtype = DType::kF64)
      : p_(Tensor::FromData({1, -2}, {2}, dtype).RequiresGrad()),
        g_(Tensor::FromData({0.5, -1.5}, {2}, dtype)) {}

  std::vector<double> Step(Optimizer& opt) {
    opt.ZeroGrad();
    Tape tape;
    TapeScope scope(&tape);
    EXPECT_TRUE(Sum(p_ * g_).Backward().ok());
    EXPECT_TRUE(opt.Step().ok());
    return p_.ToVector();
  }

  Tensor p_, g_;
};

TEST_F(OptimizerTest, SgdPlainAndWithWeightDecay) {
  SgdOptions o;
  o.lr = 0.1;
  Sgd sgd({p_}, o);
  EXPECT_THAT(Step(sgd), ElementsAre(DoubleNear(0.95, 1e-15), DoubleNear(-1.85, 1e-15)));
  o.weight_decay = 0.1;
  ASSERT_TRUE(p_.CopyFrom(std::vector<double>{1, -2}).ok());
  Sgd decayed({p_}, o);
  // d = g + 0.1 p = [0.6, -1.7].
  EXPECT_THAT(Step(decayed),
              ElementsAre(DoubleNear(0.94, 1e-15), DoubleNear(-1.83, 1e-15)));
}

TEST_F(OptimizerTest, SgdMomentumStartsAtTheGradient) {
  SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  Sgd sgd({p_}, o);
  // v1 = g: p -= 0.1 g. v2 = 0.9 g + g = 1.9 g: p -= 0.19 g.
  EXPECT_THAT(Step(sgd), ElementsAre(DoubleNear(0.95, 1e-15), DoubleNear(-1.85, 1e-15)));
  EXPECT_THAT(Step(sgd),
              ElementsAre(DoubleNear(0.855, 1e-15), DoubleNear(-1.565, 1e-15)));
}

TEST_F(OptimizerTest, SgdNesterovAndDampening) {
  SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.nesterov = true;
  Sgd nesterov({p_}, o);
  // Step 1: p -= 0.1 (g + 0.9 g). Step 2: v = 1.9 g; p -= 0.1 (g + 0.9 * 1.9 g).
  EXPECT_THAT(Step(nesterov),
              ElementsAre(DoubleNear(0.905, 1e-15), DoubleNear(-1.715, 1e-15)));
  EXPECT_THAT(Step(nesterov),
              ElementsAre(DoubleNear(0.7695, 1e-15), DoubleNear(-1.3085, 1e-14)));

  ASSERT_TRUE(p_.CopyFrom(std::vector<double>{1, -2}).ok());
  o.nesterov = false;
  o.dampening = 0.5;
  Sgd damped({p_}, o);
  Step(damped);  // v1 = g, undamped
  // v2 = 0.9 g + 0.5 g = 1.4 g: p = 0.95 - 0.07 = 0.88, -1.85 + 0.21 = -1.64.
  EXPECT_THAT(Step(damped),
              ElementsAre(DoubleNear(0.88, 1e-15), DoubleNear(-1.64, 1e-14)));
}

TEST_F(OptimizerTest, RmsProp) {
  RmspropOptions o;
  o.lr = 0.01;
  RmsProp rms({p_}, o);
  // sq1 = 0.01 g^2: p -= 0.01 g / (0.1 |g| + eps), about 0.1 sign(g).
  const double p1 = 1 - 0.01 * 0.5 / (0.1 * 0.5 + 1e-8);
  EXPECT_THAT(Step(rms), ElementsAre(DoubleNear(p1, 1e-15), DoubleNear(-1.9, 1e-7)));
  // sq2 = (0.99 * 0.01 + 0.01) g^2 = 0.0199 g^2.
  const double p2 = p1 - 0.01 * 0.5 / (std::sqrt(0.0199) * 0.5 + 1e-8);
  EXPECT_NEAR(Step(rms)[0], p2, 1e-15);
}

TEST_F(OptimizerTest, AdamBiasCorrectionMakesEarlyStepsLrTimesSign) {
  AdamOptions o;
  o.lr = 0.1;
  Adam adam({p_}, o);
  // With a constant gradient, bias-corrected m = g and v = g^2 at every step.
  EXPECT_THAT(Step(adam), ElementsAre(DoubleNear(0.9, 1e-7), DoubleNear(-1.9, 1e-7)));
  EXPECT_THAT(Step(adam), ElementsAre(DoubleNear(0.8, 1e-7), DoubleNear(-1.8, 1e-7)));
  EXPECT_EQ(adam.steps(), 2);
}

TEST_F(OptimizerTest, AdamL2AgainstAdamWDecoupledDecay) {
  AdamOptions o;
  o.lr = 0.1;
  o.weight_decay = 0.1;
  Adam adam({p_}, o);
  // Step 1, first element: d1 = g + 0.1 p = 0.6; m and v bias-correct to d1, d1^2.
  const double p1 = 1 - 0.1 * 0.6 / (0.6 + 1e-8);
  EXPECT_NEAR(Step(adam)[0], p1, 1e-15);
  // Step 2: d2 = 0.5 + 0.1 p1.
  const double d2 = 0.5 + 0.1 * p1;
  const double m = (0.9 * 0.1 * 0.6 + 0.1 * d2) / (1 - 0.9 * 0.9);
  const double v = (0.999 * 0.001 * 0.36 + 0.001 * d2 * d2) / (1 - 0.999 * 0.999);
  EXPECT_NEAR(Step(adam)[0], p1 - 0.1 * m / (std::sqrt(v) + 1e-8), 1e-14);

  ASSERT_TRUE(p_.CopyFrom(std::vector<double>{1, -2}).ok());
  AdamWOptions w;
  w.lr = 0.1;
  w.weight_decay = 0.1;
  AdamW adamw({p_}, w);
  // p *= 1 - 0.01, then p -= 0.1 sign(g).
  EXPECT_THAT(Step(adamw), ElementsAre(DoubleNear(0.89, 1e-7), DoubleNear(-1.88, 1e-7)));
}

class OptimizerF32Test : public OptimizerTest {
 protected:
  OptimizerF32Test() : OptimizerTest(DType::kF32) {}
};

TEST_F(OptimizerF32Test, AdamInF32AgreesWithF64) {
  AdamOptions o;
  o.lr = 0.01;
  o.weight_decay = 0.05;
  Adam adam32({p_}, o);
  Tensor p64 = Tensor::FromData({1, -2}, {2}, DType::kF64).RequiresGrad();
  const Tensor g64 = Tensor::FromData({0.5, -1.5}, {2}, DType::kF64);
  Adam adam64({p64}, o);
  for (int i = 0; i < 5; ++i) {
    const std::vector<double> p32 = Step(adam32);
    adam64.ZeroGrad();
    Tape tape;
    TapeScope scope(&tape);
    ASSERT_TRUE(Sum(p64 * g64).Backward().ok());
    ASSERT_TRUE(adam64.Step().ok());
    const std::vector<double> want = p64.ToVector();
    EXPECT_NEAR(p32[0], want[0], 1e-6);
    EXPECT_NEAR(p32[1], want[1], 1e-6);
  }
}

// A subnormal gradient counts as zero in the update (kernels/cpu/flush_subnormals.h):
// unflushed, Adam would move a zero parameter to -lr * g / eps (g * g underflows).
TEST(OptimizerSubnormals, AdamTreatsASubnormalGradientAsZero) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    const double tiny = dtype == DType::kF32 ? 1e-40 : 1e-310;  // subnormal in each
    Tensor p = Tensor::Zeros({2}, dtype).RequiresGrad();
    const Tensor g = Tensor::FromData({tiny, 1.0}, {2}, dtype);
    Adam adam({p}, AdamOptions());
    Tape tape;
    TapeScope scope(&tape);
    ASSERT_TRUE(Sum(p * g).Backward().ok());
    ASSERT_TRUE(adam.Step().ok());
    const std::vector<double> after = p.ToVector();
    EXPECT_EQ(after[0], 0.0) << DTypeName(dtype);
    EXPECT_NEAR(after[1], -1e-3, 1e-7) << DTypeName(dtype);  // a normal one moves
  }
}

TEST_F(OptimizerTest, ParametersWithoutAGradientAreLeftAlone) {
  Tensor unused = Tensor::Of({3}, DType::kF64).RequiresGrad();
  SgdOptions o;
  o.lr = 0.1;
  Sgd sgd({p_, unused}, o);
  Step(sgd);
  EXPECT_THAT(unused.ToVector(), ElementsAre(3.0));
}

TEST(ParameterUpdate, MismatchesAreErrorsThatNameTheOperands) {
  const Tensor p = Tensor::Zeros({2, 3});
  const Tensor state = Tensor::Zeros({2, 3});
  absl::Status s = AdamUpdate(p, Tensor::Zeros({3, 2}), state, state, {}, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("adam_update: shapes differ (operands: f32[3, 2] on cpu"));
  s = SgdUpdate(p, Tensor::Zeros({2, 3}, DType::kF64), Tensor(), {}, true);
  EXPECT_THAT(std::string(s.message()), HasSubstr("f64[2, 3] on cpu"));
  s = AdamUpdate(p, state, state, state, {}, 0);
  EXPECT_THAT(std::string(s.message()), HasSubstr("step is 0"));
  s = RmspropUpdate(p, state.T(), state, {});
  EXPECT_THAT(std::string(s.message()), HasSubstr("rmsprop_update"));
  SgdOptions momentum;
  momentum.momentum = 0.9;
  s = SgdUpdate(p, state, Tensor(), momentum, true);
  EXPECT_FALSE(s.ok());

  Tape tape;
  TapeScope scope(&tape);
  const Tensor on_tape = state + 1.0;
  s = SgdUpdate(on_tape, state, Tensor(), {}, true);
  EXPECT_THAT(std::string(s.message()), HasSubstr("must be heap tensors"));
}

TEST(LrSchedule, StepAndCosine) {
  const StepLr step(0.1, 2, 0.5);
  EXPECT_DOUBLE_EQ(step(0), 0.1);
  EXPECT_DOUBLE_EQ(step(1), 0.1);
  EXPECT_DOUBLE_EQ(step(2), 0.05);
  EXPECT_DOUBLE_EQ(step(5), 0.025);
  const CosineLr cosine(1.0, 10, 0.1);
  EXPECT_DOUBLE_EQ(cosine(0), 1.0);
  EXPECT_NEAR(cosine(5), 0.55, 1e-15);
  EXPECT_NEAR(cosine(10), 0.1, 1e-15);
}

}  // namespace
}  // namespace tapegrad::nn
