// The scalar Value handle: micrograd's Value, recorded on a tapegrad::Tape.
//
//   tapegrad::Tape tape;
//   tapegrad::TapeScope scope(&tape);        // this thread records on `tape`
//   tapegrad::Value a(-4.0), b(2.0);         // leaves
//   tapegrad::Value g = (a * b + b.pow(3)).relu();
//   absl::Status s = g.Backward();           // a.grad() == 2, b.grad() == 8
//
// A Value is 24 bytes: the tape it lives on, a 32-bit slot index, the slot's
// generation and, while the handle is its slot's sole handle, a copy of the number
// (Note [Data in the handle] in core/internal/record_path.h). It owns nothing; copying it
// copies the handle, not the number. Using a handle whose slot a Rewind or Reset dropped
// is an error that says so, never a read of memory that belongs to someone else (Note
// [Handle generations] in core/internal/record_path.h).
//
// Errors: operators cannot return a Status, so a failing op (stale operand,
// operands from two tapes, arena limit) records the first error on its tape and
// returns a "poisoned" Value; ops on poisoned Values stay poisoned; Backward returns
// the tape's error, and data()/grad() of a poisoned or stale Value are NaN (status()
// says why).
//
// Note [Temporaries fuse]: an op whose operand is a temporary (an rvalue Value,
// e.g. the `a * b` in `a * b + c`) that was the last value recorded folds itself into
// that temporary's record instead of adding a record: `x * w + b` becomes one record
// with three partials, and `(x * w + b).tanh()` stays one. This is only done to a
// handle that is provably the sole handle of its slot: one that came straight out of
// an op and was never copied (copying clears the mark on both sides). A temporary
// has no name, so nobody can ask for its grad; a named Value moved into an op
// (std::move) is consumed and reads as empty afterwards. Results are the same
// numbers up to the rounding of products of partials, with one exception: a
// second Backward without zeroing grads. There micrograd adds each node's kept
// grad into its inputs again, and a folded temporary has no node, so the inputs
// of a fold get less than micrograd gives them. Zero grads between sweeps (as
// training does) or name the temporary to get micrograd's numbers; the Python
// package, which is micrograd's API, never folds.
//
// Thread safety: a Value is used on the thread that owns its tape.
#ifndef TAPEGRAD_CORE_VALUE_H_
#define TAPEGRAD_CORE_VALUE_H_

#include <cstdint>
#include <iosfwd>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tapegrad {

class Tape;
namespace internal {
class TapeCore;
template <class V>
struct ValueMethods;  // defined in core/scalar_ops.h
}  // namespace internal

class Value {
 public:
  // An empty handle, attached to no tape. Ops on it fail.
  Value() = default;
  // A new leaf holding `data` on this thread's current tape (see TapeScope). With
  // no current tape the result is empty and status() says so.
  explicit Value(double data);

  // Copies share the slot. A copied handle is no longer a sole temporary, so
  // neither the copy nor its source is ever fused into (Note [Temporaries fuse]).
  Value(const Value& other) noexcept
      : tape_(other.tape_),
        index_(other.index_),
        tag_(Shared(other.tag_)),
        data_(other.data_) {
    other.tag_ = tag_;
  }
  Value& operator=(const Value& other) noexcept {
    other.tag_ = Shared(other.tag_);
    tape_ = other.tape_;
    index_ = other.index_;
    tag_ = other.tag_;
    data_ = other.data_;
    return *this;
  }
  // Moving leaves the source empty.
  Value(Value&& other) noexcept
      : tape_(other.tape_), index_(other.index_), tag_(other.tag_), data_(other.data_) {
    other.index_ = kMovedFrom;
  }
  Value& operator=(Value&& other) noexcept {
    if (&other != this) {
      tape_ = other.tape_;
      index_ = other.index_;
      tag_ = other.tag_;
      data_ = other.data_;
      other.index_ = kMovedFrom;
    }
    return *this;
  }

  // Every method is inline, and those that need code out of line pass it the
  // handle's fields by value: a Value whose address reached a function the
  // compiler cannot see would live in memory for all of its life, and each op on
  // it would store its number and load it back (Note [Data in the handle]).

  // The number this Value holds; NaN when the handle is not valid.
  double data() const;
  // d(root)/d(this) accumulated by Backward calls; NaN when not valid.
  double grad() const;
  // As data() and grad(), with the reason when the handle is not valid.
  absl::StatusOr<double> TryData() const { return TryData(Bits()); }
  absl::StatusOr<double> TryGrad() const { return TryGrad(Bits()); }
  // micrograd lets users assign both (the SGD update writes data, zero_grad writes
  // grad). A write through an invalid handle becomes the tape's sticky error.
  void set_data(double data) const;
  void set_grad(double grad) const { SetGrad(Bits(), grad); }

