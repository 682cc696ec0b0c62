// What the simulator's NVRTC hands out as a CUBIN: not machine code but the
// name of a module compiled into the simulator and the hash of the text it was
// compiled from, behind an ELF magic number (callers check it):
//
//   std::string cubin = CubinFor("add_f32", StableHash(source));   // nvrtc.cc
//   const Module* m = ModuleOfCubin(cubin.data());                // cudart.cc
//
// A real CUBIN (from a disk cache a GPU build wrote) is no module here: null, and
// the backend recompiles. So is a module whose text differs from the build's.
//
// Thread safety: pure functions over read-only modules.
#ifndef TAPEGRAD_KERNELS_CUDA_SIM_CUBIN_H_
#define TAPEGRAD_KERNELS_CUDA_SIM_CUBIN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/cuda/sim/module_registry.h"

namespace tapegrad::cuda::sim {

std::string CubinFor(std::string_view module, uint64_t text_hash);
const Module* ModuleOfCubin(const char* cubin);

}  // namespace tapegrad::cuda::sim

#endif  // TAPEGRAD_KERNELS_CUDA_SIM_CUBIN_H_
