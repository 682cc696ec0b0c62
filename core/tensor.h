// Tensor: an n-dimensional array that records its ops on the same tape as Value.
//
//   tapegrad::Random rng(0);
//   tapegrad::Tensor w = tapegrad::Tensor::Randn({784, 10}, rng).RequiresGrad();
//   tapegrad::Tensor x = tapegrad::Tensor::Zeros({64, 784});
//   tapegrad::Tape tape;
//   tapegrad::TapeScope scope(&tape);
//   const tapegrad::TapeMark step = tape.Mark();
//   tapegrad::Tensor loss = CrossEntropy(MatMul(x, w), labels);  // recorded
//   absl::Status s = loss.Backward();       // w.grad() now holds d loss / d w
//   s = tape.Rewind(step);                  // drops the step; w and its grad stay
//
// A Tensor is a handle to storage (a refcounted buffer on a device) plus a view of
// it (shape, strides, offset, see core/internal/layout.h) and a dtype. Two kinds of
// handle:
//  - Heap tensors: everything made by the factories below, detach() copies, and
//    op results when no tape is involved. They own (share) their memory and live
//    as long as a handle does. Parameters are heap tensors with RequiresGrad().
//  - Tape tensors: results of ops while a tape is current or an operand is a tape
//    tensor. Memory comes from the tape's arena, so one Rewind frees a whole step;
//    using one after that Rewind is a FailedPrecondition error, never a read of
//    freed memory (the handle carries the slot's generation, as Value does).
// Views (transpose, slice, expand, ...) share memory; on a tape they record, so
// gradients flow through them.
//
// Errors: ops never throw or abort on bad input. A failed op returns an error
// tensor whose status() names the op and every operand's shape, dtype and device;
// ops on an error tensor pass the first error on, and the tape keeps it (sticky)
// for Backward. Accessors on an error or stale tensor return NaN / empty results.
//
// Thread safety: a heap tensor may be read from many threads; mutating calls
// (RequiresGrad, ZeroGrad, CopyFrom, set_data) need exclusive access. A backward
// adds to a heap tensor's gradient from one thread at a time (see Backward;
// BackwardInto leaves shared parameters alone). Tape tensors belong to the tape's
// thread. Handle copies are thread-safe (atomic refcounts).
#ifndef TAPEGRAD_CORE_TENSOR_H_
#define TAPEGRAD_CORE_TENSOR_H_

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/device.h"
#include "core/dtype.h"
#include "core/internal/tensor_impl.h"
#include "core/random.h"
#include "core/tape.h"

namespace tapegrad {

using Shape = absl::Span<const int64_t>;

class Tensor {
 public:
  // An empty handle: ok() is false.
  Tensor() = default;
  Tensor(const Tensor& other);
  Tensor(Tensor&& other) noexcept;
  Tensor& operator=(const Tensor& other);
  Tensor& operator=(Tensor&& other) noexcept;
  ~Tensor() {
    if (impl_ != nullptr && tape_ == nullptr) impl_->Unref();
  }

  // ---- Factories: heap tensors, contiguous.
  static Tensor Zeros(Shape shape, DType dtype = DType::kF32,
                      Device device = Device::Cpu());
  static Tensor Ones(Shape shape, DType dtype = DType::kF32,
                     Device device = Device::Cpu());
  static Tensor Full(Shape shape, double value, DType dtype = DType::kF32,
                     Device device = Device::Cpu());
  // [start, stop) by step, like numpy.arange.
  static Tensor Arange(double start, double stop, double step = 1.0,
                       DType dtype = DType::kF32);
  static Tensor Eye(int64_t n, DType dtype = DType::kF32);
  // Uniform in [low, high) and standard normal, drawn in row-major order.
  static Tensor Rand(Shape shape, Random& rng, DType dtype = DType::kF32,
                     double low = 0.0, double high = 1.0);
  static Tensor Randn(Shape shape, Random& rng, DType dtype = DType::kF32);
  // Copies `data` (row-major, numel(shape) elements) into a new tensor of `dtype`.
  static Tensor FromData(absl::Span<const double> data, Shape shape,
                         DType dtype = DType::kF32);
  static Tensor FromData(absl::Span<const float> data, Shape shape);
  static Tensor FromData(absl::Span<const int64_t> data, Shape shape);
  // Tensor::FromData({1, 2, 3, 4}, {2, 2}).
  static Tensor FromData(std::initializer_list<double> data, Shape shape,
                         DType dtype = DType::kF32) {
    return FromData(absl::MakeConstSpan(data.begin(), data.size()), shape, dtype);
  }
  // A 1-D tensor: Tensor::Of({1, 2, 3}).
  static Tensor Of(std::initializer_list<double> data, DType dtype = DType::kF32);
  // A 0-d tensor.
  static Tensor Scalar(double value, DType dtype = DType::kF32);
  // An error tensor carrying `status` (not OK).
  static Tensor Error(absl::Status status);

  // ---- Shape, dtype, device. Empty spans / 0 on an error tensor.
  bool ok() const {
    return impl_ != nullptr && (tape_ == nullptr || tape_->IsLiveSlot(slot_));
  }
  absl::Status status() const;
  // True for an error tensor (the result of a failed op), false for an empty or
  // stale handle, whose status() is not OK either.
  bool has_error() const { return !status_.ok(); }
  DType dtype() const { return impl_ ? impl_->dtype : DType::kF32; }
  Device device() const { return impl_ ? impl_->device : Device::Cpu(); }
  int dim() const { return impl_ ? impl_->layout.rank : 0; }
  Shape shape() const;
  Shape strides() const;
  int64_t size(int axis) const;  // axis may be negative
  int64_t numel() const;
  bool is_contiguous() const;
  // True for a tape tensor (see above); false for a heap tensor.
  bool on_tape() const { return tape_ != nullptr; }
  // True if both view the same storage.
  bool SharesStorageWith(const Tensor& other) const;

