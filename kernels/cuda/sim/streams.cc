#include "kernels/cuda/sim/streams.h"

#include <unordered_set>
#include <utility>
#include <vector>

namespace tapegrad::cuda::sim {
namespace {

std::mutex all_mu;
std::unordered_set<Stream*>& All() {
  static auto* all = new std::unordered_set<Stream*>;
  return *all;
}

}  // namespace

Stream::Stream() : worker_([this] { Run(); }) {
  std::lock_guard<std::mutex> lock(all_mu);
  All().insert(this);
}

Stream::~Stream() {
  {
    std::lock_guard<std::mutex> lock(all_mu);
    All().erase(this);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

void Stream::Enqueue(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(work));
    ++queued_;
  }
  changed_.notify_all();
}

void Stream::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = queued_;
  changed_.wait(lock, [&] { return done_ >= target; });
}

void Stream::DrainAll() {
  std::vector<Stream*> streams;
  {
    std::lock_guard<std::mutex> lock(all_mu);
    streams.assign(All().begin(), All().end());
  }
  // A stream destroyed meanwhile has run its work: its destructor joined.
  for (Stream* s : streams) {
    std::lock_guard<std::mutex> lock(all_mu);
    if (All().count(s)) s->Drain();
  }
}

void Stream::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work();
    lock.lock();
    ++done_;
    changed_.notify_all();
  }
}

}  // namespace tapegrad::cuda::sim
