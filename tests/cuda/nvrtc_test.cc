// Every CUDA kernel module compiles with NVRTC, to PTX and to a CUBIN for sm_90
// (H100/H200), on any machine: no GPU or driver is needed to compile. And every
// registry op has a CUDA kernel for f32 and f64.
#include <set>
#include <string>

#include "core/internal/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"
#include "tapegrad.h"

namespace tapegrad::cuda {
namespace {

using ::testing::HasSubstr;

class ModuleTest : public ::testing::TestWithParam<KernelSource> {};

TEST_P(ModuleTest, CompilesToPtxAndSm90Cubin) {
  const KernelSource& source = GetParam();
  absl::StatusOr<std::string> ptx = CompileToPtx(source, 90);
  ASSERT_TRUE(ptx.ok()) << ptx.status();
  for (const std::string& entry : source.entries) {
    EXPECT_THAT(*ptx, HasSubstr(".entry " + entry)) << source.name;
  }
  absl::StatusOr<std::string> cubin = CompileToCubin(source, 90);
  ASSERT_TRUE(cubin.ok()) << cubin.status();
  ASSERT_GT(cubin->size(), 4u);
  EXPECT_EQ(cubin->substr(0, 4), std::string("\x7f"
                                             "ELF",
                                             4))
      << source.name;
}

INSTANTIATE_TEST_SUITE_P(AllModules, ModuleTest, ::testing::ValuesIn(AllKernelSources()),
                         [](const ::testing::TestParamInfo<KernelSource>& info) {
                           return info.param.name;
                         });

TEST(Nvrtc, CompileErrorsCarryTheLog) {
  KernelSource broken =
      MakeSource(OpKind::kAdd, DType::kF32,
                 "extern \"C\" __global__ void k() { undeclared_name; }", {"k"});
  absl::StatusOr<std::string> ptx = CompileToPtx(broken, 90);
  ASSERT_FALSE(ptx.ok());
  EXPECT_EQ(ptx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ptx.status().message(), HasSubstr("add_f32"));
  EXPECT_THAT(ptx.status().message(), HasSubstr("undeclared_name"));
}

TEST(Registry, EveryOpHasACudaKernelForBothFloatTypes) {
  std::set<std::pair<int, int>> cuda;
  for (const KernelKey& k : KernelRegistry::Global().List()) {
    if (k.device == DeviceType::kCuda) cuda.insert({int(k.op), int(k.dtype)});
  }
  ASSERT_TRUE(KernelRegistry::Global().registration_status().ok());
  for (int op = 0; op < kNumOpKinds; ++op) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      EXPECT_TRUE(cuda.count({op, int(dtype)}))
          << OpKindName(OpKind(op)) << " " << DTypeName(dtype) << " has no CUDA kernel";
    }
  }
  // Every NVRTC-backed kernel has its module (matmul is cuBLAS).
  for (const auto& [op, dtype] : cuda) {
    if (OpKind(op) == OpKind::kMatMul) continue;
    EXPECT_NE(FindKernelSource(OpKind(op), DType(dtype)), nullptr)
        << OpKindName(OpKind(op)) << " " << DTypeName(DType(dtype));
  }
}

}  // namespace
}  // namespace tapegrad::cuda
