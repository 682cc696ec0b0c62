// The process group and DataParallel across real processes: run by
// dist/mpi_test.sh under `mpirun -np 2` and `-np 3` (every rank runs every test,
// in the same order, as collectives require). Outside mpirun it is a group of one.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "dist/data_parallel.h"
#include "dist/process_group.h"
#include "dist/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nn/activation.h"
#include "nn/dataset.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "tapegrad.h"
#include "tests/alloc_counter.h"

namespace tapegrad::dist {
namespace {

using testing::BuildModel;
using testing::ExpectBarrierTimesOut;
using testing::ExpectDataParallelEqualsOneProcess;
using ::testing::HasSubstr;
using testing::World;

TEST(ProcessGroup, AllReduceBroadcastAndAgreement) {
  ProcessGroup& g = World();
  const int n = g.size(), r = g.rank();
  Tensor t = Tensor::FromData({double(r), 1.0, -2.0 * r}, {3}, DType::kF64);
  ASSERT_TRUE(g.AllReduce(t, Reduce::kSum).ok());
  const double ranks = n * (n - 1) / 2.0;
  EXPECT_EQ(t.ToVector(), (std::vector<double>{ranks, double(n), -2 * ranks}));
  Tensor f = Tensor::FromData(std::vector<float>{float(r), 2.0f}, {2});
  ASSERT_TRUE(g.AllReduce(f, Reduce::kMean).ok());
  EXPECT_FLOAT_EQ(f.ToVector()[0], float(ranks / n));
  EXPECT_FLOAT_EQ(f.ToVector()[1], 2.0f);
  const int root = n - 1;
  Tensor b = Tensor::Full({4}, r == root ? 7.0 : double(r));
  ASSERT_TRUE(g.Broadcast(b, root).ok());
  EXPECT_EQ(b.ToVector(), std::vector<double>(4, 7.0));
  EXPECT_TRUE(*g.AllAgree(42, "a constant"));
  EXPECT_EQ(*g.AllAgree(r == 0 ? 1 : 2, "the rank's parity"), n == 1);
  ASSERT_TRUE(g.Barrier().ok());
}

// The value of Open MPI's libnbc allreduce algorithm variable, through the MPI
// tool interface; -1 if there is none.
int AllreduceAlgorithm() {
  int provided = 0, count = 0;
  if (MPI_T_init_thread(MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS ||
      MPI_T_cvar_get_num(&count) != MPI_SUCCESS) {
    return -1;
  }
  for (int i = 0; i < count; ++i) {
    char name[128], description[1];
    int name_length = sizeof(name), description_length = 0, verbosity, bind, scope;
    MPI_Datatype type;
    MPI_T_enum enumtype;
    MPI_T_cvar_handle handle;
    int elements = 0, value = -1;
    if (MPI_T_cvar_get_info(i, name, &name_length, &verbosity, &type, &enumtype,
                            description, &description_length, &bind,
                            &scope) == MPI_SUCCESS &&
        std::strcmp(name, "coll_libnbc_iallreduce_algorithm") == 0 &&
        MPI_T_cvar_handle_alloc(i, nullptr, &handle, &elements) == MPI_SUCCESS) {
      MPI_T_cvar_read(handle, &value);
      MPI_T_cvar_handle_free(&handle);
      return value;
    }
  }
  return -1;
}

// Sums of sizes that take each algorithm (Note [Allreduce algorithm]), with
// counts that do not divide by the ranks, exact in every element.
TEST(ProcessGroup, AllReduceTakesTheAlgorithmForItsSize) {
  ProcessGroup& g = World();
  const int n = g.size();
  const float expected = float(n * (n + 1) / 2);
  for (size_t count : {size_t{5}, size_t{1001}, size_t{100003}}) {
    std::vector<float> data(count, float(g.rank() + 1));
    ASSERT_TRUE(g.AllReduce(absl::MakeSpan(data), Reduce::kSum, "ranks").ok());
    EXPECT_EQ(std::count(data.begin(), data.end(), expected), long(count)) << count;
    if (std::getenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm") == nullptr) {
      // libnbc's values: 4 recursive doubling, 1 ring.
      EXPECT_EQ(AllreduceAlgorithm(), count * 4 < (64 << 10) ? 4 : 1) << count;
    }
  }
}

TEST(ProcessGroup, BadOperandsAreErrorsNamingThem) {
  ProcessGroup& g = World();
  Tensor labels = Tensor::FromData(std::vector<int64_t>{1, 2}, {2});
  absl::Status s = g.AllReduce(labels, Reduce::kSum);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("allreduce"));
  EXPECT_THAT(s.message(), HasSubstr("i64[2]"));
  Tensor x = Tensor::Zeros({2, 3});
  Tensor strided = x.T();
  EXPECT_THAT(g.Broadcast(strided, 0).message(), HasSubstr("contiguous"));
  EXPECT_THAT(g.Broadcast(x, g.size()).message(), HasSubstr("is not a rank"));
}

// k steps of 2- or 3-rank training, each rank on its shard of a global batch,
// equal single-process training on the whole batch, and the replicas stay bitwise
// equal.
TEST(DataParallel, EqualsOneProcessOnTheWholeBatch) {
  ExpectDataParallelEqualsOneProcess(World());
}

// One replica of BuildModel's model on every rank, and its backward on a tape.
class Replica : public ::testing::Test {
 protected:
  void SetUp() override {
    BuildModel(model_, 7);
    absl::StatusOr<std::unique_ptr<DataParallel>> made =
        DataParallel::Create(World(), model_);
    ASSERT_TRUE(made.ok()) << made.status();
    ddp_ = std::move(*made);
    mark_ = tape_.Mark();
  }
  void TearDown() override { (void)tape_.Rewind(mark_); }
  // Forward and backward of the model on a batch of ones.
  void Backward() {
    ASSERT_TRUE(tape_.Rewind(mark_).ok());
    ASSERT_TRUE(Sum(model_(x_)).Backward().ok());
  }

