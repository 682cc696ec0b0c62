// Hostile input from C++: sizes past the limits, negative sizes, operands that
// cannot meet, infinite and NaN values, tapes too small to hold anything. Each
// case once crashed, wrapped around or gave a wrong number; each must now be a
// clear error (or PyTorch's value) and nothing else.
#include <cmath>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t k2to31 = int64_t{1} << 31, k2to32 = int64_t{1} << 32;

std::string Message(const Tensor& t) { return std::string(t.status().message()); }

TEST(SizeLimits, CheckedNumelRefusesOverflowAndNegativeSizes) {
  const int64_t big[] = {k2to32, k2to32};
  EXPECT_EQ(CheckedNumel(big), -1);  // 2^64 wraps to 0 unchecked
  const int64_t negative[] = {3, -1};
  EXPECT_EQ(CheckedNumel(negative), -1);
  const int64_t at_limit[] = {int64_t{1} << 24, int64_t{1} << 24};
  EXPECT_EQ(CheckedNumel(at_limit), kMaxElements);
  // An empty axis makes no elements, but the others still bound the strides.
  const int64_t empty[] = {0, k2to32, k2to32};
  EXPECT_EQ(CheckedNumel(empty), -1);
  const int64_t small_empty[] = {0, 5};
  EXPECT_EQ(CheckedNumel(small_empty), 0);
  const int64_t scalar[] = {0};
  EXPECT_EQ(CheckedNumel(absl::MakeConstSpan(scalar, 0)), 1);
  EXPECT_THAT(std::string(CheckShape("full", big).message()),
              HasSubstr("full: shape [4294967296, 4294967296] has more than"));
}

TEST(SizeLimits, FactoriesRefuseShapesPastTheLimit) {
  EXPECT_THAT(
      Message(Tensor::Zeros({k2to32, k2to32})),
      HasSubstr("full: shape [4294967296, 4294967296] has more than 281474976710656 "
                "elements"));
  EXPECT_THAT(Message(Tensor::Zeros({2, -3})),
              HasSubstr("negative size in shape [2, -3]"));
  EXPECT_THAT(Message(Tensor::Eye(k2to32)), HasSubstr("eye: shape"));
  EXPECT_THAT(Message(Tensor::Arange(0, 1e300)), HasSubstr("arange"));
  std::vector<float> four(4, 1.0f);
  // 2^62 + 1 rows of 4 wrap to 4 elements unchecked, which four floats would fill.
  EXPECT_THAT(
      Message(Tensor::FromData(absl::MakeConstSpan(four), {(int64_t{1} << 62) + 1, 4})),
      HasSubstr("from_data: shape [4611686018427387905, 4] has more than"));
}

TEST(SizeLimits, ExpandPastTheLimitIsAnErrorNotAView) {
  const Tensor one = Tensor::Ones({1, 1});
  const Tensor huge = one.Expand({k2to31, k2to31});  // 2^62 x 4 bytes wraps to 0
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(huge),
              HasSubstr("expand: shape [2147483648, 2147483648] has more"));
  EXPECT_FALSE(huge.Contiguous().ok());
  // Under the limit, an expanded view costs nothing, and printing it reads only
  // the elements it shows.
  const Tensor wide = one.Expand({int64_t{1} << 24, int64_t{1} << 24});
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_EQ(wide.numel(), kMaxElements);
  EXPECT_THAT(wide.ToString(), HasSubstr("[[1. 1. 1. ... 1. 1. 1.]"));
}

// Found by tests/fuzz/capi_fuzzer: printing walked every index of the long axis
// of an empty tensor.
TEST(SizeLimits, AnEmptyTensorWithALongAxisPrintsAtOnce) {
  const Tensor empty = Tensor::Zeros({0}).Expand({int64_t{1} << 40, 0});
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty.ToString(), "[]");
  EXPECT_EQ(Tensor::Zeros({2, 0}).ToString(), "[]");
  // Nor may it walk the skipped middle of a long axis.
  EXPECT_EQ(Tensor::Ones({1}).Expand({int64_t{1} << 46}).ToString(),
            "[1. 1. 1. ... 1. 1. 1.]");
}

TEST(SizeLimits, BroadcastMatmulAndJoinsCheckTheirResults) {
  const Tensor col = Tensor::Ones({1, 1}).Expand({int64_t{1} << 30, 1});
  const Tensor row = Tensor::Ones({1, 1}).Expand({1, int64_t{1} << 30});
  ASSERT_TRUE(col.ok() && row.ok());
  EXPECT_THAT(Message(col + row), HasSubstr("add: shape [1073741824, 1073741824]"));
  EXPECT_THAT(Message(MatMul(col, row)),
              HasSubstr("matmul: shape [1073741824, 1073741824]"));
  EXPECT_THAT(Message(Where(col, col, row)), HasSubstr("where: shape"));
  const Tensor slab = Tensor::Ones({1}).Expand({kMaxElements});
  const Tensor parts[] = {slab, slab};
  EXPECT_THAT(Message(Concatenate(parts)),
              HasSubstr("concatenate: the result would have"));
}

