// Elementwise CUDA kernels: arithmetic, activations, their gradients, fill, copy,
// axpy, where, maximum_grad and binary cross-entropy. Contract
// (core/internal/registry.h): operands share one shape, any strides; an output may alias
// an input.
//
// Every op is one line of device code (kOps) in a module with two kernels:
//  - flat (entry 0): contiguous outputs; each input contiguous, a scalar, or a
//    broadcast whose non-zero strides form one contiguous band of axes (a bias
//    [N] expanded to [B, N] reads element i % N; a column [B, 1] expanded to
//    [B, N] reads i / N), read at (i / div) % mod in 32-bit arithmetic where the
//    sizes allow; four independent elements per thread per iteration, so that
//    loads of a large tensor keep enough bytes in flight to run at copy
//    bandwidth;
//  - strided (entry 1): any strides, up to kMaxRank axes; each element's offsets
//    come from its row-major index.
// Each module starts with core/internal/elementwise_math.h, whose formulas the CPU
// kernels compile too, so that both backends agree.
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "core/internal/registry.h"
#include "kernels/cuda/compiler.h"
#include "kernels/cuda/sources.h"

namespace tapegrad::cuda {
namespace {

constexpr int kMaxOperands = 5;

// The kernels' single argument, the same bytes on both sides.
struct EwArgs {
  int64_t n;
  int64_t sizes[kMaxRank];
  int64_t strides[kMaxOperands][kMaxRank];  // elements; outputs first, then inputs
  // Flat kernel: operand k's element i is at (i / divs[k]) % mods[k]; mods[k] ==
  // 0 means at i (contiguous).
  int64_t divs[kMaxOperands], mods[kMaxOperands];
  void* data[kMaxOperands];
  double s0, s1;
  int32_t rank;
};

constexpr char kArgsStruct[] = R"(
struct EwArgs {
  i64 n;
  i64 sizes[TG_MAX_RANK];
  i64 strides[5][TG_MAX_RANK];
  i64 divs[5], mods[5];
  void* data[5];
  double s0, s1;
  int rank;
};
__device__ __forceinline__ i64 tg_at(const EwArgs& p, int k, i64 i) {
  if (p.mods[k] == 0) return i;
  if (p.mods[k] == 1) return 0;
  if (p.n <= 0xffffffffLL) {
    return (i64)(((unsigned)i / (unsigned)p.divs[k]) % (unsigned)p.mods[k]);
  }
  return (i / p.divs[k]) % p.mods[k];
}
)";

struct EwOp {
  OpKind op;
  int outputs;
  int inputs;
  // Sets o0 (and o1) from x0..x2 and the scalars s0, s1 (all of type T).
  const char* body;
};

// Formulas of any length live in core/internal/elementwise_math.h, which every module
// includes (kElementwiseMath).
constexpr EwOp kOps[] = {
// The rows of TAPEGRAD_BINARY_MATH_OPS, of (x0, x1).
#define TAPEGRAD_CUDA_BINARY_MATH(Y, Name, ...) \
  {OpKind::k##Name, 1, 2, "o0 = tapegrad::math::" #Name "::Forward(x0, x1);"},
    TAPEGRAD_BINARY_MATH_OPS(TAPEGRAD_CUDA_BINARY_MATH, )
#undef TAPEGRAD_CUDA_BINARY_MATH
        {OpKind::kWhere, 1, 3, "o0 = x0 != T(0) ? x1 : x2;"},
    {OpKind::kNeg, 1, 1, "o0 = -x0;"},
    {OpKind::kClamp, 1, 1, "o0 = tapegrad::math::Clamp(x0, s0, s1);"},
    {OpKind::kClampGrad, 1, 2, "o0 = tapegrad::math::ClampGrad(x0, x1, s0, s1);"},
    {OpKind::kPow, 1, 1, "o0 = tapegrad::math::Pow(x0, s0);"},
    {OpKind::kPowGrad, 1, 2, "o0 = tapegrad::math::PowGrad(x0, x1, s0);"},
    {OpKind::kScale, 1, 1, "o0 = x0 * s0;"},
    {OpKind::kCopy, 1, 1, "o0 = x0;"},
    {OpKind::kFill, 1, 0, "o0 = s0;"},
    // out += alpha * x: the launcher passes out as x0 too.
    {OpKind::kAxpy, 1, 2, "o0 = x0 + s0 * x1;"},
    // (a, b, g) -> (a's share, b's share) of maximum(a, b)'s gradient.
    {OpKind::kMaximumGrad, 2, 3,
     "o0 = tapegrad::math::MaximumShare(x0, x1, x2);"
     " o1 = tapegrad::math::MaximumShare(x1, x0, x2);"},
    {OpKind::kBceWithLogits, 1, 2, "o0 = tapegrad::math::BceWithLogits(x0, x1);"},
// The rows of TAPEGRAD_UNARY_MATH_OPS: the op of x0, and its gradient kernel of
// (saved, g) = (x0, x1).
#define TAPEGRAD_CUDA_UNARY_MATH(Y, Name, ...)                                     \
  {OpKind::k##Name, 1, 1, "o0 = tapegrad::math::" #Name "::Forward(x0, s0, s1);"}, \
      {OpKind::k##Name##Grad, 1, 2,                                                \
       "o0 = tapegrad::math::" #Name "::Backward(x0, x1, s0, s1);"},
    TAPEGRAD_UNARY_MATH_OPS(TAPEGRAD_CUDA_UNARY_MATH, )
#undef TAPEGRAD_CUDA_UNARY_MATH
};

const EwOp* FindOp(OpKind op) {
  for (const EwOp& e : kOps) {
    if (e.op == op) return &e;
  }
  return nullptr;
}

// Declarations of o0.., x0.. read from operand offsets given by `at(k)`.
std::string ElementBody(const EwOp& e, const std::string& at) {
  std::string s;
  for (int k = 0; k < e.inputs; ++k) {
    absl::StrAppend(&s, "      const T x", k, " = ((const T*)p.data[", e.outputs + k,
                    "])[", absl::StrReplaceAll(at, {{"K", absl::StrCat(e.outputs + k)}}),
                    "];\n");
  }
  for (int k = 0; k < e.outputs; ++k) absl::StrAppend(&s, "      T o", k, ";\n");
  absl::StrAppend(&s, "      { ", e.body, " }\n");
  for (int k = 0; k < e.outputs; ++k) {
    absl::StrAppend(&s, "      ((T*)p.data[", k, "])[",
                    absl::StrReplaceAll(at, {{"K", absl::StrCat(k)}}), "] = o", k, ";\n");
  }
  return s;
}

std::string ModuleBody(const EwOp& e) {
  const int operands = e.outputs + e.inputs;
  return absl::StrCat(
      kElementwiseMath, kArgsStruct,
      "__device__ __forceinline__ void tg_element(const EwArgs& p, i64 i, T s0, T s1) "
      "{\n",
      ElementBody(e, "tg_at(p, K, i)"),
      "}\n"
      "extern \"C\" __global__ void tg_flat(EwArgs p) {\n"
      "  const T s0 = (T)p.s0, s1 = (T)p.s1;\n"
      "  const i64 stride = (i64)gridDim.x * blockDim.x;\n"
      "  for (i64 base = (i64)blockIdx.x * blockDim.x + threadIdx.x; base < p.n;\n"
      "       base += 4 * stride) {\n"
      "#pragma unroll\n"
      "    for (int u = 0; u < 4; ++u) {\n"
      "      const i64 i = base + u * stride;\n"
      "      if (i < p.n) tg_element(p, i, s0, s1);\n"
      "    }\n"
      "  }\n"
      "}\n"
      "extern \"C\" __global__ void tg_strided(EwArgs p) {\n"
      "  const T s0 = (T)p.s0, s1 = (T)p.s1;\n"
      "  TG_FOR(i, p.n) {\n"
      "    i64 off[",
      operands,
      "];\n"
      "#pragma unroll\n"
      "    for (int k = 0; k < ",
      operands,
      "; ++k) off[k] = 0;\n"
      "    i64 rest = i;\n"
      "    for (int d = p.rank - 1; d >= 0; --d) {\n"
      "      const i64 id = rest % p.sizes[d];\n"
      "      rest /= p.sizes[d];\n"
      "#pragma unroll\n"
      "      for (int k = 0; k < ",
      operands,
      "; ++k) off[k] += id * p.strides[k][d];\n"
      "    }\n"
      "    {\n",
      ElementBody(e, "off[K]"),
      "    }\n"
      "  }\n"
      "}\n");
}

// How the flat kernel finds an input's elements: true with (div, mod) when the
// axes with non-zero strides form one contiguous band (then element i of the
// whole shape is at (i / div) % mod), mod 0 when the input is contiguous.
bool FlatIndexing(const Layout& l, int64_t n, int64_t* div, int64_t* mod) {
  int first = -1, last = -1;
  for (int d = 0; d < l.rank; ++d) {
    if (l.sizes[d] == 1 || l.strides[d] == 0) continue;
    if (first < 0) first = d;
    last = d;
  }
  *div = 1;
  *mod = 1;  // a scalar: every element at 0
  if (first < 0) return true;
  for (int d = last; d >= first; --d) {
    if (l.sizes[d] == 1) continue;
    if (l.strides[d] != *mod) return false;  // a gap, or a broadcast inside the band
    *mod *= l.sizes[d];
  }
  for (int d = last + 1; d < l.rank; ++d) *div *= l.sizes[d];
  if (*mod == n) *mod = 0;
  return true;
}

absl::Status Elementwise(const KernelCall& c) {
  const EwOp* e = FindOp(c.op);
  const TensorImpl& first = *c.outputs[0];
  const TensorImpl* operands[kMaxOperands] = {};
  int count = 0;
  for (TensorImpl* out : c.outputs) operands[count++] = out;
  if (c.op == OpKind::kAxpy) operands[count++] = c.outputs[0];  // reads out, too
  for (const TensorImpl* in : c.inputs) operands[count++] = in;
  if (e == nullptr || count != e->outputs + e->inputs) {
    return absl::InternalError(absl::StrFormat("cuda %s: %d operands for %d",
                                               OpKindName(c.op), count,
                                               e ? e->outputs + e->inputs : 0));
  }
  EwArgs args;
  std::memset(&args, 0, sizeof(args));
  args.n = first.numel();
  if (args.n == 0) return absl::OkStatus();
  args.rank = first.layout.rank;
  args.s0 = c.attrs.scalar0;
  args.s1 = c.attrs.scalar1;
  for (int d = 0; d < args.rank; ++d) args.sizes[d] = first.layout.sizes[d];
  bool flat = true;
  for (int k = 0; k < count; ++k) {
    const Layout& l = operands[k]->layout;
    args.data[k] = operands[k]->data();
    for (int d = 0; d < l.rank; ++d) args.strides[k][d] = l.strides[d];
    if (k < e->outputs) {
      flat = flat && l.IsContiguous();  // mods[k] = 0
    } else {
      flat = flat && FlatIndexing(l, args.n, &args.divs[k], &args.mods[k]);
    }
  }
  // The flat kernel covers four elements per thread per pass.
  const LaunchShape shape = GridFor(flat ? (args.n + 3) / 4 : args.n, first.device);
  return Launch(c.op, first.dtype, flat ? 0 : 1, first.device, shape, &args);
}

#define TG_CUDA_FLOAT(op)                                 \
  TAPEGRAD_REGISTER_KERNEL(op, kF32, kCuda, Elementwise); \
  TAPEGRAD_REGISTER_KERNEL(op, kF64, kCuda, Elementwise)

#define TAPEGRAD_CUDA_BINARY_MATH(Y, Name, ...) TG_CUDA_FLOAT(k##Name);
TAPEGRAD_BINARY_MATH_OPS(TAPEGRAD_CUDA_BINARY_MATH, )
#undef TAPEGRAD_CUDA_BINARY_MATH
TG_CUDA_FLOAT(kWhere);
TG_CUDA_FLOAT(kNeg);
TG_CUDA_FLOAT(kClamp);
TG_CUDA_FLOAT(kClampGrad);
TG_CUDA_FLOAT(kPow);
TG_CUDA_FLOAT(kPowGrad);
TG_CUDA_FLOAT(kScale);
TG_CUDA_FLOAT(kCopy);
TG_CUDA_FLOAT(kFill);
TG_CUDA_FLOAT(kAxpy);
TG_CUDA_FLOAT(kMaximumGrad);
TG_CUDA_FLOAT(kBceWithLogits);
#define TAPEGRAD_CUDA_UNARY_MATH(Y, Name, ...) \
  TG_CUDA_FLOAT(k##Name);                      \
  TG_CUDA_FLOAT(k##Name##Grad);
TAPEGRAD_UNARY_MATH_OPS(TAPEGRAD_CUDA_UNARY_MATH, )
#undef TAPEGRAD_CUDA_UNARY_MATH
// i64 tensors (labels, indices) are created, copied and filled, never differentiated.
TAPEGRAD_REGISTER_KERNEL(kCopy, kI64, kCuda, Elementwise);
TAPEGRAD_REGISTER_KERNEL(kFill, kI64, kCuda, Elementwise);

}  // namespace

void AppendElementwiseSources(std::vector<KernelSource>* out) {
  for (const EwOp& e : kOps) {
    for (DType dtype : {DType::kF32, DType::kF64}) {
      out->push_back(MakeSource(e.op, dtype, ModuleBody(e), {"tg_flat", "tg_strided"}));
    }
    if (e.op == OpKind::kCopy || e.op == OpKind::kFill) {
      out->push_back(
          MakeSource(e.op, DType::kI64, ModuleBody(e), {"tg_flat", "tg_strided"}));
    }
  }
}

}  // namespace tapegrad::cuda
