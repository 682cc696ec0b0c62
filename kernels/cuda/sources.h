// The CUDA C++ source of every kernel, one module per (op, dtype), for NVRTC.
//
//   const KernelSource* s = cuda::FindKernelSource(OpKind::kAdd, DType::kF32);
//   // s->name == "add_f32"; s->entries lists its extern "C" __global__ functions
//
// Each kernel family (elementwise.cc, reduce.cc, ...) writes its own modules next
// to the host code that launches them, through its Append*Sources function.
// Every module starts with kPreamble (integer types, the element type T, and the
// argument structs shared with the host). Modules are plain text so that the
// tests can compile every one of them with no GPU present.
//
// Thread safety: AllKernelSources() is built once, then read-only.
#ifndef TAPEGRAD_KERNELS_CUDA_SOURCES_H_
#define TAPEGRAD_KERNELS_CUDA_SOURCES_H_

#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/internal/op_kind.h"

namespace tapegrad::cuda {

struct KernelSource {
  OpKind op;
  DType dtype;
  std::string name;                  // "add_f32"
  std::string code;                  // the whole translation unit
  std::vector<std::string> entries;  // its kernels, by the index launchers use
};

// Every module, in (op, dtype) order of registration by the families.
const std::vector<KernelSource>& AllKernelSources();
// The module of (op, dtype), or null if the backend has none.
const KernelSource* FindKernelSource(OpKind op, DType dtype);

// The element type's name in device code: "float", "double", "long long".
const char* DeviceTypeName(DType dtype);
// A module for (op, dtype): kPreamble with T defined, then `body`.
KernelSource MakeSource(OpKind op, DType dtype, const std::string& body,
                        std::vector<std::string> entries);

// Device code every module starts with.
extern const char kPreamble[];
// core/internal/elementwise_math.h's text, embedded at build time: the elementwise
// modules start with it (after kPreamble).
extern const char kElementwiseMath[];

// The families' sources (each defined next to its launcher).
void AppendElementwiseSources(std::vector<KernelSource>* out);
void AppendReduceSources(std::vector<KernelSource>* out);
void AppendSoftmaxSources(std::vector<KernelSource>* out);
void AppendIndexSources(std::vector<KernelSource>* out);
void AppendRandomSources(std::vector<KernelSource>* out);
void AppendOptimizerSources(std::vector<KernelSource>* out);
void AppendWindowSources(std::vector<KernelSource>* out);
void AppendBatchNormSources(std::vector<KernelSource>* out);

}  // namespace tapegrad::cuda

#endif  // TAPEGRAD_KERNELS_CUDA_SOURCES_H_
