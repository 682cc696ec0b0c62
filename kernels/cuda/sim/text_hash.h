// FNV-1a over a kernel module's text: stable across processes and builds (absl's
// hash is not), so that the simulator can tell that the source NVRTC is given is
// the text compiled into it at build time.
//
//   uint64_t h = tapegrad::cuda::sim::TextHash(source.code);
//
// Thread safety: a pure function.
#ifndef TAPEGRAD_KERNELS_CUDA_SIM_TEXT_HASH_H_
#define TAPEGRAD_KERNELS_CUDA_SIM_TEXT_HASH_H_

#include <cstdint>
#include <string_view>

namespace tapegrad::cuda::sim {

inline uint64_t TextHash(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace tapegrad::cuda::sim

#endif  // TAPEGRAD_KERNELS_CUDA_SIM_TEXT_HASH_H_
