// The tape's record path: how an op writes its record, folds into a temporary's
// record, and takes arena memory, inline because every scalar op runs it. Part of
// core/tape.h (which includes this at its end); the callers are core/scalar_ops.h
// and the tensor ops in core/tensor*.cc. The record layouts are
// core/internal/tape_record.h's. Note [Temporaries fuse] is in core/value.h.
//
// Note [Handle generations]: every slot remembers the generation of the tape at the
// time the slot was filled. Rewind and Reset bump the tape's generation, so a handle
// whose slot was dropped (and maybe refilled) no longer matches, and using it is an
// error that says so: never a read of memory that belongs to someone else.
//
// Note [Data in the handle]: the tape's value array is the truth for every slot.
// A handle fresh from an op also carries its number, and ops read it from there
// while the handle is still the slot's sole handle and nobody wrote the slot around
// it (the slot's generation word keeps a "clean" bit for that; writing through any
// other handle clears it, and so do a Mark at the slot, a sweep and set_grad, after
// which no op may fold into the slot either: Note [Temporaries fuse]). That takes the
// number from one op to the next in a register instead of through memory just written,
// which would put a store-to-load round trip on every step of a dependency chain such as
// `x = x * w + b`.
//
// Thread safety: as Tape's (one thread at a time per tape).
#ifndef TAPEGRAD_CORE_INTERNAL_RECORD_PATH_H_
#define TAPEGRAD_CORE_INTERNAL_RECORD_PATH_H_

#ifndef TAPEGRAD_CORE_TAPE_H_
#error "core/internal/record_path.h is part of core/tape.h; include that instead"
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/base/optimization.h"

namespace tapegrad {

inline Tape* internal::TapeCore::self() { return static_cast<Tape*>(this); }
inline const Tape* internal::TapeCore::self() const {
  return static_cast<const Tape*>(this);
}

// A slot with an empty record: leaves, constants, results under NoGradScope.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Value internal::TapeCore::EmitLeaf(double data) {
  if (ABSL_PREDICT_FALSE(!HasRoom(kMinRecordBytes) && !MakeRoom(kMinRecordBytes)))
    return Poisoned();
  record_end_ += kMinRecordBytes;  // an empty record's body (tape_record.h)
  return NewSlot(data, 0);
}

// y = f(a) with dy/da = pa. `a` must be live on this tape. `pa_one`: pa is +1
// by the op's rule (Note [Shapes by rule] in tape_record.h); so for the others.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Value internal::TapeCore::EmitUnary(double y,
                                                                        uint32_t a,
                                                                        double pa,
                                                                        bool pa_one) {
  if (ABSL_PREDICT_FALSE(internal::grad_disabled)) return EmitLeaf(y);
  namespace rec = internal::record;
  constexpr size_t kBytes = rec::kArgBytes;
  if (ABSL_PREDICT_FALSE(!HasRoom(kBytes) && !MakeRoom(kBytes))) return Poisoned();
  char* p = record_end_;
  uint32_t header = 1;
  if (a + 1 == size_) {
    header |= rec::kChainFlag;
  } else {
    p = rec::PutLastInput(p, a, pa, pa_one, &header);
  }
  record_end_ = rec::PutTail(p, pa, &header);
  return NewSlot(y, header);
}

// y = f(a, b) with partials pa, pb. Both must be live on this tape.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Value internal::TapeCore::EmitBinary(
    double y, uint32_t a, double pa, uint32_t b, double pb, bool pa_one, bool pb_one) {
  if (ABSL_PREDICT_FALSE(internal::grad_disabled)) return EmitLeaf(y);
  if (ABSL_PREDICT_FALSE(!HasRoom(kBinaryRecordBytes) && !MakeRoom(kBinaryRecordBytes)))
    return Poisoned();
  namespace rec = internal::record;
  const uint32_t prev = size_ - 1;  // the slot a chain input would occupy
  char* p = record_end_;
  uint32_t header = 2;
  double chain_partial = 0.0;
  if (ABSL_PREDICT_FALSE(a == b)) {
    header = 1;
    chain_partial = pa + pb;
    if (a == prev) {
      header |= rec::kChainFlag;
    } else {
      p = rec::PutLastInput(p, a, chain_partial, false, &header);
    }
  } else if (a == prev) {
    header |= rec::kChainFlag;
    chain_partial = pa;
    p = rec::PutLastInput(p, b, pb, pb_one, &header);
  } else if (b == prev) {
    header |= rec::kChainFlag;
    chain_partial = pb;
    p = rec::PutLastInput(p, a, pa, pa_one, &header);
  } else if (pa_one && !pb_one) {  // a - b: a goes last, as the unit input
    rec::StoreArg(p, b, pb);
    p = rec::PutLastInput(p + rec::kArgBytes, a, pa, true, &header);
  } else {
    rec::StoreArg(p, a, pa);
    p = rec::PutLastInput(p + rec::kArgBytes, b, pb, pb_one, &header);
  }
  record_end_ = rec::PutTail(p, chain_partial, &header);
  return NewSlot(y, header);
}

