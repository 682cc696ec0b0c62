// Reductions over a set of axes: sum (scaled, which gives mean), max, min, and the
// index reductions argmax and argmin (i64 positions).
// Contract: input any strides; output contiguous with the input's rank, reduced
// axes of size 1 (keepdim); attrs.axes = bit set of reduced axes; attrs.scalar0
// scales the sum.
//
// Two shapes of work:
//  - innermost input axis reduced (row sums, softmax denominators): each output
//    element reduces its own stretch; outputs are split across threads and the
//    contiguous stretch is a SIMD reduction;
//  - innermost axis kept (column sums, bias gradients): rows are accumulated into
//    the output row by row, vectorised along the kept axis; threads split the
//    kept columns.
#include <cmath>
#include <limits>

#include "core/internal/registry.h"
#include "kernels/cpu/loops.h"

namespace tapegrad::cpu {
namespace {

enum class Kind { kSum, kMax, kMin };

template <class T, Kind K>
struct Op {
  static T Identity() {
    if (K == Kind::kSum) return T(0);
    return K == Kind::kMax ? -std::numeric_limits<T>::infinity()
                           : std::numeric_limits<T>::infinity();
  }
  static T Combine(T acc, T x) {
    if (K == Kind::kSum) return acc + x;
    if (K == Kind::kMax) return (x > acc || x != x) ? x : acc;
    return (x < acc || x != x) ? x : acc;
  }
};

// Reduces `n` elements from `x` stepping `stride` elements.
template <class T, Kind K>
T ReduceRow(const T* x, int64_t n, int64_t stride) {
  T acc = Op<T, K>::Identity();
  if (K == Kind::kSum && stride == 1) {
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) acc += x[i];
    return acc;
  }
  for (int64_t i = 0; i < n; ++i) acc = Op<T, K>::Combine(acc, x[i * stride]);
  return acc;
}

// Splits `in` into the sub-layouts of its kept and of its reduced axes (bit set
// `axes`), each in the input's axis order.
void SplitAxes(const Layout& in, uint32_t axes, Layout* kept, Layout* reduced) {
  for (int d = 0; d < in.rank; ++d) {
    Layout& part = (axes & (1u << d)) ? *reduced : *kept;
    part.sizes[part.rank] = in.sizes[d];
    part.strides[part.rank] = in.strides[d];
    ++part.rank;
  }
}

// The element offset of row-major position `index` in `part`.
int64_t OffsetOf(const Layout& part, int64_t index) {
  int64_t offset = 0;
  for (int d = part.rank - 1; d >= 0; --d) {
    offset += (index % part.sizes[d]) * part.strides[d];
    index /= part.sizes[d];
  }
  return offset;
}

// `part` without its innermost axis (a loop runs along that one).
Layout WithoutLastAxis(Layout part) {
  if (part.rank > 0) --part.rank;
  return part;
}

template <class T, Kind K>
absl::Status Reduce(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  TensorImpl& out = *c.outputs[0];
  const Layout& in = x.layout;
  const uint32_t axes = c.attrs.axes;
  const T scale = T(c.attrs.scalar0);
  const int rank = in.rank;
  const bool inner_reduced =
      rank > 0 && (axes & (1u << (rank - 1))) && in.sizes[rank - 1] > 1;

  if (inner_reduced || rank == 0) {
    Layout kept, reduced;
    SplitAxes(in, axes, &kept, &reduced);
    const int64_t outputs = kept.numel();
    const int64_t per_output = reduced.numel();
    T* o = out.data_as<T>();
    const T* base = reinterpret_cast<const T*>(x.storage->data) + in.offset;
    const int64_t last = reduced.rank - 1;
    const Layout outer = WithoutLastAxis(reduced);
    ParallelFor(
        outputs, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(per_output, 1)),
        [&](int64_t begin, int64_t end) {
          for (int64_t j = begin; j < end; ++j) {
            const int64_t offset = OffsetOf(kept, j);
            T acc = Op<T, K>::Identity();
            if (reduced.rank == 0) {
              acc = base[offset];
            } else {
              // Every stretch of the innermost reduced axis, in order.
              const int64_t rows =
                  reduced.sizes[last] == 0 ? 0 : per_output / reduced.sizes[last];
              for (int64_t r = 0; r < rows; ++r) {
                acc = Op<T, K>::Combine(
                    acc, ReduceRow<T, K>(base + offset + OffsetOf(outer, r),
                                         reduced.sizes[last], reduced.strides[last]));
              }
            }
            o[j] = K == Kind::kSum ? acc * scale : acc;
          }
        });
    return absl::OkStatus();
  }

