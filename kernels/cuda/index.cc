// Row gathering and its adjoint on CUDA.
// Contracts (kernels/cpu/index.cc): index_select (x [R, ...], indices i64 [K]) ->
// out [K, ...]; index_add (src [K, ...], indices i64 [K]) adds src's rows into rows
// of outputs[0] [R, ...] in place, repeated indices adding up (atomicAdd).
//
// One thread per element of the [K, ...] side. An index outside [0, R) cannot be
// reported without waiting for the GPU: index_select writes NaN for that row and
// index_add skips it (the CPU returns InvalidArgument).
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/internal/registry.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {
namespace {

struct IxArgs {
  int64_t n;
  int64_t rows;  // R, the indexed tensor's first size
  int64_t sizes[kMaxRank];
  int64_t walk_strides[kMaxRank];     // the [K, ...] tensor
  int64_t indexed_strides[kMaxRank];  // the [R, ...] tensor
  const void* indices;
  int64_t index_stride;
  const void* src;
  void* dst;
  int32_t rank;
};

constexpr char kCommon[] = R"(
struct IxArgs {
  i64 n;
  i64 rows;
  i64 sizes[TG_MAX_RANK];
  i64 walk_strides[TG_MAX_RANK];
  i64 indexed_strides[TG_MAX_RANK];
  const void* indices;
  i64 index_stride;
  const void* src;
  void* dst;
  int rank;
};
// Offsets of element i of the [K, ...] side in both tensors; false if its index
// is out of range.
__device__ __forceinline__ bool tg_offsets(const IxArgs& p, i64 i, i64* walk, i64* indexed) {
  i64 w = 0, x = 0;
  for (int d = p.rank - 1; d >= 1; --d) {
    const i64 id = i % p.sizes[d];
    i /= p.sizes[d];
    w += id * p.walk_strides[d];
    x += id * p.indexed_strides[d];
  }
  const i64 row = ((const i64*)p.indices)[i * p.index_stride];
  *walk = w + i * p.walk_strides[0];
  *indexed = x + row * p.indexed_strides[0];
  return row >= 0 && row < p.rows;
}
)";

constexpr char kSelect[] = R"(
extern "C" __global__ void tg_index_select(IxArgs p) {
  TG_FOR(i, p.n) {
    i64 w, x;
    const bool ok = tg_offsets(p, i, &w, &x);
    ((T*)p.dst)[w] = ok ? ((const T*)p.src)[x] : (T)__longlong_as_double(0x7ff8000000000000ULL);
  }
}
)";

constexpr char kAdd[] = R"(
extern "C" __global__ void tg_index_add(IxArgs p) {
  TG_FOR(i, p.n) {
    i64 w, x;
    if (tg_offsets(p, i, &w, &x)) atomicAdd((T*)p.dst + x, ((const T*)p.src)[w]);
  }
}
)";

IxArgs Args(const TensorImpl& walked, const TensorImpl& indexed,
            const TensorImpl& indices) {
  IxArgs args;
  std::memset(&args, 0, sizeof(args));
  args.n = walked.numel();
  args.rows = indexed.layout.sizes[0];
  args.rank = walked.layout.rank;
  for (int d = 0; d < args.rank; ++d) {
    args.sizes[d] = walked.layout.sizes[d];
    args.walk_strides[d] = walked.layout.strides[d];
    args.indexed_strides[d] = indexed.layout.strides[d];
  }
  args.indices = indices.data();
  args.index_stride = indices.layout.strides[0];
  return args;
}

absl::Status IndexSelect(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  TensorImpl& out = *c.outputs[0];
  IxArgs args = Args(out, x, *c.inputs[1]);
  if (args.n == 0) return absl::OkStatus();
  args.src = x.data();
  args.dst = out.data();
  return Launch(c.op, out.dtype, 0, out.device, GridFor(args.n, out.device), &args);
}

absl::Status IndexAdd(const KernelCall& c) {
  const TensorImpl& src = *c.inputs[0];
  TensorImpl& out = *c.outputs[0];
  IxArgs args = Args(src, out, *c.inputs[1]);
  if (args.n == 0) return absl::OkStatus();
  args.src = src.data();
  args.dst = out.data();
  return Launch(c.op, out.dtype, 0, out.device, GridFor(args.n, out.device), &args);
}

TAPEGRAD_REGISTER_KERNEL(kIndexSelect, kF32, kCuda, IndexSelect);
TAPEGRAD_REGISTER_KERNEL(kIndexSelect, kF64, kCuda, IndexSelect);
TAPEGRAD_REGISTER_KERNEL(kIndexAdd, kF32, kCuda, IndexAdd);
TAPEGRAD_REGISTER_KERNEL(kIndexAdd, kF64, kCuda, IndexAdd);

}  // namespace

void AppendIndexSources(std::vector<KernelSource>* out) {
  for (DType dtype : {DType::kF32, DType::kF64}) {
    out->push_back(MakeSource(OpKind::kIndexSelect, dtype, absl::StrCat(kCommon, kSelect),
                              {"tg_index_select"}));
    out->push_back(MakeSource(OpKind::kIndexAdd, dtype, absl::StrCat(kCommon, kAdd),
                              {"tg_index_add"}));
  }
}

}  // namespace tapegrad::cuda