TEST(SizeLimits, ReshapeAndSliceDoNotOverflow) {
  const Tensor x = Tensor::Zeros({4});
  EXPECT_THAT(Message(x.Reshape({k2to32, k2to32, -1})),
              HasSubstr("cannot view 4 elements"));
  EXPECT_THAT(Message(x.Reshape({-2, -2})), HasSubstr("cannot view 4 elements"));
  // Found by tests/fuzz/capi_fuzzer: zero elements as sizes whose strides overflow.
  EXPECT_THAT(Message(Tensor::Zeros({0}).Reshape({0, int64_t{1} << 62, 18})),
              HasSubstr("cannot view 0 elements as [0, 4611686018427387904, 18]"));
  EXPECT_THAT(Tensor::Zeros({0}).Reshape({0, 7, 18}).shape(), ElementsAre(0, 7, 18));
  // A step past every size leaves one element, whose stride must not overflow.
  const Tensor one = x.Slice(0, 1, 4, std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_THAT(one.shape(), ElementsAre(1));
  const Tensor none = x.Slice(0, 4, 4, std::numeric_limits<int64_t>::max());
  EXPECT_THAT(none.shape(), ElementsAre(0));
}

TEST(Views, ExpandTakesMinusOneAsKeepAndRefusesOtherNegatives) {
  const Tensor x = Tensor::Zeros({3, 1});
  EXPECT_THAT(x.Expand({-1, 4}).shape(), ElementsAre(3, 4));
  EXPECT_THAT(x.Expand({2, -1, 5}).shape(), ElementsAre(2, 3, 5));
  EXPECT_THAT(Message(Tensor::Ones({1}).Expand({-5})),
              HasSubstr("expand: cannot broadcast"));
  EXPECT_THAT(Message(x.Expand({-1, -1, 4})), HasSubstr("expand: cannot broadcast"));
}

TEST(Views, PermuteWithAnAxisOutOfRangeIsAnError) {
  const Tensor x = Tensor::Zeros({2, 3});
  EXPECT_THAT(Message(x.Permute({0, 99})),
              HasSubstr("permute: [0, 99] is not a permutation"));
  EXPECT_THAT(Message(x.Permute({-40, 1})), HasSubstr("permute"));
  EXPECT_THAT(Message(x.Permute({1, 1})), HasSubstr("permute"));
}

TEST(Joins, OperandsOnTwoTapesOrInErrorAreRecordedOnARealTape) {
  Tape t1, t2;
  const Tensor w = Tensor::Ones({2}).RequiresGrad();
  Tensor a, b;
  {
    TapeScope s(&t1);
    a = w * 2.0;
  }
  {
    TapeScope s(&t2);
    b = w * 3.0;
  }
  const Tensor parts[] = {a, b};
  const Tensor cat = Concatenate(parts);
  EXPECT_THAT(Message(cat), HasSubstr("concatenate: operands are recorded on different"));
  EXPECT_FALSE(t1.status().ok());  // recorded where the first operand lives
  EXPECT_FALSE(Stack(parts).ok());
  const Tensor with_error[] = {Tensor::Zeros({2}) + Tensor::Zeros({3}), a};
  EXPECT_THAT(Message(Concatenate(with_error)),
              HasSubstr("add: shapes do not broadcast"));
  EXPECT_THAT(Message(Stack(with_error)), HasSubstr("add: shapes do not broadcast"));
}

// Found by tests/fuzz/capi_fuzzer: an i64 from a NaN was an undefined conversion.
TEST(Int64, ValuesThatAreNoInt64AreErrors) {
  EXPECT_THAT(Message(Tensor::Full({2}, NAN, DType::kI64)),
              HasSubstr("full: nan is not a i64 value"));
  const Tensor labels =
      Tensor::FromData(absl::MakeConstSpan(std::vector<int64_t>{1, 2}), {2});
  EXPECT_THAT(Message(labels + kInf), HasSubstr("scalar: inf is not a i64 value"));
  EXPECT_THAT(Message(Tensor::FromData(std::vector<double>{1e300}, {1}, DType::kI64)),
              HasSubstr("from_data: 1e+300 is not a i64 value"));
  Tensor target = Tensor::Zeros({1}, DType::kI64);
  EXPECT_THAT(std::string(target.CopyFrom(std::vector<double>{NAN}).message()),
              HasSubstr("copy_from: nan is not a i64 value"));
}

// PyTorch's log-sum-exp: an infinite logit makes the log-sum-exp infinite; the
// other classes' probabilities are 0 and the infinite one's NaN.
TEST(InfiniteLogits, SoftmaxAndCrossEntropyAsPyTorch) {
  for (DType dtype : {DType::kF64, DType::kF32}) {
    const Tensor x = Tensor::FromData(std::vector<double>{kInf, 0, 1}, {1, 3}, dtype);
    const std::vector<double> p = Softmax(x, 1).ToVector();
    EXPECT_TRUE(std::isnan(p[0]));
    EXPECT_EQ(p[1], 0);
    EXPECT_EQ(p[2], 0);
    const std::vector<double> lp = LogSoftmax(x, 1).ToVector();
    EXPECT_TRUE(std::isnan(lp[0]));
    EXPECT_EQ(lp[1], -kInf);
    EXPECT_EQ(lp[2], -kInf);

    Tape tape;
    TapeScope scope(&tape);
    const Tensor logits = x.Detach().RequiresGrad();
    const Tensor loss = CrossEntropy(
        logits, Tensor::FromData(absl::MakeConstSpan(std::vector<int64_t>{1}), {1}));
    EXPECT_EQ(loss.item(), kInf);
    ASSERT_TRUE(loss.Backward().ok());
    const std::vector<double> g = logits.grad().ToVector();
    EXPECT_TRUE(std::isnan(g[0]));
    EXPECT_EQ(g[1], -1);
    EXPECT_EQ(g[2], 0);
  }
  // Finite rows are unchanged; a NaN or an all -inf row is NaN throughout.
  const Tensor finite = Tensor::FromData(std::vector<double>{1, 2, 3}, {3}, DType::kF64);
  EXPECT_NEAR(Softmax(finite, 0).ToVector()[2], 0.66524095577482, 1e-12);
  for (const std::vector<double>& row :
       {std::vector<double>{NAN, 0, kInf}, std::vector<double>{-kInf, -kInf}}) {
    const Tensor x = Tensor::FromData(row, {int64_t(row.size())}, DType::kF64);
    for (double v : Softmax(x, 0).ToVector()) EXPECT_TRUE(std::isnan(v));
  }
}

// PyTorch: a tie splits the gradient; a NaN operand gives both operands all of it.
TEST(Extrema, NaNSendsTheGradientToBothOperands) {
  Tape tape;
  TapeScope scope(&tape);
  const Tensor a = Tensor::FromData(std::vector<double>{NAN, 1, 2, 0}, {4}, DType::kF64)
                       .RequiresGrad();
  const Tensor b = Tensor::FromData(std::vector<double>{0, 1, 1, NAN}, {4}, DType::kF64)
                       .RequiresGrad();
  ASSERT_TRUE((Sum(Maximum(a, b)) + Sum(Minimum(a, b))).Backward().ok());
  EXPECT_THAT(a.grad().ToVector(), ElementsAre(2, 1, 1, 2));
  EXPECT_THAT(b.grad().ToVector(), ElementsAre(2, 1, 1, 2));
}

TEST(ByteLimits, ALimitTooSmallForOneValueIsAnErrorAtCreation) {
  TapeOptions options;
  options.byte_limit = Tape::kMinByteLimit - 1;
  Tape tiny(options);
  EXPECT_EQ(tiny.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tiny.status().message()),
              HasSubstr("byte limit 286783 is below"));

  // At the least limit a value fits; at 1 MiB, also after a tensor took the arena's
  // first chunk (which once left no room for the value slots).
  for (bool tensor_first : {false, true}) {
    options.byte_limit = tensor_first ? size_t{1} << 20 : Tape::kMinByteLimit;
    Tape tape(options);
    ASSERT_TRUE(tape.status().ok());
    TapeScope scope(&tape);
    if (tensor_first) (void)(Tensor::Ones({1000}).RequiresGrad() * 2.0);
    tape.ClearError();
    const Value v = tape.Leaf(2.0);
    const Value y = v * v;
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_TRUE(y.Backward().ok());
    EXPECT_EQ(v.grad(), 4.0);
  }
}

// Empty handles (Tensor()) where an image op needs a tensor: an error naming the
// op, never a read through a null impl.
TEST(ImageOps, EmptyOperandsAreErrors) {
  const Tensor empty;
  Tensor none;
  const Tensor x = Tensor::Zeros({1, 1, 4, 4});
  const Tensor indices = Tensor::FromData(std::vector<int64_t>{0}, {1});
  Pool2dOptions pool;
  const std::pair<const char*, Tensor> results[] = {
      {"conv2d", Conv2d(empty, x)},
      {"conv2d", Conv2d(x, empty)},
      {"max_pool2d", MaxPool2d(empty, pool)},
      {"avg_pool2d", AvgPool2d(empty, pool)},
      {"adaptive_avg_pool2d", AdaptiveAvgPool2d(empty, {1, 1})},
      {"flatten", Flatten(empty)},
      {"batch_norm", BatchNorm(empty, none, none, Tensor(), Tensor(), true)},
      {"layer_norm", LayerNorm(empty, 1, Tensor(), Tensor())},
      {"embedding", Embedding(empty, indices)},
  };
  for (const auto& [op, result] : results) {
    EXPECT_FALSE(result.ok()) << op;
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(op));
  }
}

}  // namespace
}  // namespace tapegrad
