// Steps 1-4 of every tensor op (see tensor_internal.h); where their gradients go
// is core/tensor_grads.cc.
#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/grad_mode.h"
#include "core/internal/device_memory.h"
#include "core/internal/tensor_internal.h"
#include "core/status_macros.h"

namespace tapegrad::internal {

void UnrefImpl(void* impl) { static_cast<TensorImpl*>(impl)->Unref(); }

namespace {

constexpr size_t kDataAlign = 64;

// kArgMax and kArgMin: reductions whose result is i64 whatever they read.
bool IsIndexReduction(OpKind op) {
  return op == OpKind::kArgMax || op == OpKind::kArgMin;
}

void UnrefStorage(void* storage) { static_cast<Storage*>(storage)->Unref(); }
// The release of a tape tensor's device data (its Storage header is in the arena).
void FreeArenaDeviceData(void* storage) {
  const Storage& s = *static_cast<Storage*>(storage);
  DeviceMemoryFor(s.device.type)->Free(s.device, s.data);
}

// Keeps a heap impl alive as long as the tape's records may point to it.
absl::Status PinImpl(Tape& tape, TensorImpl* impl) {
  if (!impl->heap || tape.RecentlyPinned(impl)) return absl::OkStatus();
  impl->Ref();
  return tape.Pin(impl, UnrefImpl);
}

}  // namespace

absl::Status OpError(const char* op, absl::Span<const TensorImpl* const> operands,
                     const std::string& what) {
  std::vector<std::string> names;
  for (const TensorImpl* t : operands) names.push_back(Describe(*t));
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: %s (operands: %s)", op, what, absl::StrJoin(names, ", ")));
}

namespace {

// Place's checks; *tape is set when they pass.
absl::Status CheckPlacement(const char* op, absl::Span<const Tensor* const> operands,
                            Tape** tape) {
  Tape* chosen = nullptr;
  for (size_t i = 0; i < operands.size(); ++i) {
    const Tensor& t = *operands[i];
    if (!t.ok()) {
      if (t.has_error()) return t.status();  // an earlier op's error, passed on
      if (t.impl() == nullptr && t.tape() == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s: operand %d is an empty Tensor", op, i));
      }
      return absl::FailedPreconditionError(
          absl::StrFormat("%s: operand %d: %s", op, i, t.status().message()));
    }
    if (t.tape() != nullptr) {
      if (chosen != nullptr && chosen != t.tape()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: operands are recorded on different tapes (%s on %p, earlier one on %p)",
            op, Describe(t), static_cast<const void*>(t.tape()),
            static_cast<const void*>(chosen)));
      }
      chosen = t.tape();
    }
  }
  *tape = chosen != nullptr ? chosen : Tape::Current();
  return absl::OkStatus();
}

}  // namespace

absl::Status Place(const char* op, absl::Span<const Tensor* const> operands,
                   Tape** tape) {
  absl::Status s = CheckPlacement(op, operands, tape);
  if (ABSL_PREDICT_FALSE(!s.ok())) {
    // Where the caller records the error: the first operand's tape, else the
    // current one.
    *tape = Tape::Current();
    for (const Tensor* t : operands) {
      if (t->tape() != nullptr) {
        *tape = t->tape();
        break;
      }
    }
  }
  return s;
}

absl::Status SameDTypeAndDevice(const char* op, absl::Span<const TensorImpl* const> ops) {
  if (ABSL_PREDICT_TRUE(AllSameDTypeAndDevice(ops))) return absl::OkStatus();
  for (const TensorImpl* t : ops) {
    if (t->device != ops[0]->device) {
      return OpError(op, ops,
                     "operands are on different devices; copy one with to(device) "
                     "first");
    }
    if (t->dtype != ops[0]->dtype) return OpError(op, ops, "operands differ in dtype");
  }
  return absl::OkStatus();
}

namespace {

// `why` a tensor could not be had, with the tensor named in front. Out of line, so
// that NewResult's common path does not set up the message's arguments.
ABSL_ATTRIBUTE_NOINLINE absl::Status AllocationError(const absl::Status& why, Shape shape,
                                                     DType dtype, Device device) {
  return absl::Status(
      why.code(), absl::StrFormat("allocating a %s%s tensor on %s: %s", DTypeName(dtype),
                                  ShapeString(shape), device.ToString(), why.message()));
}

}  // namespace

