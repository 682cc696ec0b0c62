// The tape's recorder: construction, marks, rewinds, room for records and
// slots, pins, errors. The sweeps are in tape_sweep.cc, compaction in
// tape_compact.cc.
#include "core/tape.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "core/internal/tape_block.h"
#include "core/status_macros.h"

namespace tapegrad {
namespace internal {
__thread Tape* current_tape __attribute__((tls_model("initial-exec"))) = nullptr;
}  // namespace internal

namespace {

// Records are written in blocks of this size (or one record's size, if larger).
constexpr size_t kBlockBytes = size_t{256} << 10;
// Slot indices at or above this are reserved for Value's special handles.
constexpr uint32_t kMaxSlots = 0xfffffff0u;
// A slot's number, adjoint, generation and record header.
constexpr size_t kSlotBytes = sizeof(double) * 2 + sizeof(uint32_t) * 2;
constexpr uint32_t kFirstSlots = 1024;  // the slot arrays' first size
static_assert(Tape::kMinByteLimit ==
              kFirstSlots * kSlotBytes + kBlockBytes + Arena::kMaxAlign);

using internal::record::kArgBytes;
using internal::record::kOpaqueFlag;

// The slot arrays are mappings of their own, resized with mremap: the kernel
// moves the pages instead of copying them, so growing never holds the old and the
// new array at once (a copy would double the peak memory of a long tape, and
// take the copying time), and a page is only touched when a slot on it is.
template <class T>
bool ResizeArray(T** array, uint32_t old_capacity, uint32_t new_capacity) {
  const size_t old_bytes = size_t{old_capacity} * sizeof(T);
  const size_t new_bytes = size_t{new_capacity} * sizeof(T);
  if (new_capacity == 0) {  // back to no array (a failed first growth)
    if (*array != nullptr) munmap(*array, old_bytes);
    *array = nullptr;
    return true;
  }
  void* grown = *array == nullptr ? mmap(nullptr, new_bytes, PROT_READ | PROT_WRITE,
                                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                                  : mremap(*array, old_bytes, new_bytes, MREMAP_MAYMOVE);
  if (grown == MAP_FAILED) return false;
  *array = static_cast<T*>(grown);
  return true;
}

template <class T>
void FreeArray(T* array, uint32_t capacity) {
  if (array != nullptr) munmap(array, size_t{capacity} * sizeof(T));
}

}  // namespace

Tape::Tape(TapeOptions options)
    : TapeCore(options.initial_chunk_bytes, options.byte_limit) {
  if (options.byte_limit == 0) return;
  if (options.byte_limit < kMinByteLimit) {
    error_ = absl::InvalidArgumentError(absl::StrFormat(
        "Tape: byte limit %d is below %d bytes, the least that holds one value (1024 "
        "slots and one record block)",
        options.byte_limit, kMinByteLimit));
    return;
  }
  // The first slot arrays always fit, even when tensors fill the arena first.
  arena_.set_byte_limit(options.byte_limit - kFirstSlots * kSlotBytes);
}

Tape::~Tape() {
  ReleasePins(0);
  for (const Pinned& p : owned_) p.release(p.object);
  FreeArray(value_, capacity_);
  FreeArray(adj_, capacity_);
  FreeArray(gen_, capacity_);
  FreeArray(head_, capacity_);
}

TapeMark Tape::Mark() {
  persistent_slots_ = size_;
  UncleanLast();
  TapeMark mark;
  mark.values = size_;
  mark.last_generation = size_ > 0 ? SlotGeneration(size_ - 1) : 0;
  mark.reset_epoch = reset_epoch_;
  mark.arena = arena_.GetMark();
  mark.record_end = record_end_;
  mark.block = block_;
  mark.pins = pins_.size();
  mark.arena_allocations = arena_allocations_;
  return mark;
}

absl::Status internal::TapeCore::CheckMark(const TapeMark& mark, const char* op) const {
  if (mark.reset_epoch != reset_epoch_ || mark.values > size_ ||
      (mark.values > 0 && SlotGeneration(mark.values - 1) != mark.last_generation)) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: stale mark at value %d: the tape was rewound below it or reset "
        "after it was taken (tape now holds %d values)",
        op, mark.values, size_));
  }
  return absl::OkStatus();
}

absl::Status Tape::Rewind(const TapeMark& mark) {
  TG_RETURN_IF_ERROR(CheckMark(mark, "Tape::Rewind"));
  ClearAdjointsFrom(mark.values);
  RewindTo(mark);
  return absl::OkStatus();
}

void internal::TapeCore::RewindTo(const TapeMark& mark) {
  ReleasePins(mark.pins);
  arena_.Rewind(mark.arena);
  size_ = mark.values;
  block_ = static_cast<Block*>(mark.block);
  record_end_ = mark.record_end;
  LimitRecords();
  generation_ = (generation_ + 1) & Value::kGenerationMask;
  ++layout_epoch_;
  persistent_slots_ = size_;
  if (dirty_begin_ >= size_) dirty_begin_ = kNone;
}

