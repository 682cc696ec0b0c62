// The kernel modules compiled into the CUDA simulator: each module's text (the
// source NVRTC compiles) built as host C++ by //kernels/cuda/sim:modules, and
// registered under its name with its entries.
//
//   const Module* m = FindModule("add_f32");      // what cudaLibraryLoadData finds
//   const Entry* e = m->Find("tg_add");            // what cudaLibraryGetKernel finds
//   e->invoke(&args);                              // one thread of one block
//
// An entry calls its kernel with the kernel's one by-value argument struct, read
// from `args` (the launcher's copy, arg_size bytes). Entries of modules that call
// __syncthreads run each thread of a block as a fiber (block_scheduler.h).
//
// Thread safety: modules register during static initialisation; lookups are
// read-only afterwards.
#ifndef TAPEGRAD_KERNELS_CUDA_SIM_MODULE_REGISTRY_H_
#define TAPEGRAD_KERNELS_CUDA_SIM_MODULE_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tapegrad::cuda::sim {

struct Entry {
  const char* name;
  void (*invoke)(const void* args);
  size_t arg_size;
  bool barriers;  // its module calls __syncthreads
};

struct Module {
  const char* name;
  uint64_t text_hash;  // StableHash of the module's source
  const Entry* entries;
  size_t num_entries;
  const Entry* Find(std::string_view entry) const;
};

// Called by each generated module at static initialisation; true.
bool RegisterModule(const Module& module);
// The module registered as `name`, or null.
const Module* FindModule(std::string_view name);

// Launch coverage: cudaLaunchKernel notes each entry it runs; "module:entry" of
// every registered entry not launched yet in this process, sorted.
void NoteLaunch(const Entry& entry);
std::vector<std::string> UnlaunchedEntries();

template <class Kernel>
struct KernelArgument;
template <class A>
struct KernelArgument<void (*)(A)> {
  using type = A;
};

template <auto kKernel>
void Invoke(const void* args) {
  using A = typename KernelArgument<decltype(kKernel)>::type;
  kKernel(*static_cast<const A*>(args));
}

template <auto kKernel>
constexpr Entry MakeEntry(const char* name, bool barriers) {
  using A = typename KernelArgument<decltype(kKernel)>::type;
  return Entry{name, &Invoke<kKernel>, sizeof(A), barriers};
}

}  // namespace tapegrad::cuda::sim

#endif  // TAPEGRAD_KERNELS_CUDA_SIM_MODULE_REGISTRY_H_
