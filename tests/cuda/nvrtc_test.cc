// Every CUDA kernel module compiles with NVRTC, to PTX and to a CUBIN for sm_90
// (H100/H200), on any machine: no GPU or driver is needed to compile. And every
// registry op has a CUDA kernel for f32 and f64. The module cache's own cases
// (device indices, the disk cache) run in full where a GPU answers.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/internal/registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/cuda.h"
#include "kernels/cuda/runtime.h"
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

// Device indices past the module table are refused before the table is read:
// cuda:16's slot would be the next dtype's cuda:0, loaded by the first call.
TEST(ModuleCache, RefusesADeviceIndexPastTheTable) {
  if (IsAvailable()) {
    ASSERT_TRUE(GetKernel(OpKind::kAdd, DType::kF64, 0, Device::Cuda(0)).ok());
  }
  for (int index : {kMaxDevices, kMaxDevices + 1, 99, -1}) {
    absl::StatusOr<cudaKernel_t> k =
        GetKernel(OpKind::kAdd, DType::kF32, 0, Device::Cuda(index));
    ASSERT_FALSE(k.ok()) << index;
    EXPECT_EQ(k.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(k.status().message(), HasSubstr(Device::Cuda(index).ToString()));
  }
}

TEST(DiskCache, PathIsInTheDirectoryAndNamesTheModule) {
  const KernelSource* source = FindKernelSource(OpKind::kMul, DType::kF32);
  ASSERT_NE(source, nullptr);
  unsetenv("TAPEGRAD_CUDA_CACHE_DIR");
  EXPECT_EQ(DiskCachePath(*source, 90), "");
  setenv("TAPEGRAD_CUDA_CACHE_DIR", "/cache", 1);
  const std::string path = DiskCachePath(*source, 90);
  EXPECT_THAT(path, ::testing::StartsWith("/cache/" + source->name + "-sm90-"));
  EXPECT_NE(path, DiskCachePath(*source, 100));
  unsetenv("TAPEGRAD_CUDA_CACHE_DIR");
}

// A corrupt file in the disk cache (a crash mid-write by another tool, a disk
// error) is recompiled and replaced, not returned to every later process.
TEST(DiskCache, ACorruptCachedModuleIsRecompiledAndReplaced) {
  if (!IsAvailable()) GTEST_SKIP() << UnavailableReason();
  const KernelSource* source = FindKernelSource(OpKind::kMul, DType::kF32);
  ASSERT_NE(source, nullptr);
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string dir =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/nvrtc_cache_test");
  mkdir(dir.c_str(), 0700);
  setenv("TAPEGRAD_CUDA_CACHE_DIR", dir.c_str(), 1);
  const std::string path = DiskCachePath(*source, Arch(0));
  const std::string corrupt = std::string("\x7f") + "ELF but not a module";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << corrupt;
  absl::StatusOr<cudaKernel_t> k =
      GetKernel(OpKind::kMul, DType::kF32, 0, Device::Cuda(0));
  unsetenv("TAPEGRAD_CUDA_CACHE_DIR");
  ASSERT_TRUE(k.ok()) << k.status();
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  EXPECT_NE(bytes, corrupt);
  EXPECT_EQ(bytes.substr(0, 4), corrupt.substr(0, 4));  // ELF's magic number
  // Still a valid module: the product of a multiplication on the device.
  const Tensor x = Tensor::Full({3}, 2.0, DType::kF32, Device::Cuda(0));
  EXPECT_THAT((x * x).ToVector(), ::testing::ElementsAre(4, 4, 4));
}

}  // namespace
}  // namespace tapegrad::cuda
