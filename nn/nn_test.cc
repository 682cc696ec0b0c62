// nn modules, initialisation and losses: forward passes against hand-computed
// values, gradients through whole modules against finite differences (f64),
// and the error paths.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tape.h"
#include "core/tensor.h"
#include "core/tensor_ops.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nn/activation.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/metrics.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "nn/trainer.h"

namespace tapegrad::nn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<double> Values(const Tensor& t) { return t.ToVector(); }

Tensor Labels(std::vector<int64_t> v) {
  return Tensor::FromData(absl::MakeConstSpan(v), {int64_t(v.size())});
}

TEST(Linear, ForwardIsXTimesWeightPlusBias) {
  Random rng(0);
  Linear fc(3, 2, rng, /*bias=*/true, DType::kF64);
  ASSERT_TRUE(fc.weight().CopyFrom(std::vector<double>{1, 2, 3, 4, 5, 6}).ok());
  ASSERT_TRUE(fc.bias().CopyFrom(std::vector<double>{0.5, -1}).ok());
  const Tensor y = fc(Tensor::FromData({1, 0, -1, 2, 1, 0}, {2, 3}, DType::kF64));
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(y.shape(), ElementsAre(2, 2));
  // [1, 0, -1] @ W = [-4, -4]; [2, 1, 0] @ W = [5, 8]; plus bias.
  EXPECT_THAT(Values(y), ElementsAre(-3.5, -5, 5.5, 7));
}

TEST(Linear, DefaultInitIsPyTorchsBoundAndSeeded) {
  Random a(3), b(3);
  Linear fa(16, 8, a), fb(16, 8, b);
  const std::vector<double> w = Values(fa.weight());
  EXPECT_EQ(w, Values(fb.weight()));
  for (double v : w) EXPECT_LE(std::fabs(v), 0.25);  // 1/sqrt(16)
  EXPECT_TRUE(fa.weight().requires_grad());
  EXPECT_EQ(fa.ToString(), "Linear(in_features=16, out_features=8, bias=True)");
  Linear no_bias(4, 2, a, /*bias=*/false);
  EXPECT_EQ(no_bias.parameters().size(), 1u);
}

TEST(Linear, WrongInputWidthNamesTheOperands) {
  Random rng(0);
  Linear fc(3, 2, rng);
  const Tensor y = fc(Tensor::Zeros({4, 5}));
  EXPECT_THAT(std::string(y.status().message()), HasSubstr("f32[4, 5] on cpu"));
  EXPECT_THAT(std::string(y.status().message()), HasSubstr("f32[3, 2] on cpu"));
}

TEST(Sequential, NamesParametersByPositionAndAppliesInOrder) {
  Random rng(1);
  MLP mlp(3, {2, 1}, rng, Nonlinearity::kReLU, DType::kF64);
  std::vector<std::string> names;
  for (const NamedTensor& p : mlp.named_parameters()) names.push_back(p.name);
  EXPECT_THAT(names, ElementsAre("0.weight", "0.bias", "2.weight", "2.bias"));
  EXPECT_EQ(mlp.size(), 3u);
  EXPECT_EQ(mlp.ToString(),
            "Sequential(\n"
            "  (0): Linear(in_features=3, out_features=2, bias=True)\n"
            "  (1): ReLU()\n"
            "  (2): Linear(in_features=2, out_features=1, bias=True)\n"
            ")");
  std::vector<Tensor> p = mlp.parameters();
  ASSERT_TRUE(p[0].CopyFrom(std::vector<double>{1, -1, 2, 0, 0, 1}).ok());
  ASSERT_TRUE(p[1].CopyFrom(std::vector<double>{0, 0.5}).ok());
  ASSERT_TRUE(p[2].CopyFrom(std::vector<double>{2, 3}).ok());
  ASSERT_TRUE(p[3].CopyFrom(std::vector<double>{-1}).ok());
  // x = [1, 1, 1]: hidden = relu([3, 0.5]) ; out = 2*3 + 3*0.5 - 1 = 6.5.
  // x = [-1, 0, 0]: hidden = relu([-1, 1.5]) = [0, 1.5]; out = 4.5 - 1 = 3.5.
  const Tensor y = mlp(Tensor::FromData({1, 1, 1, -1, 0, 0}, {2, 3}, DType::kF64));
  EXPECT_THAT(Values(y), ElementsAre(6.5, 3.5));
}

