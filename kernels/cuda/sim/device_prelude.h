// What a kernel module's text needs to compile as host C++ in the CUDA
// simulator: the index variables, __syncthreads, __shared__, atomics and the
// device intrinsics the modules call. //kernels/cuda:module_texts puts each
// module in a namespace of its own after this header.
//
// A block's threads run one at a time on the thread that executes the launch
// (block_scheduler.h): threadIdx and friends are that thread's, set before each
// simulated thread runs; __shared__ arrays are function statics, so the threads
// of one block share them; __syncthreads switches fibers.
//
// Thread safety: launches on different streams run on different threads; the
// atomics are real atomics.
#ifndef TAPEGRAD_KERNELS_CUDA_SIM_DEVICE_PRELUDE_H_
#define TAPEGRAD_KERNELS_CUDA_SIM_DEVICE_PRELUDE_H_

#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cuda/sim/block_scheduler.h"
#include "kernels/cuda/sim/module_registry.h"

#define __CUDACC_RTC__ 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
// Function statics: the threads of a block share them. Launches of one kernel
// take turns (block_scheduler.cc), so two streams never share a block's arrays.
// Not thread_local: a library dlopen()ed with kilobytes of static TLS fails to load.
#define __shared__ static
#define threadIdx (::tapegrad::cuda::sim::CurrentThread().thread_idx)
#define blockIdx (::tapegrad::cuda::sim::CurrentThread().block_idx)
#define blockDim (::tapegrad::cuda::sim::CurrentThread().block_dim)
#define gridDim (::tapegrad::cuda::sim::CurrentThread().grid_dim)
#define __syncthreads() ::tapegrad::cuda::sim::SyncThreads()

inline double __longlong_as_double(long long v) {
  double d;
  std::memcpy(&d, &v, sizeof d);
  return d;
}
inline long long __double_as_longlong(double d) {
  long long v;
  std::memcpy(&v, &d, sizeof v);
  return v;
}
inline float __int_as_float(int v) {
  float f;
  std::memcpy(&f, &v, sizeof f);
  return f;
}
inline int __float_as_int(float f) {
  int v;
  std::memcpy(&v, &f, sizeof v);
  return v;
}

// CUDA's global min and max overloads (integers and floats alike).
template <class A, class B>
inline std::common_type_t<A, B> min(A a, B b) {
  return b < a ? b : a;
}
template <class A, class B>
inline std::common_type_t<A, B> max(A a, B b) {
  return a < b ? b : a;
}

// atomicAdd: the old value, as on the device.
template <class T>
inline T atomicAdd(T* address, T value) {
  if constexpr (std::is_integral_v<T>) {
    return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
  } else {
    T old, updated;
    __atomic_load(address, &old, __ATOMIC_RELAXED);
    do {
      updated = old + value;
    } while (!__atomic_compare_exchange(address, &old, &updated, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
    return old;
  }
}

#endif  // TAPEGRAD_KERNELS_CUDA_SIM_DEVICE_PRELUDE_H_
