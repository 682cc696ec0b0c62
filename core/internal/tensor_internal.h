// Machinery shared by the tensor ops (core/tensor_*.cc), their backward formulas
// (tensor_backward.cc) and the Tensor handle (tensor.cc). Not a public header.
//
// Every op follows the same four steps:
//   1. Place: check the operands (ok, live, one tape, one device) and choose where
//      the result lives: the operands' tape, else the current tape, else the heap.
//   2. Allocate the result (NewResult / NewView): arena on a tape, heap otherwise.
//   3. Run the kernel through the registry (Run).
//   4. Finish: give the result a tape slot and, if it needs a gradient, a
//      TensorRecord that the reverse sweep hands to the op's backward formula.
#ifndef TAPEGRAD_CORE_INTERNAL_TENSOR_INTERNAL_H_
#define TAPEGRAD_CORE_INTERNAL_TENSOR_INTERNAL_H_

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/internal/elementwise_math.h"
#include "core/internal/op_kind.h"
#include "core/internal/registry.h"
#include "core/internal/tensor_impl.h"
#include "core/tape.h"
#include "core/tensor.h"

namespace tapegrad::internal {

// The differentiable ops, each with its backward formula (defined in
// tensor_backward.cc): one row per op, so that an op and its formula cannot be
// listed apart or out of order. X(GradOp enumerator, backward formula). It opens
// with the differentiable rows of TAPEGRAD_BINARY_MATH_OPS
// (core/internal/elementwise_math.h), each with its rule Name##Backward; the rows of
// TAPEGRAD_UNARY_MATH_OPS follow it, each with the generic rule UnaryMathBackward.
#define TAPEGRAD_GRAD_OPS(X)                           \
  TAPEGRAD_BINARY_MATH_OPS(TAPEGRAD_BINARY_GRAD_OP, X) \
  X(kWhere, WhereBackward)                             \
  X(kNeg, NegBackward)                                 \
  X(kClamp, ClampBackward)                             \
  X(kPow, PowBackward)                                 \
  X(kScale, ScaleBackward)                             \
  X(kSum, SumBackward)                                 \
  X(kMax, ExtremeReductionBackward)                    \
  X(kMin, ExtremeReductionBackward)                    \
  X(kMatMul, MatMulBackward)                           \
  X(kConv2d, Conv2dBackward)                           \
  X(kMaxPool2d, MaxPool2dBackward)                     \
  X(kAvgPool2d, AvgPool2dBackward)                     \
  X(kBatchNorm, BatchNormBackward)                     \
  X(kSoftmax, SoftmaxBackward)                         \
  X(kLogSoftmax, LogSoftmaxBackward)                   \
  X(kCrossEntropy, CrossEntropyBackward)               \
  X(kIndexSelect, IndexSelectBackward)                 \
  X(kConcat, ConcatBackward)                           \
  X(kPermute, PermuteBackward)                         \
  X(kReshape, ReshapeBackward)                         \
  X(kExpand, PassThrough)                              \
  X(kSlice, SliceBackward)                             \
  X(kCopy, PassThrough)                                \
  X(kBceWithLogits, BceWithLogitsBackward)             \
  X(kToDevice, ToDeviceBackward)

#define TAPEGRAD_BINARY_GRAD_OP(X, Name, name, enumerator, gradient) \
  TAPEGRAD_BINARY_GRAD_OP_##gradient(X, Name)
#define TAPEGRAD_BINARY_GRAD_OP_Rule(X, Name) X(k##Name, Name##Backward)
#define TAPEGRAD_BINARY_GRAD_OP_None(X, Name)

// clang-format off
enum class GradOp : uint8_t {
#define TAPEGRAD_GRAD_OP_ENUM(op, backward) op,
  TAPEGRAD_GRAD_OPS(TAPEGRAD_GRAD_OP_ENUM)
#undef TAPEGRAD_GRAD_OP_ENUM
#define TAPEGRAD_GRAD_OP_ENUM(Y, Name, ...) k##Name,
  TAPEGRAD_UNARY_MATH_OPS(TAPEGRAD_GRAD_OP_ENUM, )
#undef TAPEGRAD_GRAD_OP_ENUM
  kCount
};

// What the backward rule of a unary math op reads besides the gradient.
enum class Saved : uint8_t { kInput, kOutput, kNone };
// clang-format on

// What the sweep runs for one recorded tensor op. Allocated in the tape's arena
// with room for `num_inputs` input pointers.
struct TensorRecord : OpaqueRecord {
  GradOp op;
  int32_t num_inputs;
  OpAttrs attrs;
  int64_t extra[kMaxRank];  // permutation, slice bounds, concat axis
  TensorImpl* out;
  TensorImpl* inputs[1];  // really num_inputs of them
};

using BackwardFn = absl::Status (*)(TensorRecord& record, Tape& tape, TensorImpl& grad);
BackwardFn BackwardFor(GradOp op);
// The rules defined beside their ops (core/tensor_window.cc, core/tensor_norm.cc),
// not in tensor_backward.cc.
absl::Status Conv2dBackward(TensorRecord& record, Tape& tape, TensorImpl& grad);
absl::Status MaxPool2dBackward(TensorRecord& record, Tape& tape, TensorImpl& grad);
absl::Status AvgPool2dBackward(TensorRecord& record, Tape& tape, TensorImpl& grad);
absl::Status BatchNormBackward(TensorRecord& record, Tape& tape, TensorImpl& grad);

// Step 1. On error, the status names `op` and every operand, and *tape is where to
// record it (the first operand's tape, else the current one).
absl::Status Place(const char* op, absl::Span<const Tensor* const> operands, Tape** tape);
// Place's check without the message, for the per-op fast path: true if every
// operand is ok and those on a tape are on one; then *tape is Place's choice and
// impls[i] is operand i's impl. Each handle is checked once (ok() reads the tape).
inline bool PlaceFast(absl::Span<const Tensor* const> operands, Tape** tape,
                      TensorImpl** impls) {
  Tape* chosen = nullptr;
  for (size_t i = 0; i < operands.size(); ++i) {
    TensorImpl* const impl = operands[i]->impl();
    Tape* const on = operands[i]->tape();
    if (impl == nullptr || (on != nullptr && chosen != nullptr && on != chosen)) {
      return false;
    }
    if (on != nullptr) chosen = on;
    impls[i] = impl;
  }
  *tape = chosen != nullptr ? chosen : Tape::Current();
  return true;
}
// An error for `op` that lists `operands` after `what`.
absl::Status OpError(const char* op, absl::Span<const TensorImpl* const> operands,
                     const std::string& what);
// Checks that all operands share dtype and device.
absl::Status SameDTypeAndDevice(const char* op, absl::Span<const TensorImpl* const> ops);
// The check of SameDTypeAndDevice without the message, for the per-op fast path.
inline bool AllSameDTypeAndDevice(absl::Span<const TensorImpl* const> ops) {
  for (const TensorImpl* t : ops) {
    if (t->device != ops[0]->device || t->dtype != ops[0]->dtype) return false;
  }
  return true;
}

// The forms most ops take: the four steps for operands of one floating dtype and
// one device (defined in tensor_elementwise.cc, WithIndices in tensor_joins.cc).
//
// Checks the operands: PlaceFast, then one dtype and device, f32 or f64. Sets
// *tape and impls[i] (operand i's impl, which the op uses from then on). False if
// a check fails; Unprepared then says which.
bool Prepare(absl::Span<const Tensor* const> operands, Tape** tape, TensorImpl** impls);
// The error tensor of `op` for operands that Prepare refused: the first failed
// check's message, recorded on their tape (or the current one).
Tensor Unprepared(const char* op, absl::Span<const Tensor* const> operands);
// (a, b) -> kernel(a, b), broadcast; with `constant` (a comparison), the result is
// recorded without inputs, so no gradient flows through it.
Tensor Binary(const char* name, OpKind kernel, GradOp grad_op, const Tensor& a,
              const Tensor& b, bool constant = false);
// x -> kernel(x); with `constant`, recorded as a constant, as Binary's results.
Tensor Unary(const char* name, OpKind kernel, GradOp grad_op, const Tensor& x,
             const OpAttrs& attrs = {}, bool constant = false);
// A constant (no gradient) of `shape` with the dtype and device of `like`, written
// by a kernel without inputs (kFill, kDropoutMask).
Tensor Generate(Tape* tape, Shape shape, const Tensor& like, OpKind kernel,
                const OpAttrs& attrs);
// An op on floating `x` and an i64 operand (class labels, row indices) on the
// same device. `fits` checks the shapes and sets the output's; `expected` says
// what the op needs, for the error.
Tensor WithIndices(
    const char* name, OpKind kernel, GradOp grad_op, const Tensor& x,
    const Tensor& indices, const char* expected,
    absl::FunctionRef<bool(const TensorImpl&, const TensorImpl&, Layout*)> fits);

// Step 2. Contiguous, uninitialised.
absl::StatusOr<TensorImpl*> NewResult(Tape* tape, Shape shape, DType dtype,
                                      Device device);
// A view of `base`'s storage with `layout` (an arena impl on a tape: it pins heap
// storage until the Rewind that frees it).
absl::StatusOr<TensorImpl*> NewView(Tape* tape, const TensorImpl& base,
                                    const Layout& layout);
// Drops a fresh result that will not be returned (a heap one would leak) and
// passes `error` on.
absl::Status Discard(TensorImpl* fresh, absl::Status error);
// A view on the stack for kernel calls (no ownership).
void InitView(TensorImpl* view, const TensorImpl& base, const Layout& layout);

// Step 3.
absl::Status Run(OpKind op, std::initializer_list<const TensorImpl*> inputs,
                 std::initializer_list<TensorImpl*> outputs, const OpAttrs& attrs = {},
                 absl::Span<const double> scalars = {});

// Step 4. Returns the result handle, or an error tensor (also recorded on the tape).
Tensor Finish(Tape* tape, TensorImpl* out, GradOp op,
              std::initializer_list<TensorImpl*> inputs, const OpAttrs& attrs = {},
              absl::Span<const int64_t> extra = {});
Tensor FinishN(Tape* tape, TensorImpl* out, GradOp op,
               absl::Span<TensorImpl* const> inputs, const OpAttrs& attrs,
               absl::Span<const int64_t> extra);
// An error tensor for `status`, recorded as the tape's sticky error if there is one.
Tensor Fail(Tape* tape, absl::Status status);

// Elementwise helpers that broadcast, run `op` and return a fresh result.
absl::StatusOr<TensorImpl*> RunBinary(Tape* tape, OpKind op, const TensorImpl& a,
                                      const TensorImpl& b, const OpAttrs& attrs = {});
absl::StatusOr<TensorImpl*> RunUnary(Tape* tape, OpKind op, const TensorImpl& x,
                                     const OpAttrs& attrs = {});
// A reduction kernel (kSum, kMax, kMin, kArgMax, kArgMin) over `axes` (bit set)
// with keepdim; a sum is scaled by `scale`; the index reductions' result is i64.
absl::StatusOr<TensorImpl*> RunReduce(Tape* tape, OpKind op, const TensorImpl& x,
                                      uint32_t axes, double scale = 1.0);
// Batched matrix product of two rank >= 2 impls with broadcast batch dimensions.
absl::StatusOr<TensorImpl*> RunMatMul(Tape* tape, const TensorImpl& a,
                                      const TensorImpl& b);
// The same product written into `out` (contiguous, the product's shape), or, with
// `accumulate`, added to it; the error names matmul and the operands.
absl::Status RunMatMulInto(const TensorImpl& a, const TensorImpl& b, TensorImpl& out,
                           bool accumulate);

// A vector of one value per channel as a [1, C, 1, ...] view of rank `rank`, to
// broadcast against [N, C, ...] tensors. Unsqueeze keeps any stride, where
// Reshape needs contiguous data: bias and statistics may be strided views.
Tensor PerChannel(const Tensor& v, int64_t rank);

// Copies the bytes of `src` into `dst`, both contiguous with one shape and dtype,
// on whatever devices they are.
absl::Status CopyBytes(TensorImpl& dst, const TensorImpl& src);
// A contiguous copy of `t` on `device` (on `tape`, or on the heap if null): the
// source is packed on its own device, then moved in one block copy.
absl::StatusOr<TensorImpl*> CopyToDevice(Tape* tape, const TensorImpl& t, Device device);

// Backward: adds `contribution` (the input's shape, or one that broadcasts from it)
// into input.grad, summing over broadcast axes and allocating the grad on first
// use. `owned`: the contribution is a fresh temporary nobody else reads, so it may
// become the grad itself instead of being copied.
absl::Status Accumulate(Tape& tape, TensorImpl& input, const TensorImpl& contribution,
                        bool owned);
// Drops one reference of a heap TensorImpl: the release a tape pin or tape.Own
// takes.
void UnrefImpl(void* impl);
// Whether input has no grad yet and is a tape tensor that the next Rewind drops:
// a fresh contribution nobody else reads may then become its grad as is.
bool TakesFreshGrad(const Tape& tape, const TensorImpl& input);
// input.grad, allocated and zeroed if absent, its buffer holding its value.
absl::StatusOr<TensorImpl*> GradOf(Tape& tape, TensorImpl& input);
// input.grad, allocated if absent, for a rule that writes its share straight into
// it: *zero says the grad's value is zero and its buffer unwritten (Note [Lazy zero
// grads]), so the rule writes every element instead of adding, then calls
// GradWritten. Ask AddsTo first.
absl::StatusOr<TensorImpl*> GradBuffer(Tape& tape, TensorImpl& input, bool* zero);
void GradWritten(TensorImpl& input);
// Gives input.grad's buffer its value (zeros) if ZeroGrad left it unwritten; for
// code that reads a grad outside a backward (Tensor::grad). Safe from threads that
// read the same grad at once.
absl::Status MaterializeGrad(TensorImpl& input);
// Whether this sweep adds to input's gradient: it requires grad and, if it is a
// heap tensor, BackwardInto lists it (when active) and its grad is this thread's
// to add to, which it claims (an error if another thread holds it). Every backward
// rule that adds to an input's grad asks this first (Accumulate does).
absl::StatusOr<bool> AddsTo(TensorImpl& input);
// Whether a backward rule should compute input's share at all: it requires grad
// and BackwardInto does not leave it out (what AddsTo answers, without claiming).
bool Wanted(const TensorImpl& input);

// Tensor::BackwardInto's list, for the sweep it runs on this thread: while set,
// Accumulate adds to no heap tensor outside it (shared parameters are left alone).
struct AccumulateOnly {
  const Tensor* begin = nullptr;
  size_t size = 0;
  bool active = false;
};
AccumulateOnly& ThisThreadAccumulateOnly();

}  // namespace tapegrad::internal

#endif  // TAPEGRAD_CORE_INTERNAL_TENSOR_INTERNAL_H_
