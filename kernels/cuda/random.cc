// Kernels that draw random numbers on CUDA. The device code repeats core's
// CounterHash/CounterUniform (core/random.h) bit for bit, so a dropout mask on
// the GPU equals the CPU's for the same seed (the GPU tests compare them).
#include <cstring>

#include "core/internal/registry.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {
namespace {

struct MaskArgs {
  int64_t n;
  void* out;
  uint64_t seed;
  double p;
};

constexpr char kDropoutMask[] = R"(
struct MaskArgs {
  i64 n;
  void* out;
  u64 seed;
  double p;
};
__device__ __forceinline__ u64 tg_counter_hash(u64 key, u64 counter) {
  u64 z = key + (counter + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// outputs[0] (contiguous) = 1/(1-p) where CounterUniform(seed, i) >= p, else 0.
extern "C" __global__ void tg_dropout_mask(MaskArgs p) {
  const T keep = p.p < 1.0 ? (T)(1.0 / (1.0 - p.p)) : T(0);
  TG_FOR(i, p.n) {
    const double u = (double)(tg_counter_hash(p.seed, (u64)i) >> 11) * 0x1.0p-53;
    ((T*)p.out)[i] = u >= p.p ? keep : T(0);
  }
}
)";

absl::Status DropoutMask(const KernelCall& c) {
  TensorImpl& out = *c.outputs[0];
  MaskArgs args;
  std::memset(&args, 0, sizeof(args));
  args.n = out.numel();
  if (args.n == 0) return absl::OkStatus();
  args.out = out.data();
  args.seed = c.attrs.seed;
  args.p = c.attrs.scalar0;
  return Launch(c.op, out.dtype, 0, out.device, GridFor(args.n, out.device), &args);
}

TAPEGRAD_REGISTER_KERNEL(kDropoutMask, kF32, kCuda, DropoutMask);
TAPEGRAD_REGISTER_KERNEL(kDropoutMask, kF64, kCuda, DropoutMask);

}  // namespace

void AppendRandomSources(std::vector<KernelSource>* out) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    out->push_back(
        MakeSource(OpKind::kDropoutMask, dtype, kDropoutMask, {"tg_dropout_mask"}));
  }
}

}  // namespace tapegrad::cuda