void internal::TapeCore::ClearAdjointsFrom(uint32_t slot) {
  if (slot >= adjoints_end_) return;
  std::memset(adj_ + slot, 0, sizeof(double) * (adjoints_end_ - slot));
  adjoints_end_ = slot;
}

void Tape::Reset() {
  ClearAdjointsFrom(0);
  ReleasePins(0);
  for (const Pinned& p : owned_) p.release(p.object);
  owned_.clear();
  arena_.Reset();
  size_ = 0;
  block_ = nullptr;
  record_end_ = record_limit_ = nullptr;
  generation_ = (generation_ + 1) & Value::kGenerationMask;
  ++reset_epoch_;
  ++layout_epoch_;
  persistent_slots_ = 0;
  dirty_begin_ = kNone;
  error_ = absl::OkStatus();
}

void internal::TapeCore::ReleasePins(size_t keep) {
  while (pins_.size() > keep) {
    const Pinned p = pins_.back();
    pins_.pop_back();
    p.release(p.object);
  }
}

absl::Status internal::TapeCore::Pin(void* object, void (*release)(void*)) {
  if (pins_.size() == pins_.capacity() && byte_limit_ != 0 &&
      arena_.Stats().bytes_reserved + 2 * pins_.capacity() * sizeof(Pinned) >
          byte_limit_) {
    release(object);
    return absl::ResourceExhaustedError(
        absl::StrFormat("Tape: byte limit %d reached while pinning tensor %d",
                        byte_limit_, pins_.size()));
  }
  pins_.push_back(Pinned{object, release});
  return absl::OkStatus();
}

absl::Status internal::TapeCore::Own(void* object, void (*release)(void*)) {
  owned_.push_back(Pinned{object, release});
  return absl::OkStatus();
}

absl::Status internal::TapeCore::ArenaExhausted(size_t bytes) {
  absl::Status error = absl::ResourceExhaustedError(absl::StrFormat(
      "Tape: byte limit %d reached allocating %d bytes of tensor memory (%d reserved)",
      byte_limit_, bytes, arena_.Stats().bytes_reserved));
  RecordError(error);
  return error;
}

bool internal::TapeCore::EmitOpaque(OpaqueRecord* record, SlotRef* slot) {
  if (record == nullptr || internal::grad_disabled) {
    const Value v = EmitLeaf(0.0);
    if (v.index_ == Value::kPoisoned) return false;
    *slot = SlotRef{v.index_, v.generation()};
    return true;
  }
  if (!HasRoom(kArgBytes) && !MakeRoom(kArgBytes)) return false;
  // The pointer takes the place of a full input's partial.
  char* p = record_end_;
  const uint32_t unused_index = 0;
  std::memcpy(p, &unused_index, sizeof(unused_index));
  std::memcpy(p + sizeof(unused_index), &record, sizeof(record));
  record_end_ = p + kArgBytes;
  const Value v = NewSlot(0.0, 1u | kOpaqueFlag);
  *slot = SlotRef{v.index_, v.generation()};
  return true;
}

void Tape::ZeroGrad() {
  ClearAdjointsFrom(0);
  dirty_begin_ = kNone;
}

TapeStats Tape::Stats() const {
  TapeStats stats;
  stats.values = size_;
  stats.slot_bytes = size_t{capacity_} * kSlotBytes;
  for (Block* b = block_; b != nullptr; b = b->prev) {
    const char* end = b == block_ ? record_end_ : b->end;
    stats.record_bytes += static_cast<size_t>(end - b->begin());
  }
  stats.arena = arena_.Stats();
  return stats;
}

bool internal::TapeCore::GrowSlotArrays(uint32_t new_capacity) {
  // On failure the arrays that grew shrink back (which cannot fail): all keep
  // the old capacity and contents.
  const auto grow = [&](auto** array) {
    return ResizeArray(array, capacity_, new_capacity);
  };
  const auto shrink = [&](auto** array) { ResizeArray(array, new_capacity, capacity_); };
  if (!grow(&value_)) return false;
  if (!grow(&adj_)) {
    shrink(&value_);
    return false;
  }
  if (!grow(&gen_)) {
    shrink(&adj_);
    shrink(&value_);
    return false;
  }
  if (!grow(&head_)) {
    shrink(&gen_);
    shrink(&adj_);
    shrink(&value_);
    return false;
  }
  return true;
}

