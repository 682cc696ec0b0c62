// ParallelFor: splits a range over the CPU kernels' worker threads.
//
//   tapegrad::cpu::ParallelFor(n, /*grain=*/1 << 16, [&](int64_t begin, int64_t end) {
//     for (int64_t i = begin; i < end; ++i) out[i] = a[i] + b[i];
//   });
//
// Ranges shorter than two grains run on the calling thread, so small kernels pay
// nothing. A longer one is split over the calling thread's OpenMP team of
// NumThreads(), the team oneDNN's calls use too, so kernels and oneDNN never
// oversubscribe the cores (Note [One team] in parallel.cc). One job at a time
// holds the threads, process-wide: if another thread's job or oneDNN call holds
// them, the call runs inline instead of waiting, so many tapes on many threads
// never queue behind each other. Nothing is allocated through operator new.
//
// Thread safety: every function may be called from any thread.
#ifndef TAPEGRAD_KERNELS_CPU_PARALLEL_H_
#define TAPEGRAD_KERNELS_CPU_PARALLEL_H_

#include <cstdint>

#include "absl/functional/function_ref.h"

namespace tapegrad::cpu {

// Threads that kernels use: std::thread::hardware_concurrency() unless set.
int NumThreads();
// Sets the thread count (>= 1) for later calls; used by benchmarks to compare.
void SetNumThreads(int threads);

// Takes the threads for one parallel call (a ParallelFor job or a oneDNN
// primitive, kernels/cpu/onednn.h) if no other call holds them: true if taken,
// and then ReleaseThreads() gives them back. A call that cannot take them runs
// on its own thread.
bool HoldThreads();
void ReleaseThreads();

void ParallelFor(int64_t n, int64_t grain,
                 absl::FunctionRef<void(int64_t begin, int64_t end)> fn);

}  // namespace tapegrad::cpu

#endif  // TAPEGRAD_KERNELS_CPU_PARALLEL_H_
