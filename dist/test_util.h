// What dist_test and nccl_test share: the job's MPI group, a small model, and
// the check that data-parallel training on the ranks equals one process.
// Test-only.
#ifndef TAPEGRAD_DIST_TEST_UTIL_H_
#define TAPEGRAD_DIST_TEST_UTIL_H_

#include <cstdint>

#include "core/device.h"
#include "dist/process_group.h"
#include "nn/sequential.h"

namespace tapegrad::testing {

using dist::ProcessGroup;

// The job's MPI group (MPI_COMM_WORLD), made on first use; aborts if it cannot be.
ProcessGroup& World();

// Linear(4, hidden), ReLU, Linear(hidden, 3) in f64, initialised from `seed`.
void BuildModel(nn::Sequential& model, uint64_t seed, int64_t hidden = 8);

// Six SGD steps (momentum) with `group` on `device` (its device), with and
// without overlap, each rank on its shard of a global batch: the parameters
// equal single-process training on the whole batch on the CPU to 1e-6, and are
// bitwise equal across ranks.
void ExpectDataParallelEqualsOneProcess(ProcessGroup& group);

// On a rank whose peers stay out of it, group.Barrier() fails with
// DeadlineExceeded naming the barrier and the rank, no sooner than
// `timeout_seconds` and within `slack_seconds` after; the group then refuses an
// allreduce (FailedPrecondition).
void ExpectBarrierTimesOut(ProcessGroup& group, double timeout_seconds,
                           double slack_seconds);

}  // namespace tapegrad::testing

#endif  // TAPEGRAD_DIST_TEST_UTIL_H_
