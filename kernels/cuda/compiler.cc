#include "kernels/cuda/compiler.h"

#include <nvrtc.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "core/internal/stable_hash.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/status.h"

namespace tapegrad::cuda {
namespace {

constexpr int kMaxEntries = 4;

// NVRTC options besides the architecture. No fast-math: results are compared
// with the CPU backend's.
const char* const kOptions[] = {"--std=c++17", "-default-device"};

absl::StatusOr<std::string> Compile(const KernelSource& source, const std::string& arch,
                                    bool cubin) {
  nvrtcProgram program;
  if (absl::Status s = NvrtcStatus(
          nvrtcCreateProgram(&program, source.code.c_str(), (source.name + ".cu").c_str(),
                             0, nullptr, nullptr),
          "nvrtcCreateProgram");
      !s.ok()) {
    return s;
  }
  std::vector<const char*> options(std::begin(kOptions), std::end(kOptions));
  const std::string arch_option = "--gpu-architecture=" + arch;
  options.push_back(arch_option.c_str());
  const nvrtcResult compiled =
      nvrtcCompileProgram(program, static_cast<int>(options.size()), options.data());
  absl::StatusOr<std::string> out;
  if (compiled != NVRTC_SUCCESS) {
    size_t log_size = 0;
    nvrtcGetProgramLogSize(program, &log_size);
    std::string log(log_size, '\0');
    if (log_size > 0) nvrtcGetProgramLog(program, log.data());
    out = absl::InvalidArgumentError(
        absl::StrFormat("NVRTC could not compile kernel module %s for %s: %s\n%s",
                        source.name, arch, nvrtcGetErrorString(compiled), log));
  } else {
    size_t size = 0;
    absl::Status s =
        cubin ? NvrtcStatus(nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize")
              : NvrtcStatus(nvrtcGetPTXSize(program, &size), "nvrtcGetPTXSize");
    std::string code(size, '\0');
    if (s.ok()) {
      s = cubin ? NvrtcStatus(nvrtcGetCUBIN(program, code.data()), "nvrtcGetCUBIN")
                : NvrtcStatus(nvrtcGetPTX(program, code.data()), "nvrtcGetPTX");
    }
    if (s.ok()) {
      out = std::move(code);
    } else {
      out = s;
    }
  }
  nvrtcDestroyProgram(&program);
  return out;
}

}  // namespace

std::string DiskCachePath(const KernelSource& source, int arch) {
  const char* dir = std::getenv("TAPEGRAD_CUDA_CACHE_DIR");
  if (dir == nullptr || *dir == '\0') return "";
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  uint64_t h = internal::StableHash(source.code);
  for (const char* o : kOptions) h = internal::StableHash(o, h);
  h = internal::StableHash(absl::StrFormat("nvrtc %d.%d", major, minor), h);
  return absl::StrFormat("%s/%s-sm%d-%016x.cubin", dir, source.name, arch, h);
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Written to a temporary name unique to this process and call, checked, and
// renamed, so that a reader (in any process) sees the whole file or none. The
// cache is an optimisation: a file that cannot be written is left out.
void WriteFile(const std::string& path, const std::string& bytes) {
  static std::atomic<uint64_t> serial{0};
  const std::string temp = absl::StrCat(path, ".tmp.", getpid(), ".", serial++);
  std::ofstream out(temp, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out || std::rename(temp.c_str(), path.c_str()) != 0) std::remove(temp.c_str());
}

struct Cubin {
  std::string bytes;
  bool from_cache = false;
};

// The module's CUBIN from the disk cache (unless !read_cache) or from NVRTC,
// which then replaces what the cache held.
absl::StatusOr<Cubin> CubinFor(const KernelSource& source, int arch, bool read_cache) {
  const std::string path = DiskCachePath(source, arch);
  Cubin cubin;
  if (read_cache && !path.empty()) {
    cubin.bytes = ReadFile(path);
    cubin.from_cache = !cubin.bytes.empty();
    if (cubin.from_cache) return cubin;
  }
  absl::StatusOr<std::string> compiled = CompileToCubin(source, arch);
  if (!compiled.ok()) return compiled.status();
  cubin.bytes = *std::move(compiled);
  if (!path.empty()) WriteFile(path, cubin.bytes);
  return cubin;
}

// Loads the module's CUBIN, from the disk cache when it holds one. A cached file
// that the driver rejects (truncated, corrupt, from another toolkit) is
// recompiled and replaced instead of failing every later process.
absl::Status LoadLibrary(const KernelSource& source, int arch, cudaLibrary_t* library) {
  for (bool read_cache : {true, false}) {
    absl::StatusOr<Cubin> cubin = CubinFor(source, arch, read_cache);
    if (!cubin.ok()) return cubin.status();
    const cudaError_t loaded = cudaLibraryLoadData(library, cubin->bytes.data(), nullptr,
                                                   nullptr, 0, nullptr, nullptr, 0);
    if (loaded == cudaSuccess) return absl::OkStatus();
    *library = nullptr;
    if (!cubin->from_cache) return CudaStatus(loaded, "cudaLibraryLoadData");
    cudaGetLastError();  // clear it; the compiled module is tried next
  }
  return absl::InternalError("unreachable");
}

struct Loaded {
  std::atomic<cudaKernel_t> kernels[kMaxEntries] = {};
};

class ModuleCache {
 public:
  absl::StatusOr<cudaKernel_t> Get(OpKind op, DType dtype, int entry, Device device) {
    // Before the index: cuda:16 would otherwise read the next dtype's cuda:0 slot.
    if (ABSL_PREDICT_FALSE(static_cast<unsigned>(device.index) >=
                           static_cast<unsigned>(kMaxDevices))) {
      return CheckDevice(device);  // an error: no device has an index past the table
    }
    Loaded& slot = loaded_[Index(op, dtype, device.index)];
    cudaKernel_t k = slot.kernels[entry].load(std::memory_order_acquire);
    if (ABSL_PREDICT_TRUE(k != nullptr)) return k;
    return Load(op, dtype, entry, device, slot);
  }

 private:
  static size_t Index(OpKind op, DType dtype, int device) {
    return (static_cast<size_t>(op) * kNumDTypes + static_cast<size_t>(dtype)) *
               kMaxDevices +
           static_cast<size_t>(device);
  }

  absl::StatusOr<cudaKernel_t> Load(OpKind op, DType dtype, int entry, Device device,
                                    Loaded& slot) {
    if (absl::Status s = CheckDevice(device); !s.ok()) return s;
    const KernelSource* source = FindKernelSource(op, dtype);
    if (source == nullptr || entry >= static_cast<int>(source->entries.size()) ||
        entry >= kMaxEntries) {
      return absl::InternalError(absl::StrFormat("no CUDA kernel %d for %s %s", entry,
                                                 OpKindName(op), DTypeName(dtype)));
    }
    const int arch = Arch(device.index);
    absl::MutexLock lock(&mu_);
    if (cudaKernel_t k = slot.kernels[entry].load(std::memory_order_acquire)) return k;
    // One library per (module, arch): devices of one architecture share it.
    cudaLibrary_t& library = libraries_[std::make_pair(source->name, arch)];
    if (library == nullptr) {
      if (absl::Status s = Activate(device).status(); !s.ok()) return s;
      if (absl::Status s = LoadLibrary(*source, arch, &library); !s.ok()) return s;
    }
    for (size_t e = 0; e < source->entries.size(); ++e) {
      cudaKernel_t k = nullptr;
      TG_CUDA_RETURN_IF_ERROR(
          cudaLibraryGetKernel(&k, library, source->entries[e].c_str()),
          "cudaLibraryGetKernel");
      slot.kernels[e].store(k, std::memory_order_release);
    }
    return slot.kernels[entry].load(std::memory_order_acquire);
  }

  Loaded loaded_[kNumOpKinds * kNumDTypes * kMaxDevices];
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<std::string, int>, cudaLibrary_t> libraries_
      ABSL_GUARDED_BY(mu_);
};

ModuleCache& Modules() {
  static ModuleCache* cache = new ModuleCache;  // loaded libraries live forever
  return *cache;
}

}  // namespace

absl::StatusOr<std::string> CompileToPtx(const KernelSource& source, int arch) {
  return Compile(source, absl::StrCat("compute_", arch), /*cubin=*/false);
}

absl::StatusOr<std::string> CompileToCubin(const KernelSource& source, int arch) {
  return Compile(source, absl::StrCat("sm_", arch), /*cubin=*/true);
}

absl::StatusOr<cudaKernel_t> GetKernel(OpKind op, DType dtype, int entry, Device device) {
  return Modules().Get(op, dtype, entry, device);
}

LaunchShape GridFor(int64_t n, Device device, unsigned block) {
  LaunchShape shape;
  shape.block = block;
  const int64_t needed = (n + block - 1) / block;
  const int64_t waves = int64_t{Multiprocessors(device.index)} * 8;
  shape.grid = static_cast<unsigned>(std::max<int64_t>(1, std::min(needed, waves)));
  return shape;
}

absl::Status Launch(OpKind op, DType dtype, int entry, Device device, LaunchShape shape,
                    void* args) {
  absl::StatusOr<cudaStream_t> stream = Activate(device);
  if (!stream.ok()) return stream.status();
  absl::StatusOr<cudaKernel_t> kernel = GetKernel(op, dtype, entry, device);
  if (!kernel.ok()) return kernel.status();
  void* params[] = {args};
  const cudaError_t error =
      cudaLaunchKernel(reinterpret_cast<const void*>(*kernel), dim3(shape.grid),
                       dim3(shape.block), params, shape.shared_bytes, *stream);
  if (ABSL_PREDICT_TRUE(error == cudaSuccess)) return absl::OkStatus();
  return CudaStatus(
      error,
      absl::StrFormat("launching %s_%s", OpKindName(op), DTypeName(dtype)).c_str());
}

}  // namespace tapegrad::cuda
