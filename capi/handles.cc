// Note [Handles outliving their tape]: a tape tensor's handle and a mark point into
// their tape. C callers (and Python's garbage collector) may destroy a tape while
// such handles live; using one afterwards must be an error, not a read of freed
// memory. So each tg_tape keeps the set of its tensor and mark handles, and
// tg_tape_destroy turns every tensor into an error tensor ("its tape was
// destroyed") and detaches every mark before the tape goes. Finding a tensor's
// tg_tape from its core Tape is a thread-local comparison when the tape is the
// current one (the common case) and a lookup in a registry of C ABI tapes
// otherwise. Tapes made in C++ (not by tg_tape_create) are not tracked: their
// handles must not outlive them, as in the C++ API.
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "capi/internal.h"

namespace tapegrad::capi {
namespace {

absl::Mutex registry_mutex;
absl::flat_hash_map<const Tape*, tg_tape*>& Registry()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(registry_mutex) {
  static auto* registry = new absl::flat_hash_map<const Tape*, tg_tape*>;
  return *registry;
}

tg_tape* OwnerOf(const Tape* tape) {
  if (tape == nullptr) return nullptr;
  if (tg_tape* current = tg_tape_current();
      current != nullptr && &current->tape == tape) {
    return current;
  }
  absl::MutexLock lock(&registry_mutex);
  auto it = Registry().find(tape);
  return it == Registry().end() ? nullptr : it->second;
}

}  // namespace

void RegisterTape(tg_tape* tape) {
  absl::MutexLock lock(&registry_mutex);
  Registry()[&tape->tape] = tape;
}

void UnregisterTape(tg_tape* tape) {
  {
    absl::MutexLock lock(&registry_mutex);
    Registry().erase(&tape->tape);
  }
  for (tg_tensor* t : tape->tensors) {
    t->tensor = Tensor::Error(absl::FailedPreconditionError(
        "stale tensor: the tape it was recorded on was destroyed"));
    t->tape = nullptr;
  }
  for (tg_mark* m : tape->marks) m->tape = nullptr;
  tape->tensors.clear();
  tape->marks.clear();
}

void TrackTensor(tg_tensor* t) {
  t->tape = OwnerOf(t->tensor.tape());
  if (t->tape != nullptr) t->tape->tensors.insert(t);
}

void UntrackTensor(tg_tensor* t) {
  if (t->tape != nullptr) t->tape->tensors.erase(t);
}

void TrackMark(tg_mark* mark) { mark->tape->marks.insert(mark); }

void UntrackMark(tg_mark* mark) {
  if (mark->tape != nullptr) mark->tape->marks.erase(mark);
}

}  // namespace tapegrad::capi
