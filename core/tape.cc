#include "core/tape.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
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
constexpr size_t kSlotBytes = sizeof(double) * 2 + sizeof(uint32_t);
constexpr uint32_t kFirstSlots = 1024;  // the slot arrays' first size
static_assert(Tape::kMinByteLimit ==
              kFirstSlots * kSlotBytes + kBlockBytes + Arena::kMaxAlign);

using internal::record::kArgBytes;
using internal::record::kChainFlag;
using internal::record::kOpaqueFlag;
using internal::record::kUnitFlag;
using internal::record::LoadDouble;
using internal::record::LoadIndex;
using internal::record::LoadPartial;

inline double MulAdd(double a, double b, double c) {
#ifdef __FMA__
  return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}

// The adjoint of o - 1 after record o, adj[o - 1] + partial * g, as SweepFast
// needs it. In a chain adj[o - 1] is still +0 at that point (record o is its only
// consumer), and then the product alone is the sum: the branch, predicted, keeps
// the add and its latency off the chain. The one difference: where the product
// is -0 the sum would be +0. Zero adjoints can therefore carry either sign, as
// in PyTorch, which assigns a first gradient instead of adding it to +0.
inline double ChainAdjoint(double partial, double g, double adj_prev) {
  uint64_t bits;
  std::memcpy(&bits, &adj_prev, sizeof(bits));
  if (ABSL_PREDICT_TRUE(bits == 0)) return partial * g;
  return MulAdd(partial, g, adj_prev);
}

}  // namespace

// A run of records. The records follow the header directly; `end` is valid once
// the block is no longer the open one (the open block ends at record_end_).
struct Tape::Block {
  Block* prev;
  char* end;
  char* limit;
  char* begin() { return reinterpret_cast<char*>(this + 1); }
};

