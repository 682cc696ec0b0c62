// Where gradients go: a tensor's grad buffer (Note [Lazy zero grads]), which
// thread may add to a heap tensor's (Note [Shared parameters]), and Accumulate,
// which every backward formula ends with.
#include <atomic>
#include <cstdint>

#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"

namespace tapegrad::internal {

bool TakesFreshGrad(const Tape& tape, const TensorImpl& input) {
  return input.grad == nullptr && !input.heap && input.slot >= tape.persistent_slots();
}

// Note [Lazy zero grads]: a training step zeroes every parameter's gradient, then
// its backward writes each one, mostly by a matmul's weight-gradient GEMM. Filling
// the zeros and then adding the GEMM's result passes over every gradient twice more
// than needed, out of cache by then (about a tenth of an MLP step on the CPU).
// Instead, ZeroGrad of a gradient nobody else holds only sets grad_state to
// kGradZero; a backward rule that writes its share straight into the grad
// (GradBuffer) then overwrites instead of adding (the GEMM's beta is 0), and
// Accumulate copies instead of adding. Whatever reads a gradient outside a backward
// (Tensor::grad, so optimizers, the C ABI, allreduce) fills the zeros first
// (MaterializeGrad). A fresh grad starts as kGradZero too. PyTorch's
// zero_grad(set_to_none=True) saves the same passes by dropping the gradient; here
// the buffer stays, so a step still allocates nothing.

absl::StatusOr<TensorImpl*> GradBuffer(Tape& tape, TensorImpl& input, bool* zero) {
  if (input.grad == nullptr) {
    const Shape shape = input.layout.shape();
    TensorImpl* grad;
    if (input.heap || input.slot < tape.persistent_slots()) {
      // Outlives the next Rewind: a heap impl, owned by the input or by the tape.
      TG_ASSIGN_OR_RETURN(grad, NewResult(nullptr, shape, input.dtype, input.device));
      if (!input.heap) TG_RETURN_IF_ERROR(tape.Own(grad, UnrefImpl));
    } else {
      TG_ASSIGN_OR_RETURN(grad, NewResult(&tape, shape, input.dtype, input.device));
    }
    input.grad = grad;
    __atomic_store_n(&input.grad_state, kGradZero, __ATOMIC_RELAXED);
  }
  // A backward adds to a grad from one thread (AddsTo claimed it), so no reader
  // may be filling it now.
  *zero = __atomic_load_n(&input.grad_state, __ATOMIC_ACQUIRE) == kGradZero;
  return input.grad;
}

void GradWritten(TensorImpl& input) {
  __atomic_store_n(&input.grad_state, kGradWritten, __ATOMIC_RELEASE);
}

absl::StatusOr<TensorImpl*> GradOf(Tape& tape, TensorImpl& input) {
  bool zero;
  TG_ASSIGN_OR_RETURN(TensorImpl * grad, GradBuffer(tape, input, &zero));
  if (zero) {
    TG_RETURN_IF_ERROR(Run(OpKind::kFill, {}, {grad}, OpAttrs{}));
    GradWritten(input);
  }
  return grad;
}

absl::Status MaterializeGrad(TensorImpl& input) {
  uint8_t state = kGradZero;
  if (__atomic_compare_exchange_n(&input.grad_state, &state, kGradFilling, false,
                                  __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
    const absl::Status filled = Run(OpKind::kFill, {}, {input.grad}, OpAttrs{});
    // On failure the grad stays unwritten, and the next read tries again.
    __atomic_store_n(&input.grad_state, filled.ok() ? kGradWritten : kGradZero,
                     __ATOMIC_RELEASE);
    return filled;
  }
  // Another thread is filling it: the zeros are a few microseconds away.
  while (state == kGradFilling) {
    state = __atomic_load_n(&input.grad_state, __ATOMIC_ACQUIRE);
  }
  return absl::OkStatus();
}

AccumulateOnly& ThisThreadAccumulateOnly() {
  thread_local AccumulateOnly only;
  return only;
}

namespace {

// A number for this thread, never 0 and never reused.
uint64_t ThisThreadToken() {
  static std::atomic<uint64_t> next{1};
  thread_local const uint64_t token = next.fetch_add(1, std::memory_order_relaxed);
  return token;
}

// Note [Shared parameters]: threads may share heap tensors (a model's parameters)
// for forward passes, which only read them. A backward adds to their grad, so one
// thread at a time may: the first to add claims the grad, and another thread's
// backward is then an error instead of a data race on the grad's elements and
// fields. ZeroGrad (an optimizer's, between steps) releases it. Input gradients
// of a shared model come from Tensor::BackwardInto, which adds to no parameter.
absl::Status ClaimGrad(TensorImpl& input) {
  const uint64_t me = ThisThreadToken();
  uint64_t owner = __atomic_load_n(&input.grad_owner, __ATOMIC_ACQUIRE);
  if (owner == me) return absl::OkStatus();
  if (owner == 0 && __atomic_compare_exchange_n(&input.grad_owner, &owner, me, false,
                                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    return absl::OkStatus();
  }
  const TensorImpl* operands[] = {&input};
  return absl::FailedPreconditionError(
      OpError("backward", operands,
              "another thread's backward is adding to this heap tensor's gradient (a "
              "parameter shared by threads); use Tensor::BackwardInto(inputs) for "
              "gradients that leave parameters alone, give each thread its own "
              "parameters, or ZeroGrad to hand the gradient on")
          .message());
}

bool Listed(const AccumulateOnly& only, const TensorImpl& input) {
  for (size_t i = 0; i < only.size; ++i) {
    if (only.begin[i].impl() == &input) return true;
  }
  return false;
}

}  // namespace

bool Wanted(const TensorImpl& input) {
  if (!input.requires_grad) return false;
  if (!input.heap) return true;  // a tape tensor: this thread's own
  const AccumulateOnly& only = ThisThreadAccumulateOnly();
  return !only.active || Listed(only, input);
}

absl::StatusOr<bool> AddsTo(TensorImpl& input) {
  if (!Wanted(input)) return false;
  if (input.heap) TG_RETURN_IF_ERROR(ClaimGrad(input));
  return true;
}

absl::Status Accumulate(Tape& tape, TensorImpl& input, const TensorImpl& contribution,
                        bool owned) {
  TG_ASSIGN_OR_RETURN(const bool adds, AddsTo(input));
  if (!adds) return absl::OkStatus();
  const TensorImpl* c = &contribution;
  TensorImpl reshaped;
  if (!SameShape(c->layout, input.layout)) {
    // Sum over the axes that broadcasting added or stretched.
    const int shift = c->layout.rank - input.layout.rank;
    uint32_t axes = 0;
    for (int i = 0; i < c->layout.rank; ++i) {
      if (i < shift || (input.layout.sizes[i - shift] == 1 && c->layout.sizes[i] != 1)) {
        axes |= 1u << i;
      }
    }
    TG_ASSIGN_OR_RETURN(TensorImpl * summed, RunReduce(&tape, OpKind::kSum, *c, axes));
    InitView(&reshaped, *summed, Layout::Contiguous(input.layout.shape()));
    c = &reshaped;
    owned = true;
  }
  const bool adopt = owned && TakesFreshGrad(tape, input) && c->layout.IsContiguous() &&
                     !c->storage->heap;
  if (adopt) {
    TG_ASSIGN_OR_RETURN(TensorImpl * grad, NewView(&tape, *c, c->layout));
    input.grad = grad;
  } else {
    bool zero;
    TG_ASSIGN_OR_RETURN(TensorImpl * grad, GradBuffer(tape, input, &zero));
    if (zero) {
      TG_RETURN_IF_ERROR(Run(OpKind::kCopy, {c}, {grad}));
      GradWritten(input);
    } else {
      TG_RETURN_IF_ERROR(Run(OpKind::kAdd, {grad, c}, {grad}));
    }
  }
  input.grad_epoch = tape.sweep_epoch();
  return absl::OkStatus();
}

}  // namespace tapegrad::internal
