// The image modules (Conv2d, pools, Flatten, BatchNorm2d, LayerNorm, Embedding):
// shapes, PyTorch's initialisations, names and reprs, running statistics by hand,
// a small CNN that learns, and errors that name the op and the operands.
#include "nn/conv.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tape.h"
#include "core/tensor.h"
#include "core/tensor_ops.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/normalization.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"

namespace tapegrad::nn {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::vector<std::string> Names(const std::vector<NamedTensor>& named) {
  std::vector<std::string> out;
  for (const NamedTensor& n : named) out.push_back(n.name);
  return out;
}

std::string Message(const Tensor& t) { return std::string(t.status().message()); }

TEST(Conv2d, ShapesInitAndRepr) {
  Random rng(1);
  Conv2dOptions o;
  o.padding = {1, 1};
  Conv2d conv(3, 8, 3, rng, o);
  EXPECT_THAT(conv.weight().shape(), ElementsAre(8, 3, 3, 3));
  EXPECT_THAT(conv.bias().shape(), ElementsAre(8));
  double largest = 0;
  for (double w : conv.weight().ToVector()) largest = std::max(largest, std::fabs(w));
  EXPECT_LE(largest, 1 / std::sqrt(27.0));  // PyTorch's bound, 1 / sqrt(fan_in)
  EXPECT_GT(largest, 0.8 / std::sqrt(27.0));
  EXPECT_THAT(Names(conv.named_parameters()), ElementsAre("weight", "bias"));
  EXPECT_EQ(conv.ToString(),
            "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
  const Tensor y = conv(Tensor::Zeros({2, 3, 5, 5}));
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_THAT(y.shape(), ElementsAre(2, 8, 5, 5));

  Conv2dOptions g;
  g.stride = {2, 2};
  g.groups = 2;
  Conv2d grouped(4, 6, {3, 1}, rng, g, /*bias=*/false);
  EXPECT_THAT(grouped.weight().shape(), ElementsAre(6, 2, 3, 1));
  EXPECT_EQ(grouped.ToString(),
            "Conv2d(4, 6, kernel_size=(3, 1), stride=(2, 2), groups=2, bias=False)");
}

TEST(Conv2d, ErrorsNameTheOpAndOperands) {
  Random rng(1);
  Conv2d conv(3, 8, 3, rng);
  const Tensor wrong_channels = conv(Tensor::Zeros({2, 4, 5, 5}));
  EXPECT_THAT(Message(wrong_channels), HasSubstr("conv2d"));
  EXPECT_THAT(Message(wrong_channels), HasSubstr("f32[2, 4, 5, 5] on cpu"));
  EXPECT_THAT(Message(wrong_channels), HasSubstr("channels"));
  const Tensor too_small = conv(Tensor::Zeros({1, 3, 2, 5}));
  EXPECT_THAT(Message(too_small), HasSubstr("larger than the padded input"));
  // A stride does not make a window that does not fit fit (C++ rounds -1 / 3 to 0).
  Pool2dOptions strided;
  strided.kernel = {3, 3};
  EXPECT_THAT(Message(tapegrad::MaxPool2d(Tensor::Zeros({1, 1, 2, 2}), strided)),
              HasSubstr("larger than the padded input"));
  const Tensor rank3 = conv(Tensor::Zeros({3, 5, 5}));
  EXPECT_THAT(Message(rank3), HasSubstr("(N, C, H, W)"));
  Conv2dOptions bad;
  bad.groups = 2;
  EXPECT_THAT(Message(tapegrad::Conv2d(Tensor::Zeros({1, 3, 5, 5}),
                                       Tensor::Zeros({4, 1, 3, 3}), bad)),
              HasSubstr("groups = 2 must divide"));
  Pool2dOptions wide;
  wide.kernel = {2, 2};
  wide.padding = {2, 2};
  EXPECT_THAT(Message(tapegrad::MaxPool2d(Tensor::Zeros({1, 1, 4, 4}), wide)),
              HasSubstr("at most half the kernel size"));
  // An output larger than the input (bins repeating cells) is refused, so that an
  // adversary's size cannot make millions of ops.
  const std::string huge =
      Message(tapegrad::AdaptiveAvgPool2d(Tensor::Zeros({1, 1, 4, 4}), {1 << 30, 3}));
  EXPECT_THAT(huge, HasSubstr("adaptive_avg_pool2d"));
  EXPECT_THAT(huge, HasSubstr("must not exceed the input's height and width"));
  EXPECT_THAT(Message(tapegrad::Conv2d(Tensor::Zeros({1, 3, 5, 5}),
                                       Tensor::Zeros({4, 3, 3, 3}), Tensor::Zeros({3}))),
              HasSubstr("one value per filter"));
}

// 2x2 max pooling picks PyTorch's position in each window (the first of tied
// maxima in row-major order; a NaN wins, and a later NaN over an earlier one),
// forward and in the gradient, in rows long enough for four windows at a time
// (5 windows: two blocks that overlap) and in f32 and f64.
TEST(Pooling, TwoByTwoTiesAndNaNsTakePyTorchsPositions) {
  const double nan = std::nan(""), inf = INFINITY;
  // Windows: all tied; tied across rows; NaN first; two NaNs; all -inf.
  const std::vector<double> top = {1, 1, 2, 3, nan, 5, 1, 2, -inf, -inf};
  const std::vector<double> bottom = {1, 1, 3, 2, 6, 7, nan, nan, -inf, -inf};
  std::vector<double> data = top;
  data.insert(data.end(), bottom.begin(), bottom.end());
  // The chosen input of each window (its index in the 2 x 10 plane).
  const std::vector<int> chosen = {0, 3, 4, 17, 8};
  for (DType dtype : {DType::kF64, DType::kF32}) {
    Tensor x = Tensor::FromData(data, {1, 1, 2, 10}, dtype).RequiresGrad();
    Tape tape;
    TapeScope scope(&tape);
    const Tensor y = tapegrad::MaxPool2d(x, Pool2dOptions{});
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_TRUE(Sum(y * Tensor::Of({1, 2, 3, 4, 5}, dtype).Reshape({1, 1, 1, 5}))
                    .Backward()
                    .ok());
    const std::vector<double> values = y.ToVector();
    const std::vector<double> grad = x.grad().ToVector();
    std::vector<double> want_grad(20, 0.0);
    for (int k = 0; k < 5; ++k) {
      const double want = data[chosen[k]];
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(values[k])) << DTypeName(dtype) << " window " << k;
      } else {
        EXPECT_EQ(values[k], want) << DTypeName(dtype) << " window " << k;
      }
      want_grad[chosen[k]] = k + 1;
    }
    EXPECT_THAT(grad, ElementsAreArray(want_grad)) << DTypeName(dtype);
  }
}

