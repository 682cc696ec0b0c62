// Batch normalization with the batch's statistics, forward and backward, as one
// kernel each (contract in core/internal/registry.h). Each channel is a run of N
// planes of H * W contiguous values; channels are spread over the threads. Sums
// accumulate in double and the variance takes a second pass over the centered
// values, so f32 keeps its precision on large batches. Forward reads x three
// times per channel (the channel's values stay in cache between passes for CNN
// sizes) and backward reads gy and x twice; the recorded composition it replaces
// made some fifteen passes over the whole tensor. A ReLU after the normalization
// may run inside both kernels (BatchNormRelu), saving its own two passes each way;
// its backward recomputes the ReLU's input from x rather than reading y (Note
// [ReLU mask from x]).
#include <algorithm>
#include <cmath>

#include "core/internal/elementwise_math.h"
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

// Sums term(k) over k < n in double, in kLanes partial sums. With one sum each add
// waits for the one before (about one element per cycle, whatever the vector
// width); independent lanes keep the adders busy, and g++ turns the inner loop
// into vector conversions and adds. The order of the additions changes the
// result's last bits only.
template <class Term>
double LaneSum(int64_t n, const Term& term) {
  constexpr int kLanes = 16;
  double lanes[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += term(k + j);
  }
  double sum = 0;
  for (; k < n; ++k) sum += term(k);
  for (double lane : lanes) sum += lane;
  return sum;
}

template <class T>
double RowSum(const T* row, int64_t n) {
  return LaneSum(n, [row](int64_t k) { return double(row[k]); });
}

template <class T>
double RowSquaredDeviations(const T* row, int64_t n, double mean) {
  return LaneSum(n, [row, mean](int64_t k) {
    const double d = row[k] - mean;
    return d * d;
  });
}

// Note [ReLU mask from x]: with the ReLU fused, the backward needs the sign of
// each ReLU input, x * scale + shift. The forward computes it from the channel's
// statistics rounded to T, as it stores them, and the backward recomputes it
// from those stored statistics with the same T operations (ChannelAffine), so
// the mask is the forward's exactly, bit for bit, without reading y: in a CNN
// step the backward's first pass then reads two tensors from memory instead of
// three.
template <class T>
struct ChannelAffine {
  ChannelAffine(T weight, T bias, T mean, T var, double eps) {
    const double s =
        static_cast<double>(weight) / std::sqrt(static_cast<double>(var) + eps);
    scale = static_cast<T>(s);
    shift = static_cast<T>(static_cast<double>(bias) - static_cast<double>(mean) * s);
  }
  T operator()(T x) const { return x * scale + shift; }
  T scale, shift;
};

// The output gradient as the normalization's backward takes it: gy, or with the
// ReLU fused after it, the ReLU's input gradient (gy where its input is > 0, else
// 0).
template <class T, bool kRelu>
T Upstream(const T* gy, const T* x, const ChannelAffine<T>& affine, int64_t k) {
  if constexpr (kRelu) return math::Relu::Backward(affine(x[k]), gy[k], T(0), T(0));
  return gy[k];
}

// sum(g) and sum(g * (x - mean)) over one row of n values, g = Upstream. With the
// ReLU, g goes through a small buffer a chunk at a time, so that both the masking
// and the sums are plain loops the compiler vectorises.
template <class T, bool kRelu>
void RowGradientSums(const T* gy, const T* x, const ChannelAffine<T>& affine, int64_t n,
                     double mean, double* sum_g, double* sum_g_centered) {
  const auto sums = [&](const T* g, const T* xs, int64_t m) {
    *sum_g += RowSum(g, m);
    *sum_g_centered +=
        LaneSum(m, [g, xs, mean](int64_t k) { return double(g[k]) * (xs[k] - mean); });
  };
  if constexpr (!kRelu) {
    sums(gy, x, n);
  } else {
    constexpr int64_t kChunk = 256;
    T g[kChunk];
    for (int64_t begin = 0; begin < n; begin += kChunk) {
      const int64_t m = std::min(kChunk, n - begin);
      for (int64_t k = 0; k < m; ++k)
        g[k] = Upstream<T, true>(gy + begin, x + begin, affine, k);
      sums(g, x + begin, m);
    }
  }
}

