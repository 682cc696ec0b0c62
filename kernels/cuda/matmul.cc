// Matrix products on CUDA through cuBLAS.
// Contract (kernels/cpu/matmul.cc): a [..., M, K] and b [..., K, N] of one rank
// >= 2 whose batch axes are already expanded to the output's (stride 0 where
// broadcast); out contiguous [..., M, N], overwritten, or added to when
// attrs.scalar0 (beta) is 1.
//
// cuBLAS is column-major; a row-major M x N product is the column-major N x M
// product of the operands swapped, with the same transpose flags and leading
// dimensions (DescribeForBlas). Transposed views therefore cost no copy; a matrix
// with no unit stride is packed by the copy kernel first. Batches whose offsets
// are one stride apart (or 0: broadcast) go to one strided-batched call; other
// batch layouts loop over batches. TF32 stays off: f32 products are computed in
// f32, as on the CPU and in PyTorch's default.
#include <cublas_v2.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "core/internal/device_memory.h"
#include "core/internal/registry.h"
#include "core/status_macros.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/status.h"

namespace tapegrad::cuda {
namespace {

// This thread's cuBLAS handle on each device, made at first use.
struct ThreadHandles {
  cublasHandle_t handles[kMaxDevices] = {};
  ~ThreadHandles() {
    for (cublasHandle_t h : handles) {
      if (h != nullptr) cublasDestroy(h);
    }
  }
};
thread_local ThreadHandles thread_handles;

absl::StatusOr<cublasHandle_t> HandleFor(Device device) {
  absl::StatusOr<cudaStream_t> stream = Activate(device);
  if (!stream.ok()) return stream.status();
  cublasHandle_t& h = thread_handles.handles[device.index];
  if (h == nullptr) {
    if (absl::Status s = CublasStatus(cublasCreate(&h), "cublasCreate"); !s.ok()) {
      h = nullptr;
      return s;
    }
  }
  if (absl::Status s = CublasStatus(cublasSetStream(h, *stream), "cublasSetStream");
      !s.ok()) {
    return s;
  }
  return h;
}

// The offset of batch `index` (row-major over the batch axes) is index * stride
// for every index: true with `stride` set, or false.
bool UniformBatchStride(const Layout& l, int batch_rank, int64_t* stride) {
  int64_t expected = -1, span = 1;
  for (int d = batch_rank - 1; d >= 0; --d) {
    if (l.sizes[d] == 1) continue;
    if (expected < 0) {
      expected = l.strides[d];
    } else if (l.strides[d] != expected * span) {
      return false;
    }
    span *= l.sizes[d];
  }
  *stride = expected < 0 ? 0 : expected;
  return true;
}

// A contiguous copy of `t` in memory from the allocator (freed by the caller).
struct Packed {
  TensorImpl view;
  Storage storage;
  void* data = nullptr;
};

absl::Status Pack(const TensorImpl& t, Packed* out) {
  DeviceMemory* memory = DeviceMemoryFor(DeviceType::kCuda);
  const size_t bytes = static_cast<size_t>(t.numel()) * DTypeSize(t.dtype);
  absl::StatusOr<void*> data = memory->Allocate(t.device, bytes);
  if (!data.ok()) return data.status();
  out->data = *data;
  out->storage.data = *data;
  out->storage.bytes = bytes;
  out->storage.device = t.device;
  out->view.storage = &out->storage;
  out->view.layout = Layout::Contiguous(t.layout.shape());
  out->view.dtype = t.dtype;
  out->view.device = t.device;
  absl::StatusOr<KernelFn> copy =
      KernelRegistry::Global().Find(OpKind::kCopy, t.dtype, DeviceType::kCuda);
  if (!copy.ok()) return copy.status();
  const TensorImpl* inputs[] = {&t};
  TensorImpl* outputs[] = {&out->view};
  const OpAttrs attrs;
  return (*copy)(KernelCall{OpKind::kCopy, inputs, outputs, attrs});
}

// cuBLAS's 64-bit interface: sizes, leading dimensions and batch counts are
// int64_t, so no size past 2^31 is narrowed on its way in.
template <class T>
cublasStatus_t Gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                    int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b,
                    int64_t ldb, T beta, T* c, int64_t ldc) {
  const T one = 1;
  if constexpr (std::is_same_v<T, float>) {
    return cublasSgemm_64(h, ta, tb, m, n, k, &one, a, lda, b, ldb, &beta, c, ldc);
  } else {
    return cublasDgemm_64(h, ta, tb, m, n, k, &one, a, lda, b, ldb, &beta, c, ldc);
  }
}

template <class T>
cublasStatus_t GemmBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                           int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                           int64_t sa, const T* b, int64_t ldb, int64_t sb, T beta, T* c,
                           int64_t ldc, int64_t sc, int64_t batches) {
  const T one = 1;
  if constexpr (std::is_same_v<T, float>) {
    return cublasSgemmStridedBatched_64(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb,
                                        &beta, c, ldc, sc, batches);
  } else {
    return cublasDgemmStridedBatched_64(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb,
                                        &beta, c, ldc, sc, batches);
  }
}

