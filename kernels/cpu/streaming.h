// Streaming (non-temporal) stores for elementwise outputs too large for the cache.
//
//   if (StreamsOutput(3 * n * sizeof(float))) {      // a, b and out together
//     StreamRows(out, begin, end, [&](int64_t i) { return a[i] + b[i]; });
//   }
//
// An elementwise op whose operands together exceed the last-level cache cannot
// leave its output there for the next op anyway. Written with ordinary stores,
// every output line is first read from memory (read-for-ownership) and then
// pushes the op's own inputs out of the cache. Streaming stores do neither: on the
// 2-core development machine a two-thread f32 add of 4M elements went from 77-79%
// to 106-112% of a two-thread memcpy's bandwidth, and of 16M elements from 104% to
// 135% (a standalone probe; bench/tensor_benchmark measures the kernels).
//
// Thread safety: functions of their arguments only; StreamRows may run on several
// threads at once on disjoint ranges.
#ifndef TAPEGRAD_KERNELS_CPU_STREAMING_H_
#define TAPEGRAD_KERNELS_CPU_STREAMING_H_

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace tapegrad::cpu {

// The cache one core can fill, as far as streaming is concerned: 32 MiB, the L3
// of one Zen core complex (Intel server parts share more, but give each core
// less). Not sysconf(_SC_LEVEL3_CACHE_SIZE): in VMs it reports the whole
// socket's sum (384 MiB on the development machine), which no core can use.
inline constexpr int64_t kCacheBytes = int64_t{32} << 20;

// True if an op that touches `footprint_bytes` of operands should stream its
// output.
inline bool StreamsOutput(int64_t footprint_bytes) {
  return footprint_bytes > kCacheBytes;
}

// Copies `bytes` (a multiple of 64) from `src` to 64-byte aligned `dst` with stores
// that bypass the cache. Weakly ordered: call StreamFence before others read dst.
inline void StreamStore(void* dst, const void* src, size_t bytes) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
#if defined(__AVX__)
  for (size_t off = 0; off < bytes; off += 32) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + off),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + off)));
  }
#elif defined(__SSE2__)
  for (size_t off = 0; off < bytes; off += 16) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + off),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + off)));
  }
#else
  std::memcpy(d, s, bytes);
#endif
}

// Orders the streaming stores before every later store (and the pool's hand-off).
inline void StreamFence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// out[i] = value(i) for i in [begin, end), streamed: results are computed into a
// small buffer that stays in L1 (so that `value` vectorises as in an ordinary
// loop) and copied out with StreamStore; the unaligned head and the tail use
// ordinary stores. `out` may alias the inputs `value` reads at the same index.
template <class T, class Value>
void StreamRows(T* out, int64_t begin, int64_t end, const Value& value) {
  constexpr int64_t kBlock = 2048 / static_cast<int64_t>(sizeof(T));
  alignas(64) T buffer[kBlock];
  int64_t i = begin;
  for (; i < end && reinterpret_cast<uintptr_t>(out + i) % 64 != 0; ++i)
    out[i] = value(i);
  for (; end - i >= kBlock; i += kBlock) {
    for (int64_t k = 0; k < kBlock; ++k) buffer[k] = value(i + k);
    StreamStore(out + i, buffer, sizeof(buffer));
  }
  for (; i < end; ++i) out[i] = value(i);
  StreamFence();
}

}  // namespace tapegrad::cpu

#endif  // TAPEGRAD_KERNELS_CPU_STREAMING_H_
