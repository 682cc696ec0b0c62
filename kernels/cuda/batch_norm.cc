// Batch normalization with the batch's statistics on CUDA (contract in
// core/internal/registry.h, CPU twin in kernels/cpu/batch_norm.cc): one block per
// channel, its threads striding over the channel's N planes of H * W values, sums
// in double through a shared-memory tree, the variance over centered values.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/internal/registry.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {
namespace {

struct BnArgs {
  int64_t n, channels, plane;
  double eps;
  int64_t relu;   // forward: y = relu(...); backward: gy masked by the ReLU's input > 0
  const void* a;  // forward: x; backward: gy
  const void* b;  // backward: x
  const void* weight;
  const void* bias;   // forward: bias; backward: mean
  const void* var;    // backward: var
  void* out;          // y or gx
  void* out2;         // mean or gweight
  void* out3;         // var or gbias
  const void* shift;  // backward with relu: the forward's bias
};

constexpr unsigned kBlock = 256;

constexpr char kCommon[] = R"(
struct BnArgs {
  i64 n, channels, plane;
  double eps;
  i64 relu;
  const void* a;
  const void* b;
  const void* weight;
  const void* bias;
  const void* var;
  void* out;
  void* out2;
  void* out3;
  const void* shift;
};
// The k-th value of channel c, k < n * plane.
__device__ __forceinline__ i64 tg_at(const BnArgs& p, i64 c, i64 k) {
  return ((k / p.plane) * p.channels + c) * p.plane + k % p.plane;
}
// The ReLU's input of the fused forward, x * scale + shift, from the statistics as
// stored (rounded to T): the backward recomputes it from those with the same
// operations, so that its mask is the forward's exactly (Note [ReLU mask from x] in
// kernels/cpu/batch_norm.cc).
struct TgAffine {
  double scale, shift;
};
__device__ __forceinline__ TgAffine tg_affine(T weight, T bias, T mean, T var, double eps) {
  TgAffine a;
  a.scale = (double)weight / sqrt((double)var + eps);
  a.shift = (double)bias - (double)mean * a.scale;
  return a;
}
__device__ __forceinline__ T tg_apply(TgAffine a, T x) {
  return (T)((double)x * a.scale + a.shift);
}
// The block's sum of each thread's `v`, in every thread.
__device__ double tg_block_sum(double v, double* part) {
  part[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  const double total = part[0];
  __syncthreads();
  return total;
}
)";

constexpr char kBatchNorm[] = R"(
// a = x, weight, bias -> out = y, out2 = mean, out3 = var (biased).
extern "C" __global__ void tg_batch_norm(BnArgs p) {
  __shared__ double part[256];
  const T* x = (const T*)p.a;
  const T* weight = (const T*)p.weight;
  const T* bias = (const T*)p.bias;
  const i64 count = p.n * p.plane;
  for (i64 c = blockIdx.x; c < p.channels; c += gridDim.x) {
    double sum = 0;
    for (i64 k = threadIdx.x; k < count; k += blockDim.x) sum += (double)x[tg_at(p, c, k)];
    const double mean = tg_block_sum(sum, part) / (double)count;
    double squares = 0;
    for (i64 k = threadIdx.x; k < count; k += blockDim.x) {
      const double d = (double)x[tg_at(p, c, k)] - mean;
      squares += d * d;
    }
    const double var = tg_block_sum(squares, part) / (double)count;
    const TgAffine affine = tg_affine(weight[c], bias[c], (T)mean, (T)var, p.eps);
    for (i64 k = threadIdx.x; k < count; k += blockDim.x) {
      const i64 at = tg_at(p, c, k);
      const T v = tg_apply(affine, x[at]);
      ((T*)p.out)[at] = p.relu && v < (T)0 ? (T)0 : v;
    }
    if (threadIdx.x == 0) {
      ((T*)p.out2)[c] = (T)mean;
      ((T*)p.out3)[c] = (T)var;
    }
  }
}
)";