Tape::Tape(TapeOptions options)
    : options_(options),
      arena_(ArenaOptions{options.initial_chunk_bytes, size_t{64} << 20,
                          options.byte_limit}) {
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
  delete[] value_;
  delete[] adj_;
  delete[] gen_;
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

absl::Status Tape::CheckMark(const TapeMark& mark, const char* op) const {
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
  ReleasePins(mark.pins);
  arena_.Rewind(mark.arena);
  size_ = mark.values;
  block_ = static_cast<Block*>(mark.block);
  record_end_ = mark.record_end;
  LimitRecords();
  generation_ = (generation_ + 1) & Value::kGenerationMask;
  persistent_slots_ = size_;
  if (dirty_begin_ >= size_) dirty_begin_ = kNone;
  return absl::OkStatus();
}

void Tape::Reset() {
  ReleasePins(0);
  for (const Pinned& p : owned_) p.release(p.object);
  owned_.clear();
  arena_.Reset();
  size_ = 0;
  block_ = nullptr;
  record_end_ = record_limit_ = nullptr;
  generation_ = (generation_ + 1) & Value::kGenerationMask;
  ++reset_epoch_;
  persistent_slots_ = 0;
  dirty_begin_ = kNone;
  error_ = absl::OkStatus();
}

// Note [Compaction]: the moved records are copied out to scratch first, then the
// tape is rewound to `gap` and the records are written again at the new end, with
// every input index inside the moved range lowered by the shift. Inputs below the
// gap keep their index; an input inside the gap means the gap is still read, and
// the call fails before it has changed anything. A chain input (Note [Chain
// adjoint]) is slot o - 1 and moves with o, so the chain flags stay true; but the
// first moved record may now sit right after an input below the gap, which then
// becomes its chain input.
absl::Status Tape::Compact(const TapeMark& gap, absl::Span<TapeMark* const> keep) {
  constexpr char kOp[] = "Tape::Compact";
  if (keep.empty()) {
    return absl::InvalidArgumentError("Tape::Compact: no mark of Values to keep");
  }
  TG_RETURN_IF_ERROR(CheckMark(gap, kOp));
  uint32_t previous = gap.values;
  for (const TapeMark* mark : keep) {
    if (mark == nullptr) return absl::InvalidArgumentError("Tape::Compact: null mark");
    TG_RETURN_IF_ERROR(CheckMark(*mark, kOp));
    if (mark->values < previous) {
      return absl::InvalidArgumentError(
          absl::StrFormat("Tape::Compact: marks out of order (value %d after value %d)",
                          mark->values, previous));
    }
    previous = mark->values;
  }
  if (pins_.size() != gap.pins || arena_allocations_ != gap.arena_allocations) {
    return absl::FailedPreconditionError(
        "Tape::Compact: tensors were recorded or allocated after the gap's mark; only "
        "scalar Values can move");
  }
  const uint32_t to = gap.values;
  const uint32_t from = keep[0]->values;
  const uint32_t moved = size_ - from;
  if (from == to) return absl::OkStatus();  // nothing to drop; the marks hold

  // One walk back from the tail over the moved records: check their inputs and
  // copy them out (last record first; they may span blocks).
  compact_sizes_.resize(moved);
  compact_bytes_.clear();
  {
    Block* b = block_;
    const char* p = record_end_;
    for (uint32_t k = moved; k-- > 0;) {
      const char* args;
      const uint32_t header = ReadRecord(&b, &p, &args);
      if (header & kOpaqueFlag) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "Tape::Compact: Value #%d is a tensor record, which cannot move", from + k));
      }
      uint32_t dropped = kNone;  // an input inside the gap, if any
      internal::record::ForEachInput(from + k, header, args, [&](uint32_t in, double) {
        if (in >= to && in < from) dropped = in;
      });
      if (dropped != kNone) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "Tape::Compact: Value #%d reads Value #%d, inside the range [%d, %d) to "
            "drop",
            from + k, dropped, to, from));
      }
      compact_sizes_[k] = static_cast<uint32_t>(p - args);
      compact_bytes_.insert(compact_bytes_.end(), args, p);
      p = args;
    }
  }

  TG_RETURN_IF_ERROR(Rewind(gap));
  const uint32_t shift = from - to;
  size_t next_keep = 0;
  const char* scratch_end = compact_bytes_.data() + compact_bytes_.size();
  for (uint32_t k = 0; k < moved; ++k) {
    while (next_keep < keep.size() && keep[next_keep]->values == from + k) {
      *keep[next_keep++] = Mark();
    }
    const uint32_t bytes = compact_sizes_[k];
    const char* record = scratch_end - bytes;  // scratch holds the last record first
    scratch_end = record;
    const uint32_t o = size_;
    const uint32_t header = internal::record::LoadHeader(record + bytes);
    const uint32_t n = internal::record::Count(header);
    // Inputs lower by the shift; one below the gap that is now o - 1 becomes the
    // chain input, as the sweep requires.
    compact_inputs_.clear();
    internal::record::ForEachInput(o + shift, header, record, [&](uint32_t in, double d) {
      compact_inputs_.push_back({in >= from ? in - shift : in, d});
    });
    const size_t room = n * kArgBytes + internal::record::kHeaderBytes;
    if (!HasRoom(room) && !MakeRoom(room)) return error_;
    record_end_ = internal::record::Write(record_end_, o, compact_inputs_.data(), n,
                                          /*keep_unit=*/true);
    ++size_;
    value_[o] = value_[o + shift];
    adj_[o] = adj_[o + shift];
    gen_[o] = generation_;  // not clean: no handle carries its number
    if (n != 0 && adj_[o] != 0.0 && o < dirty_begin_) dirty_begin_ = o;
  }
  while (next_keep < keep.size()) *keep[next_keep++] = Mark();
  persistent_slots_ = size_;
  return absl::OkStatus();
}

void Tape::ReleasePins(size_t keep) {
  while (pins_.size() > keep) {
    const Pinned p = pins_.back();
    pins_.pop_back();
    p.release(p.object);
  }
}

