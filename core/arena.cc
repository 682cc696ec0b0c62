#include "core/arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>
#include <utility>

#include "absl/base/config.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace tapegrad {
namespace {

// Note [Mapped chunks]: chunks are anonymous mappings of their own, not malloc's.
// From malloc, a chunk of a process that has freed an earlier arena's chunks
// comes from glibc's heap, whose freed pages stay resident, so the chunk counts
// in full towards RSS whether or not it is used (a benchmark's 10^6-step tape
// peaked at 26.4 bytes/op against its own 22.6). A mapping counts only the pages
// written, and unmapping returns them. Chunks are 1 MiB and up, so a mapping's
// page granularity costs nothing. Under AddressSanitizer chunks stay on
// operator new, whose redzones catch a write past a chunk's end.
char* NewChunk(size_t size) {
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
  return static_cast<char*>(
      ::operator new(size, std::align_val_t(Arena::kMaxAlign), std::nothrow));
#else
  void* p =
      mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
#endif
}

void DeleteChunk(char* data, size_t size) {
#ifdef ABSL_HAVE_ADDRESS_SANITIZER
  ::operator delete(data, std::align_val_t(Arena::kMaxAlign));
#else
  munmap(data, size);
#endif
}

}  // namespace

Arena::Arena(ArenaOptions options)
    : options_(options),
      next_chunk_bytes_(std::max<size_t>(options.initial_chunk_bytes, kMaxAlign)) {
  options_.max_chunk_bytes = std::max(options_.max_chunk_bytes, next_chunk_bytes_);
}

Arena::~Arena() { Release(); }

void Arena::Release() {
  for (const Chunk& chunk : chunks_) DeleteChunk(chunk.data, chunk.size);
  chunks_.clear();
  current_ = 0;
  ptr_ = limit_ = nullptr;
  used_before_current_ = 0;
  bytes_reserved_ = 0;
  next_chunk_bytes_ = std::max<size_t>(options_.initial_chunk_bytes, kMaxAlign);
}

absl::StatusOr<void*> Arena::Allocate(size_t bytes, size_t align) {
  void* p = AllocateOrNull(bytes, align);
  if (ABSL_PREDICT_FALSE(p == nullptr)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "arena: cannot allocate %d bytes (aligned to %d): %d bytes reserved, %d in use, "
        "byte limit %d",
        bytes, align, bytes_reserved_, BytesUsed(), options_.byte_limit));
  }
  return p;
}

void* Arena::AllocateSlow(size_t bytes, size_t align) {
  TG_CHECK(align != 0 && (align & (align - 1)) == 0 && align <= kMaxAlign);
  const size_t next = chunks_.empty() ? 0 : current_ + 1;
  high_water_ = std::max(high_water_, BytesUsed());
  if (!PrepareNextChunk(bytes, align)) return nullptr;
  // The tail of the chunk being left counts as used: a bump allocator cannot
  // return to it before a Rewind.
  if (next > 0) used_before_current_ += chunks_[current_].size;
  EnterChunk(next);
  const uintptr_t aligned =
      (reinterpret_cast<uintptr_t>(ptr_) + align - 1) & ~(align - 1);
  ptr_ = reinterpret_cast<char*>(aligned + bytes);
  return reinterpret_cast<void*>(aligned);
}

bool Arena::PrepareNextChunk(size_t bytes, size_t align) {
  const size_t need = bytes + align;  // room for the request at any alignment
  const size_t next = chunks_.empty() ? 0 : current_ + 1;
  // Chunks after the current one are free: reuse one that is large enough.
  for (size_t i = next; i < chunks_.size(); ++i) {
    if (chunks_[i].size >= need) {
      std::swap(chunks_[i], chunks_[next]);
      return true;
    }
  }
  size_t size = std::max(next_chunk_bytes_, need);
  if (options_.byte_limit != 0) {
    if (bytes_reserved_ + need > options_.byte_limit) return false;
    size = std::min(size, options_.byte_limit - bytes_reserved_);
  }
  // Out of memory is the caller's ResourceExhausted, as a byte limit is.
  char* const data = NewChunk(size);
  if (data == nullptr) return false;
  chunks_.insert(chunks_.begin() + static_cast<ptrdiff_t>(next), Chunk{data, size});
  bytes_reserved_ += size;
  next_chunk_bytes_ = std::min(next_chunk_bytes_ * 2, options_.max_chunk_bytes);
  return true;
}

void Arena::EnterChunk(size_t index) {
  current_ = index;
  ptr_ = chunks_[index].data;
  limit_ = ptr_ + chunks_[index].size;
}

void Arena::Rewind(const Mark& mark) {
  high_water_ = std::max(high_water_, BytesUsed());
  if (chunks_.empty()) return;
  TG_CHECK(mark.chunk < chunks_.size() && mark.offset <= chunks_[mark.chunk].size);
  // Recompute the bytes used before the mark's chunk; O(chunks), and chunks are
  // few (they double in size), so this is effectively constant.
  if (mark.chunk != current_) {
    used_before_current_ = 0;
    for (size_t i = 0; i < mark.chunk; ++i) {
      used_before_current_ += chunks_[i].size;
    }
  }
  EnterChunk(mark.chunk);
  ptr_ += mark.offset;
}

size_t Arena::BytesUsed() const {
  if (chunks_.empty()) return 0;
  return used_before_current_ + static_cast<size_t>(ptr_ - chunk_begin());
}

ArenaStats Arena::Stats() const {
  high_water_ = std::max(high_water_, BytesUsed());
  return ArenaStats{BytesUsed(), bytes_reserved_, chunks_.size(), high_water_};
}

}  // namespace tapegrad