  // Innermost axis kept: out (stride 0 along reduced axes) combines every input row.
  Layout spread = out.layout;
  for (int d = 0; d < rank; ++d) {
    spread.sizes[d] = in.sizes[d];
    if (axes & (1u << d)) spread.strides[d] = 0;
  }
  const int64_t columns = in.sizes[rank - 1];
  const T identity = Op<T, K>::Identity();
  const int64_t total = out.numel();
  T* o = out.data_as<T>();
  for (int64_t i = 0; i < total; ++i) o[i] = identity;
  const int64_t rows = columns == 0 ? 0 : in.numel() / columns;
  ParallelFor(
      columns, std::max<int64_t>(64, kParallelGrain / std::max<int64_t>(rows, 1)),
      [&](int64_t begin, int64_t end) {
        TensorImpl dst, src;
        dst.storage = out.storage;
        dst.dtype = out.dtype;
        dst.layout = spread.Sliced(rank - 1, begin, end, 1);
        dst.layout.offset += out.layout.offset;
        src.storage = x.storage;
        src.dtype = x.dtype;
        src.layout = in.Sliced(rank - 1, begin, end, 1);
        Loop<2>({&dst, &src}).Run(false, [](int64_t n, char** p, const int64_t* s) {
          T* acc = reinterpret_cast<T*>(p[0]);
          const T* v = reinterpret_cast<const T*>(p[1]);
          if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
            for (int64_t i = 0; i < n; ++i) acc[i] = Op<T, K>::Combine(acc[i], v[i]);
          } else {
            const int64_t sa = s[0] / int64_t(sizeof(T)), sv = s[1] / int64_t(sizeof(T));
            for (int64_t i = 0; i < n; ++i) {
              acc[i * sa] = Op<T, K>::Combine(acc[i * sa], v[i * sv]);
            }
          }
        });
      });
  if (K == Kind::kSum && scale != T(1)) {
    for (int64_t i = 0; i < total; ++i) o[i] *= scale;
  }
  return absl::OkStatus();
}

// kArgMax / kArgMin: one output per kept position, each scanned in row-major order
// of the reduced axes, so the first extreme wins. NaN beats every number, and the
// first NaN stays.
template <class T, bool kMax>
absl::Status ArgReduce(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  Layout kept, reduced;
  SplitAxes(x.layout, c.attrs.axes, &kept, &reduced);
  const int64_t per_output = reduced.numel();
  const int64_t inner = reduced.rank == 0 ? 1 : reduced.sizes[reduced.rank - 1];
  const int64_t inner_stride = reduced.rank == 0 ? 0 : reduced.strides[reduced.rank - 1];
  const Layout outer = WithoutLastAxis(reduced);
  const T* base = reinterpret_cast<const T*>(x.storage->data) + x.layout.offset;
  int64_t* o = c.outputs[0]->data_as<int64_t>();
  ParallelFor(kept.numel(),
              std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(per_output, 1)),
              [&](int64_t begin, int64_t end) {
                for (int64_t j = begin; j < end; ++j) {
                  const T* p = base + OffsetOf(kept, j);
                  T best = p[0];
                  int64_t best_at = 0, at = 0;
                  for (int64_t row = 0; row < per_output / inner; ++row) {
                    const T* q = p + OffsetOf(outer, row);
                    for (int64_t k = 0; k < inner; ++k, ++at) {
                      const T v = q[k * inner_stride];
                      if ((kMax ? v > best : v < best) || (v != v && best == best)) {
                        best = v;
                        best_at = at;
                      }
                    }
                  }
                  o[j] = best_at;
                }
              });
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_KERNEL(kSum, kF32, kCpu, (Reduce<float, Kind::kSum>));
TAPEGRAD_REGISTER_KERNEL(kSum, kF64, kCpu, (Reduce<double, Kind::kSum>));
TAPEGRAD_REGISTER_KERNEL(kMax, kF32, kCpu, (Reduce<float, Kind::kMax>));
TAPEGRAD_REGISTER_KERNEL(kMax, kF64, kCpu, (Reduce<double, Kind::kMax>));
TAPEGRAD_REGISTER_KERNEL(kMin, kF32, kCpu, (Reduce<float, Kind::kMin>));
TAPEGRAD_REGISTER_KERNEL(kMin, kF64, kCpu, (Reduce<double, Kind::kMin>));
TAPEGRAD_REGISTER_KERNEL(kArgMax, kF32, kCpu, (ArgReduce<float, true>));
TAPEGRAD_REGISTER_KERNEL(kArgMax, kF64, kCpu, (ArgReduce<double, true>));
TAPEGRAD_REGISTER_KERNEL(kArgMin, kF32, kCpu, (ArgReduce<float, false>));
TAPEGRAD_REGISTER_KERNEL(kArgMin, kF64, kCpu, (ArgReduce<double, false>));

}  // namespace
}  // namespace tapegrad::cpu
