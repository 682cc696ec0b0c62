#include "core/tensor_impl.h"

#include <new>

namespace tapegrad {

namespace {
constexpr std::align_val_t kDataAlign{64};
}  // namespace

Storage* Storage::NewHeap(size_t bytes, Device device) {
  void* data = ::operator new(bytes == 0 ? 1 : bytes, kDataAlign, std::nothrow);
  if (data == nullptr) return nullptr;
  auto* s = new (std::nothrow) Storage;
  if (s == nullptr) {
    ::operator delete(data, kDataAlign);
    return nullptr;
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
    ::operator delete(data, kDataAlign);
  }
  delete this;
}

TensorImpl* TensorImpl::NewHeap(absl::Span<const int64_t> shape, DType dtype,
                                Device device) {
  const Layout layout = Layout::Contiguous(shape);
  Storage* storage =
      Storage::NewHeap(static_cast<size_t>(layout.numel()) * DTypeSize(dtype), device);
  if (storage == nullptr) return nullptr;
  TensorImpl* impl = NewHeapView(storage, layout, dtype);
  storage->Unref();  // the impl holds the only reference
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
