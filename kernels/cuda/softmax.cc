// Softmax, log-softmax and the fused cross-entropy on CUDA.
// Contracts (core/internal/registry.h, kernels/cpu/softmax.cc): softmax/log_softmax: x
// any strides, out contiguous of x's shape, attrs.axis. cross_entropy: logits [N, C] any
// strides, targets i64 [N], out a 0-d mean loss. cross_entropy_grad: (logits, targets, g
// 0-d) -> d logits [N, C] contiguous. Rows subtract their maximum first; sums accumulate
// in double, as on the CPU.
//
// Rows are reduced by segments of threads: 32 per row when rows are short (the
// cross-entropy of 10 classes would leave most of a 256-thread block idle), a
// whole block when they are long. Every thread of a block meets every barrier:
// threads of a segment past the last row take part with nothing to add. The
// cross-entropy's row losses go to a scratch buffer that a second launch
// averages (in double, in a fixed order).
//
// One difference from the CPU: a target outside [0, C) cannot be reported without
// waiting for the GPU, so it makes the loss (and that row's gradient) NaN
// instead of an InvalidArgument error.
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/internal/device_memory.h"
#include "core/internal/registry.h"
#include "core/status_macros.h"
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
  int32_t segment;  // threads per row: 32 or kBlock
};

constexpr unsigned kBlock = 256;

// Threads per row: a warp for rows of up to 1024 elements, else a block.
int32_t SegmentFor(int64_t n) { return n <= 1024 ? 32 : static_cast<int32_t>(kBlock); }

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
  int segment;
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
// The row each segment of p.segment threads works on in pass `pass` of a
// grid-stride loop over rows (-1 past the last), and the thread's lane in it.
__device__ __forceinline__ i64 tg_segment_row(const SmArgs& p, i64 pass, unsigned* lane) {
  *lane = threadIdx.x % p.segment;
  const i64 r = (pass * gridDim.x + blockIdx.x) * (blockDim.x / p.segment) +
                threadIdx.x / p.segment;
  return r < p.rows ? r : -1;
}
// Passes of the grid-stride loop over rows: the same count for every thread.
__device__ __forceinline__ i64 tg_segment_passes(const SmArgs& p) {
  const i64 per_pass = (i64)gridDim.x * (blockDim.x / p.segment);
  return (p.rows + per_pass - 1) / per_pass;
}
// The max and the sum of exp(x - max) of a row (n elements, stride sx), by the
// p.segment threads of this thread's segment, through the block's shared arrays
// max_part and sum_part. Every thread of the block calls it (row null: none).
// An element equal to the max adds exactly 1, even when the max is infinite
// (Note [Infinite logits] in kernels/cpu/softmax.cc).
__device__ __forceinline__ void tg_row_stats(const SmArgs& p, const T* row, i64 sx,
                                             unsigned lane, T* max_part, double* sum_part,
                                             T* max, double* sum) {
  const unsigned first = threadIdx.x - lane;
  T m = tg_neg_inf();
  if (row) for (i64 i = lane; i < p.n; i += p.segment) m = row[i * sx] > m ? row[i * sx] : m;
  max_part[threadIdx.x] = m;
  __syncthreads();
  for (unsigned s = p.segment / 2; s > 0; s >>= 1) {
    if (lane < s && max_part[threadIdx.x + s] > max_part[threadIdx.x])
      max_part[threadIdx.x] = max_part[threadIdx.x + s];
    __syncthreads();
  }
  m = max_part[first];
  double total = 0;
  if (row) for (i64 i = lane; i < p.n; i += p.segment) total += row[i * sx] == m ? 1.0 : exp((double)(row[i * sx] - m));
  sum_part[threadIdx.x] = total;
  __syncthreads();
  for (unsigned s = p.segment / 2; s > 0; s >>= 1) {
    if (lane < s) sum_part[threadIdx.x] += sum_part[threadIdx.x + s];
    __syncthreads();
  }
  *max = m;
  *sum = sum_part[first];
  __syncthreads();  // the arrays are free for the next row
}
)";

constexpr char kSoftmax[] = R"(
extern "C" __global__ void tg_softmax(SmArgs p) {
  __shared__ T max_part[256];
  __shared__ double sum_part[256];
  const i64 sx = p.x_strides[p.axis], so = p.out_strides[p.axis];
  const i64 passes = tg_segment_passes(p);
  for (i64 pass = 0; pass < passes; ++pass) {
    unsigned lane;
    const i64 r = tg_segment_row(p, pass, &lane);
    const T* x = r < 0 ? 0 : (const T*)p.x + tg_row_offset(p, p.x_strides, r);
    T m;
    double sum;
    tg_row_stats(p, x, sx, lane, max_part, sum_part, &m, &sum);
    if (r < 0) continue;
    T* o = (T*)p.out + tg_row_offset(p, p.out_strides, r);
#ifdef TG_LOG
    const T log_s = (T)log(sum);
    for (i64 i = lane; i < p.n; i += p.segment) o[i * so] = x[i * sx] - m - log_s;
#else
    const double inv = 1.0 / sum;
    for (i64 i = lane; i < p.n; i += p.segment) o[i * so] = (T)(exp((double)(x[i * sx] - m)) * inv);
#endif
  }
}
)";

