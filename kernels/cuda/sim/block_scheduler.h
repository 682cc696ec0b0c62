// Runs one kernel launch of the CUDA simulator: every block of the grid in
// turn, every thread of a block. Threads of a module that never calls
// __syncthreads run one after another to completion; otherwise each runs as a
// fiber (Boost.Context) and __syncthreads suspends it until every thread of its
// block has reached the barrier or returned, which is the barrier's meaning on
// the device.
//
//   RunGrid(*entry, Dim{blocks, 1, 1}, Dim{256, 1, 1}, &args);   // on a stream's thread
//
// Thread safety: launches may run on several threads at once (one per stream);
// each keeps its own simulated-thread state.
#ifndef TAPEGRAD_KERNELS_CUDA_SIM_BLOCK_SCHEDULER_H_
#define TAPEGRAD_KERNELS_CUDA_SIM_BLOCK_SCHEDULER_H_

#include "kernels/cuda/sim/module_registry.h"

namespace tapegrad::cuda::sim {

struct Dim {
  unsigned x = 1, y = 1, z = 1;
};

// What threadIdx, blockIdx, blockDim and gridDim read in device code.
struct ThreadState {
  Dim thread_idx, block_idx, block_dim, grid_dim;
};
extern thread_local ThreadState current_thread;
inline ThreadState& CurrentThread() { return current_thread; }

// Device code's __syncthreads().
void SyncThreads();

void RunGrid(const Entry& entry, Dim grid, Dim block, const void* args);

}  // namespace tapegrad::cuda::sim

#endif  // TAPEGRAD_KERNELS_CUDA_SIM_BLOCK_SCHEDULER_H_
