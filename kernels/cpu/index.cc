// Row gathering and its adjoint.
// Contracts: index_select (x [R, ...], indices i64 [K]) -> out [K, ...];
// index_add (src [K, ...], indices i64 [K]) adds src's rows into rows of
// outputs[0] [R, ...] in place (repeated indices add up). Indices outside [0, R)
// are an InvalidArgument error, checked before anything is written.
#include "absl/strings/str_format.h"
#include "core/internal/registry.h"
#include "kernels/cpu/loops.h"

namespace tapegrad::cpu {
namespace {

absl::Status CheckIndices(const TensorImpl& indices, int64_t rows, const char* op) {
  const int64_t* p = reinterpret_cast<const int64_t*>(indices.storage->data);
  for (int64_t k = 0; k < indices.layout.sizes[0]; ++k) {
    const int64_t i = p[indices.layout.offset + k * indices.layout.strides[0]];
    if (i < 0 || i >= rows) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: index %d at position %d is out of range [0, %d)", op, i, k, rows));
    }
  }
  return absl::OkStatus();
}

int64_t IndexAt(const TensorImpl& indices, int64_t k) {
  return reinterpret_cast<const int64_t*>(
      indices.storage->data)[indices.layout.offset + k * indices.layout.strides[0]];
}

// Row `row` of `t` (axis 0 removed) as a stack view.
void RowView(const TensorImpl& t, int64_t row, TensorImpl* view) {
  view->storage = t.storage;
  view->dtype = t.dtype;
  view->device = t.device;
  view->layout = t.layout.WithoutAxis(0);
  view->layout.offset = t.layout.offset + row * t.layout.strides[0];
}

// index_select (kScatter false): out[k] = x[indices[k]].
// index_add (kScatter true): out[indices[k]] += src[k].
template <class T, bool kScatter>
absl::Status Rows(const KernelCall& c) {
  const TensorImpl& in = *c.inputs[0];
  const TensorImpl& indices = *c.inputs[1];
  TensorImpl& out = *c.outputs[0];
  const TensorImpl& indexed = kScatter ? out : in;
  if (absl::Status s = CheckIndices(indices, indexed.layout.sizes[0],
                                    kScatter ? "index_add" : "index_select");
      !s.ok()) {
    return s;
  }
  for (int64_t k = 0; k < indices.layout.sizes[0]; ++k) {
    const int64_t picked = IndexAt(indices, k);
    TensorImpl from, to;
    RowView(in, kScatter ? k : picked, &from);
    RowView(out, kScatter ? picked : k, &to);
    Loop<2>({&to, &from}).Run(false, [](int64_t n, char** p, const int64_t* s) {
      for (int64_t i = 0; i < n; ++i) {
        T& dst = *reinterpret_cast<T*>(p[0] + i * s[0]);
        const T v = *reinterpret_cast<const T*>(p[1] + i * s[1]);
        dst = kScatter ? dst + v : v;
      }
    });
  }
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_KERNEL(kIndexSelect, kF32, kCpu, (Rows<float, false>));
TAPEGRAD_REGISTER_KERNEL(kIndexSelect, kF64, kCpu, (Rows<double, false>));
TAPEGRAD_REGISTER_KERNEL(kIndexAdd, kF32, kCpu, (Rows<float, true>));
TAPEGRAD_REGISTER_KERNEL(kIndexAdd, kF64, kCpu, (Rows<double, true>));

}  // namespace
}  // namespace tapegrad::cpu
