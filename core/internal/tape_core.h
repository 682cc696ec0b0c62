// The inside of a Tape: its slot arrays, its record stream in the bump arena, and
// the paths that write and walk them. Tape (core/tape.h) is the user's face of
// this class, its only derived class; core/ reaches the rest through it:
//   - the record path (defined in core/internal/record_path.h), run by every
//     scalar op of core/scalar_ops.h;
//   - the tensor path (opaque records, arena memory, pins), run by core/tensor*.cc;
//   - the sweeps (core/tape_sweep.cc) and compaction (core/tape_compact.cc).
// Not for users: nothing here is part of the API, and it may change at any time.
//
// Thread safety: as Tape's (one thread at a time per tape).
#ifndef TAPEGRAD_CORE_INTERNAL_TAPE_CORE_H_
#define TAPEGRAD_CORE_INTERNAL_TAPE_CORE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/arena.h"
#include "core/internal/tape_record.h"
#include "core/value.h"

namespace tapegrad {

class Tape;
struct TapeMark;
struct ScalarOpsAccess;

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

namespace internal {

// The tape ops record on when a Value is built from a double (Tape::Current).
extern __thread Tape* current_tape __attribute__((tls_model("initial-exec")));

class TapeCore {
 protected:
  TapeCore(size_t initial_chunk_bytes, size_t byte_limit)
      : byte_limit_(byte_limit),
        arena_(ArenaOptions{initial_chunk_bytes, size_t{64} << 20, byte_limit}) {}
  ~TapeCore() = default;
  TapeCore(const TapeCore&) = delete;
  TapeCore& operator=(const TapeCore&) = delete;

  friend class tapegrad::Value;
  friend struct tapegrad::ScalarOpsAccess;

  // This tape as its user sees it (a TapeCore is always a Tape's base).
  Tape* self();
  const Tape* self() const;

  struct Block;  // a run of records (core/internal/tape_block.h)
  // Fusing rewrites or scales records of at most this many inputs, so that each
  // op is O(1); appending an input to a record has no such limit.
  static constexpr uint32_t kMaxFusedArgs = 32;
  // Room for the body of any record of up to two inputs.
  static constexpr size_t kBinaryRecordBytes = 2 * internal::record::kArgBytes;
  // Every slot's record has a body of at least this many bytes.
  static constexpr size_t kMinRecordBytes = internal::record::kEmptyBytes;

  bool IsLive(const Value& v) const {
    return v.tape_ == self() && v.index_ < size_ &&
           SameGeneration(gen_[v.index_], v.tag_);
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
  Value NewSlot(double data, uint32_t header);

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
  // Tape::Backward and Value::Backward: seeds the root's gradient and sweeps.
  absl::Status BackwardFrom(Value::HandleBits root);
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

 protected:
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
  // Resizes the four slot arrays to `new_capacity` slots, or none of them.
  bool GrowSlotArrays(uint32_t new_capacity);
  Value Poisoned() { return Value(self(), Value::kPoisoned, 0, 0.0); }
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
  // Zeroes the adjoints of slots at and above `slot`, for a tape about to drop
  // them (Note [Clean adjoints]).
  void ClearAdjointsFrom(uint32_t slot);
  // Tape::Rewind without ClearAdjointsFrom, for compaction, which moves adjoints
  // from above the mark down to it.
  void RewindTo(const TapeMark& mark);
  // Records `error` as the sticky error (if it is the first) and returns a poisoned
  // Value.
  Value Fail(absl::Status error);
  // Why `v` is not live on this tape, naming `op`.
  absl::Status Diagnose(const Value& v, const char* op) const;

  absl::Status ArenaExhausted(size_t bytes);
  // OK if `mark` is a position this tape still has; `op` names the caller.
  absl::Status CheckMark(const TapeMark& mark, const char* op) const;
  absl::Status SweepFast(uint32_t root);
  absl::Status SweepExact(uint32_t root);
  static absl::Status RunOpaque(const char* arg, Tape& tape);
  // Walks back from the tail (or from the last record it found, if that is at or
  // above `o`) to the end of slot `o`'s record.
  void FindRecordEnd(uint32_t o, Block** block, const char** end) const;
  // Moves (*block, *end) back over blocks that have no records before *end.
  static void SkipEmptyBlocks(Block** block, const char** end);
  // Slot o's record, whose body ends at *end, after SkipEmptyBlocks: returns its
  // header and sets *args to where the body begins, which is where the record
  // before it ends. The walks back over the tape (all but SweepFast's, which is
  // tuned on its own) go through here.
  uint32_t ReadRecord(uint32_t o, Block** block, const char** end,
                      const char** args) const;
  void StartBlock(size_t min_bytes, bool* ok);

  size_t byte_limit_;  // TapeOptions::byte_limit
  Arena arena_;

  // Slot arrays (Note [Handle generations] in core/internal/record_path.h).
  double* value_ = nullptr;
  double* adj_ = nullptr;
  uint32_t* gen_ = nullptr;
  uint32_t* head_ = nullptr;  // each slot's record header (Note [Record layout])
  uint32_t size_ = 0;
  uint32_t capacity_ = 0;
  uint32_t generation_ = 1;  // < 2^30 (Value::kGenerationMask)
  uint64_t reset_epoch_ = 0;
  // Counts Rewinds and Resets: the records below the last slot move only then.
  uint64_t layout_epoch_ = 0;
  // FindRecordEnd's last answer below the last slot, while layout_epoch_ is
  // unchanged: one query after another down the tape (tg_value_inputs over a
  // graph, in reverse) then walks each record once, not from the tail each time.
  struct FoundRecord {
    uint64_t layout_epoch = ~uint64_t{0};
    uint32_t slot = 0;
    Block* block = nullptr;
    const char* end = nullptr;
  };
  mutable FoundRecord last_found_;

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
  // Note [Clean adjoints]: every slot at or above adjoints_end_ (<= size_) has a
  // zero adjoint, and so does every slot past size_ up to the capacity. So NewSlot
  // leaves the adjoint alone (one store fewer on the record path: W1 records
  // about 4% faster), and whatever drops slots zeroes the adjoints it leaves behind:
  // Rewind, Reset and compaction, through ClearAdjointsFrom, as CoDiPack's and
  // Adept-2's resets do. A sweep from `root` and set_grad raise adjoints_end_ past
  // what they write; fresh slot memory comes zeroed from mmap and mremap.
  uint32_t adjoints_end_ = 0;
  std::vector<uint8_t> reached_;    // scratch for SweepExact, kept between calls
  uint64_t arena_allocations_ = 0;  // AllocateArena calls so far (see Compact)
  // Scratch for Compact, kept between calls: the moved records' bodies, their
  // sizes and headers.
  std::vector<char> compact_bytes_;
  std::vector<uint32_t> compact_sizes_;
  std::vector<uint32_t> compact_headers_;
  std::vector<internal::record::Input> compact_inputs_;
  std::vector<uint32_t> compact_slots_;

  struct Pinned {
    void* object;
    void (*release)(void*);
  };
  void ReleasePins(size_t keep);
  std::vector<Pinned> pins_;   // released by Rewind past them
  std::vector<Pinned> owned_;  // released by Reset and the destructor

  absl::Status error_;
};

}  // namespace internal
}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_TAPE_CORE_H_
