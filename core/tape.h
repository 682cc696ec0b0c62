// The Wengert tape: a linear record of every scalar operation, differentiated by
// one reverse sweep.
//
//   tapegrad::Tape tape;
//   tapegrad::TapeScope scope(&tape);
//   std::vector<tapegrad::Value> params = MakeParams();   // leaves persist
//   const tapegrad::TapeMark step = tape.Mark();
//   for (int i = 0; i < steps; ++i) {
//     tapegrad::Value loss = Loss(params);                 // records after the mark
//     if (absl::Status s = loss.Backward(); !s.ok()) return s;
//     Update(params);                    // p.set_data(...), p.set_grad(0)
//     absl::Status s = tape.Rewind(step);  // drops the step
//     if (!s.ok()) return s;
//   }
//
// Layout. Every Value owns one slot: its number, its adjoint (grad), the
// generation it was created in and its record's header, in four flat arrays
// indexed by the 32-bit slot index. Every slot has exactly one record, whose body
// is written to blocks taken from the tape's bump arena in slot order; a record is
// the list of (input slot, local partial) pairs of the op that made the slot,
// nothing else, packed as core/internal/tape_record.h says: leaves and constants
// have empty records. Backward is
// therefore one loop,
//     for o = root down to 0:
//       for (in, partial) in record(o):  adj[in] += partial * adj[o]
// with no node objects, no virtual calls and no topological sort. See
// Note [Chain adjoint] in tape_sweep.cc for how the loop keeps the adjoint of o - 1 in a
// register, which is what makes long dependency chains sweep at memory speed.
//
// Steady state: Rewind keeps the arena's chunks and the slot arrays' capacity, so a
// training step that records what the previous one did allocates nothing.
//
// Gradients follow micrograd (and PyTorch's .grad): Backward sets the root's grad
// to 1 and adds into every other grad; grads accumulate over calls until ZeroGrad or
// set_grad(0). A second Backward without zeroing propagates each node's
// accumulated grad again, exactly as micrograd's does (Note [Dirty adjoints]).
// One difference in print only: a zero grad may be -0.0 where micrograd's is 0.0
// (as in PyTorch, which assigns a first gradient instead of adding it to +0).
//
// Thread safety: a Tape is used by one thread at a time. Different tapes share
// nothing, so any number of threads can record and sweep their own tapes at once.
#ifndef TAPEGRAD_CORE_TAPE_H_
#define TAPEGRAD_CORE_TAPE_H_

#include <cstddef>
#include <cstdint>
#include <limits>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/arena.h"
#include "core/grad_mode.h"
#include "core/internal/tape_core.h"
#include "core/value.h"

namespace tapegrad {

struct TapeOptions {
  // The bump arena that holds the records.
  size_t initial_chunk_bytes = size_t{1} << 20;
  // Upper bound on the tape's memory: arena chunks plus slot arrays (0: none).
  // Reaching it is absl::ResourceExhaustedError on the tape, never an abort. A
  // limit below Tape::kMinByteLimit could not hold one value: the tape is then
  // made with an InvalidArgument sticky error (status()) saying so.
  size_t byte_limit = 0;
};

struct TapeStats {
  size_t values = 0;        // live slots
  size_t slot_bytes = 0;    // capacity of the value/grad/generation/header arrays
  size_t record_bytes = 0;  // records on the tape now (within arena.bytes_used)
  ArenaStats arena;         // where the records live
};

// A position on the tape; Rewind(mark) drops every Value created after it.
struct TapeMark {
  uint32_t values = 0;
  uint32_t last_generation = 0;  // generation of slot values-1, to detect stale marks
  uint64_t reset_epoch = 0;
  Arena::Mark arena;
  char* record_end = nullptr;
  void* block = nullptr;
  size_t pins = 0;
  uint64_t arena_allocations = 0;  // tensor memory taken before the mark
};

// The tape. What it is made of (slot arrays, record blocks, the record and sweep
// paths) is its base internal::TapeCore, which is not part of the API.
class Tape : public internal::TapeCore {
 public:
  // The smallest byte limit (TapeOptions) with room for one value: the first slot
  // arrays (1024 slots of 24 bytes) and one 256 KiB record block.
  static constexpr size_t kMinByteLimit = 1024 * 24 + (size_t{256} << 10) + 64;

  explicit Tape(TapeOptions options = {});
  ~Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // A new leaf (micrograd's Value(data)).
  Value Leaf(double data) { return EmitLeaf(data); }

  // A handle to slot `index` as it is now (of the slot's generation), or an empty
  // handle if the tape has no such slot. For layers that name Values by slot, such
  // as the C ABI, which checks the generation it was given against the result's.
  // The handle is never a sole temporary (Note [Temporaries fuse]).
  Value ValueAt(uint32_t index) const {
    if (index >= size_) return Value();
    Value v(const_cast<Tape*>(this), index, 0, value_[index]);
    v.tag_ = Value::Shared(gen_[index]);
    return v;
  }

  // Calls visit(slot, input, partial) for every input of the records of slots
  // `last` down to `first`, in that order: the recorded graph, for drawing it
  // (Graphviz) or for micrograd's _prev. One pass over those records.
  // InvalidArgument if a slot is out of range; tensor records are skipped.
  absl::Status ForEachInput(
      uint32_t first, uint32_t last,
      absl::FunctionRef<void(uint32_t slot, uint32_t input, double partial)> visit) const;

