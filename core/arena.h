// A bump allocator over a list of large, growing chunks, with O(1) mark/rewind.
//
// The tape keeps its records (and, later, step-local tensor data) here, so that
// dropping a whole training step is one Rewind and a steady-state step touches
// only memory it has touched before: no heap allocation at all.
//
//   tapegrad::Arena arena;                     // 1 MiB first chunk, no limit
//   tapegrad::Arena::Mark mark = arena.GetMark();
//   double* xs = static_cast<double*>(arena.AllocateOrNull(64 * sizeof(double)));
//   ...                                        // use xs
//   arena.Rewind(mark);                        // frees xs; keeps the chunk
//
// Memory is never returned to the system before the destructor (or Release):
// chunks left behind by Rewind are reused, largest-enough first.
//
// Thread safety: none. An Arena is used by one thread at a time.
#ifndef TAPEGRAD_CORE_ARENA_H_
#define TAPEGRAD_CORE_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/statusor.h"

namespace tapegrad {

struct ArenaOptions {
  // Size of the first chunk; each new chunk doubles the last, up to the maximum.
  size_t initial_chunk_bytes = size_t{1} << 20;
  size_t max_chunk_bytes = size_t{64} << 20;
  // Upper bound on bytes reserved from the system (0: no limit). Reaching it makes
  // allocation fail with absl::ResourceExhaustedError; it never aborts.
  size_t byte_limit = 0;
};

// Figures an owner can report. "Used" counts bytes handed out (with alignment
// padding) since the last Reset; "reserved" counts the chunks held.
struct ArenaStats {
  size_t bytes_used = 0;
  size_t bytes_reserved = 0;
  size_t chunk_count = 0;
  size_t high_water_bytes = 0;  // largest bytes_used ever seen
};

class Arena {
 public:
  // The largest alignment Allocate accepts; chunks are aligned to it.
  static constexpr size_t kMaxAlign = 64;

  // A position in the arena. Rewinding to it frees everything allocated after it.
  struct Mark {
    size_t chunk = 0;   // index of the chunk in use when the mark was taken
    size_t offset = 0;  // bytes used in that chunk
  };

  explicit Arena(ArenaOptions options = {});
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Returns `bytes` of uninitialised memory aligned to `align` (a power of two, at
  // most kMaxAlign), or nullptr when the byte limit would be exceeded.
  void* AllocateOrNull(size_t bytes, size_t align = alignof(std::max_align_t)) {
    const uintptr_t aligned =
        (reinterpret_cast<uintptr_t>(ptr_) + align - 1) & ~(align - 1);
    if (ABSL_PREDICT_TRUE(aligned + bytes <= reinterpret_cast<uintptr_t>(limit_) &&
                          ptr_ != nullptr)) {
      ptr_ = reinterpret_cast<char*>(aligned + bytes);
      return reinterpret_cast<void*>(aligned);
    }
    return AllocateSlow(bytes, align);
  }

  // As AllocateOrNull, with a ResourceExhausted status that gives the request,
  // the bytes reserved and the limit when it fails.
  absl::StatusOr<void*> Allocate(size_t bytes, size_t align = alignof(std::max_align_t));

  Mark GetMark() const {
    return Mark{current_, static_cast<size_t>(ptr_ - chunk_begin())};
  }

  // Frees everything allocated after `mark` in O(1); chunks are kept for reuse.
  // The mark must come from this arena and not lie beyond the current position
  // (a mark taken after an earlier Rewind point is stale); the owner checks that.
  void Rewind(const Mark& mark);

  // Frees everything; keeps the chunks.
  void Reset() { Rewind(Mark{}); }

  // Frees everything and returns every chunk to the system.
  void Release();

  ArenaStats Stats() const;
  size_t byte_limit() const { return options_.byte_limit; }
  // Changes the limit for chunks reserved from now on (0: none).
  void set_byte_limit(size_t limit) { options_.byte_limit = limit; }

 private:
  struct Chunk {
    char* data;
    size_t size;
  };

  char* chunk_begin() const { return chunks_.empty() ? nullptr : chunks_[current_].data; }
  void* AllocateSlow(size_t bytes, size_t align);
  // Makes chunk `current_ + 1` one that can hold `bytes` at `align`; false when the
  // byte limit forbids a new chunk.
  bool PrepareNextChunk(size_t bytes, size_t align);
  void EnterChunk(size_t index);
  size_t BytesUsed() const;

  ArenaOptions options_;
  std::vector<Chunk> chunks_;  // [0, current_] in use, the rest free for reuse
  size_t current_ = 0;
  char* ptr_ = nullptr;             // next free byte in chunks_[current_]
  char* limit_ = nullptr;           // end of chunks_[current_]
  size_t used_before_current_ = 0;  // bytes used in chunks [0, current_)
  size_t bytes_reserved_ = 0;
  size_t next_chunk_bytes_;
  mutable size_t high_water_ = 0;
};

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_ARENA_H_