TEST(Sequential, ParametersShareStorageAndZeroGradClears) {
  Random rng(2);
  MLP mlp(2, {3, 1}, rng);
  Tape tape;
  TapeScope scope(&tape);
  ASSERT_TRUE(Sum(mlp(Tensor::Ones({4, 2}))).Backward().ok());
  for (const Tensor& p : mlp.parameters()) {
    ASSERT_TRUE(p.grad().ok());
  }
  EXPECT_NE(Values(mlp.parameters()[3].grad())[0], 0.0);
  mlp.zero_grad();
  for (const Tensor& p : mlp.parameters()) {
    for (double g : Values(p.grad())) EXPECT_EQ(g, 0.0);
  }
}

TEST(Activations, MatchTheirOps) {
  const Tensor x = Tensor::FromData({-1.5, 0.0, 2.0}, {3}, DType::kF64);
  ReLU relu;
  Tanh tanh_module;
  Sigmoid sigmoid;
  GELU gelu;
  EXPECT_THAT(Values(relu(x)), ElementsAre(0.0, 0.0, 2.0));
  EXPECT_DOUBLE_EQ(Values(tanh_module(x))[2], std::tanh(2.0));
  EXPECT_DOUBLE_EQ(Values(sigmoid(x))[0], 1.0 / (1.0 + std::exp(1.5)));
  EXPECT_DOUBLE_EQ(Values(gelu(x))[2],
                   2.0 * 0.5 * (1.0 + std::erf(2.0 / std::sqrt(2.0))));
  EXPECT_EQ(gelu.ToString(), "GELU()");
}

TEST(Dropout, ZeroesAboutPAndScalesTheRest) {
  Dropout dropout(0.25, /*seed=*/9);
  const Tensor x = Tensor::Ones({100000}, DType::kF64);
  const std::vector<double> y = Values(dropout(x));
  int zeros = 0;
  for (double v : y) {
    if (v == 0) {
      ++zeros;
    } else {
      EXPECT_DOUBLE_EQ(v, 1.0 / 0.75);
    }
  }
  EXPECT_NEAR(zeros / 100000.0, 0.25, 0.01);
  // Each call draws a new mask; the same seed repeats the sequence.
  Dropout again(0.25, 9);
  EXPECT_EQ(Values(again(x)), y);
  EXPECT_NE(Values(again(x)), y);
}

TEST(Dropout, IsTheIdentityInEvalModeAndChecksP) {
  Sequential net;
  net.Emplace<Dropout>(0.5, 1);
  net.eval();
  EXPECT_FALSE(net[0].is_training());
  const Tensor x = Tensor::Ones({8});
  EXPECT_TRUE(net(x).SharesStorageWith(x));
  net.train();
  EXPECT_FALSE(net(x).SharesStorageWith(x));
  EXPECT_THAT(std::string(tapegrad::Dropout(x, 1.5, 0).status().message()),
              HasSubstr("dropout: p = 1.5 is not in [0, 1]"));
  for (double v : Values(tapegrad::Dropout(x, 1.0, 0))) EXPECT_EQ(v, 0.0);
}

TEST(Init, KaimingAndXavierUseTheirBoundsAndScales) {
  Random rng(4);
  Tensor w = Tensor::Zeros({300, 200}, DType::kF64);
  ASSERT_TRUE(KaimingUniform(w, rng).ok());
  double max_abs = 0;
  for (double v : Values(w)) max_abs = std::max(max_abs, std::fabs(v));
  const double kaiming_bound = std::sqrt(2.0) * std::sqrt(3.0 / 300);
  EXPECT_LE(max_abs, kaiming_bound);
  EXPECT_GT(max_abs, 0.99 * kaiming_bound);

  ASSERT_TRUE(XavierUniform(w, rng).ok());
  max_abs = 0;
  for (double v : Values(w)) max_abs = std::max(max_abs, std::fabs(v));
  EXPECT_LE(max_abs, std::sqrt(6.0 / 500));
  EXPECT_GT(max_abs, 0.99 * std::sqrt(6.0 / 500));

  auto stddev = [](const std::vector<double>& v) {
    double sum = 0, sq = 0;
    for (double x : v) sum += x, sq += x * x;
    const double mean = sum / double(v.size());
    return std::sqrt(sq / double(v.size()) - mean * mean);
  };
  ASSERT_TRUE(KaimingNormal(w, rng, std::sqrt(2.0), FanMode::kFanOut).ok());
  EXPECT_NEAR(stddev(Values(w)), std::sqrt(2.0 / 200), 0.02 * std::sqrt(2.0 / 200));
  ASSERT_TRUE(XavierNormal(w, rng, 2.0).ok());
  EXPECT_NEAR(stddev(Values(w)), 2.0 * std::sqrt(2.0 / 500), 0.02 * std::sqrt(0.016));
}

