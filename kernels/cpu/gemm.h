// Gemm<T>: one row-major C = alpha op(A) op(B) + beta C through CBLAS, for float
// (sgemm) and double (dgemm), so that templated kernels call one name.
//
//   Gemm<float>(CblasNoTrans, CblasTrans, m, n, k, a, lda, b, ldb, c, ldc);
//
// Thread safety: as the BLAS (reentrant).
#ifndef TAPEGRAD_KERNELS_CPU_GEMM_H_
#define TAPEGRAD_KERNELS_CPU_GEMM_H_

#include <cblas.h>

#include <cstdint>
#include <type_traits>

namespace tapegrad::cpu {

template <class T>
void Gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int64_t m, int64_t n, int64_t k,
          const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
          T beta = T(0)) {
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
  }
}

}  // namespace tapegrad::cpu

#endif  // TAPEGRAD_KERNELS_CPU_GEMM_H_
