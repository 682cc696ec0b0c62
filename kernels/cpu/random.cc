// Kernels that draw random numbers. They use core's CounterUniform, which depends
// on (seed, element index) only, so a chunked parallel run and any other device
// draw the same numbers.
#include "core/random.h"

#include "core/internal/registry.h"
#include "kernels/cpu/loops.h"

namespace tapegrad::cpu {
namespace {

// outputs[0] (contiguous) = 1/(1-p) where CounterUniform(seed, i) >= p, else 0.
template <class T>
absl::Status DropoutMask(const KernelCall& c) {
  const double p = c.attrs.scalar0;
  const uint64_t seed = c.attrs.seed;
  const T keep = p < 1.0 ? T(1.0 / (1.0 - p)) : T(0);
  T* out = c.outputs[0]->data_as<T>();
  ParallelFor(c.outputs[0]->numel(), kParallelGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      out[i] = CounterUniform(seed, static_cast<uint64_t>(i)) >= p ? keep : T(0);
    }
  });
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_FLOAT_KERNELS(kDropoutMask, kCpu, DropoutMask);

}  // namespace
}  // namespace tapegrad::cpu