// True if `t`, a handle whose tape is this one, may be folded into (Note
// [Temporaries fuse]): it is the last slot, the slot's sole handle and the slot is
// clean (which also says it is live: the generations match; and that no Mark,
// sweep or set_grad came since, see UncleanLast), and recording is on. No special
// index is one below a slot count (kMaxSlots), and kEmpty, whose successor is 0,
// goes with no tape.
inline bool internal::TapeCore::CanFuse(const Value& t) const {
  return t.index_ + 1 == size_ && t.tag_ == gen_[t.index_] && !internal::grad_disabled;
}

// Folds y = f(t) into temporary t's record: scales its partials by dy/dt.
// Falls back to a new record when the record is long, or when a unit input must
// be stored in full and the block is full.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Value internal::TapeCore::FuseUnary(Value&& t,
                                                                        double y,
                                                                        double dy_dt,
                                                                        bool dt_one) {
  namespace rec = internal::record;
  if (!dt_one) {
    // A unit input is stored in full even if dy_dt is 1 by chance (Note [Shapes
    // by rule] in tape_record.h).
    uint32_t header = head_[t.index_];
    // Scaling costs one store per input: past kMaxFusedArgs a new record is cheaper
    // and keeps every op O(1), whatever a running expression has grown to.
    if (rec::Count(header) > kMaxFusedArgs && dy_dt != 1.0) {
      return EmitUnary(y, t.index_, dy_dt);
    }
    if (rec::HasUnit(header)) {
      if (ABSL_PREDICT_FALSE(RecordRoom() < rec::kArgBytes)) {
        return EmitUnary(y, t.index_, dy_dt);
      }
      header = StoreUnitInFull(header);
    }
    if (dy_dt == 1.0) return Refill(std::move(t), y);
    char* arg = record_end_ - rec::Bytes(header);
    for (uint32_t k = rec::FullCount(header); k > 0; --k, arg += rec::kArgBytes) {
      ScaleDouble(arg + sizeof(uint32_t), dy_dt);
    }
    if (rec::HasChain(header)) ScaleDouble(arg, dy_dt);
  }
  return Refill(std::move(t), y);
}

// Folds y = f(t, b) into temporary t's record, b a live slot (possibly t itself).
// Falls back to a new record when the block is full or the record is long.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Value internal::TapeCore::FuseBinary(
    Value&& t, double y, double dy_dt, uint32_t b, double dy_db, bool dt_one,
    bool db_one) {
  // Inline: the common `temporary + other`, which appends one input.
  namespace rec = internal::record;
  const uint32_t o = t.index_;
  uint32_t header = head_[o];
  // `x * w + b`: the product's record gets b's index in its header, nothing more.
  if (ABSL_PREDICT_TRUE(dt_one && db_one && b + 1 < o &&
                        header == (rec::kChainFlag | 2u) && b <= rec::kMaxPackedIndex)) {
    head_[o] = rec::kPackedHeader | b;
    return Refill(std::move(t), y);
  }
  // `act + w * x`: b is the previous slot, which becomes the product's chain input
  // (the record has none yet), its partial appended to the body. A record with no
  // inputs (its body only padding) takes the slow path.
  if (dt_one && b + 1 == o && (header & (rec::kChainFlag | rec::kOpaqueFlag)) == 0 &&
      header != 0 && rec::Count(header) < rec::kCountMask &&
      RecordRoom() >= rec::kChainBytes) {
    header = (header + 1) | rec::kChainFlag;
    record_end_ = rec::PutTail(record_end_, dy_db, &header);
    head_[o] = header;
    return Refill(std::move(t), y);
  }
  // Appending costs the same whatever the record's length, so a running sum into
  // a temporary (`Dot(w, h) + b`, `std::move(s) + x`) stays one record.
  if (dt_one && b + 1 < o && header != 0 && rec::Count(header) < rec::kCountMask &&
      RecordRoom() >= 2 * rec::kArgBytes) {
    if (rec::HasUnit(header)) header = StoreUnitInFull(header);
    // The new input goes before the chain partial, which stays last.
    char* p = record_end_;
    double chain_partial = 0.0;
    if (rec::HasChain(header)) {
      p -= rec::kChainBytes;
      chain_partial = rec::LoadDouble(p);
    }
    header += 1;
    p = rec::PutLastInput(p, b, dy_db, db_one, &header);
    record_end_ = rec::PutTail(p, chain_partial, &header);
    head_[o] = header;
    return Refill(std::move(t), y);
  }
  t.index_ = Value::kMovedFrom;
  return FuseBinarySlow(o, y, dy_dt, b, dy_db);
}

