// Reductions over a set of axes on CUDA: sum (scaled, which gives mean), max, min,
// and the index reductions argmax and argmin (i64 positions, first extreme wins).
// Contract (core/internal/registry.h): input any strides; output contiguous with the
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
#include "core/internal/registry.h"
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

// What every reduction source starts with: the arguments and the offset helper.
constexpr char kHelpers[] = R"(
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
)";

constexpr char kValueKernels[] = R"(
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

// kArgMax / kArgMin: one block per output, as tg_rows, carrying (value, position)
// pairs. TG_BETTER(v, i, bv, bi) says whether element i beats the best so far: a
// larger (smaller) value, a NaN over a number, or an equal one (NaN equal to NaN)
// earlier, so that the first extreme wins whatever order the threads meet it in.
constexpr char kIndexKernel[] = R"(
extern "C" __global__ void tg_arg_rows(RedArgs p) {
  __shared__ T best_value[256];
  __shared__ i64 best_at[256];
  const T* x = (const T*)p.in;
  for (i64 j = blockIdx.x; j < p.outputs; j += gridDim.x) {
    const i64 base = tg_offset(j, p.kept_rank, p.kept_sizes, p.kept_strides);
    T value = x[base];
    i64 at = 0;
    for (i64 r = threadIdx.x; r < p.per_output; r += blockDim.x) {
      const T v = x[base + tg_offset(r, p.red_rank, p.red_sizes, p.red_strides)];
      if (TG_BETTER(v, r, value, at)) { value = v; at = r; }
    }
    best_value[threadIdx.x] = value;
    best_at[threadIdx.x] = at;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s && TG_BETTER(best_value[threadIdx.x + s], best_at[threadIdx.x + s],
                                       best_value[threadIdx.x], best_at[threadIdx.x])) {
        best_value[threadIdx.x] = best_value[threadIdx.x + s];
        best_at[threadIdx.x] = best_at[threadIdx.x + s];
      }
      __syncthreads();
    }
    if (threadIdx.x == 0) ((i64*)p.out)[j] = best_at[0];
    __syncthreads();
  }
}
)";

std::string IndexDefinitions(OpKind op) {
  const char* beats = op == OpKind::kArgMax ? ">" : "<";
  return absl::StrCat("#define TG_BETTER(v, i, bv, bi) ((v) ", beats,
                      " (bv) || ((v) != (v) && (bv) == (bv)) || "
                      "(((v) == (bv) || ((v) != (v) && (bv) != (bv))) && (i) < (bi)))\n");
}

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

// The arguments of every reduction kernel: x split into kept and reduced axes.
RedArgs ArgsFor(const KernelCall& c) {
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
  args.in = x.data();
  args.out = out.data();
  args.scale = c.attrs.scalar0;
  return args;
}

absl::Status Reduce(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  TensorImpl& out = *c.outputs[0];
  const Layout& in = x.layout;
  RedArgs args = ArgsFor(c);
  if (args.outputs == 0) return absl::OkStatus();
  const bool inner_reduced =
      in.rank > 0 && (c.attrs.axes & (1u << (in.rank - 1))) && in.sizes[in.rank - 1] > 1;
  const bool rows = inner_reduced || args.outputs * 16 < args.per_output;
  LaunchShape shape = GridFor(args.outputs, out.device);
  if (rows) {
    shape = GridFor(args.outputs * kRowBlock, out.device, kRowBlock);
  }
  return Launch(c.op, out.dtype, rows ? 0 : 1, out.device, shape, &args);
}

// Keyed, and compiled, by the input's dtype; the output is i64.
absl::Status IndexReduce(const KernelCall& c) {
  RedArgs args = ArgsFor(c);
  if (args.outputs == 0) return absl::OkStatus();
  const Device device = c.outputs[0]->device;
  return Launch(c.op, c.inputs[0]->dtype, 0, device,
                GridFor(args.outputs * kRowBlock, device, kRowBlock), &args);
}

TAPEGRAD_REGISTER_KERNEL(kSum, kF32, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kSum, kF64, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kMax, kF32, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kMax, kF64, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kMin, kF32, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kMin, kF64, kCuda, Reduce);
TAPEGRAD_REGISTER_KERNEL(kArgMax, kF32, kCuda, IndexReduce);
TAPEGRAD_REGISTER_KERNEL(kArgMax, kF64, kCuda, IndexReduce);
TAPEGRAD_REGISTER_KERNEL(kArgMin, kF32, kCuda, IndexReduce);
TAPEGRAD_REGISTER_KERNEL(kArgMin, kF64, kCuda, IndexReduce);

}  // namespace

void AppendReduceSources(std::vector<KernelSource>* out) {
  for (OpKind op : {OpKind::kSum, OpKind::kMax, OpKind::kMin}) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      out->push_back(MakeSource(op, dtype,
                                absl::StrCat(Definitions(op), kHelpers, kValueKernels),
                                {"tg_rows", "tg_columns"}));
    }
  }
  for (OpKind op : {OpKind::kArgMax, OpKind::kArgMin}) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      out->push_back(MakeSource(
          op, dtype, absl::StrCat(IndexDefinitions(op), kHelpers, kIndexKernel),
          {"tg_arg_rows"}));
    }
  }
}

}  // namespace tapegrad::cuda