// Rank 3 and more: PyTorch's convolution layout [out, in, kh, kw] and its fans.
TEST(Init, ConvolutionWeightsUsePyTorchsFans) {
  Random rng(0);
  Tensor w = Tensor::Zeros({8, 3, 3, 3});
  ASSERT_TRUE(XavierUniform(w, rng).ok());
  const double bound = std::sqrt(6.0 / (27 + 72));
  double largest = 0;
  for (double v : w.ToVector()) largest = std::max(largest, std::fabs(v));
  EXPECT_LE(largest, bound);
  EXPECT_GT(largest, 0.8 * bound);
}

TEST(Init, RejectsTensorsItCannotFill) {
  Random rng(0);
  Tensor scalar = Tensor::Zeros({});
  EXPECT_THAT(std::string(KaimingUniform(scalar, rng).message()),
              HasSubstr("kaiming_uniform: needs a heap tensor of rank 1 or more, got "
                        "f32[] on cpu"));
  Tensor empty;
  EXPECT_FALSE(XavierNormal(empty, rng).ok());
}

TEST(Loss, MseCrossEntropyHingeAndBceByHand) {
  const Tensor pred = Tensor::Of({1, 2, 3}, DType::kF64);
  EXPECT_DOUBLE_EQ(MseLoss(pred, Tensor::Of({1, 1, 1}, DType::kF64)).item(), 5.0 / 3);
  const Tensor logits = Tensor::FromData({0, 0, 1, 2, 3, 0}, {2, 3}, DType::kF64);
  // Row 0, label 1: logsumexp(0, 0, 1) - 0. Row 1, label 0: logsumexp(2, 3, 0) - 2.
  const double row0 = std::log(2.0 + std::exp(1.0));
  const double row1 = std::log(std::exp(2.0) + std::exp(3.0) + 1.0) - 2.0;
  EXPECT_NEAR(CrossEntropyLoss(logits, Labels({1, 0})).item(), (row0 + row1) / 2, 1e-15);
  EXPECT_NEAR(HingeLoss(Tensor::Of({2, -0.5, 0.3}, DType::kF64),
                        Tensor::Of({1, 1, -1}, DType::kF64))
                  .item(),
              (0 + 1.5 + 1.3) / 3, 1e-15);
  // log(1 + e^0) - 0 and log(1 + e^2) for target 0 at logit 2.
  EXPECT_NEAR(
      BceWithLogitsLoss(Tensor::Of({0, 2}, DType::kF64), Tensor::Of({1, 0}, DType::kF64))
          .item(),
      (std::log(2.0) + std::log1p(std::exp(2.0))) / 2, 1e-15);
}

TEST(Loss, BceWithLogitsIsStableAndExactAtZero) {
  // Huge logits neither overflow nor lose the loss.
  EXPECT_NEAR(BceWithLogitsLoss(Tensor::Of({1000, -1000}, DType::kF64),
                                Tensor::Of({1, 1}, DType::kF64))
                  .item(),
              500.0, 1e-12);
  // At logit 0 (a zero-initialised head) the gradient is (sigmoid(0) - y) / n.
  Tensor x = Tensor::Zeros({2}, DType::kF64).RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  ASSERT_TRUE(BceWithLogitsLoss(x, Tensor::Of({1, 0}, DType::kF64)).Backward().ok());
  EXPECT_THAT(Values(x.grad()), ElementsAre(-0.25, 0.25));
}

TEST(Metrics, AccuracyTakesTheArgmaxPerRow) {
  const Tensor logits = Tensor::FromData({0.1, 0.9, 0.5, 0.2, 0.3, 0.3}, {3, 2});
  EXPECT_EQ(CountCorrect(logits, Labels({1, 0, 0})), 3);
  EXPECT_DOUBLE_EQ(Accuracy(logits, Labels({0, 0, 1})), 1.0 / 3);
  EXPECT_TRUE(std::isnan(Accuracy(logits, Labels({0}))));
}

