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
// Layout. Every Value owns one slot: its number, its adjoint (grad) and the
// generation it was created in, in three flat arrays indexed by the 32-bit slot
// index. Every slot also has exactly one record, written to blocks taken from the
// tape's bump arena in slot order; a record is the list of (input slot, local
// partial) pairs of the op that made the slot, nothing else, packed as
// core/internal/tape_record.h says: leaves and constants have empty records. Backward is
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

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/arena.h"
#include "core/grad_mode.h"
#include "core/internal/tape_record.h"
#include "core/value.h"

namespace tapegrad {

class Tape;
namespace internal {
extern __thread Tape* current_tape __attribute__((tls_model("initial-exec")));
}  // namespace internal

struct TapeOptions {
  // The bump arena that holds the records.
  size_t initial_chunk_bytes = size_t{1} << 20;
  // Upper bound on the tape's memory: arena chunks plus slot arrays (0: none).
  // Reaching it is absl::ResourceExhaustedError on the tape, never an abort. A
  // limit below Tape::kMinByteLimit could not hold one value: the tape is then
  // made with an InvalidArgument sticky error (status()) saying so.
  size_t byte_limit = 0;
};

// A record that is not scalar partials: a tensor op's. The sweep calls
// `backward(this, tape)` when it reaches the slot that EmitOpaque gave it; an error
// stops the sweep and becomes the result of Backward. Lives in the tape's arena.
struct OpaqueRecord {
  absl::Status (*backward)(OpaqueRecord* self, Tape& tape);
};

// A slot index and the generation it was made in (see Tape::IsLiveSlot).
struct SlotRef {
  uint32_t index = 0;
  uint32_t generation = 0;
};

struct TapeStats {
  size_t values = 0;        // live slots
  size_t slot_bytes = 0;    // capacity of the value/grad/generation arrays
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

class Tape {
 public:
  // The smallest byte limit (TapeOptions) with room for one value: the first slot
  // arrays (1024 slots of 20 bytes) and one 256 KiB record block.
  static constexpr size_t kMinByteLimit = 1024 * 20 + (size_t{256} << 10) + 64;

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
  // Drops every Value created after `mark` in O(1); their handles become stale.
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

  // See Value::Backward.
  absl::Status Backward(const Value& root);
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
  // ---- Internals, for core/ only: the record path (defined in
  // core/internal/record_path.h, used by core/scalar_ops.h), the tensor path
  // (core/tensor*.cc), the sweeps and compaction (core/tape.cc). Not for users.
  friend class Value;
  friend struct ScalarOpsAccess;

  struct Block;  // a run of records; defined in tape.cc
  // Fusing stops growing a record at this many inputs (keeps fusion O(1)).
  static constexpr uint32_t kMaxFusedArgs = 32;
  // Room for any record of up to two inputs.
  static constexpr size_t kBinaryRecordBytes =
      2 * internal::record::kArgBytes + internal::record::kHeaderBytes;
  // Every slot's record has at least its header.
  static constexpr size_t kMinRecordBytes = internal::record::kHeaderBytes;

  bool IsLive(const Value& v) const {
    return v.tape_ == this && v.index_ < size_ && SameGeneration(gen_[v.index_], v.tag_);
  }
  bool ReadLive(const Value& v, double* data) const;
  // True if two tags (a handle's, a slot's generation word) name one generation,
  // whatever their sole, shared and clean bits say.
  static bool SameGeneration(uint32_t a, uint32_t b) {
    return ((a ^ b) & Value::kGenerationMask) == 0;
  }
  // The generation of slot `index`, without the clean bit.
  uint32_t SlotGeneration(uint32_t index) const {
    return gen_[index] & Value::kGenerationMask;
  }
  Value NewSlot(double data);

 public:
  // The record path.
  Value EmitLeaf(double data);
  Value EmitUnary(double y, uint32_t a, double pa, bool pa_one = false);
  Value EmitBinary(double y, uint32_t a, double pa, uint32_t b, double pb,
                   bool pa_one = false, bool pb_one = false);
  bool CanFuse(const Value& t) const;
  Value FuseUnary(Value&& t, double y, double dy_dt, bool dt_one = false);
  Value FuseBinary(Value&& t, double y, double dy_dt, uint32_t b, double dy_db,
                   bool dt_one, bool db_one);
  // FuseBinary into temporary slot o (consumed by the caller), out of line.
  Value FuseBinarySlow(uint32_t o, double y, double dy_dt, uint32_t b, double dy_db);
  template <class EachInput>
  Value EmitGathered(double y, size_t max_inputs, bool partials_are_one,
                     const EachInput& for_each_input);

  // The tensor path.
  // A new slot whose record is `record` (run by the sweep), or an empty record if
  // null. False (with the tape's sticky error set) if the tape is out of room.
  bool EmitOpaque(OpaqueRecord* record, SlotRef* slot);
  bool IsLiveSlot(SlotRef s) const {
    return s.index < size_ && SlotGeneration(s.index) == s.generation;
  }
  absl::StatusOr<void*> AllocateArena(size_t bytes, size_t align);
  bool RecentlyPinned(const void* object) const;
  // Keeps `object` alive until a Rewind below this point, Reset or destruction,
  // which call release(object). Used to pin heap tensors that records point to.
  absl::Status Pin(void* object, void (*release)(void*));
  // Frees `object` with release(object) when the tape is Reset or destroyed.
  absl::Status Own(void* object, void (*release)(void*));
  // Slots below this were made before the last Mark: they outlive the next Rewind.
  uint32_t persistent_slots() const { return persistent_slots_; }
  // The reverse sweep from slot `root`, whose gradient the caller has seeded after
  // calling NextSweepEpoch.
  absl::Status SweepFrom(uint32_t root);
  // Numbers sweeps, so that tensor records can tell grads of this sweep from old ones.
  uint32_t NextSweepEpoch() { return ++sweep_epoch_; }
  uint32_t sweep_epoch() const { return sweep_epoch_; }
  // Records `error` as the sticky error if it is the first.
  void RecordError(absl::Status error) {
    if (error_.ok()) error_ = std::move(error);
  }