constexpr char kLogitRows[] = R"(
// Calls f(r, row, lane, m, s) for each row r of the [N, C] logits that this
// thread's segment reduces, once the segment has the row's max m and sum s.
// Every thread of the block runs the loop (barriers), past the last row too.
template <class F>
__device__ __forceinline__ void tg_for_logit_rows(const SmArgs& p, T* max_part,
                                                  double* sum_part, F f) {
  const i64 passes = tg_segment_passes(p);
  for (i64 pass = 0; pass < passes; ++pass) {
    unsigned lane;
    const i64 r = tg_segment_row(p, pass, &lane);
    const T* row = r < 0 ? 0 : (const T*)p.x + r * p.x_strides[0];
    T m;
    double s;
    tg_row_stats(p, row, p.x_strides[1], lane, max_part, sum_part, &m, &s);
    if (r >= 0) f(r, row, lane, m, s);
  }
}
)";

constexpr char kCrossEntropy[] = R"(
// Pass 1: each row's loss, in double, into p.out (scratch of p.rows doubles).
extern "C" __global__ void tg_cross_entropy_rows(SmArgs p) {
  __shared__ T max_part[256];
  __shared__ double sum_part[256];
  tg_for_logit_rows(p, max_part, sum_part,
                    [&](i64 r, const T* row, unsigned lane, T m, double s) {
    if (lane != 0) return;
    const i64 label = ((const i64*)p.targets)[r * p.target_stride];
    ((double*)p.out)[r] = label < 0 || label >= p.n
                              ? tg_nan()
                              : log(s) + (double)m - (double)row[label * p.x_strides[1]];
  });
}
// Pass 2, one block: the mean of the row losses (p.x) into the 0-d output.
extern "C" __global__ void tg_cross_entropy_mean(SmArgs p) {
  __shared__ double part[256];
  const double* losses = (const double*)p.x;
  double total = 0;
  for (i64 r = threadIdx.x; r < p.rows; r += blockDim.x) total += losses[r];
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
// softmax(row) * g/N, minus g/N at the target; a segment per row.
extern "C" __global__ void tg_cross_entropy_grad(SmArgs p) {
  __shared__ T max_part[256];
  __shared__ double sum_part[256];
  const double scale = (double)*(const T*)p.g / (double)p.rows;
  tg_for_logit_rows(p, max_part, sum_part,
                    [&](i64 r, const T* row, unsigned lane, T m, double s) {
    T* o = (T*)p.out + r * p.n;
    const i64 label = ((const i64*)p.targets)[r * p.target_stride];
    const bool bad = label < 0 || label >= p.n;
    const double inv = 1.0 / s;
    for (i64 j = lane; j < p.n; j += p.segment) {
      o[j] = bad ? (T)tg_nan()
                 : (T)(exp((double)(row[j * p.x_strides[1]] - m)) * inv * scale -
                       (j == label ? scale : 0.0));
    }
  });
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
  args.segment = SegmentFor(args.n);
  return Launch(c.op, out.dtype, 0, out.device,
                GridFor(args.rows * args.segment, out.device, kBlock), &args);
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
  args.segment = SegmentFor(args.n);
  return args;
}

absl::Status CrossEntropy(const KernelCall& c) {
  SmArgs args = CrossEntropyArgs(c);
  const TensorImpl& out = *c.outputs[0];
  const Device device = out.device;
  LaunchShape one_block;
  one_block.block = kBlock;
  if (args.rows == 0) return Launch(c.op, out.dtype, 1, device, one_block, &args);
  DeviceMemory* memory = DeviceMemoryFor(DeviceType::kCuda);
  TG_ASSIGN_OR_RETURN(void* losses, memory->Allocate(device, args.rows * sizeof(double)));
  SmArgs rows = args;
  rows.out = losses;
  absl::Status status = Launch(c.op, out.dtype, 0, device,
                               GridFor(args.rows * args.segment, device, kBlock), &rows);
  args.x = losses;
  if (status.ok()) status = Launch(c.op, out.dtype, 1, device, one_block, &args);
  memory->Free(device, losses);  // stream-ordered: reused only after the mean
  return status;
}

absl::Status CrossEntropyGrad(const KernelCall& c) {
  SmArgs args = CrossEntropyArgs(c);
  args.g = c.inputs[2]->data();
  const TensorImpl& out = *c.outputs[0];
  if (args.rows == 0) return absl::OkStatus();
  return Launch(c.op, out.dtype, 0, out.device,
                GridFor(args.rows * args.segment, out.device, kBlock), &args);
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
                              absl::StrCat(kCommon, kLogitRows, kCrossEntropy),
                              {"tg_cross_entropy_rows", "tg_cross_entropy_mean"}));
    out->push_back(MakeSource(OpKind::kCrossEntropyGrad, dtype,
                              absl::StrCat(kCommon, kLogitRows, kCrossEntropyGrad),
                              {"tg_cross_entropy_grad"}));
  }
}

}  // namespace tapegrad::cuda
