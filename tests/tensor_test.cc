// Tensor creation, views, element access, printing, tape lifetime and the kernel
// registry.
#include <cmath>
#include <vector>

#include "core/internal/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::vector<int64_t> V(Shape s) { return std::vector<int64_t>(s.begin(), s.end()); }

TEST(TensorCreate, Factories) {
  EXPECT_THAT(Tensor::Zeros({2, 3}).ToVector(), ElementsAre(0, 0, 0, 0, 0, 0));
  EXPECT_THAT(Tensor::Ones({2}, DType::kF64).ToVector(), ElementsAre(1, 1));
  EXPECT_THAT(Tensor::Full({2}, 2.5).ToVector(), ElementsAre(2.5, 2.5));
  EXPECT_THAT(Tensor::Arange(1, 2, 0.25, DType::kF64).ToVector(),
              ElementsAre(1, 1.25, 1.5, 1.75));
  EXPECT_THAT(Tensor::Eye(2).ToVector(), ElementsAre(1, 0, 0, 1));
  EXPECT_THAT(Tensor::Of({1, 2, 3}).ToVector(), ElementsAre(1, 2, 3));
  EXPECT_EQ(Tensor::Scalar(4).dim(), 0);
  EXPECT_EQ(Tensor::Scalar(4).item(), 4);
  const Tensor t = Tensor::FromData({1, 2, 3, 4, 5, 6}, {2, 3}, DType::kF64);
  EXPECT_EQ(t.dtype(), DType::kF64);
  EXPECT_EQ(t.device(), Device::Cpu());
  EXPECT_THAT(V(t.shape()), ElementsAre(2, 3));
  EXPECT_THAT(V(t.strides()), ElementsAre(3, 1));
  EXPECT_EQ(t.at({1, 2}), 6);
  EXPECT_EQ(t.at({-1, 0}), 4);
  EXPECT_TRUE(std::isnan(t.at({2, 0})));
  const std::vector<int64_t> labels = {3, 1};
  EXPECT_EQ(Tensor::FromData(absl::MakeConstSpan(labels), {2}).dtype(), DType::kI64);
}

TEST(TensorCreate, SeededRandomIsReproducible) {
  Random a(42), b(42);
  EXPECT_EQ(Tensor::Randn({3, 4}, a).ToVector(), Tensor::Randn({3, 4}, b).ToVector());
  Random c(1);
  for (double v : Tensor::Rand({100}, c, DType::kF64, -2, 3).ToVector()) {
    EXPECT_GE(v, -2);
    EXPECT_LT(v, 3);
  }
}

TEST(TensorViews, ShareStorageAndSeeTheSameElements) {
  const Tensor x = Tensor::Arange(0, 24, 1, DType::kF64).Reshape({2, 3, 4});
  const Tensor t = x.Transpose(0, 2);
  EXPECT_TRUE(t.SharesStorageWith(x));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_THAT(V(t.shape()), ElementsAre(4, 3, 2));
  EXPECT_EQ(t.at({3, 1, 1}), x.at({1, 1, 3}));
  const Tensor p = x.Permute({1, 2, 0});
  EXPECT_EQ(p.at({2, 3, 1}), x.at({1, 2, 3}));
  const Tensor s = x.Slice(2, 1, 4, 2);  // columns 1 and 3
  EXPECT_TRUE(s.SharesStorageWith(x));
  EXPECT_THAT(s.Slice(0, 1, 2).Slice(1, 0, 1).ToVector(), ElementsAre(13, 15));
  const Tensor e = Tensor::Of({1, 2}).Reshape({2, 1}).Expand({2, 3});
  EXPECT_THAT(V(e.strides()), ElementsAre(1, 0));
  EXPECT_THAT(e.ToVector(), ElementsAre(1, 1, 1, 2, 2, 2));
  EXPECT_THAT(V(x.Unsqueeze(1).shape()), ElementsAre(2, 1, 3, 4));
  EXPECT_THAT(V(x.Unsqueeze(1).Squeeze(1).shape()), ElementsAre(2, 3, 4));
  const Tensor c = t.Contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_FALSE(c.SharesStorageWith(x));
  EXPECT_EQ(c.ToVector(), t.ToVector());
}