 private:
  size_t RecordRoom() const { return static_cast<size_t>(record_limit_ - record_end_); }
  // True if one more slot and `record_bytes` (>= kMinRecordBytes) of record fit
  // without MakeRoom (Note [One room check] in tape.cc).
  bool HasRoom(size_t record_bytes) const { return RecordRoom() >= record_bytes; }
  // Sets record_limit_ from the open block and the free slots.
  void LimitRecords();

  Value Refill(Value&& t, double y);
  Value Refill(uint32_t o, uint32_t tag, double y);
  static void ScaleDouble(char* p, double factor);

  uint32_t StoreUnitInFull(uint32_t header);

  // Grows the slot arrays or starts a new record block so that HasRoom(record_bytes)
  // holds. On failure records the error and returns false.
  bool MakeRoom(size_t record_bytes);
  Value Poisoned() { return Value(this, Value::kPoisoned, 0, 0.0); }
  // Clears the clean bit of slot `index` (Note [Data in the handle] in
  // core/internal/record_path.h): its sole handle then reads the number from the slot,
  // and no op folds into it (CanFuse). Writes around the sole handle and set_grad do
  // this.
  void Unclean(uint32_t index) { gen_[index] &= ~Value::kSoleBit; }
  // Unclean for the last slot, if any. Mark does this so that no record below a
  // mark is rewritten, and a sweep so that no fold inherits a grad it left.
  void UncleanLast() {
    if (size_ > 0) Unclean(size_ - 1);
  }
  // Records `error` as the sticky error (if it is the first) and returns a poisoned
  // Value.
  Value Fail(absl::Status error);
  // Why `v` is not live on this tape, naming `op`.
  absl::Status Diagnose(const Value& v, const char* op) const;

  absl::Status ArenaExhausted(size_t bytes);
  // OK if `mark` is a position this tape still has; `op` names the caller.
  absl::Status CheckMark(const TapeMark& mark, const char* op) const;
  absl::Status SweepFast(uint32_t root);
  template <bool kPrefetch>
  absl::Status SweepFast(uint32_t root);
  absl::Status SweepExact(uint32_t root);
  static absl::Status RunOpaque(const char* arg, Tape& tape);
  // Walks back from the tail to the end of slot `o`'s record.
  void FindRecordEnd(uint32_t o, Block** block, const char** end) const;
  // Moves (*block, *end) back over blocks that have no records before *end.
  static void SkipEmptyBlocks(Block** block, const char** end);
  // The record that ends at *end, after SkipEmptyBlocks: returns its header and
  // sets *args to where the record begins, which is where the record before it
  // ends. The walks back over the tape (all but SweepFast's, which is tuned on
  // its own) go through here.
  static uint32_t ReadRecord(Block** block, const char** end, const char** args);
  void StartBlock(size_t min_bytes, bool* ok);

  TapeOptions options_;
  Arena arena_;

  // Slot arrays (Note [Handle generations] in core/internal/record_path.h).
  double* value_ = nullptr;
  double* adj_ = nullptr;
  uint32_t* gen_ = nullptr;
  uint32_t size_ = 0;
  uint32_t capacity_ = 0;
  uint32_t generation_ = 1;  // < 2^30 (Value::kGenerationMask)
  uint64_t reset_epoch_ = 0;

  // Record stream: the open block and the free space in it, capped by the free
  // slots (Note [One room check]).
  Block* block_ = nullptr;
  char* record_end_ = nullptr;
  char* record_limit_ = nullptr;

  uint32_t sweep_epoch_ = 0;
  uint32_t persistent_slots_ = 0;  // slots below the last Mark outlive the next Rewind
  // Note [Dirty adjoints]: the lowest slot whose record has inputs and whose grad
  // may be non-zero from an earlier Backward or set_grad (kNone if none).
  static constexpr uint32_t kNone = 0xffffffffu;
  uint32_t dirty_begin_ = kNone;
  std::vector<uint8_t> reached_;    // scratch for SweepExact, kept between calls
  uint64_t arena_allocations_ = 0;  // AllocateArena calls so far (see Compact)
  // Scratch for Compact, kept between calls: the moved records' bytes and sizes.
  std::vector<char> compact_bytes_;
  std::vector<uint32_t> compact_sizes_;
  std::vector<internal::record::Input> compact_inputs_;

  struct Pinned {
    void* object;
    void (*release)(void*);
  };
  void ReleasePins(size_t keep);
  std::vector<Pinned> pins_;   // released by Rewind past them
  std::vector<Pinned> owned_;  // released by Reset and the destructor

  absl::Status error_;
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

}  // namespace tapegrad

#include "core/internal/record_path.h"  // IWYU pragma: export

#endif  // TAPEGRAD_CORE_TAPE_H_