// (x, weight, bias) -> (y, mean, var); with attrs.scalar1 != 0, y = relu(...).
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
  const bool relu = call.attrs.scalar1 != 0;
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
    mean_out[c] = static_cast<T>(mean);
    var_out[c] = static_cast<T>(var);
    // y = x * scale + shift, from the statistics as stored (Note [ReLU mask from x]).
    const ChannelAffine<T> affine(weight[c], bias[c], mean_out[c], var_out[c], eps);
    geometry.ForEachPlane(c, [&](int64_t at) {
      if (relu) {
        for (int64_t k = 0; k < geometry.plane; ++k)
          y[at + k] = math::Relu::Forward(affine(x[at + k]), T(0), T(0));
      } else {
        for (int64_t k = 0; k < geometry.plane; ++k) y[at + k] = affine(x[at + k]);
      }
    });
  });
  return absl::OkStatus();
}

// (gy, x, weight, mean, var[, bias]) -> (gx, gweight, gbias); with bias, the
// forward had the ReLU fused and g = Upstream<T, true>. With xhat = (x - mean) * invstd
// over the channel's m values:
//   gbias = sum(g), gweight = sum(g * xhat),
//   gx = weight * invstd * (g - gbias / m - xhat * gweight / m).
template <class T, bool kRelu>
void BatchNormGradOf(const KernelCall& call) {
  const Channels geometry(*call.inputs[1]);
  const T* gy = call.inputs[0]->data_as<T>();
  const T* x = call.inputs[1]->data_as<T>();
  const T* weight = call.inputs[2]->data_as<T>();
  const T* mean_in = call.inputs[3]->data_as<T>();
  const T* var_in = call.inputs[4]->data_as<T>();
  const T* bias = kRelu ? call.inputs[5]->data_as<T>() : nullptr;
  T* gx = call.outputs[0]->data_as<T>();
  T* gweight = call.outputs[1]->data_as<T>();
  T* gbias = call.outputs[2]->data_as<T>();
  const double eps = call.attrs.scalar0;
  const double count = static_cast<double>(geometry.count());
  geometry.ForEachChannel([&](int64_t c) {
    const double mean = mean_in[c];
    const double invstd = 1.0 / std::sqrt(static_cast<double>(var_in[c]) + eps);
    const ChannelAffine<T> affine(weight[c], kRelu ? bias[c] : T(0), mean_in[c],
                                  var_in[c], eps);
    double sum_g = 0, sum_g_centered = 0;
    geometry.ForEachPlane(c, [&](int64_t at) {
      RowGradientSums<T, kRelu>(gy + at, x + at, affine, geometry.plane, mean, &sum_g,
                                &sum_g_centered);
    });
    gbias[c] = static_cast<T>(sum_g);
    gweight[c] = static_cast<T>(sum_g_centered * invstd);
    if (count == 0) return;
    // gx = a * g + b * x + d, per channel.
    const double scale = weight[c] * invstd;
    const double slope = sum_g_centered * invstd * invstd / count;  // of x - mean
    const T a = static_cast<T>(scale);
    const T b = static_cast<T>(-scale * slope);
    const T d = static_cast<T>(scale * (slope * mean - sum_g / count));
    geometry.ForEachPlane(c, [&](int64_t at) {
      const T* g = gy + at;
      const T* xs = x + at;
      for (int64_t k = 0; k < geometry.plane; ++k)
        gx[at + k] = a * Upstream<T, kRelu>(g, xs, affine, k) + b * xs[k] + d;
    });
  });
}

template <class T>
absl::Status BatchNormGrad(const KernelCall& call) {
  if (call.attrs.scalar1 != 0) {
    BatchNormGradOf<T, true>(call);
  } else {
    BatchNormGradOf<T, false>(call);
  }
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_FLOAT_KERNELS(kBatchNorm, kCpu, BatchNorm);
TAPEGRAD_REGISTER_FLOAT_KERNELS(kBatchNormGrad, kCpu, BatchNormGrad);

}  // namespace
}  // namespace tapegrad::cpu