TEST(TensorPrint, LooksLikeNumPy) {
  EXPECT_EQ(Tensor::FromData({1, 2, 3, 4}, {2, 2}).ToString(), "[[1. 2.]\n [3. 4.]]");
  EXPECT_EQ(Tensor::Of({0.5, -1.25}).ToString(), "[  0.5 -1.25]");
  EXPECT_EQ(Tensor::Scalar(3).ToString(), "3.");
  const std::string big = Tensor::Zeros({2000}).ToString();
  EXPECT_THAT(big, HasSubstr("..."));
  EXPECT_LT(big.size(), 100u);
}

TEST(TensorOps, ForwardValuesByHand) {
  const Tensor a = Tensor::FromData({1, 2, 3, 4}, {2, 2}, DType::kF64);
  const Tensor b = Tensor::Of({10, 20}, DType::kF64);
  EXPECT_THAT((a + b).ToVector(), ElementsAre(11, 22, 13, 24));
  EXPECT_THAT(MatMul(a, a).ToVector(), ElementsAre(7, 10, 15, 22));
  EXPECT_THAT(MatMul(a, b).ToVector(), ElementsAre(50, 110));
  EXPECT_THAT(MatMul(b, b).ToVector(), ElementsAre(500));
  EXPECT_THAT(Sum(a, {0}).ToVector(), ElementsAre(4, 6));
  EXPECT_THAT(Mean(a, {1}, true).ToVector(), ElementsAre(1.5, 3.5));
  EXPECT_THAT(Max(a, {0}).ToVector(), ElementsAre(3, 4));
  EXPECT_THAT(Min(a).ToVector(), ElementsAre(1));
  EXPECT_THAT(Clamp(a, 1.5, 3.5).ToVector(), ElementsAre(1.5, 2, 3, 3.5));
  EXPECT_THAT(Concatenate({a, a}, 1).ToVector(), ElementsAre(1, 2, 1, 2, 3, 4, 3, 4));
  EXPECT_THAT(V(Stack({b, b}).shape()), ElementsAre(2, 2));
  const std::vector<int64_t> rows = {1, 1, 0};
  EXPECT_THAT(IndexSelect(a, Tensor::FromData(absl::MakeConstSpan(rows), {3})).ToVector(),
              ElementsAre(3, 4, 3, 4, 1, 2));
  const Tensor sm = Softmax(Tensor::Of({1000, 1000}, DType::kF64));  // no overflow
  EXPECT_THAT(sm.ToVector(), ElementsAre(0.5, 0.5));
  // cross_entropy = mean(logsumexp - picked): both rows uniform over 2 classes.
  const std::vector<int64_t> labels = {0, 1};
  EXPECT_NEAR(CrossEntropy(Tensor::Zeros({2, 2}, DType::kF64),
                           Tensor::FromData(absl::MakeConstSpan(labels), {2}))
                  .item(),
              std::log(2.0), 1e-15);
}

