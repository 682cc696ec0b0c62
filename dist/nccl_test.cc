// The NCCL process group and DataParallel on GPUs, across real processes: run by
// dist/mpi_test.sh under `mpirun -np 2` and `-np 3`, in builds with the CUDA
// backend. On the simulator (--config=cudasim) every rank's GPU is simulated and
// NCCL is kernels/cuda/sim/nccl.cc; with --config=cuda it needs one GPU per
// rank, and without a GPU every case skips.
#include <mpi.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "dist/data_parallel.h"
#include "dist/process_group.h"
#include "dist/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kernels/cuda/cuda.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "tapegrad.h"

namespace tapegrad::dist {
namespace {

using testing::BuildModel;
using testing::ExpectBarrierTimesOut;
using testing::ExpectDataParallelEqualsOneProcess;
using ::testing::HasSubstr;
using testing::World;

// This rank's GPU: ranks share the devices round-robin.
Device MyGpu() { return Device::Cuda(World().rank() % cuda::DeviceCount()); }

class Nccl : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda::IsAvailable()) GTEST_SKIP() << cuda::UnavailableReason();
  }
  std::unique_ptr<ProcessGroup> Make(ProcessGroupOptions options = {}) {
    absl::StatusOr<std::unique_ptr<ProcessGroup>> g =
        ProcessGroup::Nccl(World(), MyGpu(), options);
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? std::move(*g) : nullptr;
  }
};

TEST_F(Nccl, AllReduceBroadcastAndAgreement) {
  std::unique_ptr<ProcessGroup> g = Make();
  ASSERT_NE(g, nullptr);
  EXPECT_STREQ(g->backend(), "nccl");
  EXPECT_EQ(g->device(), MyGpu());
  const int n = g->size(), r = g->rank();
  Tensor t = Tensor::FromData({double(r), 1.0, -2.0 * r}, {3}, DType::kF64).To(MyGpu());
  ASSERT_TRUE(g->AllReduce(t, Reduce::kSum).ok());
  const double ranks = n * (n - 1) / 2.0;
  EXPECT_EQ(t.ToVector(), (std::vector<double>{ranks, double(n), -2 * ranks}));
  // More than a slot of the simulator's segment (1 MiB), in f32, as a mean.
  const int64_t big = 300000;
  Tensor f = Tensor::Full({big}, float(r + 1), DType::kF32, MyGpu());
  ASSERT_TRUE(g->AllReduce(f, Reduce::kMean).ok());
  const std::vector<float> mean = f.ToFloatVector();
  EXPECT_EQ(std::count(mean.begin(), mean.end(), float(n + 1) / 2), big);
  const int root = n - 1;
  Tensor b = Tensor::Full({4}, r == root ? 7.0 : double(r), DType::kF64, MyGpu());
  ASSERT_TRUE(g->Broadcast(b, root).ok());
  EXPECT_EQ(b.ToVector(), std::vector<double>(4, 7.0));
  EXPECT_TRUE(*g->AllAgree(42, "a constant"));
  EXPECT_EQ(*g->AllAgree(r == 0 ? 1 : 2, "the rank's parity"), n == 1);
  EXPECT_TRUE(g->Barrier().ok());
}

TEST_F(Nccl, OperandsOffTheGpuAreErrorsNamingThem) {
  std::unique_ptr<ProcessGroup> g = Make();
  ASSERT_NE(g, nullptr);
  Tensor cpu = Tensor::Zeros({2});
  absl::Status s = g->AllReduce(cpu, Reduce::kSum);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("nccl group"));
  EXPECT_THAT(s.message(), HasSubstr(MyGpu().ToString()));
  std::vector<float> host(3);
  EXPECT_THAT(g->AllReduce(absl::MakeSpan(host), Reduce::kSum, "host floats").message(),
              HasSubstr("host memory"));
  EXPECT_FALSE(ProcessGroup::Nccl(*g, MyGpu()).ok());  // bootstrap must be MPI
  EXPECT_THAT(ProcessGroup::Nccl(World(), Device::Cpu()).status().message(),
              HasSubstr("CUDA device"));
}

// Training on the ranks' GPUs equals one process on the CPU.
TEST_F(Nccl, DataParallelEqualsOneProcessOnTheWholeBatch) {
  std::unique_ptr<ProcessGroup> g = Make();
  ASSERT_NE(g, nullptr);
  ExpectDataParallelEqualsOneProcess(*g);
}

TEST_F(Nccl, AModelOffTheGroupsDeviceIsAnError) {
  std::unique_ptr<ProcessGroup> g = Make();
  ASSERT_NE(g, nullptr);
  nn::Sequential model;
  BuildModel(model, 1);  // on the CPU
  absl::StatusOr<std::unique_ptr<DataParallel>> ddp = DataParallel::Create(*g, model);
  ASSERT_FALSE(ddp.ok());
  EXPECT_THAT(ddp.status().message(), HasSubstr("a nccl group averages"));
}

// A rank that does not join makes the others' collective fail within the
// timeout (2 s); the communicator is then aborted and the group refuses calls.
TEST_F(Nccl, AMissingRankIsADeadlineNotAHang) {
  if (World().size() == 1) GTEST_SKIP() << "needs two ranks";
  ProcessGroupOptions options;
  options.timeout = std::chrono::seconds(2);
  std::unique_ptr<ProcessGroup> g = Make(options);
  ASSERT_NE(g, nullptr);
  if (g->rank() != 0) {
    // Stays out of the barrier; waits for rank 0 to be done with it.
    ASSERT_TRUE(World().Barrier().ok());
    return;
  }
  ExpectBarrierTimesOut(*g, 2.0, 2.0);
  ASSERT_TRUE(World().Barrier().ok());
}

}  // namespace
}  // namespace tapegrad::dist