absl::Status Tape::Pin(void* object, void (*release)(void*)) {
  if (pins_.size() == pins_.capacity() && options_.byte_limit != 0 &&
      arena_.Stats().bytes_reserved + 2 * pins_.capacity() * sizeof(Pinned) >
          options_.byte_limit) {
    release(object);
    return absl::ResourceExhaustedError(
        absl::StrFormat("Tape: byte limit %d reached while pinning tensor %d",
                        options_.byte_limit, pins_.size()));
  }
  pins_.push_back(Pinned{object, release});
  return absl::OkStatus();
}

absl::Status Tape::Own(void* object, void (*release)(void*)) {
  owned_.push_back(Pinned{object, release});
  return absl::OkStatus();
}

absl::Status Tape::ArenaExhausted(size_t bytes) {
  absl::Status error = absl::ResourceExhaustedError(absl::StrFormat(
      "Tape: byte limit %d reached allocating %d bytes of tensor memory (%d reserved)",
      options_.byte_limit, bytes, arena_.Stats().bytes_reserved));
  RecordError(error);
  return error;
}

bool Tape::EmitOpaque(OpaqueRecord* record, SlotRef* slot) {
  if (record == nullptr || internal::grad_disabled) {
    const Value v = EmitLeaf(0.0);
    if (v.index_ == Value::kPoisoned) return false;
    *slot = SlotRef{v.index_, v.generation()};
    return true;
  }
  if (!HasRoom(kArgBytes + 4) && !MakeRoom(kArgBytes + 4)) return false;
  // The pointer takes the place of a full input's partial.
  char* p = record_end_;
  const uint32_t unused_index = 0;
  std::memcpy(p, &unused_index, sizeof(unused_index));
  std::memcpy(p + sizeof(unused_index), &record, sizeof(record));
  internal::record::StoreHeader(p + kArgBytes, 1u | kOpaqueFlag);
  record_end_ = p + kArgBytes + internal::record::kHeaderBytes;
  const Value v = NewSlot(0.0);
  *slot = SlotRef{v.index_, v.generation()};
  return true;
}

absl::Status Tape::RunOpaque(const char* arg, Tape& tape) {
  OpaqueRecord* record;
  std::memcpy(&record, arg + sizeof(uint32_t), sizeof(record));
  return record->backward(record, tape);
}

void Tape::ZeroGrad() {
  if (size_ > 0) std::memset(adj_, 0, sizeof(double) * size_);
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

bool Tape::MakeRoom(size_t record_bytes) {
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
    if (options_.byte_limit != 0 && arena_bytes + new_bytes > options_.byte_limit) {
      Fail(absl::ResourceExhaustedError(absl::StrFormat(
          "Tape: byte limit %d reached: growing to %d values needs %d bytes of slots "
          "beside %d bytes of records",
          options_.byte_limit, new_capacity, new_bytes, arena_bytes)));
      return false;
    }
    auto* value = new double[new_capacity];
    auto* adj = new double[new_capacity];
    auto* gen = new uint32_t[new_capacity];
    if (size_ > 0) {
      std::memcpy(value, value_, sizeof(double) * size_);
      std::memcpy(adj, adj_, sizeof(double) * size_);
      std::memcpy(gen, gen_, sizeof(uint32_t) * size_);
    }
    delete[] value_;
    delete[] adj_;
    delete[] gen_;
    value_ = value;
    adj_ = adj;
    gen_ = gen;
    capacity_ = new_capacity;
    if (options_.byte_limit != 0) arena_.set_byte_limit(options_.byte_limit - new_bytes);
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
          options_.byte_limit, size_, stats.bytes_reserved,
          size_t{capacity_} * kSlotBytes)));
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
void Tape::LimitRecords() {
  if (block_ == nullptr) {
    record_limit_ = record_end_;
    return;
  }
  const size_t block_room = static_cast<size_t>(block_->limit - record_end_);
  const size_t slot_room = size_t{capacity_ - size_} * kMinRecordBytes;
  record_limit_ = record_end_ + std::min(block_room, slot_room);
}