TEST(TensorOps, ComparisonsAreConstantMasksInTheOperandsDType) {
  const Tensor a = Tensor::FromData({1, 2, 3, NAN}, {2, 2}, DType::kF64);
  const Tensor b = Tensor::Of({2, 2}, DType::kF64);  // broadcast over rows
  EXPECT_THAT(Greater(a, b).ToVector(), ElementsAre(0, 0, 1, 0));
  EXPECT_THAT(GreaterEqual(a, b).ToVector(), ElementsAre(0, 1, 1, 0));
  EXPECT_THAT(Less(a, b).ToVector(), ElementsAre(1, 0, 0, 0));
  EXPECT_THAT(LessEqual(a, b).ToVector(), ElementsAre(1, 1, 0, 0));
  EXPECT_THAT(Equal(a, b).ToVector(), ElementsAre(0, 1, 0, 0));
  EXPECT_THAT(NotEqual(a, b).ToVector(), ElementsAre(1, 0, 1, 1));  // NaN != 2
  EXPECT_THAT(V(Less(b, a).shape()), ElementsAre(2, 2));
  EXPECT_EQ(Greater(a, b).dtype(), DType::kF64);
  // A mask is a constant: the gradient of sum(x * (x > 0)) is the mask itself.
  Tensor x = Tensor::Of({-1, 2, 0, 3}, DType::kF64).RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  const Tensor zero = Tensor::Scalar(0, DType::kF64);
  ASSERT_TRUE(Sum(x * Greater(x, zero)).Backward().ok());
  EXPECT_THAT(x.grad().ToVector(), ElementsAre(0, 1, 0, 1));
  // Errors name the op the caller called, operands in the caller's order.
  EXPECT_THAT(Less(a, Tensor::Zeros({3}, DType::kF64)).status().message(),
              HasSubstr("less: shapes do not broadcast (operands: f64[2, 2] on cpu, "
                        "f64[3] on cpu)"));
  EXPECT_THAT(GreaterEqual(a, Tensor::Zeros({2, 2})).status().message(),
              HasSubstr("greater_equal"));
}

TEST(TensorOps, ArgMaxAndArgMinFindTheFirstExtremeAsPyTorchDoes) {
  for (const DType dtype : {DType::kF32, DType::kF64}) {
    SCOPED_TRACE(DTypeName(dtype));
    const Tensor x =
        Tensor::FromData({3, 7, 7, 1, 0, 0, 5, 2, 9, 9, 1, 1}, {3, 4}, dtype);
    const Tensor along_rows = ArgMax(x, 1);
    EXPECT_EQ(along_rows.dtype(), DType::kI64);
    // Every row has a tie for one extreme or the other: the first one wins.
    EXPECT_THAT(along_rows.ToVector(), ElementsAre(1, 2, 0));
    EXPECT_THAT(ArgMin(x, 1).ToVector(), ElementsAre(3, 0, 2));
    EXPECT_THAT(ArgMax(x, 0).ToVector(), ElementsAre(2, 2, 0, 1));
    EXPECT_THAT(ArgMax(x, -2).ToVector(), ElementsAre(2, 2, 0, 1));
    EXPECT_THAT(V(ArgMax(x, 0, /*keepdim=*/true).shape()), ElementsAre(1, 4));
    // No axis: the position in the row-major flattened tensor.
    EXPECT_EQ(ArgMax(x).dim(), 0);
    EXPECT_EQ(ArgMax(x).ToVector()[0], 8);
    EXPECT_EQ(ArgMin(x).ToVector()[0], 4);
    EXPECT_THAT(V(ArgMin(x, std::nullopt, true).shape()), ElementsAre(1, 1));
    // Strided input: the transpose's rows are x's columns.
    EXPECT_THAT(ArgMax(x.Transpose(0, 1), 1).ToVector(), ElementsAre(2, 2, 0, 1));
    EXPECT_THAT(ArgMax(x.Slice(1, 1, 4, 2), 1).ToVector(), ElementsAre(0, 1, 0));
    // NaN is both the largest and the smallest; the first NaN wins.
    const Tensor nan = Tensor::FromData({1, NAN, 5, NAN}, {4}, dtype);
    EXPECT_EQ(ArgMax(nan).ToVector()[0], 1);
    EXPECT_EQ(ArgMin(nan).ToVector()[0], 1);
    EXPECT_EQ(ArgMax(Tensor::Scalar(4, dtype)).ToVector()[0], 0);
  }
  // Over three axes at once the index counts in row-major order of those axes.
  const Tensor cube = Tensor::Arange(0, 24, 1, DType::kF64).Reshape({2, 3, 4});
  EXPECT_EQ(ArgMax(cube).ToVector()[0], 23);
  EXPECT_THAT(ArgMin(-cube, 2).ToVector(), ElementsAre(3, 3, 3, 3, 3, 3));
}