constexpr char kBatchNormGrad[] = R"(
// With the ReLU fused, the gradient of its input: gy where that input > 0, else 0.
__device__ __forceinline__ double tg_upstream(const BnArgs& p, TgAffine affine, i64 at) {
  const T g = ((const T*)p.a)[at];
  return p.relu && !(tg_apply(affine, ((const T*)p.b)[at]) > (T)0) ? 0.0 : (double)g;
}
// a = gy, b = x, weight, bias = mean, var[, shift = bias] -> out = gx,
// out2 = gweight, out3 = gbias.
extern "C" __global__ void tg_batch_norm_grad(BnArgs p) {
  __shared__ double part[256];
  const T* x = (const T*)p.b;
  const T* weight = (const T*)p.weight;
  const T* means = (const T*)p.bias;
  const T* vars = (const T*)p.var;
  const i64 count = p.n * p.plane;
  for (i64 c = blockIdx.x; c < p.channels; c += gridDim.x) {
    const double mean = (double)means[c];
    const double invstd = 1.0 / sqrt((double)vars[c] + p.eps);
    const TgAffine affine = tg_affine(weight[c], p.relu ? ((const T*)p.shift)[c] : (T)0,
                                      means[c], vars[c], p.eps);
    double sum_gy = 0, sum_gy_centered = 0;
    for (i64 k = threadIdx.x; k < count; k += blockDim.x) {
      const i64 at = tg_at(p, c, k);
      const double g = tg_upstream(p, affine, at);
      sum_gy += g;
      sum_gy_centered += g * ((double)x[at] - mean);
    }
    sum_gy = tg_block_sum(sum_gy, part);
    sum_gy_centered = tg_block_sum(sum_gy_centered, part);
    const double scale = (double)weight[c] * invstd;
    const double slope = sum_gy_centered * invstd * invstd / (double)count;
    for (i64 k = threadIdx.x; k < count; k += blockDim.x) {
      const i64 at = tg_at(p, c, k);
      ((T*)p.out)[at] = (T)(scale * (tg_upstream(p, affine, at) - sum_gy / (double)count -
                                     ((double)x[at] - mean) * slope));
    }
    if (threadIdx.x == 0) {
      ((T*)p.out2)[c] = (T)(sum_gy_centered * invstd);
      ((T*)p.out3)[c] = (T)sum_gy;
    }
  }
}
)";

absl::Status BatchNorm(const KernelCall& c) {
  const bool grad = c.op == OpKind::kBatchNormGrad;
  const TensorImpl& x = grad ? *c.inputs[1] : *c.inputs[0];
  BnArgs args;
  std::memset(&args, 0, sizeof(args));
  args.n = x.layout.sizes[0];
  args.channels = x.layout.sizes[1];
  args.plane = 1;
  for (int d = 2; d < x.layout.rank; ++d) args.plane *= x.layout.sizes[d];
  args.eps = c.attrs.scalar0;
  args.relu = c.attrs.scalar1 != 0;
  args.a = c.inputs[0]->data();
  if (grad) {
    args.b = c.inputs[1]->data();
    args.weight = c.inputs[2]->data();
    args.bias = c.inputs[3]->data();
    args.var = c.inputs[4]->data();
    if (args.relu) args.shift = c.inputs[5]->data();
  } else {
    args.weight = c.inputs[1]->data();
    args.bias = c.inputs[2]->data();
  }
  args.out = c.outputs[0]->data();
  args.out2 = c.outputs[1]->data();
  args.out3 = c.outputs[2]->data();
  if (args.channels == 0) return absl::OkStatus();
  const Device device = c.outputs[0]->device;
  return Launch(c.op, c.outputs[0]->dtype, 0, device,
                GridFor(args.channels * kBlock, device, kBlock), &args);
}

TAPEGRAD_REGISTER_KERNEL(kBatchNorm, kF32, kCuda, BatchNorm);
TAPEGRAD_REGISTER_KERNEL(kBatchNorm, kF64, kCuda, BatchNorm);
TAPEGRAD_REGISTER_KERNEL(kBatchNormGrad, kF32, kCuda, BatchNorm);
TAPEGRAD_REGISTER_KERNEL(kBatchNormGrad, kF64, kCuda, BatchNorm);

}  // namespace

void AppendBatchNormSources(std::vector<KernelSource>* out) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    out->push_back(MakeSource(OpKind::kBatchNorm, dtype,
                              absl::StrCat(kCommon, kBatchNorm), {"tg_batch_norm"}));
    out->push_back(MakeSource(OpKind::kBatchNormGrad, dtype,
                              absl::StrCat(kCommon, kBatchNormGrad),
                              {"tg_batch_norm_grad"}));
  }
}

}  // namespace tapegrad::cuda