TEST(Pooling, ValuesByHandAndReprs) {
  const Tensor x = Tensor::FromData({1, 5, 2, 0,  //
                                     3, 4, 8, 1,  //
                                     0, 2, 6, 7,  //
                                     9, 1, 3, 3},
                                    {1, 1, 4, 4}, DType::kF64);
  MaxPool2d max(2);
  AvgPool2d avg(2);
  EXPECT_THAT(max(x).ToVector(), ElementsAre(5, 8, 9, 7));
  EXPECT_THAT(avg(x).ToVector(), ElementsAre(3.25, 2.75, 3, 4.75));
  AdaptiveAvgPool2d global({1, 1});
  EXPECT_THAT(global(x).ToVector(), ElementsAre(3.4375));
  EXPECT_EQ(max.ToString(),
            "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(avg.ToString(), "AvgPool2d(kernel_size=2, stride=2, padding=0)");
  EXPECT_EQ(global.ToString(), "AdaptiveAvgPool2d(output_size=1)");
  Flatten flatten;
  EXPECT_THAT(flatten(Tensor::Zeros({2, 3, 4, 5})).shape(), ElementsAre(2, 60));
  EXPECT_EQ(flatten.ToString(), "Flatten(start_dim=1, end_dim=-1)");
}

// With weight and bias, training-mode batch norm is one kernel each way; without
// them it is composed of recorded ops. Both must give the same values, gradients
// and running statistics (f64 to rounding, f32 to its precision), over odd sizes,
// rank 2 and rank 4, and a strided input.
TEST(BatchNorm, FusedKernelMatchesTheComposition) {
  for (DType dtype : {DType::kF64, DType::kF32}) {
    const double tol = dtype == DType::kF64 ? 1e-12 : 2e-5;
    for (std::vector<int64_t> shape :
         {std::vector<int64_t>{3, 5, 7, 2}, std::vector<int64_t>{1, 2, 3, 3},
          std::vector<int64_t>{6, 4}}) {
      Random rng(7);
      const int64_t c = shape[1];
      std::vector<int64_t> wide = shape;
      wide.back() *= 2;
      // Every other column of a wider tensor: a strided input.
      const Tensor base = Tensor::Randn(wide, rng, dtype) * 3.0 + 1.0;
      const Tensor w0 = Tensor::Randn({c}, rng, dtype);
      const Tensor b0 = Tensor::Randn({c}, rng, dtype);
      const Tensor upstream = Tensor::Randn(shape, rng, dtype);
      std::vector<int64_t> per_channel(shape.size(), 1);
      per_channel[1] = c;
      std::vector<std::vector<double>> results[2];
      for (int fused = 0; fused < 2; ++fused) {
        Tensor x = base.Slice(-1, 0, wide.back(), 2);  // a fresh view each run
        x.RequiresGrad();
        Tensor w = w0 * 1.0, b = b0 * 1.0;  // fresh parameters each run
        w.RequiresGrad();
        b.RequiresGrad();
        Tensor mean = Tensor::Zeros({c}, dtype), var = Tensor::Ones({c}, dtype);
        Tape tape;
        TapeScope scope(&tape);
        const Tensor y =
            fused ? BatchNorm(x, mean, var, w, b, true, 0.1, 1e-5)
                  : BatchNorm(x, mean, var, Tensor(), Tensor(), true, 0.1, 1e-5) *
                            w.Reshape(per_channel) +
                        b.Reshape(per_channel);
        ASSERT_TRUE(y.ok()) << y.status();
        ASSERT_TRUE(Sum(y * upstream).Backward().ok());
        results[fused] = {y.ToVector(),        x.grad().ToVector(), w.grad().ToVector(),
                          b.grad().ToVector(), mean.ToVector(),     var.ToVector()};
      }
      for (size_t i = 0; i < results[0].size(); ++i) {
        ASSERT_EQ(results[0][i].size(), results[1][i].size());
        for (size_t k = 0; k < results[0][i].size(); ++k) {
          EXPECT_NEAR(results[1][i][k], results[0][i][k],
                      tol * (1 + std::abs(results[0][i][k])))
              << DTypeName(dtype) << " result " << i << " element " << k;
        }
      }
    }
  }
}

// BatchNormRelu runs the ReLU inside the normalization's kernels in training; it
// must give what Relu of the fused BatchNorm and Relu of the composed one give:
// values, the three gradients and the running statistics, over a strided input
// with about a third of the outputs cut to zero.
TEST(BatchNormRelu, MatchesReluOfBatchNorm) {
  for (DType dtype : {DType::kF64, DType::kF32}) {
    const double tol = dtype == DType::kF64 ? 1e-12 : 2e-5;
    Random rng(5);
    const Tensor base = Tensor::Randn({3, 4, 5, 6}, rng, dtype) * 2.0;
    const Tensor w0 = Tensor::Rand({4}, rng, dtype) + 0.5;
    const Tensor b0 = Tensor::Randn({4}, rng, dtype) * 0.5;
    const Tensor upstream = Tensor::Randn({3, 4, 5, 3}, rng, dtype);
    std::vector<std::vector<double>> results[3];
    for (int form = 0; form < 3; ++form) {  // fused, Relu(fused BN), Relu(composed BN)
      Tensor x = base.Slice(-1, 0, 6, 2);
      x.RequiresGrad();
      Tensor w = w0 * 1.0, b = b0 * 1.0;
      w.RequiresGrad();
      b.RequiresGrad();
      Tensor mean = Tensor::Zeros({4}, dtype), var = Tensor::Ones({4}, dtype);
      Tape tape;
      TapeScope scope(&tape);
      Tensor none;
      const Tensor y = form == 0 ? BatchNormRelu(x, mean, var, w, b, true, 0.1, 1e-5)
                       : form == 1
                           ? Relu(BatchNorm(x, mean, var, w, b, true, 0.1, 1e-5))
                           : Relu(BatchNorm(x, mean, var, none, none, true, 0.1, 1e-5) *
                                      w.Reshape({1, 4, 1, 1}) +
                                  b.Reshape({1, 4, 1, 1}));
      ASSERT_TRUE(y.ok()) << y.status();
      ASSERT_TRUE(Sum(y * upstream).Backward().ok());
      results[form] = {y.ToVector(),        x.grad().ToVector(), w.grad().ToVector(),
                       b.grad().ToVector(), mean.ToVector(),     var.ToVector()};
    }
    int zeros = 0;
    for (double v : results[0][0]) zeros += v == 0.0;
    EXPECT_GT(zeros, 30);  // of 180
    EXPECT_LT(zeros, 150);
    for (int form = 1; form < 3; ++form) {
      for (size_t i = 0; i < results[0].size(); ++i) {
        ASSERT_EQ(results[0][i].size(), results[form][i].size());
        for (size_t k = 0; k < results[0][i].size(); ++k) {
          EXPECT_NEAR(results[0][i][k], results[form][i][k],
                      tol * (1 + std::abs(results[form][i][k])))
              << DTypeName(dtype) << " form " << form << " result " << i << " element "
              << k;
        }
      }
    }
  }
}

// The fused backward recomputes each ReLU input from x instead of reading y
// (Note [ReLU mask from x] in kernels/cpu/batch_norm.cc); its mask must be the
// forward's exactly. With an upstream gradient of ones, the bias gradient of a
// channel counts the positive outputs, so any element masked differently shows as
// an integer off by one. Half of each channel's values equal its mean, so their ReLU
// inputs are the rounding residue of x * scale + shift, a few ulp either side of 0:
// the elements a mask computed any other way would get wrong.
TEST(BatchNormRelu, BackwardMasksExactlyTheForwardsZeros) {
  for (DType dtype : {DType::kF64, DType::kF32}) {
    constexpr int64_t kChannels = 16, kPlane = 64;
    std::vector<double> data(2 * kChannels * kPlane);
    for (int64_t c = 0; c < kChannels; ++c) {
      const double center = 0.1 + 0.37 * c;  // the channel's mean, in either dtype
      for (int64_t n = 0; n < 2; ++n) {
        for (int64_t k = 0; k < kPlane; ++k) {
          // Per channel: 64 values at the mean, 32 pairs at mean +- 0.5 (k / 2 + 1).
          const double spread =
              k % 2 == 0 ? 0.0 : (k % 4 == 1 ? 1 : -1) * 0.5 * (k / 4 + 1);
          data[(n * kChannels + c) * kPlane + k] = center + (n == 0 ? spread : 0.0);
        }
      }
    }
    Tensor x = Tensor::FromData(data, {2, kChannels, 8, 8}, dtype);
    Tensor w = Tensor::Ones({kChannels}, dtype), b = Tensor::Zeros({kChannels}, dtype);
    w.RequiresGrad();
    b.RequiresGrad();
    Tensor mean = Tensor::Zeros({kChannels}, dtype),
           var = Tensor::Ones({kChannels}, dtype);
    Tape tape;
    TapeScope scope(&tape);
    const Tensor y = BatchNormRelu(x, mean, var, w, b, true, 0.1, 1e-5);
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_TRUE(Sum(y).Backward().ok());
    const std::vector<double> out = y.ToVector(), gbias = b.grad().ToVector();
    int tiny = 0;
    for (int64_t c = 0; c < kChannels; ++c) {
      int positive = 0;
      for (int64_t n = 0; n < 2; ++n) {
        for (int64_t k = 0; k < kPlane; ++k) {
          const double v = out[(n * kChannels + c) * kPlane + k];
          positive += v > 0;
          tiny += v > 0 && v < 1e-3;
        }
      }
      EXPECT_EQ(gbias[c], positive) << DTypeName(dtype) << " channel " << c;
    }
    if (dtype == DType::kF32) EXPECT_GT(tiny, 0) << "no ReLU input landed just above 0";
  }
}

// Sequential runs a BatchNorm2d followed by a ReLU as BatchNormRelu, with the
// numbers of the modules run one by one: in training one kernel (a record fewer
// than the two modules' ops), in evaluation the same composition.
TEST(BatchNormRelu, SequentialFusesBatchNorm2dAndReLU) {
  for (bool training : {true, false}) {
    std::vector<double> results[2];
    size_t slots[2];
    for (int fused = 0; fused < 2; ++fused) {
      Random rng(3);
      Sequential net;
      net.Emplace<Conv2d>(2, 3, 3, rng, Conv2dOptions{}, true, DType::kF64);
      net.Emplace<BatchNorm2d>(3, 1e-5, 0.1, true, true, DType::kF64);
      net.Emplace<ReLU>();
      if (!training) net.eval();
      const Tensor x = Tensor::Randn({2, 2, 5, 5}, rng, DType::kF64);
      Tape tape;
      TapeScope scope(&tape);
      Tensor y;
      if (fused) {
        y = net(x);
      } else {
        for (size_t i = 0; i < net.size(); ++i) y = net[i].Forward(i == 0 ? x : y);
      }
      slots[fused] = tape.size();
      ASSERT_TRUE(Sum(y * y).Backward().ok());
      results[fused] = y.ToVector();
      for (const Tensor& p : net.parameters()) {
        for (double g : p.grad().ToVector()) results[fused].push_back(g);
      }
      for (const NamedTensor& buffer : net.named_buffers()) {
        for (double v : buffer.tensor.ToVector()) results[fused].push_back(v);
      }
    }
    if (training) {
      EXPECT_LT(slots[1], slots[0]);
    } else {
      EXPECT_EQ(slots[1], slots[0]);
    }
    ASSERT_EQ(results[0].size(), results[1].size());
    for (size_t k = 0; k < results[0].size(); ++k) {
      EXPECT_NEAR(results[1][k], results[0][k], 1e-12 * (1 + std::abs(results[0][k])))
          << "training " << training << " element " << k;
    }
  }
}

// Per-channel vectors that are views with a stride (every other element of a
// longer vector) give what their contiguous copies give: conv2d's bias, and batch
// norm's weight, bias and running statistics, in training (fused and composed)
// and in evaluation. As in PyTorch, where these are views like any other.
TEST(PerChannelVectors, StridedViewsActAsTheirContiguousCopies) {
  Random rng(11);
  const int64_t c = 3;
  const Tensor x0 = Tensor::Randn({2, c, 4, 4}, rng, DType::kF64);
  const Tensor k = Tensor::Randn({c, c, 3, 3}, rng, DType::kF64);
  const Tensor wide[4] = {Tensor::Randn({2 * c}, rng, DType::kF64),
                          Tensor::Randn({2 * c}, rng, DType::kF64),
                          Tensor::Rand({2 * c}, rng, DType::kF64) + 0.5,
                          Tensor::Rand({2 * c}, rng, DType::kF64) + 0.5};
  const auto run = [&](bool strided, int mode) {
    Tensor v[4];
    for (int i = 0; i < 4; ++i) {
      v[i] =
          strided ? wide[i].Slice(0, 0, 2 * c, 2) : wide[i].Slice(0, 0, 2 * c, 2) * 1.0;
      if (i < 2) v[i].RequiresGrad();
    }
    EXPECT_EQ(v[0].is_contiguous(), !strided);
    Tensor mean = v[2], var = v[3];
    Tensor x = x0 * 1.0;
    x.RequiresGrad();
    Tape tape;
    TapeScope scope(&tape);
    Tensor y = tapegrad::Conv2d(x, k, v[1], Conv2dOptions{});
    // mode 0: training, fused kernel; 1: training without affine (composed) then
    // the affine by hand; 2: evaluation with the running statistics.
    y = mode == 0   ? tapegrad::BatchNorm(y, mean, var, v[0], v[1], true, 0.1, 1e-5)
        : mode == 1 ? tapegrad::BatchNorm(y, mean, var, Tensor(), v[1], true, 0.1, 1e-5)
                    : tapegrad::BatchNorm(y, mean, var, v[0], v[1], false, 0.1, 1e-5);
    EXPECT_TRUE(y.ok()) << y.status();
    EXPECT_TRUE(Sum(y * y).Backward().ok());
    return std::vector<std::vector<double>>{
        y.ToVector(),           x.grad().ToVector(), v[0].grad().ToVector(),
        v[1].grad().ToVector(), mean.ToVector(),     var.ToVector()};
  };
  for (int mode = 0; mode < 3; ++mode) {
    const auto want = run(false, mode);
    const auto got = run(true, mode);
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].size(), want[i].size()) << "mode " << mode << " result " << i;
      for (size_t e = 0; e < want[i].size(); ++e) {
        EXPECT_NEAR(got[i][e], want[i][e], 1e-12 * (1 + std::abs(want[i][e])))
            << "mode " << mode << " result " << i << " element " << e;
      }
    }
  }
}

