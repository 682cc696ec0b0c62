// What a tensor handle points at: a buffer (Storage) and a view of it
// (TensorImpl). Internal to core and kernels; users hold tapegrad::Tensor.
//
// Two homes, one layout:
//  - Arena: results of ops recorded on a tape, and their gradients. Placed in the
//    tape's bump arena; never freed one by one; a Rewind past them frees them all,
//    and the tape's slot generation (held by the Tensor handle) detects stale use.
//    Their reference counts are unused. On a device other than the CPU only the
//    headers are in the arena; the data comes from the device's DeviceMemory and
//    goes back to it through a tape pin released by that same Rewind.
//  - Heap: parameters, inputs, detach() copies, anything made outside a tape.
//    Reference counted (atomically, so handles may cross threads); a view of a
//    heap tensor made outside a tape shares the Storage.
//
// Kernels see TensorImpl only: `data()` plus `layout` is all a kernel needs.
//
// Thread safety: reference counts are atomic; everything else belongs to whoever
// owns the tape (arena) or is read-only once made (heap), except through the
// documented mutating calls on Tensor.
#ifndef TAPEGRAD_CORE_INTERNAL_TENSOR_IMPL_H_
#define TAPEGRAD_CORE_INTERNAL_TENSOR_IMPL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/internal/layout.h"

namespace tapegrad {

class Tape;

// TensorImpl::grad_state.
inline constexpr uint8_t kGradWritten = 0;
inline constexpr uint8_t kGradZero = 1;     // zero; the buffer is stale
inline constexpr uint8_t kGradFilling = 2;  // a reader is writing the zeros

// Reference counting for the heap home; a no-op for arena objects. Derived
// defines DestroyHeap(), called when the last reference goes.
template <class Derived>
struct HeapCounted {
  bool heap = false;
  std::atomic<int32_t> refs{1};

  void Ref() {
    if (heap) refs.fetch_add(1, std::memory_order_relaxed);
  }
  void Unref() {
    if (heap && refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      static_cast<Derived*>(this)->DestroyHeap();
    }
  }
};

struct Storage : HeapCounted<Storage> {
  void* data = nullptr;
  size_t bytes = 0;
  Device device;

  // Memory someone else owns (a DLPack import): DestroyHeap calls release(context)
  // instead of freeing `data`.
  void (*release)(void* context) = nullptr;
  void* release_context = nullptr;

  // A heap buffer of `bytes` (64-byte aligned on the host, uninitialised) with one
  // reference; memory on other devices comes from their DeviceMemory
  // (core/internal/device_memory.h). An error names why the memory cannot be had.
  static absl::StatusOr<Storage*> NewHeap(size_t bytes, Device device);
  // A heap Storage over external `data`, with one reference; null if out of memory.
  static Storage* NewExternal(void* data, size_t bytes, Device device,
                              void (*release)(void*), void* context);
  void DestroyHeap();
};

struct TensorImpl : HeapCounted<TensorImpl> {
  Storage* storage = nullptr;
  Layout layout;
  DType dtype = DType::kF32;
  Device device;
  bool requires_grad = false;  // a leaf that wants .grad, or a result of one
  // Arena impls: the tape slot that dates this impl (for Rewind safety checks).
  uint32_t slot = 0;
  // Same shape, contiguous; null until a backward pass reaches this tensor. A heap
  // impl owns its grad (a heap impl); an arena impl's grad is in the same arena.
  TensorImpl* grad = nullptr;
  // The tape sweep that last added to grad: a record runs in a sweep only if its
  // output was reached in that sweep (micrograd visits only the root's ancestors).
  uint32_t grad_epoch = 0;
  // A heap impl's grad may be added to by one thread at a time (a parameter that
  // threads share): the first backward that adds to it claims it for its thread
  // (internal::Accumulate), Tensor::ZeroGrad releases it; 0 while unclaimed. Read
  // and written with atomic builtins.
  uint64_t grad_owner = 0;
  // Whether grad's buffer holds its value (kGradWritten) or the value is zero and
  // the buffer was left unwritten (Note [Lazy zero grads] in core/tensor_dispatch.cc).
  // Read and written with atomic builtins.
  uint8_t grad_state = 0;
  // Tensor::SetGradReadyHook's hook, and the uses still to be swept (Note
  // [Grad-ready hooks] in core/tensor_dispatch.cc), counted only with a hook.
  void (*grad_hook)(void* context) = nullptr;
  void* grad_hook_context = nullptr;
  int64_t pending_uses = 0;
  uint64_t uses_stamp = 0;
  const void* uses_tape = nullptr;

  char* data() const {
    return static_cast<char*>(storage->data) +
           layout.offset * static_cast<int64_t>(DTypeSize(dtype));
  }
  template <class T>
  T* data_as() const {
    return reinterpret_cast<T*>(data());
  }
  int64_t numel() const { return layout.numel(); }

  // A heap impl with a fresh contiguous heap buffer (contents uninitialised).
  static absl::StatusOr<TensorImpl*> NewHeap(absl::Span<const int64_t> shape, DType dtype,
                                             Device device);
  // A heap impl viewing `storage` (which gains a reference).
  static TensorImpl* NewHeapView(Storage* storage, const Layout& layout, DType dtype);
  void DestroyHeap();
};

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_TENSOR_IMPL_H_
