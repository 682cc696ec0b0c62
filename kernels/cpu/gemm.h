// Gemm<T>: one row-major C = op(A) op(B) + beta C, for float and double, so that
// templated kernels call one name.
//
//   TG_RETURN_IF_ERROR(Gemm<float>(CblasNoTrans, CblasTrans, m, n, k, a, lda, b, ldb,
//                                  c, ldc));
//
// f32 runs on oneDNN's dnnl_sgemm, which picks its kernels by instruction set;
// OpenBLAS picks them from a table of CPU models and falls back to SSE3 on models
// newer than the table (Debian's 0.3.21 on recent Xeons), a 4-5x loss. A product
// of one row stays on OpenBLAS (below). f64 is the gradient oracle and stays on
// OpenBLAS's dgemm. The f32 call holds the kernels' threads (onednn::CallScope),
// so cpu::NumThreads() stays authoritative.
//
// Thread safety: any thread; reentrant.
#ifndef TAPEGRAD_KERNELS_CPU_GEMM_H_
#define TAPEGRAD_KERNELS_CPU_GEMM_H_

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

#include <cstdint>
#include <type_traits>

#include "absl/status/status.h"
#include "kernels/cpu/onednn.h"

namespace tapegrad::cpu {

template <class T>
absl::Status Gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k,
                  const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
                  T beta = T(0)) {
  if constexpr (std::is_same_v<T, float>) {
    if (m == 1) {
      // One row (a batch-1 prediction) reads each element of b once: it is bound
      // by memory more than by the kernel's instruction set, and OpenBLAS's
      // sgemm ran it faster: a batch-1 prediction of bench/serving_benchmark's
      // MLP took 9.2 us against 11.8 through dnnl_sgemm (Intel Xeon, SkylakeX
      // kernels).
      cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
      return absl::OkStatus();
    }
    const onednn::CallScope threads(m * n * k);
    return onednn::Check(
        dnnl_sgemm(ta == CblasTrans ? 'T' : 'N', tb == CblasTrans ? 'T' : 'N', m, n, k,
                   1.0f, a, lda, b, ldb, beta, c, ldc),
        "matmul (dnnl_sgemm)");
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
    return absl::OkStatus();
  }
}

}  // namespace tapegrad::cpu

#endif  // TAPEGRAD_KERNELS_CPU_GEMM_H_