TEST(TensorOps, ArgMaxRecordsAConstantAndReportsBadInput) {
  Tensor x = Tensor::Of({1, 4, 2}, DType::kF64).RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  const Tensor best = ArgMax(x);
  EXPECT_FALSE(best.requires_grad());
  ASSERT_TRUE(Sum(IndexSelect(x, ArgMax(x, 0, true)) * 3.0).Backward().ok());
  EXPECT_THAT(x.grad().ToVector(), ElementsAre(0, 3, 0));
  EXPECT_THAT(ArgMax(x, 1).status().message(),
              HasSubstr("argmax: axis 1 is out of range (operands: f64[3] on cpu)"));
  EXPECT_THAT(
      ArgMin(Tensor::Zeros({2, 0}), 1).status().message(),
      HasSubstr("argmin: reduction over an empty axis (operands: f32[2, 0] on cpu)"));
  EXPECT_THAT(ArgMax(Tensor::Zeros({0})).status().message(),
              HasSubstr("reduction over an empty axis"));
  // Along a kept empty axis there is nothing to reduce and nothing to fail.
  EXPECT_THAT(V(ArgMax(Tensor::Zeros({0, 3}), 1).shape()), ElementsAre(0));
}

TEST(TensorOps, LargeContiguousOpsUseTheParallelPathCorrectly) {
  Random rng(3);
  const Tensor a = Tensor::Randn({1 << 18}, rng);
  const Tensor b = Tensor::Randn({1 << 18}, rng);
  const std::vector<float> va = a.ToFloatVector(), vb = b.ToFloatVector();
  const std::vector<float> sum = (a + b).ToFloatVector();
  for (size_t i = 0; i < va.size(); i += 997) ASSERT_EQ(sum[i], va[i] + vb[i]) << i;
  const Tensor m = a.Reshape({512, 512});
  EXPECT_NEAR(Sum(Sum(m, {0})).item(), Sum(Sum(m, {1})).item(), 1e-2);
}

// Outputs of ops whose operands exceed the cache are written with streaming
// stores (kernels/cpu/streaming.h): an unaligned head, whole blocks and a tail in
// each thread's range. Every element must still be right, f32 and f64 alike.
TEST(TensorOps, OpsLargerThanTheCacheStreamTheirOutputCorrectly) {
  for (const DType dtype : {DType::kF32, DType::kF64}) {
    const int64_t n = (int64_t{1} << 22) + 37;  // 3 x n x 4 bytes > 32 MiB
    const Tensor a = Tensor::Arange(0, static_cast<double>(n), 1.0, dtype);
    const Tensor b = Tensor::Full({n}, 0.5, dtype);
    // Every result below is exact in f32 too (n < 2^23).
    const std::vector<float> sum = (a + b).ToFloatVector();
    const std::vector<float> product = (a * b).ToFloatVector();
    const std::vector<float> negated = (-a).ToFloatVector();
    ASSERT_EQ(sum.size(), static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      // Every element: a wrong block would be a run of wrong ones anywhere.
      const float x = static_cast<float>(i);
      if (sum[i] != x + 0.5f || product[i] != x * 0.5f || negated[i] != -x) {
        FAIL() << DTypeName(dtype) << " element " << i << ": " << sum[i] << " "
               << product[i] << " " << negated[i];
      }
    }
  }
}

