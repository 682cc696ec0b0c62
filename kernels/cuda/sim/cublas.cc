// The cuBLAS calls the backend makes, for the simulator: column-major GEMMs run
// by the CPU BLAS (OpenBLAS's CBLAS) as work on the handle's stream.
#include <cblas.h>
#include <cublas_api.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>

#include "kernels/cuda/sim/streams.h"

namespace tapegrad::cuda::sim {
namespace {

struct Handle {
  cudaStream_t stream = nullptr;
};

CBLAS_TRANSPOSE Op(cublasOperation_t op) {
  return op == CUBLAS_OP_N ? CblasNoTrans : CblasTrans;
}

void OnStream(cudaStream_t stream, std::function<void()> work) {
  if (stream == nullptr) {
    work();
  } else {
    reinterpret_cast<Stream*>(stream)->Enqueue(std::move(work));
  }
}

// C = alpha op(A) op(B) + beta C for `batches` matrices `stride` elements apart.
template <class T>
cublasStatus_t Gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                    int64_t m, int64_t n, int64_t k, const T* alpha, const T* a,
                    int64_t lda, int64_t sa, const T* b, int64_t ldb, int64_t sb,
                    const T* beta, T* c, int64_t ldc, int64_t sc, int64_t batches) {
  if (m < 0 || n < 0 || k < 0 || batches < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const T al = *alpha, be = *beta;
  OnStream(reinterpret_cast<Handle*>(h)->stream, [=] {
    for (int64_t i = 0; i < batches; ++i) {
      if constexpr (sizeof(T) == 4) {
        cblas_sgemm(CblasColMajor, Op(ta), Op(tb), m, n, k, al, a + i * sa, lda,
                    b + i * sb, ldb, be, c + i * sc, ldc);
      } else {
        cblas_dgemm(CblasColMajor, Op(ta), Op(tb), m, n, k, al, a + i * sa, lda,
                    b + i * sb, ldb, be, c + i * sc, ldc);
      }
    }
  });
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace
}  // namespace tapegrad::cuda::sim

namespace sim = tapegrad::cuda::sim;
using sim::Gemm;

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  *handle = reinterpret_cast<cublasHandle_t>(new sim::Handle);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  delete reinterpret_cast<sim::Handle*>(handle);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  reinterpret_cast<sim::Handle*>(handle)->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS"
                                         : "CUBLAS_STATUS_INVALID_VALUE";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "success"
                                         : "an invalid value (simulated cuBLAS)";
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t h, cublasOperation_t ta,
                              cublasOperation_t tb, int m, int n, int k,
                              const float* alpha, const float* a, int lda, const float* b,
                              int ldb, const float* beta, float* c, int ldc) {
  return Gemm<float>(h, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

cublasStatus_t cublasSgemm_v2_64(cublasHandle_t h, cublasOperation_t ta,
                                 cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                                 const float* alpha, const float* a, int64_t lda,
                                 const float* b, int64_t ldb, const float* beta, float* c,
                                 int64_t ldc) {
  return Gemm<float>(h, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

cublasStatus_t cublasDgemm_v2_64(cublasHandle_t h, cublasOperation_t ta,
                                 cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                                 const double* alpha, const double* a, int64_t lda,
                                 const double* b, int64_t ldb, const double* beta,
                                 double* c, int64_t ldc) {
  return Gemm<double>(h, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0,
                      1);
}

cublasStatus_t cublasSgemmStridedBatched_64(cublasHandle_t h, cublasOperation_t ta,
                                            cublasOperation_t tb, int64_t m, int64_t n,
                                            int64_t k, const float* alpha, const float* a,
                                            int64_t lda, long long int sa, const float* b,
                                            int64_t ldb, long long int sb,
                                            const float* beta, float* c, int64_t ldc,
                                            long long int sc, int64_t batches) {
  return Gemm<float>(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc,
                     batches);
}

cublasStatus_t cublasDgemmStridedBatched_64(
    cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m, int64_t n,
    int64_t k, const double* alpha, const double* a, int64_t lda, long long int sa,
    const double* b, int64_t ldb, long long int sb, const double* beta, double* c,
    int64_t ldc, long long int sc, int64_t batches) {
  return Gemm<double>(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc,
                      batches);
}

}  // extern "C"
