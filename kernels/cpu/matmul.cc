// Matrix products: f32 on oneDNN's sgemm, f64 on OpenBLAS's dgemm (gemm.h).
// Contract: a [..., M, K] and b [..., K, N] of one rank >= 2 whose batch axes are
// already expanded to the output's (stride 0 where broadcast); out contiguous
// [..., M, N], overwritten, or added to when attrs.scalar0 (beta) is 1 (a backward
// writing into a gradient). A matrix whose rows or columns have unit stride is handed to
// BLAS as is, transposed or not, so transposed views cost no copy; any other matrix is
// copied to a contiguous scratch buffer first.
#include <algorithm>
#include <vector>

#include "core/internal/registry.h"
#include "core/status_macros.h"
#include "kernels/cpu/gemm.h"

namespace tapegrad::cpu {
namespace {

// Copies a rows x cols strided matrix into `buffer`, row-major.
template <class T>
const T* Pack(const T* src, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
              std::vector<T>* buffer) {
  buffer->resize(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) (*buffer)[i * cols + j] = src[i * rs + j * cs];
  }
  return buffer->data();
}

template <class T>
absl::Status MatMul(const KernelCall& c) {
  const TensorImpl& a = *c.inputs[0];
  const TensorImpl& b = *c.inputs[1];
  TensorImpl& out = *c.outputs[0];
  const int rank = out.layout.rank;
  const int64_t m = out.layout.sizes[rank - 2];
  const int64_t n = out.layout.sizes[rank - 1];
  const int64_t k = a.layout.sizes[rank - 1];
  const int64_t ars = a.layout.strides[rank - 2], acs = a.layout.strides[rank - 1];
  const int64_t brs = b.layout.strides[rank - 2], bcs = b.layout.strides[rank - 1];
  const T beta = T(c.attrs.scalar0);
  BlasMatrix ma = DescribeForBlas(m, k, ars, acs);
  BlasMatrix mb = DescribeForBlas(k, n, brs, bcs);
  std::vector<T> pack_a, pack_b;  // only for matrices BLAS cannot read in place

  int64_t batches = 1;
  for (int d = 0; d < rank - 2; ++d) batches *= out.layout.sizes[d];
  const T* a_base = reinterpret_cast<const T*>(a.storage->data) + a.layout.offset;
  const T* b_base = reinterpret_cast<const T*>(b.storage->data) + b.layout.offset;
  T* c_base = out.data_as<T>();
  for (int64_t batch = 0; batch < batches; ++batch) {
    int64_t a_off, b_off;
    BatchOffsets(out.layout, a.layout, b.layout, batch, &a_off, &b_off);
    T* cm = c_base + batch * m * n;
    if (m == 0 || n == 0) continue;
    if (k == 0) {  // an empty sum
      if (beta == T(0)) std::fill(cm, cm + m * n, T(0));
      continue;
    }
    const T* am = a_base + a_off;
    const T* bm = b_base + b_off;
    BlasMatrix ua = ma, ub = mb;
    if (!ua.ok) {
      am = Pack(am, m, k, ars, acs, &pack_a);
      ua = BlasMatrix{true, false, k};
    }
    if (!ub.ok) {
      bm = Pack(bm, k, n, brs, bcs, &pack_b);
      ub = BlasMatrix{true, false, n};
    }
    TG_RETURN_IF_ERROR(Gemm<T>(ua.transposed ? CblasTrans : CblasNoTrans,
                               ub.transposed ? CblasTrans : CblasNoTrans, m, n, k, am,
                               ua.ld, bm, ub.ld, cm, n, beta));
  }
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_FLOAT_KERNELS(kMatMul, kCpu, MatMul);

}  // namespace
}  // namespace tapegrad::cpu
