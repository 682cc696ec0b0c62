#include "kernels/cuda/sim/block_scheduler.h"

#include <sys/mman.h>

#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

namespace tapegrad::cuda::sim {

thread_local ThreadState current_thread;

namespace {

namespace ctx = boost::context;

// Kernel code is shallow: no recursion, a few locals. Stacks are reused by the
// next block on this thread rather than mapped per fiber.
constexpr size_t kStackBytes = size_t{64} << 10;

class StackPool {
 public:
  ~StackPool() {
    for (void* s : free_) munmap(s, kStackBytes);
  }
  ctx::stack_context allocate() {
    void* base;
    if (!free_.empty()) {
      base = free_.back();
      free_.pop_back();
    } else {
      base = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (base == MAP_FAILED) std::abort();
    }
    ctx::stack_context sc;
    sc.size = kStackBytes;
    sc.sp = static_cast<char*>(base) + kStackBytes;
    return sc;
  }
  void deallocate(ctx::stack_context& sc) {
    free_.push_back(static_cast<char*>(sc.sp) - sc.size);
  }

 private:
  std::vector<void*> free_;
};

thread_local StackPool stacks;

// The stack allocator Boost.Context is given: this thread's pool.
struct PooledStack {
  ctx::stack_context allocate() { return stacks.allocate(); }
  void deallocate(ctx::stack_context& sc) { stacks.deallocate(sc); }
};

struct SimThread {
  Dim idx;
  ctx::fiber fiber;
  ctx::fiber* back = nullptr;  // into the scheduler, from inside the fiber
  bool done = false;
};

// The running fiber's way back to the scheduler, for SyncThreads.
thread_local ctx::fiber* to_scheduler = nullptr;

std::vector<Dim> ThreadsOf(Dim block) {
  std::vector<Dim> threads;
  threads.reserve(size_t{block.x} * block.y * block.z);
  for (unsigned z = 0; z < block.z; ++z) {
    for (unsigned y = 0; y < block.y; ++y) {
      for (unsigned x = 0; x < block.x; ++x) threads.push_back(Dim{x, y, z});
    }
  }
  return threads;
}

void RunBlockAsFibers(const Entry& entry, const std::vector<Dim>& thread_ids,
                      const void* args) {
  std::vector<SimThread> threads(thread_ids.size());
  for (size_t i = 0; i < threads.size(); ++i) {
    SimThread& t = threads[i];
    t.idx = thread_ids[i];
    t.fiber = ctx::fiber(std::allocator_arg, PooledStack(),
                         [&t, &entry, args](ctx::fiber&& back) {
                           t.back = &back;
                           to_scheduler = &back;
                           entry.invoke(args);
                           t.done = true;
                           return std::move(back);
                         });
  }
  // Each pass resumes every live thread once: it runs to its next barrier or
  // returns. When a pass ends, every live thread waits at the barrier.
  for (bool live = true; live;) {
    live = false;
    for (SimThread& t : threads) {
      if (t.done) continue;
      current_thread.thread_idx = t.idx;
      to_scheduler = t.back;
      t.fiber = std::move(t.fiber).resume();
      live |= !t.done;
    }
  }
  to_scheduler = nullptr;
}

// A kernel's __shared__ arrays are its function's statics: launches of one
// kernel on two streams take turns (striped over a few locks).
std::mutex& SharedMemoryLock(const Entry& entry) {
  static std::mutex locks[64];
  return locks[(reinterpret_cast<uintptr_t>(&entry) / sizeof(Entry)) % 64];
}

}  // namespace

void SyncThreads() {
  if (to_scheduler == nullptr)
    std::abort();  // a module without barriers said it had none
  ctx::fiber* back = to_scheduler;
  *back = std::move(*back).resume();
}

void RunGrid(const Entry& entry, Dim grid, Dim block, const void* args) {
  std::unique_lock<std::mutex> shared_memory(SharedMemoryLock(entry), std::defer_lock);
  if (entry.barriers) shared_memory.lock();
  const std::vector<Dim> thread_ids = ThreadsOf(block);
  current_thread.grid_dim = grid;
  current_thread.block_dim = block;
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) {
        current_thread.block_idx = Dim{x, y, z};
        if (entry.barriers) {
          RunBlockAsFibers(entry, thread_ids, args);
          continue;
        }
        for (const Dim& t : thread_ids) {
          current_thread.thread_idx = t;
          entry.invoke(args);
        }
      }
    }
  }
}

}  // namespace tapegrad::cuda::sim