TEST(BatchNorm2d, TrainingUpdatesRunningStatisticsAsPyTorch) {
  BatchNorm2d bn(2, 1e-5, 0.1, true, true, DType::kF64);
  EXPECT_THAT(Names(bn.named_parameters()), ElementsAre("weight", "bias"));
  EXPECT_THAT(Names(bn.named_buffers()), ElementsAre("running_mean", "running_var"));
  EXPECT_EQ(
      bn.ToString(),
      "BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  // Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased variance 1.25, unbiased 5/3);
  // channel 1 holds 10 twice and 20 twice (mean 15, variance 25, unbiased 100/3).
  const Tensor x =
      Tensor::FromData({1, 2, 10, 20, 3, 4, 10, 20}, {2, 2, 1, 2}, DType::kF64);
  const Tensor y = bn(x);
  ASSERT_TRUE(y.ok()) << y.status();
  const double s0 = 1 / std::sqrt(1.25 + 1e-5);
  EXPECT_NEAR(y.at({0, 0, 0, 0}), -1.5 * s0, 1e-12);
  EXPECT_NEAR(y.at({1, 0, 0, 1}), 1.5 * s0, 1e-12);
  EXPECT_NEAR(bn.running_mean().at({0}), 0.25, 1e-12);
  EXPECT_NEAR(bn.running_mean().at({1}), 1.5, 1e-12);
  EXPECT_NEAR(bn.running_var().at({0}), 0.9 + 0.1 * 5.0 / 3, 1e-12);
  EXPECT_NEAR(bn.running_var().at({1}), 0.9 + 0.1 * 100.0 / 3, 1e-12);
  bn.eval();
  const Tensor e = bn(x);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_NEAR(e.at({0, 0, 0, 0}), (1 - 0.25) / std::sqrt(bn.running_var().at({0}) + 1e-5),
              1e-12);
  EXPECT_NEAR(bn.running_mean().at({0}), 0.25, 1e-12);  // unchanged in evaluation
  EXPECT_THAT(Message(bn(Tensor::Zeros({2, 2}, DType::kF64))), HasSubstr("BatchNorm2d"));
  EXPECT_THAT(Message(bn(Tensor::Zeros({2, 3, 1, 1}, DType::kF64))),
              HasSubstr("must be [3]"));
}

TEST(LayerNormAndEmbedding, ValuesShapesAndReprs) {
  LayerNorm ln({2}, 1e-5, true, DType::kF64);
  const Tensor y = ln(Tensor::FromData({1, 3, -2, 2}, {2, 2}, DType::kF64));
  ASSERT_TRUE(y.ok()) << y.status();
  const double s = 1 / std::sqrt(1 + 1e-5);
  EXPECT_NEAR(y.at({0, 0}), -s, 1e-12);
  EXPECT_NEAR(y.at({1, 1}), 2 / std::sqrt(4 + 1e-5), 1e-12);
  EXPECT_EQ(ln.ToString(), "LayerNorm((2,), eps=1e-05, elementwise_affine=True)");

  Random rng(0);
  Embedding emb(10, 3, rng);
  const Tensor tokens = Tensor::FromData(std::vector<int64_t>{1, 9, 1, 0}, {2, 2});
  const Tensor e = emb(tokens);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e.shape(), ElementsAre(2, 2, 3));
  EXPECT_EQ(e.at({0, 0, 2}), emb.weight().at({1, 2}));
  EXPECT_EQ(emb.ToString(), "Embedding(10, 3)");
  const Tensor out_of_range = emb(Tensor::FromData(std::vector<int64_t>{10}, {1}));
  EXPECT_FALSE(out_of_range.ok());
  EXPECT_THAT(Message(out_of_range), HasSubstr("f32[10, 3] on cpu"));
}