absl::StatusOr<TensorImpl*> NewResult(Tape* tape, Shape shape, DType dtype,
                                      Device device) {
  // Ops check their result's shape and name themselves (Note [Size limits]); this
  // is the backstop for every allocation.
  const int64_t numel =
      shape.size() <= static_cast<size_t>(kMaxRank) ? CheckedNumel(shape) : -1;
  if (ABSL_PREDICT_FALSE(numel < 0)) return CheckShape("tensor", shape);
  if (tape == nullptr) {
    absl::StatusOr<TensorImpl*> impl = TensorImpl::NewHeap(shape, dtype, device);
    if (!impl.ok()) return AllocationError(impl.status(), shape, dtype, device);
    return impl;
  }
  DeviceMemory* device_memory = nullptr;
  if (ABSL_PREDICT_FALSE(!device.is_cpu())) {
    device_memory = DeviceMemoryFor(device.type);
    if (device_memory == nullptr) {
      return AllocationError(NoDeviceMemory(device), shape, dtype, device);
    }
  }
  const size_t bytes = static_cast<size_t>(numel) * DTypeSize(dtype);
  // One allocation: impl and storage headers, then (on the host) the data on a
  // 64-byte line.
  constexpr size_t kHeader =
      (sizeof(TensorImpl) + sizeof(Storage) + kDataAlign - 1) / kDataAlign * kDataAlign;
  const size_t host_bytes = device_memory == nullptr ? bytes : 0;
  TG_ASSIGN_OR_RETURN(void* header,
                      tape->AllocateArena(kHeader + host_bytes, kDataAlign));
  auto* storage = new (static_cast<char*>(header) + sizeof(TensorImpl)) Storage;
  if (device_memory == nullptr) {
    storage->data = static_cast<char*>(header) + kHeader;
  } else {
    // Device data is the device's; the Rewind that drops this record gives it back.
    absl::StatusOr<void*> data = device_memory->Allocate(device, bytes);
    if (!data.ok()) return AllocationError(data.status(), shape, dtype, device);
    storage->data = *data;
    if (absl::Status pinned = tape->Pin(storage, FreeArenaDeviceData); !pinned.ok()) {
      device_memory->Free(device, storage->data);
      return pinned;
    }
  }
  storage->bytes = bytes;
  storage->device = device;
  auto* impl = new (header) TensorImpl;
  impl->storage = storage;
  impl->layout.SetContiguous(shape);
  impl->dtype = dtype;
  impl->device = device;
  impl->slot = static_cast<uint32_t>(tape->size());
  return impl;
}

absl::Status Discard(TensorImpl* fresh, absl::Status error) {
  fresh->Unref();  // no-op for arena impls
  return error;
}

void InitView(TensorImpl* view, const TensorImpl& base, const Layout& layout) {
  view->storage = base.storage;
  view->layout = layout;
  view->dtype = base.dtype;
  view->device = base.device;
}

absl::StatusOr<TensorImpl*> NewView(Tape* tape, const TensorImpl& base,
                                    const Layout& layout) {
  if (tape == nullptr) {
    TensorImpl* impl = TensorImpl::NewHeapView(base.storage, layout, base.dtype);
    if (impl == nullptr) return absl::ResourceExhaustedError("out of memory for a view");
    return impl;
  }
  TG_ASSIGN_OR_RETURN(void* memory,
                      tape->AllocateArena(sizeof(TensorImpl), alignof(TensorImpl)));
  auto* impl = new (memory) TensorImpl;
  InitView(impl, base, layout);
  impl->slot = static_cast<uint32_t>(tape->size());
  if (base.storage->heap) {
    base.storage->Ref();
    TG_RETURN_IF_ERROR(tape->Pin(base.storage, UnrefStorage));
  }
  return impl;
}

absl::Status Run(OpKind op, std::initializer_list<const TensorImpl*> inputs,
                 std::initializer_list<TensorImpl*> outputs, const OpAttrs& attrs,
                 absl::Span<const double> scalars) {
  // An index reduction's key is what it reads (core/internal/registry.h).
  const TensorImpl* key = IsIndexReduction(op) ? *inputs.begin() : *outputs.begin();
  KernelFn fn = KernelRegistry::Global().FindOrNull(op, key->dtype, key->device.type);
  if (ABSL_PREDICT_FALSE(fn == nullptr)) {
    return KernelRegistry::Global().Missing(op, key->dtype, key->device.type);
  }
  return fn(KernelCall{op, absl::MakeConstSpan(inputs.begin(), inputs.size()),
                       absl::MakeConstSpan(outputs.begin(), outputs.size()), attrs,
                       scalars});
}

Tensor Fail(Tape* tape, absl::Status status) {
  if (tape != nullptr) tape->RecordError(status);
  return Tensor::Error(std::move(status));
}

