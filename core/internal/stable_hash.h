// A 64-bit hash of text that is the same in every process and build (absl::Hash
// is seeded per process): for names of files that outlive a process (the NVRTC
// disk cache), values compared across processes (DataParallel's model
// fingerprint) and a kernel module's text checked against the one compiled in
// (the CUDA simulator). FNV-1a.
//
//   uint64_t h = tapegrad::internal::StableHash(source.code);
//   h = tapegrad::internal::StableHash("nvrtc 13.0", h);   // chained
//
// Thread safety: a pure function.
#ifndef TAPEGRAD_CORE_INTERNAL_STABLE_HASH_H_
#define TAPEGRAD_CORE_INTERNAL_STABLE_HASH_H_

#include <cstdint>
#include <string_view>

namespace tapegrad::internal {

inline constexpr uint64_t kStableHashSeed = 0xcbf29ce484222325ull;

inline uint64_t StableHash(std::string_view text, uint64_t h = kStableHashSeed) {
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace tapegrad::internal

#endif  // TAPEGRAD_CORE_INTERNAL_STABLE_HASH_H_
