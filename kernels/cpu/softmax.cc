// Softmax, log-softmax and the fused cross-entropy, along one axis.
// Contracts: softmax/log_softmax: x any strides, out contiguous of x's shape,
// attrs.axis. cross_entropy: logits [N, C] any strides, targets i64 [N], out a
// 0-d mean loss. cross_entropy_grad: (logits, targets, g 0-d) -> d logits [N, C]
// contiguous. Every row subtracts its maximum first, so large logits never
// overflow; sums accumulate in double.
#include <cmath>

#include "absl/strings/str_format.h"
#include "core/internal/registry.h"
#include "kernels/cpu/loops.h"

namespace tapegrad::cpu {
namespace {

// The storage offset of row `row` of `l` along `axis` (the axis itself at 0).
int64_t RowOffset(const Layout& l, int axis, int64_t row) {
  int64_t offset = l.offset;
  for (int d = l.rank - 1; d >= 0; --d) {
    if (d == axis) continue;
    offset += (row % l.sizes[d]) * l.strides[d];
    row /= l.sizes[d];
  }
  return offset;
}

// The row's maximum m and sum of exp(x - m). Note [Infinite logits]: an element
// equal to m adds exactly 1, also when m is infinite (where x - m would be NaN),
// so that with m = +inf the sum stays finite and the other elements' softmax is
// exp(x - inf) = 0, the log-sum-exp +inf, and only the infinite elements' own
// results NaN, as PyTorch's log-sum-exp gives; a NaN element still makes the sum NaN.
template <class T>
void RowMaxAndSum(const T* x, int64_t n, int64_t stride, T* max, double* sum) {
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i * stride]);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T xi = x[i * stride];
    s += xi == m ? 1.0 : std::exp(static_cast<double>(xi - m));
  }
  *max = m;
  *sum = s;
}

template <class T, bool kLog>
absl::Status SoftmaxKernel(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  TensorImpl& out = *c.outputs[0];
  const int axis = c.attrs.axis;
  const int64_t n = x.layout.sizes[axis];
  const int64_t rows = n == 0 ? 0 : x.layout.numel() / n;
  const T* xs = reinterpret_cast<const T*>(x.storage->data);
  T* os = reinterpret_cast<T*>(out.storage->data);
  const int64_t sx = x.layout.strides[axis], so = out.layout.strides[axis];
  ParallelFor(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
              [&](int64_t begin, int64_t end) {
                for (int64_t r = begin; r < end; ++r) {
                  const T* xr = xs + RowOffset(x.layout, axis, r);
                  T* orow = os + RowOffset(out.layout, axis, r);
                  T m;
                  double s;
                  RowMaxAndSum(xr, n, sx, &m, &s);
                  if (kLog) {
                    const T log_s = static_cast<T>(std::log(s));
                    for (int64_t i = 0; i < n; ++i) orow[i * so] = xr[i * sx] - m - log_s;
                  } else {
                    const double inv = 1.0 / s;
                    for (int64_t i = 0; i < n; ++i) {
                      orow[i * so] =
                          static_cast<T>(std::exp(double(xr[i * sx] - m)) * inv);
                    }
                  }
                }
              });
  return absl::OkStatus();
}

// Checks every target before any arithmetic, so a bad label is an error, not a
// read out of bounds.
absl::Status CheckTargets(const TensorImpl& targets, int64_t classes, const char* op) {
  const int64_t* t = reinterpret_cast<const int64_t*>(targets.storage->data);
  const int64_t rows = targets.layout.sizes[0];
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t label = t[targets.layout.offset + i * targets.layout.strides[0]];
    if (label < 0 || label >= classes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: target %d at row %d is out of range [0, %d)", op, label, i, classes));
    }
  }
  return absl::OkStatus();
}

template <class T>
absl::Status CrossEntropy(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  const TensorImpl& targets = *c.inputs[1];
  const int64_t rows = x.layout.sizes[0], classes = x.layout.sizes[1];
  if (absl::Status s = CheckTargets(targets, classes, "cross_entropy"); !s.ok()) return s;
  const T* xs = reinterpret_cast<const T*>(x.storage->data) + x.layout.offset;
  const int64_t* t =
      reinterpret_cast<const int64_t*>(targets.storage->data) + targets.layout.offset;
  double total = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = xs + i * x.layout.strides[0];
    T m;
    double s;
    RowMaxAndSum(row, classes, x.layout.strides[1], &m, &s);
    const T picked = row[t[i * targets.layout.strides[0]] * x.layout.strides[1]];
    total += std::log(s) + double(m) - double(picked);
  }
  *c.outputs[0]->data_as<T>() = static_cast<T>(rows == 0 ? NAN : total / double(rows));
  return absl::OkStatus();
}

template <class T>
absl::Status CrossEntropyGrad(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  const TensorImpl& targets = *c.inputs[1];
  const T g = *c.inputs[2]->data_as<T>();
  TensorImpl& out = *c.outputs[0];
  const int64_t rows = x.layout.sizes[0], classes = x.layout.sizes[1];
  if (absl::Status s = CheckTargets(targets, classes, "cross_entropy"); !s.ok()) return s;
  const T* xs = reinterpret_cast<const T*>(x.storage->data) + x.layout.offset;
  const int64_t* t =
      reinterpret_cast<const int64_t*>(targets.storage->data) + targets.layout.offset;
  T* o = out.data_as<T>();
  const double scale = double(g) / double(rows);
  const int64_t sx = x.layout.strides[1];
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = xs + i * x.layout.strides[0];
    T m;
    double s;
    RowMaxAndSum(row, classes, sx, &m, &s);
    const double inv = 1.0 / s;
    T* orow = o + i * classes;
    for (int64_t j = 0; j < classes; ++j) {
      orow[j] = static_cast<T>(std::exp(double(row[j * sx] - m)) * inv * scale);
    }
    orow[t[i * targets.layout.strides[0]]] -= static_cast<T>(scale);
  }
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_KERNEL(kSoftmax, kF32, kCpu, (SoftmaxKernel<float, false>));
TAPEGRAD_REGISTER_KERNEL(kSoftmax, kF64, kCpu, (SoftmaxKernel<double, false>));
TAPEGRAD_REGISTER_KERNEL(kLogSoftmax, kF32, kCpu, (SoftmaxKernel<float, true>));
TAPEGRAD_REGISTER_KERNEL(kLogSoftmax, kF64, kCpu, (SoftmaxKernel<double, true>));
TAPEGRAD_REGISTER_FLOAT_KERNELS(kCrossEntropy, kCpu, CrossEntropy);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kCrossEntropyGrad, kCpu, CrossEntropyGrad);

}  // namespace
}  // namespace tapegrad::cpu
