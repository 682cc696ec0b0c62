#include "dist/test_util.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dist/data_parallel.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nn/activation.h"
#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optimizer.h"
#include "tapegrad.h"

namespace tapegrad::testing {
namespace {

using dist::DataParallel;
using dist::DataParallelOptions;

// One SGD step on rows [begin, end) of (x, y) (on x's device): mean
// cross-entropy, backward, optionally averaged over ranks, update.
void Step(nn::Sequential& model, nn::Sgd& sgd, DataParallel* ddp, const Tensor& x,
          const std::vector<int64_t>& y, int64_t begin, int64_t end) {
  Tape tape;
  TapeScope scope(&tape);
  const std::vector<int64_t> labels(y.begin() + begin, y.begin() + end);
  const Tensor loss = CrossEntropy(
      model(x.Slice(0, begin, end)),
      Tensor::FromData(absl::MakeConstSpan(labels), {end - begin}).To(x.device()));
  sgd.ZeroGrad();
  ASSERT_TRUE(loss.Backward().ok()) << loss.status();
  if (ddp != nullptr) {
    // Every parameter is reached, so with overlap the backward started every
    // bucket; without, none.
    const bool overlap = ddp->group().size() > 1 && ddp->options().overlap;
    EXPECT_EQ(ddp->buckets_started_in_backward(), overlap ? ddp->buckets() : 0);
    ASSERT_TRUE(ddp->AverageGradients().ok());
  }
  ASSERT_TRUE(sgd.Step().ok());
}

}  // namespace

ProcessGroup& World() {
  static ProcessGroup* group = [] {
    absl::StatusOr<std::unique_ptr<ProcessGroup>> made = ProcessGroup::Mpi();
    if (!made.ok()) {
      ADD_FAILURE() << made.status();
      std::abort();
    }
    return made->release();
  }();
  return *group;
}

void BuildModel(nn::Sequential& model, uint64_t seed, int64_t hidden) {
  Random rng(seed);
  model.Emplace<nn::Linear>(4, hidden, rng, /*bias=*/true, DType::kF64);
  model.Emplace<nn::ReLU>();
  model.Emplace<nn::Linear>(hidden, 3, rng, /*bias=*/true, DType::kF64);
}

void ExpectDataParallelEqualsOneProcess(ProcessGroup& g) {
  const int64_t shard = 5, global = shard * g.size();
  Random data(11);  // the same global batch on every rank
  const Tensor x = Tensor::Randn({global, 4}, data, DType::kF64);
  const Tensor x_here = x.To(g.device());
  std::vector<int64_t> y(global);
  for (int64_t i = 0; i < global; ++i) y[i] = i % 3;

  for (bool overlap : {true, false}) {
    nn::Sequential model, reference;
    BuildModel(model, 100 + g.rank());  // different on every rank until Create
    BuildModel(reference, 100);         // rank 0's initialisation
    ASSERT_TRUE(model.To(g.device()).ok());
    SgdOptions o;
    o.lr = 0.5;
    o.momentum = 0.9;
    DataParallelOptions options;
    options.bucket_bytes = 100;  // several buckets
    options.overlap = overlap;
    absl::StatusOr<std::unique_ptr<DataParallel>> ddp =
        DataParallel::Create(g, model, options);
    ASSERT_TRUE(ddp.ok()) << ddp.status();
    EXPECT_GT((*ddp)->buckets(), 2);
    nn::Sgd sgd(model.parameters(), o), reference_sgd(reference.parameters(), o);
    for (int k = 0; k < 6; ++k) {
      Step(model, sgd, ddp->get(), x_here, y, g.rank() * shard, (g.rank() + 1) * shard);
      Step(reference, reference_sgd, nullptr, x, y, 0, global);
    }
    const std::vector<Tensor> ours = model.parameters(), theirs = reference.parameters();
    ASSERT_EQ(ours.size(), theirs.size());
    uint64_t bits = 1469598103934665603ull;
    for (size_t i = 0; i < ours.size(); ++i) {
      const std::vector<double> a = ours[i].ToVector(), b = theirs[i].ToVector();
      for (size_t j = 0; j < a.size(); ++j) {
        EXPECT_NEAR(a[j], b[j], 1e-6) << "parameter " << i << " element " << j;
        uint64_t word;
        std::memcpy(&word, &a[j], sizeof(word));
        bits = (bits ^ word) * 1099511628211ull;
      }
    }
    absl::StatusOr<bool> identical = g.AllAgree(bits, "the parameters' bits");
    ASSERT_TRUE(identical.ok());
    EXPECT_TRUE(*identical) << "the replicas differ";
  }
}

void ExpectBarrierTimesOut(ProcessGroup& g, double timeout_seconds,
                           double slack_seconds) {
  const auto start = std::chrono::steady_clock::now();
  const absl::Status s = g.Barrier();
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(s.message(),
              ::testing::HasSubstr(absl::StrCat("barrier on rank ", g.rank())));
  EXPECT_GE(waited, timeout_seconds);
  EXPECT_LT(waited, timeout_seconds + slack_seconds);
  Tensor t = Tensor::Zeros({1}, DType::kF32, g.device());
  EXPECT_EQ(g.AllReduce(t, dist::Reduce::kSum).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace tapegrad::testing