namespace {

// Note [Grad-ready hooks]: a heap tensor with a hook counts its uses as ops record
// them (each input slot of a tensor record that reads it), and each tensor record's
// backward, once run (whether or not its output was reached), releases its inputs'
// uses: the hook fires on the release that brings the count to zero, when no later
// op of the sweep can add to the gradient. Counts belong to one tape and to the
// time between two of its Backwards or Rewinds (the stamp): ops recorded and then
// rewound without a backward leave nothing behind.
uint64_t UseStamp(const Tape& tape) {
  return (uint64_t{tape.sweep_epoch()} << 32) | tape.generation();
}

void CountUse(const Tape& tape, TensorImpl& input) {
  const uint64_t stamp = UseStamp(tape);
  if (input.uses_tape != &tape || input.uses_stamp != stamp) {
    input.uses_tape = &tape;
    input.uses_stamp = stamp;
    input.pending_uses = 0;
  }
  ++input.pending_uses;
}

void ReleaseUse(TensorImpl& input) {
  if (input.grad_hook != nullptr && input.pending_uses > 0 && --input.pending_uses == 0) {
    input.grad_hook(input.grad_hook_context);
  }
}

absl::Status RunRecordBackward(TensorRecord& r, Tape& t) {
  TensorImpl* g = r.out->grad;
  if (g == nullptr || r.out->grad_epoch != t.sweep_epoch()) return absl::OkStatus();
  return BackwardFor(r.op)(r, t, *g);
}

}  // namespace

Tensor FinishN(Tape* tape, TensorImpl* out, GradOp op,
               absl::Span<TensorImpl* const> inputs, const OpAttrs& attrs,
               absl::Span<const int64_t> extra) {
  if (tape == nullptr) return Tensor::Wrap(out);
  bool needs_grad = false;
  if (IsGradEnabled()) {
    for (const TensorImpl* in : inputs) needs_grad |= in->requires_grad;
  }
  TensorRecord* record = nullptr;
  if (needs_grad) {
    const size_t bytes =
        sizeof(TensorRecord) + (std::max<size_t>(inputs.size(), 1) - 1) * sizeof(void*);
    absl::StatusOr<void*> memory = tape->AllocateArena(bytes, alignof(TensorRecord));
    if (!memory.ok()) return Fail(tape, memory.status());
    record = static_cast<TensorRecord*>(*memory);
    record->backward = [](OpaqueRecord* self, Tape& t) -> absl::Status {
      return RunRecordBackward(*static_cast<TensorRecord*>(self), t);
    };
    record->op = op;
    record->num_inputs = static_cast<int32_t>(inputs.size());
    record->attrs = attrs;
    std::copy(extra.begin(), extra.end(), record->extra);  // the rest is never read
    record->out = out;
    bool hooked = false;
    for (size_t i = 0; i < inputs.size(); ++i) {
      record->inputs[i] = inputs[i];
      if (absl::Status s = PinImpl(*tape, inputs[i]); !s.ok()) return Fail(tape, s);
      if (ABSL_PREDICT_FALSE(inputs[i]->grad_hook != nullptr)) {
        CountUse(*tape, *inputs[i]);
        hooked = true;
      }
    }
    if (hooked) {  // Note [Grad-ready hooks]
      record->backward = [](OpaqueRecord* self, Tape& t) -> absl::Status {
        auto& r = *static_cast<TensorRecord*>(self);
        const absl::Status status = RunRecordBackward(r, t);
        for (int i = 0; i < r.num_inputs; ++i) ReleaseUse(*r.inputs[i]);
        return status;
      };
    }
    out->requires_grad = true;
  }
  SlotRef slot;
  if (!tape->EmitOpaque(record, &slot)) return Tensor::Error(tape->status());
  out->slot = slot.index;
  return Tensor::Wrap(out, tape, slot);
}

Tensor Finish(Tape* tape, TensorImpl* out, GradOp op,
              std::initializer_list<TensorImpl*> inputs, const OpAttrs& attrs,
              absl::Span<const int64_t> extra) {
  return FinishN(tape, out, op, absl::MakeConstSpan(inputs.begin(), inputs.size()), attrs,
                 extra);
}

absl::StatusOr<TensorImpl*> RunBinary(Tape* tape, OpKind op, const TensorImpl& a,
                                      const TensorImpl& b, const OpAttrs& attrs) {
  if (SameShape(a.layout, b.layout)) {  // no broadcasting: the common case, kept short
    TG_ASSIGN_OR_RETURN(TensorImpl * out,
                        NewResult(tape, a.layout.shape(), a.dtype, a.device));
    if (absl::Status s = Run(op, {&a, &b}, {out}, attrs); !s.ok()) return Discard(out, s);
    return out;
  }
  Layout shape;
  if (!BroadcastShapes(a.layout.shape(), b.layout.shape(), &shape.rank, shape.sizes)) {
    const TensorImpl* operands[] = {&a, &b};
    return OpError(OpKindName(op), operands, "shapes do not broadcast");
  }
  TG_RETURN_IF_ERROR(CheckShape(OpKindName(op), shape.shape()));
  TG_ASSIGN_OR_RETURN(TensorImpl * out,
                      NewResult(tape, shape.shape(), a.dtype, a.device));
  TensorImpl va, vb;
  InitView(&va, a, a.layout.Expanded(shape.shape()));
  InitView(&vb, b, b.layout.Expanded(shape.shape()));
  if (absl::Status s = Run(op, {&va, &vb}, {out}, attrs); !s.ok()) return Discard(out, s);
  return out;
}

