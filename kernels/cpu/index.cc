// Row gathering and its adjoint.
// Contracts: index_select (x [R, ...], indices i64 [K]) -> out [K, ...];
// index_add (src [K, ...], indices i64 [K]) adds src's rows into rows of
// outputs[0] [R, ...] in place (repeated indices add up). Indices outside [0, R)
// are an InvalidArgument error, checked before anything is written.
#include "absl/strings/str_format.h"
#include "core/registry.h"
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

template <class T>
absl::Status IndexSelect(const KernelCall& c) {
  const TensorImpl& x = *c.inputs[0];
  const TensorImpl& indices = *c.inputs[1];
  TensorImpl& out = *c.outputs[0];
  if (absl::Status s = CheckIndices(indices, x.layout.sizes[0], "index_select"); !s.ok())
    return s;
  for (int64_t k = 0; k < indices.layout.sizes[0]; ++k) {
    TensorImpl src, dst;
    RowView(x, IndexAt(indices, k), &src);
    RowView(out, k, &dst);
    Loop<2>({&dst, &src}).Run(false, [](int64_t n, char** p, const int64_t* s) {
      for (int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<T*>(p[0] + i * s[0]) =
            *reinterpret_cast<const T*>(p[1] + i * s[1]);
      }
    });
  }
  return absl::OkStatus();
}

template <class T>
absl::Status IndexAdd(const KernelCall& c) {
  const TensorImpl& src = *c.inputs[0];
  const TensorImpl& indices = *c.inputs[1];
  TensorImpl& out = *c.outputs[0];
  if (absl::Status s = CheckIndices(indices, out.layout.sizes[0], "index_add"); !s.ok())
    return s;
  for (int64_t k = 0; k < indices.layout.sizes[0]; ++k) {
    TensorImpl from, to;
    RowView(src, k, &from);
    RowView(out, IndexAt(indices, k), &to);
    Loop<2>({&to, &from}).Run(false, [](int64_t n, char** p, const int64_t* s) {
      for (int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<T*>(p[0] + i * s[0]) +=
            *reinterpret_cast<const T*>(p[1] + i * s[1]);
      }
    });
  }
  return absl::OkStatus();
}

TAPEGRAD_REGISTER_KERNEL(kIndexSelect, kF32, kCpu, IndexSelect<float>);
TAPEGRAD_REGISTER_KERNEL(kIndexSelect, kF64, kCpu, IndexSelect<double>);
TAPEGRAD_REGISTER_KERNEL(kIndexAdd, kF32, kCpu, IndexAdd<float>);
TAPEGRAD_REGISTER_KERNEL(kIndexAdd, kF64, kCpu, IndexAdd<double>);

}  // namespace
}  // namespace tapegrad::cpu
