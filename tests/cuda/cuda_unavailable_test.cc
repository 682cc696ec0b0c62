// What a program sees of CUDA on a machine without a GPU, or in a build without
// the backend: no device, never an error at start, and clear errors from any
// attempt to put a tensor on a GPU. Runs in every build; on a machine with a GPU
// and the backend it checks the opposite and skips the no-device cases.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

using ::testing::HasSubstr;

TEST(CudaUnavailable, ReportsNoDeviceWithAReason) {
  if (cuda::IsAvailable()) {
    EXPECT_TRUE(cuda::IsBuilt());
    EXPECT_GT(cuda::DeviceCount(), 0);
    GTEST_SKIP() << "a CUDA device is present";
  }
  EXPECT_EQ(cuda::DeviceCount(), 0);
  EXPECT_FALSE(cuda::UnavailableReason().empty());
  EXPECT_FALSE(cuda::GetDeviceInfo(0).ok());
}

TEST(CudaUnavailable, TensorsOnCudaAreClearErrors) {
  if (cuda::IsAvailable()) GTEST_SKIP() << "a CUDA device is present";
  const Tensor t = Tensor::Zeros({2, 3}, DType::kF32, Device::Cuda(0));
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("f32[2, 3] tensor on cuda:0"));
  if (cuda::IsBuilt()) {
    EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(t.status().message(), HasSubstr("no CUDA device"));
  } else {
    EXPECT_EQ(t.status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(t.status().message(), HasSubstr("--config=cuda"));
  }
  const Tensor moved = Tensor::Ones({4}).To(Device::Cuda(0));
  ASSERT_FALSE(moved.ok());
  EXPECT_THAT(moved.status().message(), HasSubstr("to(cuda:0)"));
  EXPECT_FALSE(cuda::Synchronize(Device::Cuda(0)).ok());
}

TEST(CudaUnavailable, ToTheSameDeviceIsTheSameTensor) {
  const Tensor x = Tensor::Ones({3});
  const Tensor y = x.Cpu();
  EXPECT_TRUE(y.SharesStorageWith(x));
}

TEST(CudaUnavailable, ToTheSameDeviceKeepsGradientsFlowing) {
  Tape tape;
  TapeScope scope(&tape);
  Tensor x = Tensor::FromData({1, 2, 3, 4}, {2, 2}, DType::kF64).RequiresGrad();
  const Tensor y = Sum(x.T().To(Device::Cpu()) * x);  // d/dx = 2 x^T
  ASSERT_TRUE(y.Backward().ok()) << y.status();
  EXPECT_THAT(x.grad().ToVector(), ::testing::ElementsAre(2, 6, 4, 8));
}

}  // namespace
}  // namespace tapegrad