// conv-bn-relu-pool, flatten, linear: names as PyTorch's Sequential, and a few
// Adam steps on one batch bring its loss down.
TEST(Cnn, NamesBuffersAndLearnsOneBatch) {
  Random rng(5);
  Sequential net;
  Conv2dOptions same;
  same.padding = {1, 1};
  net.Emplace<Conv2d>(1, 4, 3, rng, same);
  net.Emplace<BatchNorm2d>(4);
  net.Emplace<ReLU>();
  net.Emplace<MaxPool2d>(2);
  net.Emplace<Flatten>();
  net.Emplace<Linear>(4 * 3 * 3, 3, rng);
  EXPECT_THAT(Names(net.named_parameters()), ElementsAre("0.weight", "0.bias", "1.weight",
                                                         "1.bias", "5.weight", "5.bias"));
  EXPECT_THAT(Names(net.named_buffers()), ElementsAre("1.running_mean", "1.running_var"));
  const Tensor x = Tensor::Randn({8, 1, 6, 6}, rng);
  const Tensor labels =
      Tensor::FromData(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1}, {8});
  AdamOptions options;
  options.lr = 0.01;
  Adam adam(net.parameters(), options);
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  double first = 0, last = 0;
  for (int step = 0; step < 50; ++step) {
    const Tensor loss = CrossEntropy(net(x), labels);
    ASSERT_TRUE(loss.ok()) << loss.status();
    (step == 0 ? first : last) = loss.item();
    net.zero_grad();
    ASSERT_TRUE(loss.Backward().ok());
    ASSERT_TRUE(adam.Step().ok());
    ASSERT_TRUE(tape.Rewind(mark).ok());
  }
  EXPECT_LT(last, 0.2 * first);
}

}  // namespace
}  // namespace tapegrad::nn