// Gradients of a loss through a whole module, for every parameter, against
// central differences of the loss evaluated off the tape.
double MaxParameterGradientError(Module& model, const std::function<Tensor()>& loss) {
  model.zero_grad();
  {
    Tape tape;
    TapeScope scope(&tape);
    const absl::Status s = loss().Backward();
    EXPECT_TRUE(s.ok()) << s;
  }
  double worst = 0;
  for (Tensor& p : model.parameters()) {
    std::vector<double> values = Values(p);
    const std::vector<double> analytic = Values(p.grad());
    for (size_t i = 0; i < values.size(); ++i) {
      const double h = 1e-6, saved = values[i];
      values[i] = saved + h;
      EXPECT_TRUE(p.CopyFrom(values).ok());
      const double up = loss().item();
      values[i] = saved - h;
      EXPECT_TRUE(p.CopyFrom(values).ok());
      const double down = loss().item();
      values[i] = saved;
      EXPECT_TRUE(p.CopyFrom(values).ok());
      const double numeric = (up - down) / (2 * h);
      worst = std::max(
          worst, std::fabs(numeric - analytic[i]) / std::max(1.0, std::fabs(numeric)));
    }
  }
  return worst;
}

struct ModuleCase {
  Nonlinearity nonlinearity;
  const char* name;
};

class ModuleGradientTest : public ::testing::TestWithParam<ModuleCase> {};

TEST_P(ModuleGradientTest, MlpWithEachLossMatchesFiniteDifferences) {
  Random rng(11);
  MLP mlp(4, {5, 3}, rng, GetParam().nonlinearity, DType::kF64);
  const Tensor x = Tensor::Randn({6, 4}, rng, DType::kF64);
  const Tensor labels = Labels({0, 2, 1, 1, 0, 2});
  const Tensor targets = Tensor::Rand({6, 3}, rng, DType::kF64);
  const Tensor signs = Tensor::FromData({1, -1, 1, 1, -1, -1}, {6, 1}, DType::kF64);
  const std::vector<std::function<Tensor()>> losses = {
      [&] { return CrossEntropyLoss(mlp(x), labels); },
      [&] { return MseLoss(mlp(x), targets); },
      [&] { return BceWithLogitsLoss(mlp(x), targets); },
      [&] { return HingeLoss(Sum(mlp(x), {1}, true), signs); },
  };
  for (size_t i = 0; i < losses.size(); ++i) {
    EXPECT_LT(MaxParameterGradientError(mlp, losses[i]), 1e-6) << "loss " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Nonlinearities, ModuleGradientTest,
                         ::testing::Values(ModuleCase{Nonlinearity::kReLU, "ReLU"},
                                           ModuleCase{Nonlinearity::kTanh, "Tanh"},
                                           ModuleCase{Nonlinearity::kSigmoid, "Sigmoid"},
                                           ModuleCase{Nonlinearity::kGELU, "GELU"}),
                         [](const ::testing::TestParamInfo<ModuleCase>& info) {
                           return info.param.name;
                         });

// The after_backward hook sees the step's gradients before the optimizer does,
// and an error from it fails the step with the parameters unchanged.
TEST(Trainer, AfterBackwardRunsBetweenBackwardAndTheStep) {
  Random rng(0);
  MLP model(2, {3, 2}, rng);
  Sgd sgd(model.parameters(), SgdOptions());
  const Tensor x = Tensor::Ones({4, 2});
  const Tensor y =
      Tensor::FromData(absl::MakeConstSpan(std::vector<int64_t>{0, 1, 0, 1}), {4});
  int calls = 0;
  absl::Status verdict;
  TrainerOptions options;
  options.after_backward = [&] {
    ++calls;
    for (const Tensor& p : model.parameters()) EXPECT_TRUE(p.grad().ok());
    return verdict;
  };
  Trainer trainer(model, sgd, options);
  const std::vector<double> before = model.parameters()[0].ToVector();
  ASSERT_TRUE(trainer.Step(x, y).ok());
  EXPECT_EQ(calls, 1);
  const std::vector<double> stepped = model.parameters()[0].ToVector();
  EXPECT_NE(stepped, before);
  verdict = absl::UnavailableError("peer gone");
  const absl::StatusOr<StepStats> failed = trainer.Step(x, y);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(model.parameters()[0].ToVector(), stepped);
}

}  // namespace
}  // namespace tapegrad::nn
