// Reductions over a set of axes on CUDA: sum (scaled, which gives mean), max, min.
// Contract (core/registry.h): input any strides; output contiguous with the
// input's rank and the reduced axes of size 1; attrs.axes = bit set of reduced
// axes; attrs.scalar0 scales a sum.
//
// The input splits into kept and reduced sub-layouts; output j reduces the
// elements of kept position j. Two kernels:
//  - rows (entry 0), when the innermost input axis is reduced or outputs are few:
//    one block per output, threads stride over its elements (coalesced along the
//    reduced axis), then a shared-memory tree;
//  - columns (entry 1), when the innermost axis is kept (bias gradients): one
//    thread per output, neighbouring threads read neighbouring columns.
// NaN propagates through max and min, as on the CPU.
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/registry.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {
namespace {

struct RedArgs {
  int64_t outputs, per_output;
  int64_t kept_sizes[kMaxRank], kept_strides[kMaxRank];
  int64_t red_sizes[kMaxRank], red_strides[kMaxRank];
  const void* in;
  void* out;
  double scale;
  int32_t kept_rank, red_rank;
};

constexpr unsigned kRowBlock = 256;

constexpr char kCommon[] = R"(
struct RedArgs {
  i64 outputs, per_output;
  i64 kept_sizes[TG_MAX_RANK], kept_strides[TG_MAX_RANK];
  i64 red_sizes[TG_MAX_RANK], red_strides[TG_MAX_RANK];
  const void* in;
  void* out;
  double scale;
  int kept_rank, red_rank;
};
__device__ __forceinline__ i64 tg_offset(i64 index, int rank, const i64* sizes,
                                         const i64* strides) {
  i64 offset = 0;
  for (int d = rank - 1; d >= 0; --d) {
    offset += (index % sizes[d]) * strides[d];
    index /= sizes[d];
  }
  return offset;
}
__device__ __forceinline__ T tg_neg_inf() {
  return (T)__longlong_as_double(0xfff0000000000000ULL);
}
extern "C" __global__ void tg_rows(RedArgs p) {
  __shared__ T partial[256];
  const T* x = (const T*)p.in;
  for (i64 j = blockIdx.x; j < p.outputs; j += gridDim.x) {
    const i64 base = tg_offset(j, p.kept_rank, p.kept_sizes, p.kept_strides);
    T acc = TG_IDENTITY;
    for (i64 r = threadIdx.x; r < p.per_output; r += blockDim.x) {
      const T v = x[base + tg_offset(r, p.red_rank, p.red_sizes, p.red_strides)];
      acc = TG_COMBINE(acc, v);
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) partial[threadIdx.x] = TG_COMBINE(partial[threadIdx.x], partial[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0) ((T*)p.out)[j] = TG_FINISH(partial[0]);
    __syncthreads();
  }
}
extern "C" __global__ void tg_columns(RedArgs p) {
  const T* x = (const T*)p.in;
  TG_FOR(j, p.outputs) {
    const i64 base = tg_offset(j, p.kept_rank, p.kept_sizes, p.kept_strides);
    T acc = TG_IDENTITY;
    for (i64 r = 0; r < p.per_output; ++r) {
      const T v = x[base + tg_offset(r, p.red_rank, p.red_sizes, p.red_strides)];
      acc = TG_COMBINE(acc, v);
    }
    ((T*)p.out)[j] = TG_FINISH(acc);
  }
}
)";

std::string Definitions(OpKind op) {
  switch (op) {
    case OpKind::kSum:
      return "#define TG_IDENTITY T(0)\n#define TG_COMBINE(a, v) ((a) + (v))\n"
             "#define TG_FINISH(a) ((a) * (T)p.scale)\n";
    case OpKind::kMax:
      return "#define TG_IDENTITY tg_neg_inf()\n"
             "#define TG_COMBINE(a, v) (((v) > (a) || (v) != (v)) ? (v) : (a))\n"
             "#define TG_FINISH(a) (a)\n";
    default:
      return "#define TG_IDENTITY (-tg_neg_inf())\n"
             "#define TG_COMBINE(a, v) (((v) < (a) || (v) != (v)) ? (v) : (a))\n"
             "#define TG_FINISH(a) (a)\n";
  }
}

absl::Status Reduce(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  TensorImpl& out = *c.outputs[0];
  RedArgs args;
  std::memset(&args, 0, sizeof(args));
  const Layout& in = x.layout;
  for (int d = 0; d < in.rank; ++d) {
    const bool reduced = c.attrs.axes & (1u << d);
    int64_t* sizes = reduced ? args.red_sizes : args.kept_sizes;
    int64_t* strides = reduced ? args.red_strides : args.kept_strides;
    int32_t& rank = reduced ? args.red_rank : args.kept_rank;
    sizes[rank] = in.sizes[d];
    strides[rank] = in.strides[d];
    ++rank;
  }
  args.outputs = out.numel();
  args.per_output = args.outputs == 0 ? 0 : in.numel() / args.outputs;
  if (args.outputs == 0) return absl::OkStatus();
  args.in = x.data();
  args.out = out.data();
  args.scale = c.attrs.scalar0;
  const bool inner_reduced =
      in.rank > 0 && (c.attrs.axes & (1u << (in.rank - 1))) && in.sizes[in.rank - 1] > 1;
  const bool rows = inner_reduced || args.outputs * 16 < args.per_output;
  LaunchShape shape = GridFor(args.outputs, out.device);
  if (rows) {
    shape = GridFor(args.outputs * kRowBlock, out.device, kRowBlock);
  }
  return Launch(c.op, out.dtype, rows ? 0 : 1, out.device, shape, &args);
}

TAPEGRAD_REGISTER_KERNEL(kSum, kF32, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kSum, kF64, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kMax, kF32, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kMax, kF64, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kMin, kF32, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kMin, kF64, kCuda, Reduce);

}  // namespace

void AppendReduceSources(std::vector<KernelSource>* out) {
  for (OpKind op : {OpKind::kSum, OpKind::kMax, OpKind::kMin}) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      out->push_back(MakeSource(op, dtype, absl::StrCat(Definitions(op), kCommon),
                                {"tg_rows", "tg_columns"}));
    }
  }
}

}  // namespace tapegrad::cuda
