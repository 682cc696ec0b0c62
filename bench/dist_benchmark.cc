// Data-parallel training costs, under mpirun, in one table printed by rank 0:
//  - allreduce (mean, f32, in place) through ProcessGroup against MPI_Allreduce
//    called directly on the same bytes, from 4 KB to 16 MB: the group's
//    bandwidth as a fraction of raw MPI's (target: at least 0.9);
//  - the 784-256-256-10 MLP's Adam step at a global batch of 256, split over the
//    ranks (one thread each): forward and backward, gradient averaging, and the
//    whole step, medians over steps, with the allreduce after the backward
//    (serial) and started during it (overlapped); compute time is what
//    docs/distributed.md's cost model takes.
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
#include <cstdlib>
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

// Seconds of one call of `fn`, started together on every rank (a barrier first)
// and timed to the slowest rank.
template <class Fn>
double TimedOnce(Fn fn) {
  MPI_Barrier(MPI_COMM_WORLD);
  const Clock::time_point start = Clock::now();
  fn();
  double mine = Seconds(start), slowest = 0;
  MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return slowest;
}

// The group's allreduce against MPI_Allreduce of the same bytes, the two
// alternated call by call so that both see the same phases of the host.
void AllReduceTable(dist::ProcessGroup& group) {
  constexpr int kReps = 41;
  if (group.rank() == 0) {
    std::printf("allreduce, mean of f32 over %d ranks (medians of %d, alternated)\n",
                group.size(), kReps);
    std::printf("%10s %14s %14s %8s\n", "bytes", "group GB/s", "MPI GB/s", "ratio");
  }
  for (int64_t bytes = 4 << 10; bytes <= (16 << 20); bytes *= 4) {
    std::vector<float> data(static_cast<size_t>(bytes / 4), 1.0f);
    std::vector<double> ours, raw;
    for (int i = 0; i < kReps; ++i) {
      ours.push_back(TimedOnce([&] {
        (void)group.AllReduce(absl::MakeSpan(data), dist::Reduce::kMean, "bench");
      }));
      raw.push_back(TimedOnce([&] {
        MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(data.size()), MPI_FLOAT,
                      MPI_SUM, MPI_COMM_WORLD);
        const float scale = 1.0f / static_cast<float>(group.size());
        for (float& v : data) v *= scale;  // the mean, as the group computes it
      }));
    }
    const double a = Median(ours), b = Median(raw);
    if (group.rank() == 0) {
      std::printf("%10lld %14.3f %14.3f %8.2f\n", static_cast<long long>(bytes),
                  bytes / a / 1e9, bytes / b / 1e9, b / a);
    }
  }
}

struct StepTimes {
  double compute, average, step;  // medians, seconds
  int started_in_backward, buckets;
};

// 200 timed Adam steps (after 30 of warm-up) of `model` on this rank's share of a
// global batch of 256, its gradients averaged by a DataParallel with `options`.
StepTimes RunSteps(dist::ProcessGroup& group, nn::Module& model,
                   dist::DataParallelOptions options) {
  constexpr int64_t kGlobalBatch = 256;
  const int64_t batch = kGlobalBatch / group.size();
  auto ddp = dist::DataParallel::Create(group, model, options);
  if (!ddp.ok()) {
    std::fprintf(stderr, "%s\n", ddp.status().ToString().c_str());
    std::exit(1);
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
  StepTimes times{};
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
    times.started_in_backward = (*ddp)->buckets_started_in_backward();
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
  times.compute = Median(compute);
  times.average = Median(average);
  times.step = Median(step);
  times.buckets = (*ddp)->buckets();
  return times;
}

void StepTable(dist::ProcessGroup& group) {
  Random rng(0);
  nn::MLP model(784, {256, 256, 10}, rng);
  // Without overlap, one bucket (the default 25 MB holds all 1.07 MB); with it,
  // buckets of 256 KB, the later layers' started while the sweep reaches the first.
  dist::DataParallelOptions serial;
  serial.overlap = false;
  dist::DataParallelOptions overlapped;
  overlapped.bucket_bytes = 256 << 10;
  const StepTimes a = RunSteps(group, model, serial);
  const StepTimes b = RunSteps(group, model, overlapped);
  if (group.rank() != 0) return;
  std::printf("\nMLP 784-256-256-10, Adam, global batch 256 = %d x %d (median of 200)\n",
              group.size(), 256 / group.size());
  std::printf("%-34s %12s %12s\n", "", "serial", "overlapped");
  std::printf("%-34s %9d/%-2d %9d/%-2d\n", "buckets started in backward",
              a.started_in_backward, a.buckets, b.started_in_backward, b.buckets);
  std::printf("%-34s %12.1f %12.1f\n", "forward+backward, us", 1e6 * a.compute,
              1e6 * b.compute);
  std::printf("%-34s %12.1f %12.1f\n", "AverageGradients (exposed), us", 1e6 * a.average,
              1e6 * b.average);
  std::printf("%-34s %12.1f %12.1f\n", "whole step, us", 1e6 * a.step, 1e6 * b.step);
  if (group.size() > 1) {
    // The share of the serial averaging that the overlapped step no longer waits
    // for after its backward.
    std::printf("allreduce hidden behind backward: %.0f%%\n",
                100 * (1 - b.average / a.average));
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