TEST(TensorAutograd, ParametersKeepGradsAcrossRewindAndAccumulate) {
  Tensor w = Tensor::FromData({1, 2}, {2}, DType::kF64).RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  for (int step = 1; step <= 3; ++step) {
    ASSERT_TRUE(Sum(w * w).Backward().ok());
    ASSERT_TRUE(tape.Rewind(mark).ok());
    EXPECT_THAT(w.grad().ToVector(), ElementsAre(2 * step, 4 * step));
  }
  w.ZeroGrad();
  EXPECT_THAT(w.grad().ToVector(), ElementsAre(0, 0));
  ASSERT_TRUE(w.AddInPlace(Tensor::Of({1, 1}, DType::kF64), -0.5).ok());
  EXPECT_THAT(w.ToVector(), ElementsAre(0.5, 1.5));
}

// Note [Lazy zero grads]: after ZeroGrad a parameter's grad buffer still holds the
// last step's numbers; the GEMM that writes a weight gradient overwrites them once
// and adds after, a broadcast product's sum is copied in, and a read fills zeros.
TEST(TensorAutograd, ParameterGradsAfterZeroGradMatchFreshOnes) {
  const Tensor x = Tensor::FromData({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2}, DType::kF64);
  const Tensor x3 = Tensor::FromData({1, -1, 2, 0, 3, 1}, {3, 1, 2}, DType::kF64);
  Tensor w = Tensor::FromData({0.5, -1, 2, 1, 0, 3}, {2, 3}, DType::kF64).RequiresGrad();
  // d/dw of sum(x @ w) + 2 sum(x @ w) + sum(x3 @ w): row i of w gets column i of
  // x summed (16, 20) three times, plus column i of x3 summed (6, 0).
  const std::vector<double> once = {54, 54, 54, 60, 60, 60};
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  const auto step = [&] {
    const Tensor loss = Sum(MatMul(x, w)) + Sum(MatMul(x, w)) * 2.0 + Sum(MatMul(x3, w));
    ASSERT_TRUE(loss.Backward().ok());
    ASSERT_TRUE(tape.Rewind(mark).ok());
  };
  std::vector<double> twice = once;
  for (double& g : twice) g *= 2;
  step();
  EXPECT_THAT(w.grad().ToVector(), ElementsAreArray(once));
  step();  // no ZeroGrad: adds
  EXPECT_THAT(w.grad().ToVector(), ElementsAreArray(twice));
  w.ZeroGrad();
  step();
  EXPECT_THAT(w.grad().ToVector(), ElementsAreArray(once));
  w.ZeroGrad();
  EXPECT_THAT(w.grad().ToVector(), Each(0.0));  // read before any backward writes
  step();
  EXPECT_THAT(w.grad().ToVector(), ElementsAreArray(once));
  // A handle on the grad sees ZeroGrad at once.
  const Tensor held = w.grad();
  w.ZeroGrad();
  EXPECT_THAT(held.ToVector(), Each(0.0));
  // A backward that does not reach w leaves its zeros.
  step();
  w.ZeroGrad();
  const Tensor v = Tensor::Of({1, 2}, DType::kF64).RequiresGrad();
  ASSERT_TRUE(Sum(v * v).Backward().ok());
  EXPECT_THAT(w.grad().ToVector(), Each(0.0));
}

