// Batch normalization with the batch's statistics, forward and backward, as one
// kernel each (contract in core/internal/registry.h). Each channel is a run of N
// planes of H * W contiguous values; channels are spread over the threads. Sums
// accumulate in double and the variance takes a second pass over the centered
// values, so f32 keeps its precision on large batches. Forward reads x three
// times per channel (the channel's values stay in cache between passes for CNN
// sizes) and backward reads gy and x twice; the recorded composition it replaces
// made some fifteen passes over the whole tensor.
#include <cmath>

#include "core/internal/registry.h"
#include "kernels/cpu/parallel.h"

namespace tapegrad::cpu {
namespace {

// The geometry of a contiguous [N, C, ...] tensor: N planes of `plane` values
// per channel, `channels` apart.
struct Channels {
  explicit Channels(const TensorImpl& x)
      : n(x.layout.sizes[0]), channels(x.layout.sizes[1]) {
    plane = 1;
    for (int d = 2; d < x.layout.rank; ++d) plane *= x.layout.sizes[d];
  }
  int64_t count() const { return n * plane; }
  // fn(offset of the plane) for each of channel c's planes.
  template <class F>
  void ForEachPlane(int64_t c, const F& fn) const {
    for (int64_t i = 0; i < n; ++i) fn((i * channels + c) * plane);
  }
  // Runs fn(c) for every channel, a few channels per thread.
  template <class F>
  void ForEachChannel(const F& fn) const {
    ParallelFor(channels, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) fn(c);
    });
  }
  int64_t n, channels, plane;
};

// The row sums the passes need, as simd reductions (the kernels are built with
// -fopenmp-simd; reassociating a double sum changes its last bits only).
template <class T>
double RowSum(const T* row, int64_t n) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < n; ++k) sum += row[k];
  return sum;
}

template <class T>
double RowSquaredDeviations(const T* row, int64_t n, double mean) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < n; ++k) {
    const double d = row[k] - mean;
    sum += d * d;
  }
  return sum;
}

// sum(gy * (x - mean)) and sum(gy) in one pass.
template <class T>
void RowGradientSums(const T* gy, const T* x, int64_t n, double mean, double* sum_gy,
                     double* sum_gy_centered) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (int64_t k = 0; k < n; ++k) {
    a += gy[k];
    b += gy[k] * (x[k] - mean);
  }
  *sum_gy += a;
  *sum_gy_centered += b;
}

// (x, weight, bias) -> (y, mean, var).
template <class T>
absl::Status BatchNorm(const KernelCall& call) {
  const Channels geometry(*call.inputs[0]);
  const T* x = call.inputs[0]->data_as<T>();
  const T* weight = call.inputs[1]->data_as<T>();
  const T* bias = call.inputs[2]->data_as<T>();
  T* y = call.outputs[0]->data_as<T>();
  T* mean_out = call.outputs[1]->data_as<T>();
  T* var_out = call.outputs[2]->data_as<T>();
  const double eps = call.attrs.scalar0;
  const double count = static_cast<double>(geometry.count());
  geometry.ForEachChannel([&](int64_t c) {
    double sum = 0;
    geometry.ForEachPlane(c, [&](int64_t at) { sum += RowSum(x + at, geometry.plane); });
    const double mean = count > 0 ? sum / count : NAN;
    double squares = 0;
    geometry.ForEachPlane(c, [&](int64_t at) {
      squares += RowSquaredDeviations(x + at, geometry.plane, mean);
    });
    const double var = count > 0 ? squares / count : NAN;
    // y = x * scale + shift, with the channel's constants folded.
    const double scale = weight[c] / std::sqrt(var + eps);
    const T s = static_cast<T>(scale);
    const T shift = static_cast<T>(bias[c] - mean * scale);
    geometry.ForEachPlane(c, [&](int64_t at) {
      for (int64_t k = 0; k < geometry.plane; ++k) y[at + k] = x[at + k] * s + shift;
    });
    mean_out[c] = static_cast<T>(mean);
    var_out[c] = static_cast<T>(var);
  });
  return absl::OkStatus();
}

// (gy, x, weight, mean, var) -> (gx, gweight, gbias). With xhat = (x - mean) *
// invstd over the channel's m values:
//   gbias = sum(gy), gweight = sum(gy * xhat),
//   gx = weight * invstd * (gy - gbias / m - xhat * gweight / m).
template <class T>
absl::Status BatchNormGrad(const KernelCall& call) {
  const Channels geometry(*call.inputs[1]);
  const T* gy = call.inputs[0]->data_as<T>();
  const T* x = call.inputs[1]->data_as<T>();
  const T* weight = call.inputs[2]->data_as<T>();
  const T* mean_in = call.inputs[3]->data_as<T>();
  const T* var_in = call.inputs[4]->data_as<T>();
  T* gx = call.outputs[0]->data_as<T>();
  T* gweight = call.outputs[1]->data_as<T>();
  T* gbias = call.outputs[2]->data_as<T>();
  const double eps = call.attrs.scalar0;
  const double count = static_cast<double>(geometry.count());
  geometry.ForEachChannel([&](int64_t c) {
    const double mean = mean_in[c];
    const double invstd = 1.0 / std::sqrt(static_cast<double>(var_in[c]) + eps);
    double sum_gy = 0, sum_gy_centered = 0;
    geometry.ForEachPlane(c, [&](int64_t at) {
      RowGradientSums(gy + at, x + at, geometry.plane, mean, &sum_gy, &sum_gy_centered);
    });
    gbias[c] = static_cast<T>(sum_gy);
    gweight[c] = static_cast<T>(sum_gy_centered * invstd);
    if (count == 0) return;
    // gx = a * gy + b * x + d, per channel.
    const double scale = weight[c] * invstd;
    const double slope = sum_gy_centered * invstd * invstd / count;  // of x - mean
    const T a = static_cast<T>(scale);
    const T b = static_cast<T>(-scale * slope);
    const T d = static_cast<T>(scale * (slope * mean - sum_gy / count));
    geometry.ForEachPlane(c, [&](int64_t at) {
      for (int64_t k = 0; k < geometry.plane; ++k)
        gx[at + k] = a * gy[at + k] + b * x[at + k] + d;
    });
  });
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_FLOAT_KERNELS(kBatchNorm, kCpu, BatchNorm);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kBatchNormGrad, kCpu, BatchNormGrad);

}  // namespace
}  // namespace tapegrad::cpu