  // OK when the handle refers to a live slot; otherwise why not.
  absl::Status status() const { return Status(Bits()); }
  bool ok() const;

  // Backpropagates from this Value: sets its grad to 1 and sweeps the tape once in
  // reverse. Returns the tape's sticky error, if any, instead of sweeping.
  absl::Status Backward() const { return Backward(Bits()); }

  // micrograd's methods, the same as the free functions in core/scalar_ops.h
  // (include it, or tapegrad.h, to call them). Templates only so that they can be
  // defined there, inline, after the ops. Always inlined, as the ops are: left to
  // itself g++ kept x.tanh() out of line in W1's loop, which then passed x through
  // memory and reloaded the tape's fields (W1 recorded about 10% slower).
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value relu() const& {
    return internal::ValueMethods<V>::Relu(*this);
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value relu() && {
    return internal::ValueMethods<V>::Relu(std::move(*this));
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value tanh() const& {
    return internal::ValueMethods<V>::Tanh(*this);
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value tanh() && {
    return internal::ValueMethods<V>::Tanh(std::move(*this));
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value exp() const& {
    return internal::ValueMethods<V>::Exp(*this);
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value exp() && {
    return internal::ValueMethods<V>::Exp(std::move(*this));
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value log() const& {
    return internal::ValueMethods<V>::Log(*this);
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value log() && {
    return internal::ValueMethods<V>::Log(std::move(*this));
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value sigmoid() const& {
    return internal::ValueMethods<V>::Sigmoid(*this);
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value sigmoid() && {
    return internal::ValueMethods<V>::Sigmoid(std::move(*this));
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value pow(double exponent) const& {
    return internal::ValueMethods<V>::Pow(*this, exponent);
  }
  template <class V = Value>
  ABSL_ATTRIBUTE_ALWAYS_INLINE Value pow(double exponent) && {
    return internal::ValueMethods<V>::Pow(std::move(*this), exponent);
  }

  Tape* tape() const { return tape_; }
  uint32_t index() const { return index_; }
  uint32_t generation() const { return tag_ & kGenerationMask; }

 private:
  friend class Tape;
  friend class internal::TapeCore;
  friend struct ScalarOpsAccess;

  // Indices at or above kFirstSpecial are not slots; they say why.
  static constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
  static constexpr uint32_t kMovedFrom = kEmpty - 1;
  static constexpr uint32_t kPoisoned = kEmpty - 2;
  static constexpr uint32_t kNoCurrentTape = kEmpty - 3;
  static constexpr uint32_t kFirstSpecial = kNoCurrentTape;
  // tag_ holds the generation in its low 30 bits and one of: kSoleBit, on a handle
  // fresh from an op; kSharedBit, on both sides of any copy and on handles made
  // from a slot index. The tape's generation word of a slot holds the generation
  // and kSoleBit while the slot is clean (Note [Data in the handle]), so that
  // tag_ equals it exactly when data_ may be used.
  static constexpr uint32_t kGenerationMask = 0x3fffffffu;
  static constexpr uint32_t kSoleBit = 0x80000000u;
  static constexpr uint32_t kSharedBit = 0x40000000u;

  Value(Tape* tape, uint32_t index, uint32_t generation, double data)
      : tape_(tape), index_(index), tag_(generation | kSoleBit), data_(data) {}

  static uint32_t Shared(uint32_t tag) { return (tag & kGenerationMask) | kSharedBit; }

  // A handle's fields but its number, passed by value to the code out of line
  // (these methods, and the ops' error path in core/internal/scalar_rules.h).
  struct HandleBits {
    Tape* tape;
    uint32_t index;
    uint32_t tag;
  };
  HandleBits Bits() const { return {tape_, index_, tag_}; }
  // A handle with `bits` (its number is read from the slot where needed).
  static Value FromBits(HandleBits bits);
  static absl::StatusOr<double> TryData(HandleBits bits);
  static absl::StatusOr<double> TryGrad(HandleBits bits);
  static absl::Status Status(HandleBits bits);
  static absl::Status Backward(HandleBits bits);
  static void SetGrad(HandleBits bits, double grad);
  // set_data through any handle but the slot's clean sole one.
  static void SetDataAround(HandleBits bits, double data);

  Tape* tape_ = nullptr;
  uint32_t index_ = kEmpty;
  mutable uint32_t tag_ = 0;
  // The slot's number while tag_ matches the slot (Note [Data in the handle]).
  mutable double data_ = 0.0;
};

namespace internal {
std::ostream& PrintValue(std::ostream& os, double data, double grad);
}  // namespace internal

// micrograd's repr: "Value(data=3.0, grad=0.0)".
inline std::ostream& operator<<(std::ostream& os, const Value& v) {
  return internal::PrintValue(os, v.data(), v.grad());
}

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_VALUE_H_
