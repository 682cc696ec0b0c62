// Every user error is a Status naming the op and every operand's shape, dtype and
// device; an error passes through later ops and surfaces at Backward.
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

using ::testing::HasSubstr;

Tensor Labels(std::vector<int64_t> v) {
  return Tensor::FromData(absl::MakeConstSpan(v), {int64_t(v.size())});
}

// A tensor that claims to live on a GPU, to test the device checks in a build
// without one. Its memory is ordinary host memory (its storage says so, so that it
// is freed as such) that no kernel will touch.
Tensor FakeCuda(Shape shape) {
  TensorImpl* impl = *TensorImpl::NewHeap(shape, DType::kF32, Device::Cpu());
  impl->device = Device::Cuda(0);
  return Tensor::Wrap(impl);
}

TEST(TensorErrors, ShapeMismatchNamesOpAndOperands) {
  const Tensor e = Tensor::Zeros({2, 3}) + Tensor::Zeros({4});
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e.status().message(),
            "add: shapes do not broadcast (operands: f32[2, 3] on cpu, f32[4] on cpu)");
}

TEST(TensorErrors, DTypeAndDeviceMismatch) {
  EXPECT_THAT(
      (Tensor::Zeros({2}) * Tensor::Zeros({2}, DType::kF64)).status().message(),
      HasSubstr(
          "mul: operands differ in dtype (operands: f32[2] on cpu, f64[2] on cpu)"));
  EXPECT_THAT(
      Sub(Tensor::Zeros({2}), FakeCuda({2})).status().message(),
      HasSubstr("sub: operands are on different devices; copy one with to(device) "
                "first (operands: f32[2] on cpu, f32[2] on cuda:0)"));
  // No build has a 100th GPU: without the backend, without a GPU, or with one.
  EXPECT_THAT(Tensor::Zeros({2}, DType::kF32, Device::Cuda(99)).status().message(),
              HasSubstr("cuda:99"));
  EXPECT_THAT(Exp(Tensor::FromData(absl::MakeConstSpan(std::vector<int64_t>{1}), {1}))
                  .status()
                  .message(),
              HasSubstr("exp: needs f32 or f64 operands (operands: i64[1] on cpu)"));
}

TEST(TensorErrors, BadAxes) {
  const Tensor x = Tensor::Zeros({2, 3});
  EXPECT_EQ(Sum(x, {2}).status().message(),
            "sum: axis 2 is out of range (operands: f32[2, 3] on cpu)");
  EXPECT_EQ(Mean(x, {1, -1}).status().message(),
            "mean: axis -1 is repeated (operands: f32[2, 3] on cpu)");
  EXPECT_THAT(Softmax(x, 5).status().message(),
              HasSubstr("softmax: axis 5 is out of range"));
  EXPECT_THAT(
      x.Transpose(0, 3).status().message(),
      HasSubstr("transpose: axes (0, 3) are out of range (operands: f32[2, 3] on cpu)"));
  EXPECT_THAT(x.Squeeze(0).status().message(),
              HasSubstr("squeeze: axis 0 is not of size 1"));
  EXPECT_THAT(x.Permute({0, 0}).status().message(),
              HasSubstr("permute: [0, 0] is not a permutation"));
  EXPECT_THAT(Concatenate({x, x}, 2).status().message(),
              HasSubstr("concatenate: axis 2 is out of range"));
  EXPECT_THAT(Concatenate({x, Tensor::Zeros({3, 3})}, 1).status().message(),
              HasSubstr("concatenate: shapes differ outside axis 1"));
  EXPECT_THAT(Max(Tensor::Zeros({0, 2}), {0}).status().message(),
              HasSubstr("max: reduction over an empty axis"));
}

TEST(TensorErrors, BadIndicesAndLabels) {
  const Tensor x = Tensor::Zeros({3, 2});
  EXPECT_EQ(IndexSelect(x, Labels({0, 3})).status().message(),
            "index_select: index 3 at position 1 is out of range [0, 3) (operands: "
            "f32[3, 2] on cpu, i64[2] on cpu)");
  EXPECT_EQ(CrossEntropy(x, Labels({0, 1, 2})).status().message(),
            "cross_entropy: target 2 at row 2 is out of range [0, 2) (operands: "
            "f32[3, 2] on cpu, i64[3] on cpu)");
  EXPECT_THAT(CrossEntropy(x, Tensor::Zeros({3})).status().message(),
              HasSubstr("cross_entropy: needs logits [N, C] and i64 class indices [N] "
                        "(operands: f32[3, 2] on cpu, f32[3] on cpu)"));
}

TEST(TensorErrors, ViewsAndMatMul) {
  const Tensor x = Tensor::Zeros({2, 3});
  EXPECT_THAT(
      x.Reshape({4, 2}).status().message(),
      HasSubstr(
          "reshape: cannot view 6 elements as [4, 2] (operands: f32[2, 3] on cpu)"));
  EXPECT_THAT(x.T().Reshape({6}).status().message(),
              HasSubstr("reshape: needs contiguous data; call Contiguous() first"));
  EXPECT_THAT(x.Expand({4, 3}).status().message(),
              HasSubstr("expand: cannot broadcast to [4, 3]"));
  EXPECT_THAT(x.Slice(0, 0, 1, 0).status().message(), HasSubstr("steps must be > 0"));
  EXPECT_EQ(MatMul(x, x).status().message(),
            "matmul: inner dimensions differ (3 vs 2) (operands: f32[2, 3] on cpu, "
            "f32[2, 3] on cpu)");
  EXPECT_THAT(
      MatMul(Tensor::Zeros({2, 2, 3}), Tensor::Zeros({3, 3, 2})).status().message(),
      HasSubstr("matmul: batch dimensions do not broadcast"));
  EXPECT_THAT(Clamp(x, 1, 0).status().message(),
              HasSubstr("clamp: low 1 is above high 0"));
  EXPECT_THAT(Tensor::FromData({1, 2, 3}, {2, 2}).status().message(),
              HasSubstr("from_data: 3 values do not fill shape [2, 2]"));
}

TEST(TensorErrors, ErrorsPropagateAndStickToTheTape) {
  Tensor w = Tensor::Zeros({2, 3}).RequiresGrad();
  Tape tape;
  TapeScope scope(&tape);
  const Tensor bad = w + Tensor::Zeros({4});
  const Tensor later = Relu(bad) * 2.0;
  EXPECT_FALSE(later.ok());
  EXPECT_THAT(later.status().message(), HasSubstr("add: shapes do not broadcast"));
  const Tensor loss = Sum(w);
  EXPECT_THAT(loss.Backward().message(), HasSubstr("add: shapes do not broadcast"));
  EXPECT_THAT(Tensor().status().message(), HasSubstr("empty Tensor"));
  EXPECT_THAT(Sum(Tensor()).status().message(),
              HasSubstr("sum: operand 0 is an empty Tensor"));
}

TEST(TensorErrors, BackwardPreconditions) {
  Tensor w = Tensor::Zeros({2}).RequiresGrad();
  EXPECT_THAT((w * 2.0).Backward().message(), HasSubstr("was not recorded on a tape"));
  Tape tape;
  TapeScope scope(&tape);
  EXPECT_THAT(
      (w * 2.0).Backward().message(),
      HasSubstr("backward: needs a one-element tensor (a loss), got f32[2] on cpu"));
  Tape other;
  const Tensor on_other = [&] {
    TapeScope s(&other);
    return w * 1.0;
  }();
  EXPECT_THAT((on_other + w * 1.0).status().message(),
              HasSubstr("add: operands are recorded on different tapes"));
}

}  // namespace
}  // namespace tapegrad