// Note [Grad-ready hooks]: each hook fires once per backward, as soon as the
// sweep has passed the tensor's last use (the later layer first), with the
// gradient already final; uses recorded and rewound without a backward are
// forgotten, and a second backward over the same ops fires nothing.
TEST(TensorAutograd, GradReadyHooksFireOnceWhenTheGradientIsFinal) {
  struct Seen {
    const char* name;
    Tensor param;
    std::vector<std::pair<std::string, std::vector<double>>>* log;
  };
  std::vector<std::pair<std::string, std::vector<double>>> log;
  Tensor w1 = Tensor::FromData({0.5, -1, 2, 1, 0.25, -0.5}, {2, 3}, DType::kF64);
  Tensor w2 = Tensor::FromData({1, -2, 0.5}, {3, 1}, DType::kF64);
  w1.RequiresGrad();
  w2.RequiresGrad();
  Seen seen[2] = {{"w1", w1, &log}, {"w2", w2, &log}};
  const auto hook = [](void* context) {
    auto* s = static_cast<Seen*>(context);
    s->log->push_back({s->name, s->param.grad().ToVector()});
  };
  ASSERT_TRUE(w1.SetGradReadyHook(hook, &seen[0]).ok());
  ASSERT_TRUE(w2.SetGradReadyHook(hook, &seen[1]).ok());
  const Tensor x = Tensor::FromData({1, 2, -1, 3}, {2, 2}, DType::kF64);
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  // Recorded, then rewound without a backward: its uses must not count.
  (void)MatMul(MatMul(x, w1), w2);
  ASSERT_TRUE(tape.Rewind(mark).ok());
  // w1 is read twice, w2 once, by the later ops.
  Tensor h = Relu(MatMul(x, w1)) + MatMul(x, w1) * 0.5;
  const Tensor loss = Sum(MatMul(h, w2));
  ASSERT_TRUE(loss.Backward().ok());
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].first, "w2");
  EXPECT_EQ(log[1].first, "w1");
  EXPECT_THAT(log[0].second, ElementsAreArray(w2.grad().ToVector()));
  EXPECT_THAT(log[1].second, ElementsAreArray(w1.grad().ToVector()));
  ASSERT_TRUE(loss.Backward().ok());  // the same ops again: no hook
  EXPECT_EQ(log.size(), 2u);
  ASSERT_TRUE(tape.Rewind(mark).ok());
  w1.ZeroGrad();
  ASSERT_TRUE(Sum(MatMul(x, w1)).Backward().ok());  // w2 unused: only w1's hook
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[2].first, "w1");
  ASSERT_TRUE(w1.SetGradReadyHook(nullptr, nullptr).ok());
  ASSERT_TRUE(tape.Rewind(mark).ok());
  ASSERT_TRUE(Sum(MatMul(x, w1)).Backward().ok());
  EXPECT_EQ(log.size(), 3u);
  EXPECT_EQ(h.SetGradReadyHook(hook, &seen[0]).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(TensorAutograd, IntermediatesExposeGradsAndSecondRootSeesOnlyItsAncestors) {
  Tensor x = Tensor::Of({1, 2}, DType::kF64).RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  const Tensor h = x * 3.0;
  const Tensor a = Sum(h);
  const Tensor b = Sum(x * x);
  ASSERT_TRUE(a.Backward().ok());
  EXPECT_THAT(h.grad().ToVector(), ElementsAre(1, 1));
  EXPECT_THAT(x.grad().ToVector(), ElementsAre(3, 3));
  ASSERT_TRUE(b.Backward().ok());  // h's old grad must not flow again
  EXPECT_THAT(x.grad().ToVector(), ElementsAre(5, 7));
}

TEST(TensorAutograd, NoGradScopeRecordsNothing) {
  Tensor x = Tensor::Of({1, 2}).RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  NoGradScope no_grad;
  const Tensor y = Sum(x * x);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_THAT(y.Backward().message(), HasSubstr("does not depend on any tensor"));
}

TEST(TensorAutograd, MixedScalarAndTensorOpsShareOneTape) {
  Tensor w = Tensor::Of({1, 2}, DType::kF64).RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  Value s(3.0);
  const Tensor t = Sum(w * w);
  Value s2 = s * s;
  ASSERT_TRUE(t.Backward().ok());
  ASSERT_TRUE(s2.Backward().ok());
  EXPECT_THAT(w.grad().ToVector(), ElementsAre(2, 4));
  EXPECT_EQ(s.grad(), 6);
}

// Tensor records keep no scalar adjoint, so the sweep meets them amid runs of zero
// adjoints (Note [Zero runs] in core/tape_sweep.cc): among scalar records that
// do not reach the root, each must still run, the one on a group's edge too.
TEST(TensorAutograd, TensorRecordsAmongZeroAdjointScalarRecordsRun) {
  for (int scalars_between = 0; scalars_between < 20; ++scalars_between) {
    Tensor w = Tensor::Of({1, 2}, DType::kF64).RequiresGrad();
    Tape tape;
    TapeScope scope(&tape);
    Value s(1.5);
    Tensor h = w * 3.0;
    for (int i = 0; i < 3; ++i) {
      for (int k = 0; k < scalars_between; ++k) s = s * 0.5 + 1.0;
      h = h * 1.0;
    }
    for (int k = 0; k < 40; ++k) s = s.tanh();
    const Tensor loss = Sum(h);
    ASSERT_TRUE(loss.Backward().ok());
    EXPECT_THAT(w.grad().ToVector(), ElementsAre(3, 3)) << scalars_between;
    EXPECT_EQ(s.grad(), 0.0);
  }
}

TEST(TensorLifetime, StaleAfterRewindIsAnErrorNotARead) {
  Tape tape;
  TapeScope scope(&tape);
  const TapeMark mark = tape.Mark();
  const Tensor x = Tensor::Of({1, 2});
  const Tensor y = x * 2.0;
  ASSERT_TRUE(y.ok());
  EXPECT_TRUE(y.on_tape());
  ASSERT_TRUE(tape.Rewind(mark).ok());
  EXPECT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(y.status().message(), HasSubstr("stale tensor"));
  EXPECT_TRUE(y.ToVector().empty());
  EXPECT_TRUE(std::isnan(y.item()));
  const Tensor z = y + x;
  EXPECT_THAT(z.status().message(), HasSubstr("add: operand 0: stale tensor"));
  // A detached copy survives.
  const Tensor kept = (x * 2.0).Detach();
  tape.Reset();
  EXPECT_THAT(kept.ToVector(), ElementsAre(2, 4));
}

TEST(TensorLifetime, ArenaByteLimitIsAnError) {
  TapeOptions options;
  options.initial_chunk_bytes = 4096;
  options.byte_limit = 1 << 16;
  Tape tape(options);
  TapeScope scope(&tape);
  const Tensor big = Tensor::Zeros({1 << 16});
  const Tensor y = big * 2.0;
  EXPECT_EQ(y.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(tape.status().message(), HasSubstr("byte limit"));
}

TEST(KernelRegistryTest, ListsTheCpuKernelsAndReportsNoRegistrationErrors) {
  const KernelRegistry& registry = KernelRegistry::Global();
  EXPECT_TRUE(registry.registration_status().ok()) << registry.registration_status();
  EXPECT_GE(registry.List().size(), 2u * 40);
  EXPECT_NE(registry.FindOrNull(OpKind::kMatMul, DType::kF32, DeviceType::kCpu), nullptr);
  const absl::Status missing =
      registry.Find(OpKind::kMatMul, DType::kI64, DeviceType::kCpu).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnimplemented);
  // (A --config=cuda build lists (f32, cuda) in between.)
  EXPECT_THAT(missing.message(),
              HasSubstr("matmul: no kernel for dtype i64 on device cpu; registered for: "
                        "(f32, cpu), "));
}

absl::Status Dummy(const KernelCall&) { return absl::OkStatus(); }

TEST(KernelRegistryTest, DuplicateRegistrationSaysWhere) {
  KernelRegistry registry;
  const KernelKey key{OpKind::kAdd, DType::kF32, DeviceType::kCpu};
  ASSERT_TRUE(registry.Register(key, Dummy, "a.cc:1").ok());
  const absl::Status twice = registry.Register(key, Dummy, "b.cc:2");
  EXPECT_EQ(twice.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(twice.message(),
              HasSubstr("(add, f32, cpu) is registered twice: at a.cc:1 and at b.cc:2"));
  EXPECT_THAT(
      registry.Find(OpKind::kMul, DType::kF32, DeviceType::kCpu).status().message(),
      HasSubstr("nothing (is the kernel library linked?)"));
}

}  // namespace
}  // namespace tapegrad