  // Marks the current end of the tape. Values created before it survive Rewind.
  TapeMark Mark();
  // Drops every Value created after `mark`; their handles become stale. O(1), but
  // for one memset over the grads that a Backward or set_grad left on the dropped
  // Values (8 bytes each), so that new Values there start at grad 0.
  // Fails (and changes nothing) if the mark is from another tape state that no
  // longer exists (taken past an earlier Rewind point, or before a Reset).
  absl::Status Rewind(const TapeMark& mark);
  // Drops every Value and clears the sticky error. Memory is kept for reuse.
  void Reset();

  // Drops the Values made between `gap` and *keep[0], and moves the Values made
  // after *keep[0] down to where `gap` was taken: how a tape whose middle died
  // (an old step's graph under a live new one) gives the memory back without
  // dropping what lives above it. Cost: one copy of the moved records.
  //
  // Every moved Value gets a new slot (its index drops by keep[0]->values -
  // gap.values) and a new generation, so every handle above `gap`, moved or
  // dropped, becomes stale: the caller re-derives the moved ones from the marks,
  // since each *keep[i] is replaced by the mark of the same Value's new position
  // (keep lists segment starts, in order). Grads and data move with the Values.
  //
  // Fails, changing nothing, when a moved record reads a dropped Value (the gap is
  // not dead), when a tensor was recorded or allocated after `gap` (tensor records
  // hold slot references and arena pointers that cannot move), or when a mark is
  // stale or out of order. Scalar tapes only: see python/tapegrad/_graph.py.
  absl::Status Compact(const TapeMark& gap, absl::Span<TapeMark* const> keep);

  // Keeps, of the Values made after `from`, those whose flag in `keep` is set
  // (keep[i] for the i-th Value after the mark) and drops the rest, moving the kept
  // ones down in order: how a tape whose dead and live Values interleave gives the
  // dead ones' memory back. new_slot[i] receives the i-th Value's new slot (or
  // 0xffffffff if dropped); every kept Value gets the tape's new generation, so
  // the caller rebuilds handles as (generation() << 32) | new_slot. Grads and data
  // move with the Values; marks taken after `from` become stale.
  //
  // Fails, changing nothing, when a kept record reads a dropped Value, when a
  // tensor was recorded or allocated after `from`, when the mark is stale, or when
  // the spans do not hold one entry per Value after the mark.
  absl::Status Retain(const TapeMark& from, absl::Span<const uint8_t> keep,
                      absl::Span<uint32_t> new_slot);

  // See Value::Backward.
  absl::Status Backward(const Value& root) { return BackwardFrom(root.Bits()); }
  // Sets every grad on the tape to 0.
  void ZeroGrad();

  // The first error recorded by an op (OK if none).
  const absl::Status& status() const { return error_; }
  void ClearError() { error_ = absl::OkStatus(); }

  size_t size() const { return size_; }
  // The generation new Values get (Note [Handle generations] in
  // core/internal/record_path.h).
  uint32_t generation() const { return generation_; }
  TapeStats Stats() const;

  // The tape ops record on when a Value is built from a double (see TapeScope).
  static Tape* Current() { return internal::current_tape; }

 private:
  // Compact and Retain: rewrites the Values after `to` that keep(slot) selects at
  // consecutive slots from `to`, calling moved(old_slot, new_slot) before each.
  template <class Keep, class Moved>
  absl::Status MoveDown(const TapeMark& to, const Keep& keep, const Moved& moved,
                        const char* op);
};

// Makes `tape` this thread's current tape for the scope's lifetime (restoring the
// previous one after). Leaves built from a double (Value(2.0)) go there.
class TapeScope {
 public:
  explicit TapeScope(Tape* tape) : saved_(internal::current_tape) {
    internal::current_tape = tape;
  }
  ~TapeScope() { internal::current_tape = saved_; }
  TapeScope(const TapeScope&) = delete;
  TapeScope& operator=(const TapeScope&) = delete;

 private:
  Tape* saved_;
};

// ---- Value's accessors, inline because training loops call them per parameter.

inline double Value::data() const {
  return tape_ != nullptr && tape_->IsLive(*this)
             ? tape_->value_[index_]
             : std::numeric_limits<double>::quiet_NaN();
}

inline double Value::grad() const {
  return tape_ != nullptr && tape_->IsLive(*this)
             ? tape_->adj_[index_]
             : std::numeric_limits<double>::quiet_NaN();
}

inline bool Value::ok() const { return tape_ != nullptr && tape_->IsLive(*this); }

inline void Value::set_data(double data) const {
  // Note [Data in the handle]: the clean sole handle keeps its copy up to date.
  if (tape_ != nullptr && index_ < tape_->size_ && tag_ == tape_->gen_[index_]) {
    tape_->value_[index_] = data;
    data_ = data;
    return;
  }
  SetDataAround(Bits(), data);
}

}  // namespace tapegrad

#include "core/internal/record_path.h"  // IWYU pragma: export

#endif  // TAPEGRAD_CORE_TAPE_H_
