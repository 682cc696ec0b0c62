// The drivers of the CPU elementwise kernels: out = f(x) and out = f(a, b) over
// operands of one shape and any strides.
//
//   MapBinary<float>(call, [](float a, float b) { return a + b; });
//
// Contiguous operands (and stride-0 scalars) take flat rows that g++ vectorises
// at -O3 (see the BUILD file); large ones run on every core of the pool and,
// when they exceed the cache, with streaming stores (kernels/cpu/streaming.h).
// `f` must be a lambda: a function pointer would not inline.
//
// Thread safety: f may run on several threads at once, on disjoint elements.
#ifndef TAPEGRAD_KERNELS_CPU_MAP_H_
#define TAPEGRAD_KERNELS_CPU_MAP_H_

#include <cstdint>

#include "absl/base/attributes.h"
#include "core/internal/registry.h"
#include "kernels/cpu/loops.h"
#include "kernels/cpu/streaming.h"

namespace tapegrad::cpu {

template <class T>
T* At(char* p) {
  return reinterpret_cast<T*>(p);
}

// Runs rows(begin, end) over a flat range of n, on both cores when it is large.
// Small ranges call `rows` directly, not through ParallelFor's FunctionRef, so
// that the loop inlines here.
template <class Rows>
void FlatRows(int64_t n, const Rows& rows) {
  if (n < 2 * kParallelGrain) {
    rows(0, n);
  } else {
    ParallelFor(n, kParallelGrain, rows);
  }
}

// o[i] = value(i) for i < n, where the op reads and writes `arrays` contiguous
// arrays of n Ts in all: on both cores when n is large, and with streaming stores
// when those arrays together exceed the cache (kernels/cpu/streaming.h).
template <class T, class Value>
void MapContiguous(T* o, int64_t n, int arrays, const Value& value) {
  if (StreamsOutput(arrays * n * int64_t{sizeof(T)})) {
    FlatRows(n, [&](int64_t begin, int64_t end) { StreamRows(o, begin, end, value); });
    return;
  }
  FlatRows(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) o[i] = value(i);
  });
}

// MapUnary's general path, out of line: the strided loop's set-up needs a large
// stack frame that the contiguous path of every small op would pay for too.
template <class T, class F>
ABSL_ATTRIBUTE_NOINLINE void MapUnaryStrided(const KernelCall& c, F f) {
  Loop<2>({c.outputs[0], c.inputs[0]})
      .Run(true, [&](int64_t n, char** p, const int64_t* s) {
        T* o = At<T>(p[0]);
        const T* x = At<T>(p[1]);
        if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
        } else {
          const int64_t so = s[0] / sizeof(T), sx = s[1] / sizeof(T);
          for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sx]);
        }
      });
}

// out = f(x). `f` must be a lambda (a function pointer would not inline).
template <class T, class F>
void MapUnary(const KernelCall& c, F f) {
  const TensorImpl &out = *c.outputs[0], &x = *c.inputs[0];
  if (out.layout.IsContiguous() && x.layout.IsContiguous()) {
    const T* px = x.data_as<T>();
    MapContiguous(out.data_as<T>(), out.numel(), 2, [=](int64_t i) { return f(px[i]); });
    return;
  }
  MapUnaryStrided<T>(c, f);
}

// MapBinary's general path, out of line (see MapUnaryStrided).
template <class T, class F>
ABSL_ATTRIBUTE_NOINLINE void MapBinaryStrided(const KernelCall& c, F f) {
  Loop<3>({c.outputs[0], c.inputs[0], c.inputs[1]})
      .Run(true, [&](int64_t n, char** p, const int64_t* s) {
        T* o = At<T>(p[0]);
        const T* a = At<T>(p[1]);
        const T* b = At<T>(p[2]);
        constexpr int64_t u = sizeof(T);
        if (s[0] == u && s[1] == u && s[2] == u) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
        } else if (s[0] == u && s[1] == u && s[2] == 0) {
          const T bv = *b;
          for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
        } else if (s[0] == u && s[1] == 0 && s[2] == u) {
          const T av = *a;
          for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
        } else {
          const int64_t so = s[0] / u, sa = s[1] / u, sb = s[2] / u;
          for (int64_t i = 0; i < n; ++i) o[i * so] = f(a[i * sa], b[i * sb]);
        }
      });
}

// out = f(a, b), with fast rows for contiguous operands and for a scalar one.
template <class T, class F>
void MapBinary(const KernelCall& c, F f) {
  const TensorImpl &out = *c.outputs[0], &a = *c.inputs[0], &b = *c.inputs[1];
  if (out.layout.IsContiguous() && a.layout.IsContiguous() && b.layout.IsContiguous()) {
    // One flat row: skips the strided loop's set-up, which dominates small tensors.
    const T* pa = a.data_as<T>();
    const T* pb = b.data_as<T>();
    MapContiguous(out.data_as<T>(), out.numel(), 3,
                  [=](int64_t i) { return f(pa[i], pb[i]); });
    return;
  }
  MapBinaryStrided<T>(c, f);
}

}  // namespace tapegrad::cpu

#endif  // TAPEGRAD_KERNELS_CPU_MAP_H_