Value Tape::Fail(absl::Status error) {
  if (error_.ok()) error_ = std::move(error);
  return Poisoned();
}

absl::Status Tape::Diagnose(const Value& v, const char* op) const {
  if (v.tape_ != this) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: operand lives on another tape (%p, not %p)", op,
        static_cast<const void*>(v.tape_), static_cast<const void*>(this)));
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

Value Tape::FuseBinarySlow(uint32_t o, double y, double dy_dt, uint32_t b, double dy_db) {
  namespace rec = internal::record;
  const uint32_t header = rec::LoadHeader(record_end_);
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
  record_end_ = rec::Write(begin, o, inputs, count, /*keep_unit=*/false);
  return Refill(o, gen_[o], y);
}

absl::Status Tape::ForEachInput(
    uint32_t first, uint32_t last,
    absl::FunctionRef<void(uint32_t slot, uint32_t input, double partial)> visit) const {
  if (first > last || last >= size_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Tape::ForEachInput: slots [%d, %d] are not on the tape (it holds %d values)",
        first, last, size_));
  }
  Block* block;
  const char* end;
  FindRecordEnd(last, &block, &end);
  for (uint32_t o = last;; --o) {
    const char* args;
    const uint32_t header = ReadRecord(&block, &end, &args);
    if (!(header & kOpaqueFlag)) {
      internal::record::ForEachInput(
          o, header, args, [&](uint32_t in, double partial) { visit(o, in, partial); });
    }
    end = args;
    if (o == first) break;
  }
  return absl::OkStatus();
}

void Tape::SkipEmptyBlocks(Block** block, const char** end) {
  while (*end == (*block)->begin()) {
    *block = (*block)->prev;
    *end = (*block)->end;
  }
}

uint32_t Tape::ReadRecord(Block** block, const char** end, const char** args) {
  SkipEmptyBlocks(block, end);
  const uint32_t header = internal::record::LoadHeader(*end);
  *args = *end - internal::record::Bytes(header);
  return header;
}

void Tape::FindRecordEnd(uint32_t o, Block** block, const char** end) const {
  Block* b = block_;
  const char* p = record_end_;
  for (uint32_t slot = size_ - 1; slot > o; --slot) {
    const char* args;
    ReadRecord(&b, &p, &args);
    p = args;
  }
  SkipEmptyBlocks(&b, &p);
  *block = b;
  *end = p;
}

