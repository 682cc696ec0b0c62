// Reductions over a set of axes on CUDA: sum (scaled, which gives mean), max, min,
// and the index reductions argmax and argmin (i64 positions, first extreme wins).
// Contract (core/internal/registry.h): input any strides; output contiguous with the
// input's rank and the reduced axes of size 1; attrs.axes = bit set of reduced
// axes; attrs.scalar0 scales a sum.
//
// The input splits into kept and reduced sub-layouts (adjacent axes that are
// contiguous with each other merged, size-1 axes dropped, so that a contiguous
// operand costs one multiply per element, not a div/mod per axis); output j
// reduces the elements of kept position j. Two kernels:
//  - rows (entry 0), when the innermost input axis is reduced or outputs are few:
//    one block per output, threads stride over its elements (coalesced along the
//    reduced axis), then a shared-memory tree;
//  - columns (entry 1), when the innermost axis is kept (bias gradients): one
//    thread per output, neighbouring threads read neighbouring columns.
// When that leaves the device mostly idle (a full sum is one block; a bias
// gradient over 4096 rows of 64 columns is 64 threads), each output's elements
// are split into chunks reduced in parallel into a scratch buffer of partial
// results, and a second launch combines the partials (no atomics: the result
// does not depend on scheduling). Index reductions stay one block per output.
// NaN propagates through max and min, as on the CPU.
#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/internal/device_memory.h"
#include "core/internal/registry.h"
#include "core/status_macros.h"
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
  int64_t splits, chunk;  // each output's elements in `splits` chunks of `chunk`
  int32_t kept_rank, red_rank;
};

constexpr unsigned kRowBlock = 256;
// The least work worth a chunk of its own: per block (rows) and per thread
// (columns).
constexpr int64_t kRowChunk = 8 * kRowBlock;
constexpr int64_t kColumnChunk = 64;

