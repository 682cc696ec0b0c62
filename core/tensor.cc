// The Tensor handle: copies, status, shape queries, and autograd. Factories and
// element access on the host are in tensor_host.cc.
#include "core/tensor.h"

#include <ostream>
#include <utility>

#include "absl/strings/str_format.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"

namespace tapegrad {

using internal::Run;

// ---- Handle.

Tensor::Tensor(const Tensor& other)
    : impl_(other.impl_), tape_(other.tape_), slot_(other.slot_), status_(other.status_) {
  if (impl_ != nullptr && tape_ == nullptr) impl_->Ref();
}

Tensor::Tensor(Tensor&& other) noexcept
    : impl_(std::exchange(other.impl_, nullptr)),
      tape_(std::exchange(other.tape_, nullptr)),
      slot_(other.slot_),
      status_(std::move(other.status_)) {}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) *this = Tensor(other);
  return *this;
}

Tensor& Tensor::operator=(Tensor&& other) noexcept {
  if (this != &other) {
    if (impl_ != nullptr && tape_ == nullptr) impl_->Unref();
    impl_ = std::exchange(other.impl_, nullptr);
    tape_ = std::exchange(other.tape_, nullptr);
    slot_ = other.slot_;
    status_ = std::move(other.status_);
  }
  return *this;
}

Tensor Tensor::Error(absl::Status status) {
  Tensor t;
  t.status_ = status.ok() ? absl::InternalError("Tensor::Error with an OK status")
                          : std::move(status);
  return t;
}

absl::Status Tensor::status() const {
  if (!status_.ok()) return status_;
  if (impl_ == nullptr) return absl::InvalidArgumentError("empty Tensor");
  if (!ok()) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "stale tensor (tape slot %d of generation %d): its tape was rewound or reset "
        "after it was made",
        slot_.index, slot_.generation));
  }
  return absl::OkStatus();
}

Shape Tensor::shape() const { return ok() ? impl_->layout.shape() : Shape(); }
Shape Tensor::strides() const { return ok() ? impl_->layout.stride_span() : Shape(); }
int64_t Tensor::numel() const { return ok() ? impl_->numel() : 0; }
bool Tensor::is_contiguous() const { return ok() && impl_->layout.IsContiguous(); }

int64_t Tensor::size(int axis) const {
  int a;
  if (!ok() || !NormalizeAxis(axis, dim(), &a)) return 0;
  return impl_->layout.sizes[a];
}

bool Tensor::SharesStorageWith(const Tensor& other) const {
  return ok() && other.ok() && impl_->storage->data == other.impl_->storage->data;
}

std::string Describe(const TensorImpl& t) {
  return absl::StrFormat("%s%s on %s", DTypeName(t.dtype), ShapeString(t.layout.shape()),
                         t.device.ToString());
}

std::string Describe(const Tensor& t) {
  if (!t.ok()) return absl::StrFormat("<%s>", t.status().ToString());
  return Describe(*t.impl());
}

// ---- Autograd.

Tensor& Tensor::RequiresGrad(bool requires) {
  if (ok() && !on_tape()) impl_->requires_grad = requires;
  return *this;
}

Tensor Tensor::grad() const {
  if (!ok() || impl_->grad == nullptr) return Tensor();
  if (absl::Status s = internal::MaterializeGrad(*impl_); !s.ok()) {
    return Error(std::move(s));
  }
  if (impl_->grad->heap) {
    impl_->grad->Ref();
    return Wrap(impl_->grad);
  }
  return Wrap(impl_->grad, tape_, slot_);
}

void Tensor::ZeroGrad() {
  if (!ok()) return;
  TensorImpl* grad = impl_->grad;
  if (grad != nullptr) {
    // A grad no handle or view shares may skip its zeros until it is next written
    // or read (Note [Lazy zero grads]); one that others see is zeroed now.
    if (grad->heap && grad->refs.load(std::memory_order_acquire) == 1 &&
        grad->storage->refs.load(std::memory_order_acquire) == 1) {
      __atomic_store_n(&impl_->grad_state, kGradZero, __ATOMIC_RELEASE);
    } else {
      (void)Run(OpKind::kFill, {}, {grad}, OpAttrs{});
      __atomic_store_n(&impl_->grad_state, kGradWritten, __ATOMIC_RELEASE);
    }
  }
  // Note [Shared parameters]: the next backward to add may be any thread's.
  __atomic_store_n(&impl_->grad_owner, 0, __ATOMIC_RELEASE);
}

absl::Status Tensor::SetGradReadyHook(GradReadyHook hook, void* context) {
  TG_RETURN_IF_ERROR(status());
  if (!impl_->heap || !impl_->requires_grad) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "SetGradReadyHook: %s is not a heap tensor that requires grad (a parameter)",
        Describe(*this)));
  }
  impl_->grad_hook = hook;
  impl_->grad_hook_context = hook == nullptr ? nullptr : context;
  impl_->pending_uses = 0;
  impl_->uses_tape = nullptr;
  return absl::OkStatus();
}

absl::Status Tensor::BackwardInto(absl::Span<const Tensor> inputs) const {
  internal::AccumulateOnly& only = internal::ThisThreadAccumulateOnly();
  if (only.active) {
    return absl::FailedPreconditionError("BackwardInto: already inside a BackwardInto");
  }
  only = {inputs.data(), inputs.size(), true};
  const absl::Status status = Backward();
  only = {};
  return status;
}

absl::Status Tensor::Backward() const {
  TG_RETURN_IF_ERROR(status());
  if (tape_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "backward: %s was not recorded on a tape; run the ops inside a TapeScope",
        Describe(*this)));
  }
  if (impl_->numel() != 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "backward: needs a one-element tensor (a loss), got %s", Describe(*this)));
  }
  if (!impl_->requires_grad) {
    return absl::FailedPreconditionError(
        absl::StrFormat("backward: %s does not depend on any tensor that requires grad",
                        Describe(*this)));
  }
  TG_RETURN_IF_ERROR(tape_->status());
  const uint32_t epoch = tape_->NextSweepEpoch();
  TG_ASSIGN_OR_RETURN(TensorImpl * grad, internal::GradOf(*tape_, *impl_));
  OpAttrs one;
  one.scalar0 = 1.0;
  TG_RETURN_IF_ERROR(Run(OpKind::kFill, {}, {grad}, one));
  impl_->grad_epoch = epoch;
  return tape_->SweepFrom(slot_.index);
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.ToString(); }

}  // namespace tapegrad
