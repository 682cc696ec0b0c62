// Data-parallel training costs, under mpirun, in one table printed by rank 0:
//  - allreduce (mean, f32, in place) through ProcessGroup against MPI_Allreduce
//    called directly on the same bytes, from 4 KB to 16 MB: the group's
//    bandwidth as a fraction of raw MPI's (target: at least 0.9);
//  - the 784-256-256-10 MLP's Adam step at a global batch of 256, split over the
//    ranks (one thread each): forward and backward, gradient averaging, and the
//    whole step, medians over steps; compute time is what docs/distributed.md's
//    cost model takes.
//
//   bazel build -c opt //bench:dist_benchmark
//   mpirun -np 1 bazel-bin/bench/dist_benchmark && mpirun -np 2
//   bazel-bin/bench/dist_benchmark
//
// (as root, mpirun wants --allow-run-as-root; --mca btl self,tcp on machines
// without shared-memory transport support.)
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include "dist/data_parallel.h"
#include "dist/process_group.h"
#include "kernels/cpu/parallel.h"
#include "nn/loss.h"
#include "nn/optimizer.h"
#include "nn/sequential.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median seconds of `fn` over `reps` calls, each started together on every rank
// (a barrier first) and timed to the slowest rank.
template <class Fn>
double Timed(int reps, Fn fn) {
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const Clock::time_point start = Clock::now();
    fn();
    double mine = Seconds(start), slowest = 0;
    MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    times.push_back(slowest);
  }
  return Median(times);
}

void AllReduceTable(dist::ProcessGroup& group) {
  if (group.rank() == 0) {
    std::printf("allreduce, mean of f32 over %d ranks (median of 20)\n", group.size());
    std::printf("%10s %14s %14s %8s\n", "bytes", "group GB/s", "MPI GB/s", "ratio");
  }
  for (int64_t bytes = 4 << 10; bytes <= (16 << 20); bytes *= 4) {
    std::vector<float> data(static_cast<size_t>(bytes / 4), 1.0f);
    const double ours = Timed(20, [&] {
      (void)group.AllReduce(absl::MakeSpan(data), dist::Reduce::kMean, "bench");
    });
    const double raw = Timed(20, [&] {
      MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(data.size()), MPI_FLOAT,
                    MPI_SUM, MPI_COMM_WORLD);
      const float scale = 1.0f / static_cast<float>(group.size());
      for (float& v : data) v *= scale;  // the mean, as the group computes it
    });
    if (group.rank() == 0) {
      std::printf("%10lld %14.3f %14.3f %8.2f\n", static_cast<long long>(bytes),
                  bytes / ours / 1e9, bytes / raw / 1e9, raw / ours);
    }
  }
}

void StepTable(dist::ProcessGroup& group) {
  constexpr int64_t kGlobalBatch = 256;
  const int64_t batch = kGlobalBatch / group.size();
  Random rng(0);
  nn::MLP model(784, {256, 256, 10}, rng);
  auto ddp = dist::DataParallel::Create(group, model);
  if (!ddp.ok()) {
    std::fprintf(stderr, "%s\n", ddp.status().ToString().c_str());
    return;
  }
  nn::Adam adam(model.parameters(), AdamOptions());
  Random data(1 + group.rank());
  const Tensor x = Tensor::Randn({batch, 784}, data);
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) labels[i] = i % 10;
  const Tensor y = Tensor::FromData(absl::MakeConstSpan(labels), {batch});
  Tape tape;
  const TapeMark mark = tape.Mark();
  std::vector<double> compute, average, step;
  for (int i = 0; i < 230; ++i) {
    MPI_Barrier(MPI_COMM_WORLD);
    const Clock::time_point start = Clock::now();
    {
      TapeScope scope(&tape);
      const Tensor loss = nn::CrossEntropyLoss(model(x), y);
      adam.ZeroGrad();
      (void)loss.Backward();
    }
    const double forward_backward = Seconds(start);
    const Clock::time_point averaging = Clock::now();
    (void)(*ddp)->AverageGradients();
    const double averaged = Seconds(averaging);
    (void)adam.Step();
    (void)tape.Rewind(mark);
    if (i >= 30) {  // after warm-up
      compute.push_back(forward_backward);
      average.push_back(averaged);
      step.push_back(Seconds(start));
    }
  }
  if (group.rank() == 0) {
    std::printf(
        "\nMLP 784-256-256-10, Adam, global batch %lld = %d x %lld (median of 200)\n",
        static_cast<long long>(kGlobalBatch), group.size(),
        static_cast<long long>(batch));
    std::printf("  forward+backward %8.1f us\n", 1e6 * Median(compute));
    std::printf("  gradient average %8.1f us (1.07 MB, not overlapped with backward)\n",
                1e6 * Median(average));
    std::printf("  whole step       %8.1f us\n", 1e6 * Median(step));
  }
}

}  // namespace
}  // namespace tapegrad

int main() {
  auto group = tapegrad::dist::ProcessGroup::Mpi();
  if (!group.ok()) {
    std::fprintf(stderr, "%s\n", group.status().ToString().c_str());
    return 1;
  }
  tapegrad::cpu::SetNumThreads(1);
  tapegrad::AllReduceTable(**group);
  tapegrad::StepTable(**group);
  return 0;
}