// Note [Chain adjoint]: in the sweep, the adjoint of slot o - 1 is the next one
// needed, and in chains (x = f(x) over and over) record o is its only consumer.
// Keeping adj[o - 1] in a register across that step, instead of storing it through
// memory and loading it back, removes a store-to-load round trip from the critical
// path of every op; the chain then costs one multiply per record (ChainAdjoint).
// To make this exact, a record holds its input o - 1 (if it has one) only once, as
// its chain input, and says so with kChainFlag; every other input is added through
// memory as usual. Every slot has a record, so the next record is always o - 1's.
// Note [Sweep cases]: the records scalar code makes most get straight-line code.
// The running update x = f(x, a) + b (the chain input, one full input and a unit
// input) is tested first and needs no jump, then a unary op on the previous slot,
// x = f(x) (the chain input alone); other records of up to three inputs are picked by a
// jump table on their header, one case per shape (SweepSimple); the rest (more
// inputs, tensor records, slot 0) take the general loop. A taken branch per
// record is a measurable share of a sweep that costs ~5 cycles per record, which
// is why the common shapes avoid even the jump table. The adds come before the
// chain adjoint's load of adj[o - 1]: the other order measured 25% slower.
namespace {

// The jump table's key of a header with at most 3 inputs and no kOpaqueFlag:
// count | unit << 2 | chain << 4.
constexpr uint32_t SimpleKey(uint32_t header) {
  return (header & 3u) | ((header >> 27) & 0x1cu);
}
constexpr uint32_t SimpleKey(uint32_t full, uint32_t unit, uint32_t chain) {
  return (full + unit + chain) | unit << 2 | chain << 4;
}
static_assert(SimpleKey(kChainFlag | kUnitFlag | 3u) == SimpleKey(1, 1, 1));

// Sweeps one record of kFull full inputs (then a unit input if kUnit, then the
// chain input if kChain) that ends at `end`, slot o = at - adj, whose adjoint is
// *g; leaves adj[o - 1] in *g. Returns where the record begins.
// With kPacked, the unit input's index is the header's (kPackedHeader).
template <uint32_t kFull, bool kUnit, bool kChain, bool kPacked = false>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline const char* SweepSimple(const char* end,
                                                            uint32_t header, double* adj,
                                                            const double* at, double* g) {
  const char* const chain =
      end - internal::record::kHeaderBytes - kChain * internal::record::kChainBytes;
  const char* p = chain;
  if constexpr (kPacked) {
    adj[header & internal::record::kCountMask] += *g;
  } else if constexpr (kUnit) {
    p -= internal::record::kUnitBytes;
    adj[LoadIndex(p)] += *g;
  }
  for (uint32_t k = 0; k < kFull; ++k) {
    p -= kArgBytes;
    adj[LoadIndex(p)] += LoadPartial(p) * *g;
  }
  // No input but the chain's is o - 1, so the adds above left adj[o - 1] alone.
  double next;
  if constexpr (kChain) {
    next = ChainAdjoint(LoadDouble(chain), *g, at[-1]);
  } else {
    next = at[-1];
  }
  *g = next;
  return p;
}

// Note [Sweep prefetch]: a sweep longer than the cache streams its records and
// adjoints from DRAM backwards. The hardware prefetchers follow, but not far
// enough ahead: asking for the lines 8 KB ahead of both streams on every record
// makes W1's backward about 10% faster at 10^6 steps. In cache the same
// instructions cost about 10%, so short sweeps go without.
constexpr uint32_t kPrefetchSlots = uint32_t{1} << 17;  // 1 MB of adjoints
constexpr size_t kPrefetchBytes = 8192;

}  // namespace

absl::Status Tape::SweepFast(uint32_t root) {
  return root >= kPrefetchSlots ? SweepFast<true>(root) : SweepFast<false>(root);
}