absl::StatusOr<TensorImpl*> RunUnary(Tape* tape, OpKind op, const TensorImpl& x,
                                     const OpAttrs& attrs) {
  TG_ASSIGN_OR_RETURN(TensorImpl * out,
                      NewResult(tape, x.layout.shape(), x.dtype, x.device));
  if (absl::Status s = Run(op, {&x}, {out}, attrs); !s.ok()) return Discard(out, s);
  return out;
}

absl::StatusOr<TensorImpl*> RunReduce(Tape* tape, OpKind op, const TensorImpl& x,
                                      uint32_t axes, double scale) {
  Layout keep = x.layout;
  for (int i = 0; i < keep.rank; ++i) {
    if (axes & (1u << i)) keep.sizes[i] = 1;
  }
  TG_ASSIGN_OR_RETURN(TensorImpl * out,
                      NewResult(tape, keep.shape(),
                                IsIndexReduction(op) ? DType::kI64 : x.dtype, x.device));
  OpAttrs attrs;
  attrs.axes = axes;
  attrs.scalar0 = scale;
  if (absl::Status s = Run(op, {&x}, {out}, attrs); !s.ok()) return Discard(out, s);
  return out;
}

namespace {

// A matmul's operands as the kernel takes them: batch axes expanded to the
// product's (stride 0 where broadcast), and the product's shape.
struct MatMulOperands {
  TensorImpl a, b;
  Layout product;
};

absl::Status PrepareMatMul(const TensorImpl& a, const TensorImpl& b, MatMulOperands* m) {
  const int ra = a.layout.rank, rb = b.layout.rank;
  const TensorImpl* operands[] = {&a, &b};
  if (a.layout.sizes[ra - 1] != b.layout.sizes[rb - 2]) {
    return OpError("matmul", operands, "inner dimensions differ");
  }
  Layout batch;
  if (!BroadcastShapes(a.layout.shape().subspan(0, ra - 2),
                       b.layout.shape().subspan(0, rb - 2), &batch.rank, batch.sizes) ||
      batch.rank + 2 > kMaxRank) {
    return OpError("matmul", operands, "batch dimensions do not broadcast");
  }
  Layout& full = m->product;
  full = batch;
  full.rank = batch.rank + 2;
  full.sizes[batch.rank] = a.layout.sizes[ra - 2];
  full.sizes[batch.rank + 1] = b.layout.sizes[rb - 1];
  TG_RETURN_IF_ERROR(CheckShape("matmul", full.shape()));
  int64_t sa[kMaxRank], sb[kMaxRank];
  std::copy(batch.sizes, batch.sizes + batch.rank, sa);
  std::copy(batch.sizes, batch.sizes + batch.rank, sb);
  sa[batch.rank] = a.layout.sizes[ra - 2];
  sa[batch.rank + 1] = a.layout.sizes[ra - 1];
  sb[batch.rank] = b.layout.sizes[rb - 2];
  sb[batch.rank + 1] = b.layout.sizes[rb - 1];
  InitView(&m->a, a, a.layout.Expanded({sa, size_t(full.rank)}));
  InitView(&m->b, b, b.layout.Expanded({sb, size_t(full.rank)}));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TensorImpl*> RunMatMul(Tape* tape, const TensorImpl& a,
                                      const TensorImpl& b) {
  MatMulOperands m;
  TG_RETURN_IF_ERROR(PrepareMatMul(a, b, &m));
  TG_ASSIGN_OR_RETURN(TensorImpl * out,
                      NewResult(tape, m.product.shape(), a.dtype, a.device));
  if (absl::Status s = Run(OpKind::kMatMul, {&m.a, &m.b}, {out}); !s.ok()) {
    return Discard(out, s);
  }
  return out;
}

absl::Status RunMatMulInto(const TensorImpl& a, const TensorImpl& b, TensorImpl& out,
                           bool accumulate) {
  MatMulOperands m;
  TG_RETURN_IF_ERROR(PrepareMatMul(a, b, &m));
  if (!SameShape(m.product, out.layout) || !out.layout.IsContiguous()) {
    const TensorImpl* operands[] = {&a, &b, &out};
    return OpError("matmul", operands,
                   "the output is not the product's contiguous shape");
  }
  OpAttrs attrs;
  attrs.scalar0 = accumulate ? 1.0 : 0.0;  // the kernel's beta
  return Run(OpKind::kMatMul, {&m.a, &m.b}, {&out}, attrs);
}

}  // namespace tapegrad::internal