  nn::Sequential model_;
  std::unique_ptr<DataParallel> ddp_;
  const Tensor x_ = Tensor::Ones({2, 4}, DType::kF64);
  Tape tape_;
  TapeScope scope_{&tape_};
  TapeMark mark_;
};

// With overlap, a second backward before AverageGradients would average half a
// step: it is an error (on every rank alike), and the next step is clean.
TEST_F(Replica, TwoBackwardsInAStepAreAnErrorWithOverlap) {
  if (World().size() == 1) GTEST_SKIP() << "needs two ranks";
  for (int backwards : {2, 1}) {
    for (int b = 0; b < backwards; ++b) Backward();
    const absl::Status s = ddp_->AverageGradients();
    if (backwards == 2) {
      EXPECT_THAT(s.message(), HasSubstr("overlap = false")) << s;
    } else {
      EXPECT_TRUE(s.ok()) << s;
    }
  }
}

// Each rank's shard of 101 rows, counted over ranks with an allreduce: every row
// read once, the padding (ceil(101 / size) * size - 101 rows) twice.
TEST(DataParallel, ShardsCoverTheDatasetOnce) {
  ProcessGroup& g = World();
  std::vector<double> rows(101);
  std::vector<int64_t> labels(101);
  for (int i = 0; i < 101; ++i) rows[i] = labels[i] = i;
  absl::StatusOr<nn::Dataset> data = nn::Dataset::Create(
      Tensor::FromData(absl::MakeConstSpan(rows), {101, 1}, DType::kF64),
      Tensor::FromData(absl::MakeConstSpan(labels), {101}));
  ASSERT_TRUE(data.ok()) << data.status();
  nn::BatchOptions options;
  options.batch_size = 8;
  options.seed = 17;
  nn::BatchIterator batches(*data, ShardOptions(g, options));
  std::vector<double> seen(101, 0.0);
  for (batches.Reset(); batches.Next();) {
    for (double label : batches.y().ToVector()) seen[static_cast<size_t>(label)] += 1;
  }
  ASSERT_TRUE(g.AllReduce(absl::MakeSpan(seen), Reduce::kSum, "row counts").ok());
  const int64_t padding = (101 + g.size() - 1) / g.size() * g.size() - 101;
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1.0), 101 - padding);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 2.0), padding);
}

