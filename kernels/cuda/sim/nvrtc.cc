// NVRTC for the simulator: the real NVRTC compiles (so that a module that does
// not compile for the GPU fails here too, with NVRTC's log), and the CUBIN it
// hands out names the module compiled into the simulator instead (cubin.h).
// These definitions take the place of libnvrtc's for the program they are
// linked into; the real functions are found with dlsym(RTLD_NEXT).
#include <dlfcn.h>
#include <nvrtc.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/internal/stable_hash.h"
#include "kernels/cuda/sim/cubin.h"

namespace tapegrad::cuda::sim {
namespace {

template <class F>
F Real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) std::abort();  // libnvrtc is linked: this cannot fail
  return reinterpret_cast<F>(f);
}

struct Program {
  std::string module;  // "add_f32" for "add_f32.cu"
  uint64_t text_hash;
};

std::mutex mu;
std::unordered_map<nvrtcProgram, Program>& Programs() {
  static auto* programs = new std::unordered_map<nvrtcProgram, Program>;
  return *programs;
}

std::string CubinOf(nvrtcProgram program) {
  std::lock_guard<std::mutex> lock(mu);
  const Program& p = Programs().at(program);
  return CubinFor(p.module, p.text_hash);
}

}  // namespace
}  // namespace tapegrad::cuda::sim

namespace sim = tapegrad::cuda::sim;
using sim::Real;

extern "C" {

nvrtcResult nvrtcCreateProgram(nvrtcProgram* program, const char* src, const char* name,
                               int num_headers, const char* const* headers,
                               const char* const* include_names) {
  static const auto real = Real<decltype(&nvrtcCreateProgram)>("nvrtcCreateProgram");
  const nvrtcResult result =
      real(program, src, name, num_headers, headers, include_names);
  if (result == NVRTC_SUCCESS) {
    std::string module = name != nullptr ? name : "";
    if (module.size() > 3 && module.compare(module.size() - 3, 3, ".cu") == 0) {
      module.resize(module.size() - 3);
    }
    std::lock_guard<std::mutex> lock(sim::mu);
    sim::Programs()[*program] = {module, tapegrad::internal::StableHash(src)};
  }
  return result;
}

nvrtcResult nvrtcDestroyProgram(nvrtcProgram* program) {
  static const auto real = Real<decltype(&nvrtcDestroyProgram)>("nvrtcDestroyProgram");
  {
    std::lock_guard<std::mutex> lock(sim::mu);
    sim::Programs().erase(*program);
  }
  return real(program);
}

nvrtcResult nvrtcGetCUBINSize(nvrtcProgram program, size_t* size) {
  static const auto real = Real<decltype(&nvrtcGetCUBINSize)>("nvrtcGetCUBINSize");
  size_t real_size = 0;
  if (nvrtcResult r = real(program, &real_size); r != NVRTC_SUCCESS) return r;
  *size = sim::CubinOf(program).size();
  return NVRTC_SUCCESS;
}

nvrtcResult nvrtcGetCUBIN(nvrtcProgram program, char* cubin) {
  const std::string bytes = sim::CubinOf(program);
  std::memcpy(cubin, bytes.data(), bytes.size());
  return NVRTC_SUCCESS;
}

}  // extern "C"
