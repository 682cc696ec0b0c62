#include "kernels/cuda/sources.h"

#include "absl/strings/str_cat.h"

namespace tapegrad::cuda {

const char kPreamble[] = R"(
typedef long long i64;
typedef unsigned long long u64;
#define TG_MAX_RANK 8
// Grid-stride loops: any grid size covers any n.
#define TG_FOR(i, n) \
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (i64)gridDim.x * blockDim.x)
)";

const char* DeviceTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "float";
    case DType::kF64:
      return "double";
    case DType::kI64:
      return "long long";
  }
  return "void";
}

KernelSource MakeSource(OpKind op, DType dtype, const std::string& body,
                        std::vector<std::string> entries) {
  KernelSource s;
  s.op = op;
  s.dtype = dtype;
  s.name = absl::StrCat(OpKindName(op), "_", DTypeName(dtype));
  s.code = absl::StrCat("// tapegrad kernel module ", s.name, "\n", kPreamble, "typedef ",
                        DeviceTypeName(dtype), " T;\n", body);
  s.entries = std::move(entries);
  return s;
}

const std::vector<KernelSource>& AllKernelSources() {
  static const std::vector<KernelSource>* all = [] {
    auto* v = new std::vector<KernelSource>;
    AppendElementwiseSources(v);
    AppendReduceSources(v);
    AppendSoftmaxSources(v);
    AppendIndexSources(v);
    AppendRandomSources(v);
    AppendOptimizerSources(v);
    AppendWindowSources(v);
    AppendBatchNormSources(v);
    return v;
  }();
  return *all;
}

const KernelSource* FindKernelSource(OpKind op, DType dtype) {
  static const std::vector<const KernelSource*>* index = [] {
    auto* v = new std::vector<const KernelSource*>(kNumOpKinds * kNumDTypes, nullptr);
    for (const KernelSource& s : AllKernelSources()) {
      (*v)[static_cast<int>(s.op) * kNumDTypes + static_cast<int>(s.dtype)] = &s;
    }
    return v;
  }();
  return (*index)[static_cast<int>(op) * kNumDTypes + static_cast<int>(dtype)];
}

}  // namespace tapegrad::cuda