// Whole steps (the backward's hooks start the buckets) allocate nothing.
TEST_F(Replica, AveragingAllocatesNothing) {
  const auto step = [&] {
    Backward();
    ASSERT_TRUE(ddp_->AverageGradients().ok());
  };
  step();
  const uint64_t before = testing::HeapAllocations();
  for (int i = 0; i < 5; ++i) step();
  EXPECT_EQ(testing::HeapAllocations() - before, 0u);
}

TEST(DataParallel, DifferentModelsAreAnErrorOnEveryRank) {
  ProcessGroup& g = World();
  if (g.size() == 1) GTEST_SKIP() << "needs two ranks";
  nn::Sequential model;
  BuildModel(model, 1, /*hidden=*/8 + g.rank());
  absl::StatusOr<std::unique_ptr<DataParallel>> ddp = DataParallel::Create(g, model);
  ASSERT_FALSE(ddp.ok());
  EXPECT_THAT(ddp.status().message(), HasSubstr("different models"));
}

// A rank that does not join makes the others' collective fail within the
// timeout (2 s); the late rank's own call then completes (at 3 s), while the
// others' groups wait out one more timeout for it before they are destroyed.
TEST(ProcessGroup, AMissingRankIsADeadlineNotAHang) {
  if (World().size() == 1) GTEST_SKIP() << "needs two ranks";
  ProcessGroupOptions options;
  options.timeout = std::chrono::seconds(2);
  absl::StatusOr<std::unique_ptr<ProcessGroup>> group = ProcessGroup::Mpi(options);
  ASSERT_TRUE(group.ok());
  ProcessGroup& g = **group;
  if (g.rank() == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));
    // The others' barriers are still posted, so this one completes.
    EXPECT_TRUE(g.Barrier().ok());
    return;
  }
  ExpectBarrierTimesOut(g, 2.0, 1.0);
}

// Run alone by mpi_test.sh, with TAPEGRAD_DIST_TEST_EXIT set to how rank 1 dies
// while the others wait in a barrier:
//   "abort": a crash (an uncaught exception ends in abort). mpirun ends the job,
//     the others included, long before their 60 s timeout; the script checks.
//   "exit": exit(3) with the group still open, which MPI cannot tell from a slow
//     rank: the others' barrier fails with DeadlineExceeded at their 3 s
//     timeout, and they exit; mpirun then ends the job (the script checks).
TEST(ProcessGroup, ARankThatDiesEndsTheJob) {
  const char* how = std::getenv("TAPEGRAD_DIST_TEST_EXIT");
  if (how == nullptr) GTEST_SKIP() << "run by mpi_test.sh on its own";
  ASSERT_GT(World().size(), 1);
  const bool crash = std::strcmp(how, "abort") == 0;
  ProcessGroupOptions options;
  options.timeout = std::chrono::seconds(crash ? 60 : 3);
  absl::StatusOr<std::unique_ptr<ProcessGroup>> group = ProcessGroup::Mpi(options);
  ASSERT_TRUE(group.ok());
  if ((*group)->rank() == 1) {
    if (crash) std::abort();
    std::exit(3);
  }
  const absl::Status s = (*group)->Barrier();
  EXPECT_FALSE(crash) << "rank " << (*group)->rank() << " outlived a crashed rank: " << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(s.message(), HasSubstr("barrier on rank"));
}

}  // namespace
}  // namespace tapegrad::dist