  // ---- Elements (converted to double; NaN if the handle is not ok()). On a
  // device these copy to the host and wait for the device's queued work.
  double item() const;  // numel() == 1
  double at(Shape index) const;
  // All elements in row-major order.
  std::vector<double> ToVector() const;
  std::vector<float> ToFloatVector() const;
  // Writes `data` (row-major, numel() values) into this heap tensor, in place (a
  // tensor on a device must be contiguous).
  absl::Status CopyFrom(absl::Span<const double> data);
  absl::Status CopyFrom(absl::Span<const float> data);
  // Adds `alpha * other` into this heap tensor in place, outside any tape (the
  // optimizer update: w.AddInPlace(w.grad(), -lr)).
  absl::Status AddInPlace(const Tensor& other, double alpha = 1.0);

  // ---- Views (no copy; recorded on a tape). Axes may be negative.
  Tensor T() const;  // swaps the last two axes
  Tensor Transpose(int64_t a, int64_t b) const;
  Tensor Permute(Shape order) const;
  Tensor Reshape(Shape shape) const;  // one size may be -1; needs contiguous data
  Tensor Slice(int64_t axis, int64_t start, int64_t stop, int64_t step = 1) const;
  Tensor Expand(Shape shape) const;  // NumPy broadcasting to `shape`
  Tensor Squeeze(int64_t axis) const;
  Tensor Unsqueeze(int64_t axis) const;
  // A contiguous copy, or this tensor if already contiguous.
  Tensor Contiguous() const;
  // A heap copy that no tape knows: the way to keep a result past Rewind.
  Tensor Detach() const;

  // ---- Devices. Copies are explicit: ops never move data between devices.
  // A contiguous copy on `device`, or this tensor if it is there already. On a
  // tape it records, and gradients flow back to this tensor's device.
  Tensor To(Device device) const;
  Tensor Cpu() const { return To(Device::Cpu()); }
  Tensor Cuda(int index = 0) const { return To(Device::Cuda(index)); }

  // ---- Autograd.
  // Makes this heap tensor a leaf that collects .grad(); returns *this.
  Tensor& RequiresGrad(bool requires = true);
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  // The accumulated gradient (same shape), or an empty tensor if none yet.
  Tensor grad() const;
  // Sets the gradient to zero, keeping its memory.
  void ZeroGrad();
  // Backpropagates from this one-element tape tensor: its grad is set to 1 and
  // every tensor and Value it depends on accumulates its gradient. A heap tensor's
  // gradient (a parameter's) takes one thread's backward passes at a time: while
  // one thread adds to it, another's Backward is a FailedPrecondition error, not a
  // data race; ZeroGrad hands it on (Note [Shared parameters]).
  absl::Status Backward() const;
  // Backward that adds to no heap tensor but those in `inputs` (tape tensors get
  // their gradients as usual): the gradient of a request with respect to its input
  // while threads share the model, whose parameters' gradients stay untouched.
  //   Tensor x = Tensor::FromData(request, {1, 784}); x.RequiresGrad();
  //   TG_RETURN_IF_ERROR(Sum(model(x)).BackwardInto({x}));   // x.grad()
  absl::Status BackwardInto(absl::Span<const Tensor> inputs) const;
  // Has each backward call hook(context) as soon as this heap tensor's gradient
  // for that pass is final: the sweep has passed every op recorded since the
  // tape's last Backward or Rewind that reads it (PyTorch's
  // register_post_accumulate_grad_hook). dist::DataParallel starts a bucket's
  // allreduce from it while the sweep goes on. One hook per tensor; a null hook
  // removes it. The hook runs on the backward's thread, inside the sweep: it may
  // read grad() but must not record ops. Uses after the backward's root, and a
  // second backward over the same ops, do not call it. A tensor with a hook is
  // recorded on one thread at a time (its uses are counted without atomics).
  // FailedPrecondition unless this is a heap tensor that requires grad.
  using GradReadyHook = void (*)(void* context);
  absl::Status SetGradReadyHook(GradReadyHook hook, void* context);

  // NumPy-style text, like str(ndarray): "[[1. 2.]\n [3. 4.]]".
  std::string ToString() const;

  // ---- For core and kernels: the impl behind the handle (null unless ok()).
  TensorImpl* impl() const { return ok() ? impl_ : nullptr; }
  Tape* tape() const { return tape_; }
  // Wraps `impl`: a heap impl (this handle takes over one reference) or, with
  // `tape`, an arena impl dated by `slot`.
  // Inline: every op ends here.
  static Tensor Wrap(TensorImpl* impl, Tape* tape = nullptr, SlotRef slot = {}) {
    Tensor t;
    t.impl_ = impl;
    t.tape_ = tape;
    t.slot_ = slot;
    return t;
  }

 private:
  TensorImpl* impl_ = nullptr;
  Tape* tape_ = nullptr;
  SlotRef slot_;
  absl::Status status_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// "f32[2, 3] on cpu": how error messages name an operand.
std::string Describe(const Tensor& t);
std::string Describe(const TensorImpl& t);

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_TENSOR_H_
