#include "kernels/cpu/parallel.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

// libgomp's entry for a parallel region, what GCC compiles `#pragma omp parallel`
// to: the calling thread and a team of num_threads - 1 others run fn(data). Called
// by name, so that code built by clang (whose own OpenMP runtime is another
// library) still runs on the libgomp team that Debian's oneDNN uses.
extern "C" void GOMP_parallel(void (*fn)(void*), void* data, unsigned num_threads,
                              unsigned flags);

namespace tapegrad::cpu {
namespace {

// Note [One team]: a job runs on the calling thread's OpenMP team, the team that
// oneDNN's primitives and sgemm run on (Debian builds libdnnl on libgomp). With a
// pool of its own beside that team, a job could start while the team's threads
// still spin after a oneDNN call (libgomp spins before it sleeps): two runnable
// threads per core. On the CNN and MLP training steps (2 cores, Intel Xeon) the two
// designs measured within noise of each other; one team is kept because it cannot
// oversubscribe. Under ThreadSanitizer, which cannot see libgomp's
// synchronisation, jobs run on std::threads instead (below), so the kernels'
// shares are still checked for races.
//
// Those workers sleep on `wake` until `job_id` changes, run their share of the job
// and count down `pending`; the caller runs share 0 and waits for the count to
// reach 0.
class Pool {
 public:
  static Pool& Get() {
    static auto* pool = new Pool;  // never destroyed: workers may outlive main
    return *pool;
  }

  int threads() const { return threads_.load(std::memory_order_relaxed); }
  void set_threads(int n) { threads_.store(std::max(1, n), std::memory_order_relaxed); }

  void Run(int64_t n, int64_t grain, absl::FunctionRef<void(int64_t, int64_t)> fn) {
    const int64_t max_shares = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
    const int shares = static_cast<int>(std::min<int64_t>(threads(), max_shares));
    if (shares <= 1 || !Hold()) {
      fn(0, n);
      return;
    }
#ifdef __SANITIZE_THREAD__
    RunOnWorkers(n, shares, fn);
#else
    RunOnTeam(n, shares, fn);
#endif
    Release();
  }

  bool Hold() { return !held_.exchange(true, std::memory_order_acquire); }
  void Release() { held_.store(false, std::memory_order_release); }

 private:
  Pool()
      : threads_(static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {}

  void RunOnWorkers(int64_t n, int shares, absl::FunctionRef<void(int64_t, int64_t)> fn) {
    EnsureWorkers(shares - 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      n_ = n;
      shares_ = shares;
      pending_ = shares - 1;
      ++job_id_;
    }
    wake_.notify_all();
    RunShare(fn, n, shares, 0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return pending_ == 0; });
    fn_ = nullptr;
  }

  // A job for the team: each member runs the shares numbered like it, so that a
  // smaller team than asked for (OpenMP may give one) still covers all of them.
  struct TeamJob {
    absl::FunctionRef<void(int64_t, int64_t)>* fn;
    int64_t n;
    int shares;
  };
  static void RunTeamShares(void* data) {
    const TeamJob& job = *static_cast<const TeamJob*>(data);
    for (int share = omp_get_thread_num(); share < job.shares;
         share += omp_get_num_threads()) {
      RunShare(*job.fn, job.n, job.shares, share);
    }
  }
  static void RunOnTeam(int64_t n, int shares,
                        absl::FunctionRef<void(int64_t, int64_t)> fn) {
    TeamJob job{&fn, n, shares};
    GOMP_parallel(&RunTeamShares, &job, static_cast<unsigned>(shares), 0);
  }

  static void RunShare(absl::FunctionRef<void(int64_t, int64_t)> fn, int64_t n,
                       int shares, int share) {
    // Near-equal shares without forming n * share, which could overflow.
    const int64_t base = n / shares, extra = n % shares;
    const int64_t begin = base * share + std::min<int64_t>(share, extra);
    const int64_t end = begin + base + (share < extra ? 1 : 0);
    if (begin < end) fn(begin, end);
  }

  void EnsureWorkers(int count) {
    std::lock_guard<std::mutex> lock(mu_);
    while (static_cast<int>(workers_.size()) < count) {
      const int share = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, share] { WorkerLoop(share); });
      workers_.back().detach();
    }
  }

  void WorkerLoop(int share) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return job_id_ != seen; });
      seen = job_id_;
      if (share >= shares_) continue;  // this job needs fewer workers
      const auto* fn = fn_;
      const int64_t n = n_;
      const int shares = shares_;
      lock.unlock();
      RunShare(*fn, n, shares, share);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::atomic<int> threads_;
  std::atomic<bool> held_{false};  // a job (or a oneDNN call) has the threads
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const absl::FunctionRef<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int shares_ = 0;
  int pending_ = 0;
  uint64_t job_id_ = 0;
};

}  // namespace

int NumThreads() { return Pool::Get().threads(); }
bool HoldThreads() { return Pool::Get().Hold(); }
void ReleaseThreads() { Pool::Get().Release(); }
void SetNumThreads(int threads) {
  Pool::Get().set_threads(threads);
  openblas_set_num_threads(std::max(1, threads));  // matrix products follow suit
}

void ParallelFor(int64_t n, int64_t grain,
                 absl::FunctionRef<void(int64_t begin, int64_t end)> fn) {
  if (n <= 0) return;
  if (n < 2 * grain) {
    fn(0, n);
    return;
  }
  Pool::Get().Run(n, grain, fn);
}

}  // namespace tapegrad::cpu