template <class T>
absl::Status MatMulOn(const TensorImpl& a_in, const TensorImpl& b_in, T beta,
                      TensorImpl& out) {
  const int rank = out.layout.rank;
  const int64_t m = out.layout.sizes[rank - 2];
  const int64_t n = out.layout.sizes[rank - 1];
  const int64_t k = a_in.layout.sizes[rank - 1];
  if (m == 0 || n == 0) return absl::OkStatus();
  TG_ASSIGN_OR_RETURN(cublasHandle_t handle, HandleFor(out.device));
  if (k == 0) {  // an empty sum: zeros, or nothing to add
    if (beta != T(0)) return absl::OkStatus();
    absl::StatusOr<cudaStream_t> stream = Activate(out.device);
    return CudaStatus(
        cudaMemsetAsync(out.data(), 0, static_cast<size_t>(out.numel()) * sizeof(T),
                        *stream),
        "matmul: cudaMemsetAsync");
  }
  // Operands BLAS cannot read in place are packed first.
  Packed packed[2];
  const TensorImpl* operands[2] = {&a_in, &b_in};
  BlasMatrix desc[2];
  const int64_t rows[2] = {m, k}, cols[2] = {k, n};
  absl::Status status;
  for (int i = 0; i < 2 && status.ok(); ++i) {
    const Layout& l = operands[i]->layout;
    desc[i] = DescribeForBlas(rows[i], cols[i], l.strides[rank - 2], l.strides[rank - 1]);
    if (!desc[i].ok) {
      status = Pack(*operands[i], &packed[i]);
      operands[i] = &packed[i].view;
      desc[i] = BlasMatrix{true, false, cols[i]};
    }
  }
  const TensorImpl& a = *operands[0];
  const TensorImpl& b = *operands[1];
  const cublasOperation_t ta = desc[0].transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t tb = desc[1].transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  int64_t batches = 1;
  for (int d = 0; d < rank - 2; ++d) batches *= out.layout.sizes[d];
  const T* pa = reinterpret_cast<const T*>(a.data());
  const T* pb = reinterpret_cast<const T*>(b.data());
  T* pc = reinterpret_cast<T*>(out.data());
  int64_t sa = 0, sb = 0;
  if (!status.ok()) {
    // fall through to the frees below
  } else if (batches == 1) {
    status = CublasStatus(
        Gemm<T>(handle, tb, ta, n, m, k, pb, desc[1].ld, pa, desc[0].ld, beta, pc, n),
        "matmul: cublas gemm");
  } else if (UniformBatchStride(a.layout, rank - 2, &sa) &&
             UniformBatchStride(b.layout, rank - 2, &sb)) {
    status = CublasStatus(GemmBatched<T>(handle, tb, ta, n, m, k, pb, desc[1].ld, sb, pa,
                                         desc[0].ld, sa, beta, pc, n, m * n, batches),
                          "matmul: cublas strided batched gemm");
  } else {
    for (int64_t batch = 0; batch < batches && status.ok(); ++batch) {
      int64_t a_off, b_off;
      BatchOffsets(out.layout, a.layout, b.layout, batch, &a_off, &b_off);
      status = CublasStatus(Gemm<T>(handle, tb, ta, n, m, k, pb + b_off, desc[1].ld,
                                    pa + a_off, desc[0].ld, beta, pc + batch * m * n, n),
                            "matmul: cublas gemm");
    }
  }
  // Stream-ordered: the packs are reused only by work queued after the gemms.
  for (Packed& p : packed) {
    if (p.data != nullptr) DeviceMemoryFor(DeviceType::kCuda)->Free(out.device, p.data);
  }
  return status;
}

absl::Status MatMul(const KernelCall& c) {
  TensorImpl& out = *c.outputs[0];
  const double beta = c.attrs.scalar0;
  if (out.dtype == DType::kF32) {
    return MatMulOn<float>(*c.inputs[0], *c.inputs[1], float(beta), out);
  }
  return MatMulOn<double>(*c.inputs[0], *c.inputs[1], beta, out);
}

TAPEGRAD_REGISTER_KERNEL(kMatMul, kF32, kCuda, MatMul);
TAPEGRAD_REGISTER_KERNEL(kMatMul, kF64, kCuda, MatMul);

}  // namespace
}  // namespace tapegrad::cuda