template <bool kPrefetch>
absl::Status Tape::SweepFast(uint32_t root) {
  Block* root_block;
  const char* root_end;
  FindRecordEnd(root, &root_block, &root_end);
  Block* block = root_block;  // copies that can live in registers
  const char* end = root_end;
  const char* begin = block->begin();
  double* const adj = adj_;
  double* at = adj + root;  // adj + o
  double g = *at;
  const double* lowest_op = nullptr;  // adj + the lowest slot whose record has inputs
  for (;;) {
    const uint32_t header = internal::record::LoadHeader(end);
    if constexpr (kPrefetch) {
      // Addresses before an array are fine: a prefetch never faults.
      __builtin_prefetch(end - kPrefetchBytes, 0, 0);
      __builtin_prefetch(at - kPrefetchBytes / sizeof(double), 1, 0);
    }
    *at = g;
    if (ABSL_PREDICT_TRUE((header & ~internal::record::kCountMask) ==
                          internal::record::kPackedHeader)) {
      end = SweepSimple<1, true, true, true>(end, header, adj, at, &g);
      lowest_op = at;
    } else if (header == (kChainFlag | 1u)) {  // a unary op on it: x = f(x)
      end = SweepSimple<0, false, true>(end, header, adj, at, &g);
      lowest_op = at;
    } else {
      // Slot 0 (at == adj) has no scalar inputs, as nothing precedes it.
      const bool simple = (header & ~(kChainFlag | kUnitFlag | 3u)) == 0 && at != adj;
      switch (simple ? SimpleKey(header) : ~0u) {
        case SimpleKey(0, 0, 0):  // no inputs: a leaf or constant
          end -= internal::record::kHeaderBytes;
          g = at[-1];
          break;
#define TG_SWEEP_CASE(full, unit, chain)                            \
  case SimpleKey(full, unit, chain):                                \
    end = SweepSimple<full, unit, chain>(end, header, adj, at, &g); \
    lowest_op = at;                                                 \
    break;
          TG_SWEEP_CASE(1, 0, 0)
          TG_SWEEP_CASE(2, 0, 0)
          TG_SWEEP_CASE(3, 0, 0)
          TG_SWEEP_CASE(0, 1, 0)
          TG_SWEEP_CASE(1, 1, 0)
          TG_SWEEP_CASE(2, 1, 0)
          TG_SWEEP_CASE(1, 0, 1)
          TG_SWEEP_CASE(2, 0, 1)
          TG_SWEEP_CASE(0, 1, 1)
          TG_SWEEP_CASE(1, 1, 1)  // b's index too large to pack
#undef TG_SWEEP_CASE
          // (0, 0, 1) was tested above.
        default: {
          const char* args = end - internal::record::Bytes(header);
          if (header & kOpaqueFlag) {
            if (absl::Status s = RunOpaque(args, *this); !s.ok()) return s;
          }
          if (at == adj) {  // slot 0: done
            if (lowest_op != nullptr) {
              dirty_begin_ =
                  std::min(dirty_begin_, static_cast<uint32_t>(lowest_op - adj));
            }
            return absl::OkStatus();
          }
          if (header & kOpaqueFlag) {
            g = at[-1];  // a tensor op may feed a scalar slot
          } else {
            // As SweepSimple, for any number of inputs.
            const char* chain = internal::record::ForEachOtherInput(
                header, args,
                [&](uint32_t in, double partial) { adj[in] += partial * g; });
            g = (header & kChainFlag) ? ChainAdjoint(LoadDouble(chain), g, at[-1])
                                      : at[-1];
            if (internal::record::Count(header) != 0) lowest_op = at;
          }
          end = args;
        }
      }
    }
    if (ABSL_PREDICT_FALSE(end == begin)) {  // on to the previous block
      do {
        block = block->prev;
        end = block->end;
        begin = block->begin();
      } while (end == begin);
    }
    --at;
  }
}
// Note [Dirty adjoints]: SweepFast propagates every record's adjoint, which is
// right only while the records that are not ancestors of the root hold zero
// adjoints. After a Backward (or a set_grad) some may not: micrograd would skip
// them, since it only visits the root's ancestors. Then this sweep runs instead: it
// marks the ancestors as it goes and propagates only theirs.
absl::Status Tape::SweepExact(uint32_t root) {
  Block* block;
  const char* end;
  FindRecordEnd(root, &block, &end);
  reached_.assign(size_t{root} + 1, 0);
  reached_[root] = 1;
  uint32_t lowest_op = kNone;
  for (uint32_t o = root;; --o) {
    const char* args;
    const uint32_t header = ReadRecord(&block, &end, &args);
    if (ABSL_PREDICT_FALSE(header & kOpaqueFlag)) {
      if (absl::Status s = RunOpaque(args, *this); !s.ok()) return s;
    } else if (reached_[o] && internal::record::Count(header) != 0) {
      const double g = adj_[o];
      internal::record::ForEachInput(o, header, args, [&](uint32_t in, double partial) {
        adj_[in] += partial * g;
        reached_[in] = 1;
      });
      lowest_op = o;
    }
    end = args;
    if (o == 0) break;
  }
  dirty_begin_ = std::min(dirty_begin_, lowest_op);
  return absl::OkStatus();
}

absl::Status Tape::Backward(const Value& root) {
  if (!error_.ok()) return error_;
  if (!IsLive(root)) return Diagnose(root, "Backward");
  adj_[root.index_] = 1.0;
  NextSweepEpoch();
  return SweepFrom(root.index_);
}

absl::Status Tape::SweepFrom(uint32_t root) {
  UncleanLast();
  absl::Status status = dirty_begin_ <= root ? SweepExact(root) : SweepFast(root);
  if (!status.ok()) RecordError(status);
  return status;
}

}  // namespace tapegrad