bool internal::TapeCore::MakeRoom(size_t record_bytes) {
  // Grow while the free slots cap the record room below `record_bytes`, so that
  // HasRoom(record_bytes) holds afterwards (Note [One room check]).
  if (size_t{capacity_ - size_} * kMinRecordBytes < record_bytes) {
    if (capacity_ >= kMaxSlots) {
      Fail(absl::ResourceExhaustedError(
          absl::StrFormat("Tape: cannot hold more than %d values", kMaxSlots)));
      return false;
    }
    const uint32_t new_capacity = static_cast<uint32_t>(std::min<uint64_t>(
        std::max<uint64_t>(kFirstSlots, uint64_t{capacity_} * 2), kMaxSlots));
    const size_t new_bytes = size_t{new_capacity} * kSlotBytes;
    const size_t arena_bytes = arena_.Stats().bytes_reserved;
    if (byte_limit_ != 0 && arena_bytes + new_bytes > byte_limit_) {
      Fail(absl::ResourceExhaustedError(absl::StrFormat(
          "Tape: byte limit %d reached: growing to %d values needs %d bytes of slots "
          "beside %d bytes of records",
          byte_limit_, new_capacity, new_bytes, arena_bytes)));
      return false;
    }
    if (!GrowSlotArrays(new_capacity)) {
      Fail(absl::ResourceExhaustedError(absl::StrFormat(
          "Tape: out of memory growing the slot arrays to %d values (%d bytes)",
          new_capacity, new_bytes)));
      return false;
    }
    capacity_ = new_capacity;
    if (byte_limit_ != 0) arena_.set_byte_limit(byte_limit_ - new_bytes);
  }
  if (block_ == nullptr ||
      static_cast<size_t>(block_->limit - record_end_) < record_bytes) {
    const size_t bytes = std::max(kBlockBytes, sizeof(Block) + record_bytes);
    void* memory = arena_.AllocateOrNull(bytes, alignof(Block));
    if (memory == nullptr) {
      const ArenaStats stats = arena_.Stats();
      Fail(absl::ResourceExhaustedError(absl::StrFormat(
          "Tape: byte limit %d reached after %d values: %d bytes of records reserved, "
          "%d bytes of slots",
          byte_limit_, size_, stats.bytes_reserved, size_t{capacity_} * kSlotBytes)));
      return false;
    }
    if (block_ != nullptr) block_->end = record_end_;
    block_ = new (memory) Block{block_, nullptr, static_cast<char*>(memory) + bytes};
    record_end_ = block_->begin();
  }
  LimitRecords();
  return true;
}

// Note [One room check]: the record path asks one question, "do `bytes` more
// record bytes fit?", and takes the answer to mean that one more slot fits too.
// That holds because every new slot writes at least kMinRecordBytes of record, so
// capping the record room at kMinRecordBytes per free slot makes running out of
// slots show up as running out of record room first; MakeRoom then sorts out which.
void internal::TapeCore::LimitRecords() {
  if (block_ == nullptr) {
    record_limit_ = record_end_;
    return;
  }
  const size_t block_room = static_cast<size_t>(block_->limit - record_end_);
  const size_t slot_room = size_t{capacity_ - size_} * kMinRecordBytes;
  record_limit_ = record_end_ + std::min(block_room, slot_room);
}

Value internal::TapeCore::Fail(absl::Status error) {
  if (error_.ok()) error_ = std::move(error);
  return Poisoned();
}

absl::Status internal::TapeCore::Diagnose(const Value& v, const char* op) const {
  if (v.tape_ != self()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: operand lives on another tape (%p, not %p)", op,
        static_cast<const void*>(v.tape_), static_cast<const void*>(self())));
  }
  if (v.index_ == Value::kPoisoned) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: operand is the result of a failed op: %s", op, error_.message()));
  }
  if (v.index_ == Value::kMovedFrom) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: operand was moved from (std::move into an op consumes it)", op));
  }
  if (v.index_ >= size_ || SlotGeneration(v.index_) != v.generation()) {
    return absl::FailedPreconditionError(
        absl::StrFormat("%s: stale Value #%d of generation %d: the tape was rewound or "
                        "reset after it was created (the tape holds %d values now, "
                        "generation %d)",
                        op, v.index_, v.generation(), size_, generation_));
  }
  return absl::OkStatus();
}

Value internal::TapeCore::FuseBinarySlow(uint32_t o, double y, double dy_dt, uint32_t b,
                                         double dy_db) {
  namespace rec = internal::record;
  uint32_t header = head_[o];
  const uint32_t n = rec::Count(header);
  const bool is_self = b == o;
  // Rewritten, the record grows by at most its unit input stored in full and b.
  if (n >= kMaxFusedArgs || RecordRoom() < 2 * kArgBytes) {
    return EmitBinary(y, o, dy_dt, b, dy_db);
  }
  // Read the inputs, scaled, then write the record again where it began: b joins
  // them (the chain input's partial if b is o - 1), or scales them if b is t.
  rec::Input inputs[kMaxFusedArgs + 1];
  size_t count = 0;
  const double scale = is_self ? dy_dt + dy_db : dy_dt;
  char* const begin = record_end_ - rec::Bytes(header);
  rec::ForEachInput(o, header, begin, [&](uint32_t in, double partial) {
    inputs[count++] = {in, partial * scale};
  });
  if (!is_self) inputs[count++] = {b, dy_db};
  record_end_ = rec::Write(begin, o, inputs, count, /*keep_unit=*/false, &header);
  head_[o] = header;
  return Refill(o, gen_[o], y);
}

}  // namespace tapegrad
