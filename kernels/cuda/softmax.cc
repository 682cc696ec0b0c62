// Softmax, log-softmax and the fused cross-entropy on CUDA.
// Contracts (core/internal/registry.h, kernels/cpu/softmax.cc): softmax/log_softmax: x
// any strides, out contiguous of x's shape, attrs.axis. cross_entropy: logits [N, C] any
// strides, targets i64 [N], out a 0-d mean loss. cross_entropy_grad: (logits, targets, g
// 0-d) -> d logits [N, C] contiguous. Rows subtract their maximum first; sums accumulate
// in double, as on the CPU.
//
// One difference from the CPU: a target outside [0, C) cannot be reported without
// waiting for the GPU, so it makes the loss (and that row's gradient) NaN
// instead of an InvalidArgument error.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/internal/registry.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {
namespace {

struct SmArgs {
  int64_t rows, n;
  int64_t sizes[kMaxRank], x_strides[kMaxRank], out_strides[kMaxRank];
  const void* x;
  void* out;
  const void* targets;
  const void* g;
  int64_t target_stride;
  int32_t rank, axis;
};

constexpr unsigned kBlock = 256;

constexpr char kCommon[] = R"(
struct SmArgs {
  i64 rows, n;
  i64 sizes[TG_MAX_RANK], x_strides[TG_MAX_RANK], out_strides[TG_MAX_RANK];
  const void* x;
  void* out;
  const void* targets;
  const void* g;
  i64 target_stride;
  int rank, axis;
};
__device__ __forceinline__ double tg_nan() { return __longlong_as_double(0x7ff8000000000000ULL); }
__device__ __forceinline__ T tg_neg_inf() { return (T)__longlong_as_double(0xfff0000000000000ULL); }
// The offset of row `row` (every axis but `axis`, row-major) in a layout.
__device__ __forceinline__ i64 tg_row_offset(const SmArgs& p, const i64* strides, i64 row) {
  i64 offset = 0;
  for (int d = p.rank - 1; d >= 0; --d) {
    if (d == p.axis) continue;
    offset += (row % p.sizes[d]) * strides[d];
    row /= p.sizes[d];
  }
  return offset;
}
// Max and sum of exp(x - max) of one row, by one thread.
__device__ __forceinline__ void tg_row_stats(const T* row, i64 n, i64 stride, T* max, double* sum) {
  T m = tg_neg_inf();
  for (i64 i = 0; i < n; ++i) m = row[i * stride] > m ? row[i * stride] : m;
  double s = 0;
  // An element equal to m adds exactly 1, even when m is infinite (Note [Infinite
  // logits] in kernels/cpu/softmax.cc).
  for (i64 i = 0; i < n; ++i) s += row[i * stride] == m ? 1.0 : exp((double)(row[i * stride] - m));
  *max = m;
  *sum = s;
}
)";

constexpr char kSoftmax[] = R"(
// One block per row: block-wide max, then block-wide sum of exp in double.
extern "C" __global__ void tg_softmax(SmArgs p) {
  __shared__ T max_part[256];
  __shared__ double sum_part[256];
  const T* xs = (const T*)p.x;
  T* os = (T*)p.out;
  const i64 sx = p.x_strides[p.axis], so = p.out_strides[p.axis];
  for (i64 r = blockIdx.x; r < p.rows; r += gridDim.x) {
    const T* x = xs + tg_row_offset(p, p.x_strides, r);
    T* o = os + tg_row_offset(p, p.out_strides, r);
    T m = tg_neg_inf();
    for (i64 i = threadIdx.x; i < p.n; i += blockDim.x) m = x[i * sx] > m ? x[i * sx] : m;
    max_part[threadIdx.x] = m;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s && max_part[threadIdx.x + s] > max_part[threadIdx.x])
        max_part[threadIdx.x] = max_part[threadIdx.x + s];
      __syncthreads();
    }
    m = max_part[0];
    double sum = 0;
    for (i64 i = threadIdx.x; i < p.n; i += blockDim.x) sum += x[i * sx] == m ? 1.0 : exp((double)(x[i * sx] - m));
    sum_part[threadIdx.x] = sum;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) sum_part[threadIdx.x] += sum_part[threadIdx.x + s];
      __syncthreads();
    }
    sum = sum_part[0];
#ifdef TG_LOG
    const T log_s = (T)log(sum);
    for (i64 i = threadIdx.x; i < p.n; i += blockDim.x) o[i * so] = x[i * sx] - m - log_s;
#else
    const double inv = 1.0 / sum;
    for (i64 i = threadIdx.x; i < p.n; i += blockDim.x) o[i * so] = (T)(exp((double)(x[i * sx] - m)) * inv);
#endif
    __syncthreads();
  }
}
)";

constexpr char kCrossEntropy[] = R"(
// One block: each thread sums the losses of its rows, then a tree in double.
extern "C" __global__ void tg_cross_entropy(SmArgs p) {
  __shared__ double part[256];
  const T* xs = (const T*)p.x;
  const i64* t = (const i64*)p.targets;
  const i64 s0 = p.x_strides[0], s1 = p.x_strides[1];
  double total = 0;
  for (i64 r = threadIdx.x; r < p.rows; r += blockDim.x) {
    const T* row = xs + r * s0;
    const i64 label = t[r * p.target_stride];
    if (label < 0 || label >= p.n) { total += tg_nan(); continue; }
    T m; double s;
    tg_row_stats(row, p.n, s1, &m, &s);
    total += log(s) + (double)m - (double)row[label * s1];
  }
  part[threadIdx.x] = total;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *(T*)p.out = (T)(p.rows == 0 ? tg_nan() : part[0] / (double)p.rows);
}
)";