// What every reduction source starts with: the arguments and the offset helper.
constexpr char kHelpers[] = R"(
struct RedArgs {
  i64 outputs, per_output;
  i64 kept_sizes[TG_MAX_RANK], kept_strides[TG_MAX_RANK];
  i64 red_sizes[TG_MAX_RANK], red_strides[TG_MAX_RANK];
  const void* in;
  void* out;
  double scale;
  i64 splits, chunk;
  int kept_rank, red_rank;
};
__device__ __forceinline__ i64 tg_offset(i64 index, int rank, const i64* sizes,
                                         const i64* strides) {
  if (rank <= 1) return rank == 1 ? index * strides[0] : 0;
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
  for (i64 b = blockIdx.x; b < p.outputs * p.splits; b += gridDim.x) {
    const i64 j = b / p.splits, begin = (b % p.splits) * p.chunk;
    const i64 end = min(begin + p.chunk, p.per_output);
    const i64 base = tg_offset(j, p.kept_rank, p.kept_sizes, p.kept_strides);
    T acc = TG_IDENTITY;
    for (i64 r = begin + threadIdx.x; r < end; r += blockDim.x) {
      const T v = x[base + tg_offset(r, p.red_rank, p.red_sizes, p.red_strides)];
      acc = TG_COMBINE(acc, v);
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
      if (threadIdx.x < s) partial[threadIdx.x] = TG_COMBINE(partial[threadIdx.x], partial[threadIdx.x + s]);
      __syncthreads();
    }
    if (threadIdx.x == 0) ((T*)p.out)[b] = TG_FINISH(partial[0]);
    __syncthreads();
  }
}
extern "C" __global__ void tg_columns(RedArgs p) {
  const T* x = (const T*)p.in;
  TG_FOR(t, p.outputs * p.splits) {
    const i64 j = t % p.outputs, begin = (t / p.outputs) * p.chunk;
    const i64 end = min(begin + p.chunk, p.per_output);
    const i64 base = tg_offset(j, p.kept_rank, p.kept_sizes, p.kept_strides);
    T acc = TG_IDENTITY;
    for (i64 r = begin; r < end; ++r) {
      const T v = x[base + tg_offset(r, p.red_rank, p.red_sizes, p.red_strides)];
      acc = TG_COMBINE(acc, v);
    }
    ((T*)p.out)[t] = TG_FINISH(acc);
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

// The arguments of every reduction kernel: x split into kept and reduced axes,
// each in input order, merged where an axis is contiguous with the one before it
// in the same group (so the flat position within each group is unchanged).
RedArgs ArgsFor(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  TensorImpl& out = *c.outputs[0];
  RedArgs args;
  std::memset(&args, 0, sizeof(args));
  const Layout& in = x.layout;
  int previous_group = -1;
  for (int d = 0; d < in.rank; ++d) {
    if (in.sizes[d] == 1) continue;
    const bool reduced = c.attrs.axes & (1u << d);
    int64_t* sizes = reduced ? args.red_sizes : args.kept_sizes;
    int64_t* strides = reduced ? args.red_strides : args.kept_strides;
    int32_t& rank = reduced ? args.red_rank : args.kept_rank;
    if (previous_group == int{reduced} &&
        strides[rank - 1] == in.strides[d] * in.sizes[d]) {
      sizes[rank - 1] *= in.sizes[d];
      strides[rank - 1] = in.strides[d];
    } else {
      sizes[rank] = in.sizes[d];
      strides[rank] = in.strides[d];
      ++rank;
    }
    previous_group = reduced;
  }
  args.outputs = out.numel();
  args.per_output = args.outputs == 0 ? 0 : in.numel() / args.outputs;
  args.in = x.data();
  args.out = out.data();
  args.scale = c.attrs.scalar0;
  args.splits = 1;
  args.chunk = args.per_output;
  return args;
}

// Combines `splits` partial results per output, laid out [outputs, splits]
// (rows) or [splits, outputs] (columns), into the output.
RedArgs CombineArgs(const RedArgs& whole, bool rows, const void* partials, void* out) {
  RedArgs args;
  std::memset(&args, 0, sizeof(args));
  args.outputs = whole.outputs;
  args.per_output = whole.splits;
  args.kept_rank = args.red_rank = 1;
  args.kept_sizes[0] = whole.outputs;
  args.kept_strides[0] = rows ? whole.splits : 1;
  args.red_sizes[0] = whole.splits;
  args.red_strides[0] = rows ? 1 : whole.outputs;
  args.in = partials;
  args.out = out;
  args.scale = whole.scale;
  args.splits = 1;
  args.chunk = whole.splits;
  return args;
}

absl::Status Reduce(const KernelCall& c) {
  TensorImpl& out = *c.outputs[0];
  const Device device = out.device;
  RedArgs args = ArgsFor(c);
  if (args.outputs == 0) return absl::OkStatus();
  // Reads are coalesced along whichever group holds the unit-stride axis: rows
  // when the reduced one does, columns when the kept one does. Without one
  // (a view of a view), rows for few outputs.
  const bool reduced_unit = args.red_rank > 0 && args.red_strides[args.red_rank - 1] == 1;
  const bool kept_unit = args.kept_rank > 0 && args.kept_strides[args.kept_rank - 1] == 1;
  const bool rows = reduced_unit || (!kept_unit && args.outputs * 16 < args.per_output);
  const int entry = rows ? 0 : 1;
  const int64_t unit = rows ? kRowBlock : 1;  // threads per output
  const LaunchShape full = GridFor(int64_t{1} << 40, device, kRowBlock);
  const int64_t room = int64_t{full.grid} * full.block / unit;  // outputs at once
  const int64_t splits =
      std::min(room / args.outputs, args.per_output / (rows ? kRowChunk : kColumnChunk));
  if (splits < 2) {
    return Launch(c.op, out.dtype, entry, device,
                  GridFor(args.outputs * unit, device, kRowBlock), &args);
  }
  // Two launches: partials of each chunk, then their combination.
  args.splits = splits;
  args.chunk = (args.per_output + splits - 1) / splits;
  const double scale = args.scale;
  args.scale = 1;
  DeviceMemory* memory = DeviceMemoryFor(DeviceType::kCuda);
  TG_ASSIGN_OR_RETURN(void* partials, memory->Allocate(device, args.outputs * splits *
                                                                   DTypeSize(out.dtype)));
  args.out = partials;
  absl::Status status =
      Launch(c.op, out.dtype, entry, device,
             GridFor(args.outputs * splits * unit, device, kRowBlock), &args);
  args.scale = scale;
  RedArgs combine = CombineArgs(args, rows, partials, out.data());
  if (status.ok()) {
    status = Launch(c.op, out.dtype, 1, device, GridFor(args.outputs, device), &combine);
  }
  memory->Free(device, partials);  // stream-ordered: reused only after the combine
  return status;
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
