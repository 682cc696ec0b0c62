#include "core/arena.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tapegrad {
namespace {

TEST(Arena, AllocationsAreAligned) {
  Arena arena(ArenaOptions{.initial_chunk_bytes = 4096});
  for (size_t align : {1, 2, 4, 8, 16, 32, 64}) {
    for (int i = 0; i < 50; ++i) {
      void* p = arena.AllocateOrNull(static_cast<size_t>(i % 7 + 1), align);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u) << "align " << align;
    }
  }
}

TEST(Arena, GrowsAcrossChunksAndKeepsOldMemoryValid) {
  Arena arena(ArenaOptions{.initial_chunk_bytes = 1024});
  std::vector<int*> blocks;
  for (int i = 0; i < 200; ++i) {
    auto* p = static_cast<int*>(arena.AllocateOrNull(100 * sizeof(int), alignof(int)));
    ASSERT_NE(p, nullptr);
    for (int k = 0; k < 100; ++k) p[k] = i;
    blocks.push_back(p);
  }
  for (int i = 0; i < 200; ++i) EXPECT_EQ(blocks[i][99], i);
  EXPECT_GT(arena.Stats().chunk_count, 1u);
}

TEST(Arena, LargeRequestGetsItsOwnChunk) {
  Arena arena(ArenaOptions{.initial_chunk_bytes = 1024});
  void* p = arena.AllocateOrNull(1 << 20, 64);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 1 << 20);
  EXPECT_GE(arena.Stats().bytes_reserved, size_t{1} << 20);
}

TEST(Arena, RewindFreesAndReusesChunks) {
  Arena arena(ArenaOptions{.initial_chunk_bytes = 1024});
  void* first = arena.AllocateOrNull(16);
  const Arena::Mark mark = arena.GetMark();
  void* second = arena.AllocateOrNull(16);
  for (int i = 0; i < 100; ++i) arena.AllocateOrNull(512);
  const ArenaStats grown = arena.Stats();
  arena.Rewind(mark);
  EXPECT_EQ(arena.AllocateOrNull(16), second);  // same place again
  for (int i = 0; i < 100; ++i) arena.AllocateOrNull(512);
  const ArenaStats again = arena.Stats();
  EXPECT_EQ(again.bytes_reserved, grown.bytes_reserved);  // no new chunk
  EXPECT_EQ(again.chunk_count, grown.chunk_count);
  EXPECT_EQ(again.bytes_used, grown.bytes_used);
  arena.Reset();
  EXPECT_EQ(arena.Stats().bytes_used, 0u);
  EXPECT_EQ(arena.AllocateOrNull(16), first);
}

TEST(Arena, StatsTrackUseAndHighWater) {
  Arena arena(ArenaOptions{.initial_chunk_bytes = 4096});
  EXPECT_EQ(arena.Stats().bytes_used, 0u);
  const Arena::Mark mark = arena.GetMark();
  arena.AllocateOrNull(1000, 8);
  EXPECT_EQ(arena.Stats().bytes_used, 1000u);
  arena.Rewind(mark);
  const ArenaStats stats = arena.Stats();
  EXPECT_EQ(stats.bytes_used, 0u);
  EXPECT_EQ(stats.high_water_bytes, 1000u);
  EXPECT_EQ(stats.chunk_count, 1u);
  EXPECT_EQ(stats.bytes_reserved, 4096u);
}

TEST(Arena, ByteLimitIsAStatusNotACrash) {
  Arena arena(ArenaOptions{.initial_chunk_bytes = 1024, .byte_limit = 4096});
  int ok = 0;
  absl::StatusOr<void*> p;
  for (int i = 0; i < 100; ++i) {
    p = arena.Allocate(512);
    if (!p.ok()) break;
    ++ok;
  }
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(p.status().message()), ::testing::HasSubstr("byte limit 4096"));
  EXPECT_GE(ok, 4);
  EXPECT_LE(arena.Stats().bytes_reserved, 4096u);
  EXPECT_EQ(arena.AllocateOrNull(1 << 20), nullptr);
}

TEST(Arena, ReleaseReturnsEverything) {
  Arena arena;
  arena.AllocateOrNull(100);
  arena.Release();
  EXPECT_EQ(arena.Stats().bytes_reserved, 0u);
  EXPECT_NE(arena.AllocateOrNull(100), nullptr);
}

}  // namespace
}  // namespace tapegrad
