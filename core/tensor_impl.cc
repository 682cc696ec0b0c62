#include "core/internal/tensor_impl.h"

#include <new>

#include "absl/strings/str_format.h"
#include "core/internal/device_memory.h"
#include "core/status_macros.h"

namespace tapegrad {

namespace {

constexpr std::align_val_t kDataAlign{64};

absl::StatusOr<void*> AllocateData(size_t bytes, Device device) {
  if (device.is_cpu()) {
    void* data = ::operator new(bytes == 0 ? 1 : bytes, kDataAlign, std::nothrow);
    if (data == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("out of host memory allocating %d bytes", bytes));
    }
    return data;
  }
  DeviceMemory* memory = DeviceMemoryFor(device.type);
  if (memory == nullptr) return NoDeviceMemory(device);
  return memory->Allocate(device, bytes);
}

void FreeData(void* data, Device device) {
  if (device.is_cpu()) {
    ::operator delete(data, kDataAlign);
  } else {
    DeviceMemoryFor(device.type)->Free(device, data);
  }
}

}  // namespace

absl::StatusOr<Storage*> Storage::NewHeap(size_t bytes, Device device) {
  TG_ASSIGN_OR_RETURN(void* data, AllocateData(bytes, device));
  auto* s = new (std::nothrow) Storage;
  if (s == nullptr) {
    FreeData(data, device);
    return absl::ResourceExhaustedError("out of host memory for a Storage");
  }
  s->data = data;
  s->bytes = bytes;
  s->device = device;
  s->heap = true;
  return s;
}

Storage* Storage::NewExternal(void* data, size_t bytes, Device device,
                              void (*release)(void*), void* context) {
  auto* s = new (std::nothrow) Storage;
  if (s == nullptr) return nullptr;
  s->data = data;
  s->bytes = bytes;
  s->device = device;
  s->heap = true;
  s->release = release;
  s->release_context = context;
  return s;
}

void Storage::DestroyHeap() {
  if (release != nullptr) {
    release(release_context);
  } else {
    FreeData(data, device);
  }
  delete this;
}

absl::StatusOr<TensorImpl*> TensorImpl::NewHeap(absl::Span<const int64_t> shape,
                                                DType dtype, Device device) {
  TG_RETURN_IF_ERROR(CheckShape("tensor", shape));
  const Layout layout = Layout::Contiguous(shape);
  TG_ASSIGN_OR_RETURN(
      Storage * storage,
      Storage::NewHeap(static_cast<size_t>(layout.numel()) * DTypeSize(dtype), device));
  TensorImpl* impl = NewHeapView(storage, layout, dtype);
  storage->Unref();  // the impl holds the only reference (or none: then it is freed)
  if (impl == nullptr)
    return absl::ResourceExhaustedError("out of host memory for a view");
  return impl;
}

TensorImpl* TensorImpl::NewHeapView(Storage* storage, const Layout& layout, DType dtype) {
  auto* impl = new (std::nothrow) TensorImpl;
  if (impl == nullptr) return nullptr;
  storage->Ref();
  impl->storage = storage;
  impl->layout = layout;
  impl->dtype = dtype;
  impl->device = storage->device;
  impl->heap = true;
  return impl;
}

void TensorImpl::DestroyHeap() {
  if (grad != nullptr) grad->Unref();
  storage->Unref();
  delete this;
}

}  // namespace tapegrad