constexpr char kCrossEntropyGrad[] = R"(
// One thread per row: softmax(row) * g/N, minus g/N at the target.
extern "C" __global__ void tg_cross_entropy_grad(SmArgs p) {
  const T* xs = (const T*)p.x;
  const i64* t = (const i64*)p.targets;
  const double scale = (double)*(const T*)p.g / (double)p.rows;
  const i64 s0 = p.x_strides[0], s1 = p.x_strides[1];
  TG_FOR(r, p.rows) {
    const T* row = xs + r * s0;
    T* o = (T*)p.out + r * p.n;
    const i64 label = t[r * p.target_stride];
    if (label < 0 || label >= p.n) {
      for (i64 j = 0; j < p.n; ++j) o[j] = (T)tg_nan();
      continue;
    }
    T m; double s;
    tg_row_stats(row, p.n, s1, &m, &s);
    const double inv = 1.0 / s;
    for (i64 j = 0; j < p.n; ++j) o[j] = (T)(exp((double)(row[j * s1] - m)) * inv * scale);
    o[label] -= (T)scale;
  }
}
)";

absl::Status Softmax(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  TensorImpl& out = *c.outputs[0];
  SmArgs args;
  std::memset(&args, 0, sizeof(args));
  args.rank = x.layout.rank;
  args.axis = c.attrs.axis;
  args.n = x.layout.sizes[args.axis];
  args.rows = args.n == 0 ? 0 : x.numel() / args.n;
  if (args.rows == 0) return absl::OkStatus();
  for (int d = 0; d < args.rank; ++d) {
    args.sizes[d] = x.layout.sizes[d];
    args.x_strides[d] = x.layout.strides[d];
    args.out_strides[d] = out.layout.strides[d];
  }
  args.x = x.data();
  args.out = out.data();
  return Launch(c.op, out.dtype, 0, out.device,
                GridFor(args.rows * kBlock, out.device, kBlock), &args);
}

// Shared set-up of cross_entropy and its gradient: logits [N, C], targets [N].
SmArgs CrossEntropyArgs(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  const TensorImpl& targets = *c.inputs[1];
  SmArgs args;
  std::memset(&args, 0, sizeof(args));
  args.rank = 2;
  args.rows = x.layout.sizes[0];
  args.n = x.layout.sizes[1];
  args.x_strides[0] = x.layout.strides[0];
  args.x_strides[1] = x.layout.strides[1];
  args.x = x.data();
  args.targets = targets.data();
  args.target_stride = targets.layout.strides[0];
  args.out = c.outputs[0]->data();
  return args;
}

absl::Status CrossEntropy(const KernelCall& c) {
  SmArgs args = CrossEntropyArgs(c);
  const TensorImpl& out = *c.outputs[0];
  LaunchShape one_block;
  one_block.block = kBlock;
  return Launch(c.op, out.dtype, 0, out.device, one_block, &args);
}

absl::Status CrossEntropyGrad(const KernelCall& c) {
  SmArgs args = CrossEntropyArgs(c);
  args.g = c.inputs[2]->data();
  const TensorImpl& out = *c.outputs[0];
  if (args.rows == 0) return absl::OkStatus();
  return Launch(c.op, out.dtype, 0, out.device, GridFor(args.rows, out.device), &args);
}

TAPEGRAD_REGISTER_KERNEL(kSoftmax, kF32, kCuda, Softmax);
TAPEGRAD_REGISTER_KERNEL(kSoftmax, kF64, kCuda, Softmax);
TAPEGRAD_REGISTER_KERNEL(kLogSoftmax, kF32, kCuda, Softmax);
TAPEGRAD_REGISTER_KERNEL(kLogSoftmax, kF64, kCuda, Softmax);
TAPEGRAD_REGISTER_KERNEL(kCrossEntropy, kF32, kCuda, CrossEntropy);
TAPEGRAD_REGISTER_KERNEL(kCrossEntropy, kF64, kCuda, CrossEntropy);
TAPEGRAD_REGISTER_KERNEL(kCrossEntropyGrad, kF32, kCuda, CrossEntropyGrad);
TAPEGRAD_REGISTER_KERNEL(kCrossEntropyGrad, kF64, kCuda, CrossEntropyGrad);

}  // namespace

void AppendSoftmaxSources(std::vector<KernelSource>* out) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    out->push_back(MakeSource(OpKind::kSoftmax, dtype, absl::StrCat(kCommon, kSoftmax),
                              {"tg_softmax"}));
    out->push_back(MakeSource(OpKind::kLogSoftmax, dtype,
                              absl::StrCat("#define TG_LOG 1\n", kCommon, kSoftmax),
                              {"tg_softmax"}));
    out->push_back(MakeSource(OpKind::kCrossEntropy, dtype,
                              absl::StrCat(kCommon, kCrossEntropy),
                              {"tg_cross_entropy"}));
    out->push_back(MakeSource(OpKind::kCrossEntropyGrad, dtype,
                              absl::StrCat(kCommon, kCrossEntropyGrad),
                              {"tg_cross_entropy_grad"}));
  }
}

}  // namespace tapegrad::cuda
