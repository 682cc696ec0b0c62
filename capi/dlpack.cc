// DLPack v0.6 export and import: tensors shared with NumPy, PyTorch, JAX, CuPy
// without copying.
#include <dlpack/dlpack.h>

#include <vector>

#include "absl/status/status.h"
#include "capi/internal.h"
#include "capi/tapegrad.h"
#include "core/internal/tensor_impl.h"

namespace tapegrad::capi {
namespace {

// What an exported DLManagedTensor owns: a handle that keeps the storage alive,
// and the shape and strides arrays the DLTensor points into.
struct Exported {
  DLManagedTensor managed;
  Tensor tensor;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
};

void DeleteExported(DLManagedTensor* managed) {
  delete static_cast<Exported*>(managed->manager_ctx);
}

void ReleaseImported(void* context) {
  auto* managed = static_cast<DLManagedTensor*>(context);
  if (managed->deleter != nullptr) managed->deleter(managed);
}

absl::StatusOr<DType> FromDLDataType(DLDataType t) {
  if (t.lanes == 1 && t.code == kDLFloat && t.bits == 32) return DType::kF32;
  if (t.lanes == 1 && t.code == kDLFloat && t.bits == 64) return DType::kF64;
  if (t.lanes == 1 && t.code == kDLInt && t.bits == 64) return DType::kI64;
  return absl::InvalidArgumentError(absl::StrFormat(
      "tg_tensor_from_dlpack: dtype (code %d, %d bits, %d lanes) is not float32, "
      "float64 or int64",
      t.code, t.bits, t.lanes));
}

}  // namespace
}  // namespace tapegrad::capi

using tapegrad::Tensor;
using tapegrad::capi::Fail;
using tapegrad::capi::Guard;

