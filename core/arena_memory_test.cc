// An arena's chunks count towards resident memory only for the pages written, and
// give them back when released (Note [Mapped chunks] in core/arena.cc), also in a
// process whose heap would hand a new chunk pages an earlier one left resident.
//
// Alone in its binary: it reads the process's resident set (/proc/self/statm) and
// steers glibc's heap. Not under AddressSanitizer, where chunks stay on operator new
// by design.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

#include "core/arena.h"
#include "gtest/gtest.h"

namespace tapegrad {
namespace {

constexpr size_t kChunk = size_t{16} << 20;

size_t ResidentBytes() {
  FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  unsigned long pages = 0, resident = 0;
  const int read = std::fscanf(statm, "%lu %lu", &pages, &resident);
  std::fclose(statm);
  return read == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// An arena of kChunk-byte chunks with its first chunk written through.
std::unique_ptr<Arena> FilledArena() {
  ArenaOptions options;
  options.initial_chunk_bytes = kChunk;
  auto arena = std::make_unique<Arena>(options);
  void* p = arena->AllocateOrNull(kChunk - Arena::kMaxAlign, 8);
  if (p != nullptr) std::memset(p, 1, kChunk - Arena::kMaxAlign);
  return arena;
}

TEST(ArenaMemory, ReleasedChunksLeaveAndFreshOnesCountOnlyWhatIsWritten) {
  // A first arena's freed 16 MiB chunk makes glibc serve blocks of that size from
  // its heap from then on (its mmap threshold adapts to freed mappings).
  FilledArena().reset();
  const size_t before = ResidentBytes();
  ASSERT_GT(before, 0u);
  std::unique_ptr<Arena> arena = FilledArena();
  // A small block above the chunk keeps a heap from trimming it when freed.
  auto above = std::make_unique<char[]>(4096);
  std::memset(above.get(), 1, 4096);
  EXPECT_GE(ResidentBytes(), before + kChunk / 2);
  arena.reset();
  EXPECT_LT(ResidentBytes(), before + kChunk / 4) << "a released chunk stayed resident";

  // A fresh arena that writes 1 KiB of its 16 MiB chunk.
  ArenaOptions options;
  options.initial_chunk_bytes = kChunk;
  Arena fresh(options);
  void* p = fresh.AllocateOrNull(1024, 8);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 1024);
  EXPECT_LT(ResidentBytes(), before + kChunk / 4)
      << "an unwritten chunk counts as resident";
}

}  // namespace
}  // namespace tapegrad
