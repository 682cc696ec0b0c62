// A simulated CUDA stream: a thread that runs the work queued on it in order.
// Work on two streams runs concurrently, as on a GPU, so that a missing event or
// synchronisation between them can show.
//
//   Stream* s = new Stream;                 // cudaStreamCreateWithFlags
//   s->Enqueue([=] { std::memcpy(d, h, n); });
//   s->Drain();                             // cudaStreamSynchronize
//   delete s;                               // runs what is queued, then stops
//
// Thread safety: any thread may enqueue and drain; DrainAll waits for every
// stream that exists.
#ifndef TAPEGRAD_KERNELS_CUDA_SIM_STREAMS_H_
#define TAPEGRAD_KERNELS_CUDA_SIM_STREAMS_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace tapegrad::cuda::sim {

class Stream {
 public:
  Stream();
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void Enqueue(std::function<void()> work);
  // Returns once everything queued before the call has run.
  void Drain();
  static void DrainAll();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> queue_;
  uint64_t queued_ = 0, done_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace tapegrad::cuda::sim

#endif  // TAPEGRAD_KERNELS_CUDA_SIM_STREAMS_H_