// y with the inputs that for_each_input(add) passes to add(index, partial), at
// most `max_inputs` of them, all live slots; one record. Inputs equal to the
// previous slot are merged into its chain input. One pass: inputs are written
// as they come, the chain input's partial is summed and goes last.
// `partials_are_one`: every partial is +1 by the op's rule (a sum).
template <class EachInput>
inline Value internal::TapeCore::EmitGathered(double y, size_t max_inputs,
                                              bool partials_are_one,
                                              const EachInput& for_each_input) {
  namespace rec = internal::record;
  if (ABSL_PREDICT_FALSE(internal::grad_disabled)) return EmitLeaf(y);
  const size_t bytes = std::max(max_inputs * rec::kArgBytes, rec::kEmptyBytes);
  if (ABSL_PREDICT_FALSE(!HasRoom(bytes) && !MakeRoom(bytes))) return Poisoned();
  const uint32_t prev = size_ - 1;
  double chain_partial = 0.0;
  bool has_chain = false;
  char* const first = record_end_;
  char* p = first;
  for_each_input([&](uint32_t index, double partial) ABSL_ATTRIBUTE_ALWAYS_INLINE {
    if (ABSL_PREDICT_FALSE(index == prev)) {
      chain_partial += partial;
      has_chain = true;
    } else {
      rec::StoreArg(p, index, partial);
      p += rec::kArgBytes;
    }
  });
  uint32_t header;
  record_end_ =
      rec::Finish(first, p, has_chain, chain_partial, partials_are_one, &header);
  return NewSlot(y, header);
}

// Memory from the tape's arena, gone at the Rewind that passes this point.
inline absl::StatusOr<void*> internal::TapeCore::AllocateArena(size_t bytes,
                                                               size_t align) {
  ++arena_allocations_;
  void* p = arena_.AllocateOrNull(bytes, align);
  if (ABSL_PREDICT_TRUE(p != nullptr)) return p;
  return ArenaExhausted(bytes);
}

// True if `object` is among the last few pins: pinning it again is redundant,
// since every Rewind that would drop a new record drops that pin no earlier.
inline bool internal::TapeCore::RecentlyPinned(const void* object) const {
  const size_t n = pins_.size();
  for (size_t k = 1; k <= 4 && k <= n; ++k) {
    if (pins_[n - k].object == object) return true;
  }
  return false;
}

// True if `v` is live on this tape; then *data is its number: from the handle
// while it may be (Note [Data in the handle] in core/internal/record_path.h), else from
// the slot. One test serves both where the handle is the slot's sole one on a clean slot
// (an exact tag match); the masked test follows for the others. A branch, not a select,
// so that the handle's number does not wait for the slot's.
inline bool internal::TapeCore::ReadLive(const Value& v, double* data) const {
  if (v.tape_ != self() || v.index_ >= size_) return false;
  const uint32_t tag = gen_[v.index_];
  if (ABSL_PREDICT_TRUE(tag == v.tag_)) {
    *data = v.data_;
    return true;
  }
  if (!SameGeneration(tag, v.tag_)) return false;
  *data = value_[v.index_];
  return true;
}

// Fills slot o (== size_), whose record has `header`, and returns its handle. The
// record's body is written by the caller before (both fit: HasRoom); the other
// order measured slower.
inline Value internal::TapeCore::NewSlot(double data, uint32_t header) {
  const uint32_t o = size_++;
  const uint32_t generation = generation_;
  head_[o] = header;
  gen_[o] = generation | Value::kSoleBit;  // clean (Note [Data in the handle])
  value_[o] = data;  // its adjoint is 0 already (Note [Clean adjoints])
  return Value(self(), o, generation, data);
}

// Ends a fold into temporary `t`: its slot now holds y, and `t` is consumed. The
// slot's clean bit stays as it was: t was its sole handle. Its grad is still the 0
// it was made with (Note [Clean adjoints]), since whatever could have changed it (a
// sweep, set_grad) uncleans the slot, and CanFuse asks for a clean one.
inline Value internal::TapeCore::Refill(Value&& t, double y) {
  const uint32_t o = t.index_;
  t.index_ = Value::kMovedFrom;
  return Refill(o, t.tag_, y);  // the tag is in a register already
}

// Refill of slot o, whose sole handle (consumed by the caller) had tag `tag`: the
// slot's own, as the slot is clean.
inline Value internal::TapeCore::Refill(uint32_t o, uint32_t tag, double y) {
  value_[o] = y;
  Value v(self(), o, 0, y);
  v.tag_ = tag;
  return v;
}

inline void internal::TapeCore::ScaleDouble(char* p, double factor) {
  internal::record::StoreDouble(p, internal::record::LoadDouble(p) * factor);
}

// Rewrites the open record's unit input in full, with partial +1, so that it can
// be scaled or followed by another input; returns the new header. Needs
// kArgBytes of room.
inline uint32_t internal::TapeCore::StoreUnitInFull(uint32_t header) {
  namespace rec = internal::record;
  char* p = record_end_;
  double chain_partial = 0.0;
  if (rec::HasChain(header)) {
    p -= rec::kChainBytes;
    chain_partial = rec::LoadDouble(p);
  }
  uint32_t unit;
  if (rec::IsPacked(header)) {
    unit = header & rec::kCountMask;
    header = rec::kChainFlag | 3u;
  } else {
    p -= rec::kUnitBytes;
    unit = rec::LoadIndex(p);
    header &= ~rec::kUnitFlag;
  }
  rec::StoreArg(p, unit, 1.0);
  record_end_ = rec::PutTail(p + rec::kArgBytes, chain_partial, &header);
  head_[size_ - 1] = header;
  return header;
}

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_RECORD_PATH_H_