extern "C" {

tg_status tg_tensor_to_dlpack(const tg_tensor* t, DLManagedTensor** out) {
  constexpr char kCall[] = "tg_tensor_to_dlpack";
  TG_CAPI_NOT_NULL(kCall, t);
  TG_CAPI_NOT_NULL(kCall, out);
  if (!t->tensor.ok()) return Fail(t->tensor.status());
  if (!t->tensor.device().is_cpu()) {
    return Fail(absl::StatusCode::kUnimplemented,
                absl::StrFormat("%s: only CPU tensors export in this build", kCall));
  }
  return Guard(kCall, [&] {
    auto exported = std::make_unique<tapegrad::capi::Exported>();
    // A tape tensor's memory goes at the next Rewind, which the consumer cannot
    // see: export a heap copy of it instead. Heap tensors are shared as they are.
    exported->tensor = t->tensor.tape() != nullptr ? t->tensor.Detach() : t->tensor;
    const Tensor& x = exported->tensor;
    if (!x.ok()) return Fail(x.status());
    const tapegrad::TensorImpl* impl = x.impl();
    exported->shape.assign(x.shape().begin(), x.shape().end());
    exported->strides.assign(x.strides().begin(), x.strides().end());
    DLTensor& dl = exported->managed.dl_tensor;
    dl.data = impl->data();
    dl.device = DLDevice{kDLCPU, 0};
    dl.ndim = x.dim();
    switch (x.dtype()) {
      case tapegrad::DType::kF32:
        dl.dtype = DLDataType{kDLFloat, 32, 1};
        break;
      case tapegrad::DType::kF64:
        dl.dtype = DLDataType{kDLFloat, 64, 1};
        break;
      case tapegrad::DType::kI64:
        dl.dtype = DLDataType{kDLInt, 64, 1};
        break;
    }
    dl.shape = exported->shape.data();
    dl.strides = exported->strides.data();
    dl.byte_offset = 0;
    exported->managed.manager_ctx = exported.get();
    exported->managed.deleter = tapegrad::capi::DeleteExported;
    *out = &exported.release()->managed;
    return TG_OK;
  });
}

tg_status tg_tensor_from_dlpack(DLManagedTensor* managed, tg_tensor** out) {
  constexpr char kCall[] = "tg_tensor_from_dlpack";
  TG_CAPI_NOT_NULL(kCall, managed);
  TG_CAPI_NOT_NULL(kCall, out);
  const DLTensor& dl = managed->dl_tensor;
  if (dl.device.device_type != kDLCPU) {
    return Fail(absl::StatusCode::kUnimplemented,
                absl::StrFormat("%s: device type %d is not CPU, the only device of this "
                                "build",
                                kCall, static_cast<int>(dl.device.device_type)));
  }
  const absl::StatusOr<tapegrad::DType> dtype = tapegrad::capi::FromDLDataType(dl.dtype);
  if (!dtype.ok()) return Fail(dtype.status());
  const int64_t item = static_cast<int64_t>(tapegrad::DTypeSize(*dtype));
  if (dl.ndim < 0 || dl.ndim > tapegrad::kMaxRank ||
      (dl.ndim > 0 && dl.shape == nullptr) || dl.byte_offset % item != 0) {
    return Fail(
        absl::StatusCode::kInvalidArgument,
        absl::StrFormat("%s: unsupported layout (ndim %d, byte_offset %d; at most "
                        "%d dims, offset a multiple of the item size)",
                        kCall, dl.ndim, dl.byte_offset, tapegrad::kMaxRank));
  }
  const absl::Span<const int64_t> shape(dl.shape, dl.ndim);
  if (absl::Status s = tapegrad::CheckShape(kCall, shape); !s.ok()) return Fail(s);
  if (dl.data == nullptr && tapegrad::CheckedNumel(shape) != 0) {
    return tapegrad::capi::NullArgument(kCall, "managed->dl_tensor.data");
  }
  return Guard(kCall, [&] {
    tapegrad::Layout layout = tapegrad::Layout::Contiguous(shape);
    // The element past the furthest one the view reaches, to size the storage; it
    // must stay within the size limits like any tensor's (Note [Size limits]).
    bool fits = dl.byte_offset / item <= static_cast<uint64_t>(tapegrad::kMaxElements);
    int64_t end = fits ? static_cast<int64_t>(dl.byte_offset / item) + 1 : 0;
    for (int i = 0; fits && i < dl.ndim; ++i) {
      if (dl.strides != nullptr) layout.strides[i] = dl.strides[i];
      if (layout.strides[i] < 0) {
        return Fail(absl::StatusCode::kInvalidArgument,
                    absl::StrFormat("%s: negative stride at axis %d", kCall, i));
      }
      int64_t span = 0;
      fits = dl.shape[i] == 0 ||
             (tapegrad::CheckedMul(dl.shape[i] - 1, layout.strides[i], &span) &&
              tapegrad::CheckedAdd(end, span, &end));
    }
    if (!fits) {
      return Fail(absl::StatusCode::kInvalidArgument,
                  absl::StrFormat("%s: the strides and byte offset reach past %d "
                                  "elements, the most a tensor may span",
                                  kCall, tapegrad::kMaxElements));
    }
    layout.offset = static_cast<int64_t>(dl.byte_offset) / item;
    const size_t bytes = static_cast<size_t>(end * item);
    tapegrad::Storage* storage =
        tapegrad::Storage::NewExternal(dl.data, bytes, tapegrad::Device::Cpu(),
                                       tapegrad::capi::ReleaseImported, managed);
    if (storage == nullptr) throw std::bad_alloc();
    tapegrad::TensorImpl* impl =
        tapegrad::TensorImpl::NewHeapView(storage, layout, *dtype);
    if (impl == nullptr) {
      // Give `managed` back to the caller untouched: forget it, then free.
      storage->release = nullptr;
      storage->data = nullptr;
      storage->Unref();
      throw std::bad_alloc();
    }
    storage->Unref();  // the impl holds the only reference now
    return tapegrad::capi::NewTensor(kCall, Tensor::Wrap(impl), out);
  });
}

}  // extern "C"
