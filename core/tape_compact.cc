// Tape::Compact and Tape::Retain: dropping dead Values from the tape and moving
// what lives above them down.
#include <algorithm>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "core/internal/tape_block.h"
#include "core/status_macros.h"
#include "core/tape.h"

namespace tapegrad {

using internal::record::kArgBytes;
using internal::record::kOpaqueFlag;

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
  const uint32_t from = keep[0]->values;
  if (from == gap.values) return absl::OkStatus();  // nothing to drop; the marks hold
  size_t next_keep = 0;
  TG_RETURN_IF_ERROR(MoveDown(
      gap, [&](uint32_t slot) { return slot >= from; },
      [&](uint32_t old_slot, uint32_t) {
        while (next_keep < keep.size() && keep[next_keep]->values == old_slot) {
          *keep[next_keep++] = Mark();
        }
      },
      kOp));
  while (next_keep < keep.size()) *keep[next_keep++] = Mark();
  return absl::OkStatus();
}

absl::Status Tape::Retain(const TapeMark& from, absl::Span<const uint8_t> keep,
                          absl::Span<uint32_t> new_slot) {
  constexpr char kOp[] = "Tape::Retain";
  TG_RETURN_IF_ERROR(CheckMark(from, kOp));
  const size_t count = size_ - from.values;
  if (keep.size() != count || new_slot.size() != count) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "Tape::Retain: %d keep flags and %d new slots for the %d Values after the mark",
        keep.size(), new_slot.size(), count));
  }
  std::fill(new_slot.begin(), new_slot.end(), kNone);
  const uint32_t base = from.values;
  return MoveDown(
      from, [&](uint32_t slot) { return keep[slot - base] != 0; },
      [&](uint32_t old_slot, uint32_t slot) { new_slot[old_slot - base] = slot; }, kOp);
}

// Note [Compaction]: the kept records above `to` are copied out to scratch first
// (checking that none reads a dropped one, before anything changes), then the tape
// is rewound to `to` and the kept records are written again at the new end, with
// every input index above `to` mapped to its new slot. Inputs below `to` keep
// their index. A chain input (Note [Chain adjoint]) must be slot o - 1: record::
// Write derives the flag again from the new indices.
template <class Keep, class Moved>
absl::Status Tape::MoveDown(const TapeMark& to_mark, const Keep& keep, const Moved& moved,
                            const char* op) {
  if (pins_.size() != to_mark.pins || arena_allocations_ != to_mark.arena_allocations) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: tensors were recorded or allocated after the mark; only scalar Values can "
        "move",
        op));
  }
  const uint32_t to = to_mark.values;
  const uint32_t count = size_ - to;
  // The new slot of each slot above `to` (kNone: dropped), for the input mapping.
  compact_slots_.assign(count, kNone);
  uint32_t next = to;
  for (uint32_t k = 0; k < count; ++k) {
    if (keep(to + k)) compact_slots_[k] = next++;
  }
  // One walk back from the tail: check the kept records' inputs and copy them out
  // (last record first; they may span blocks).
  compact_sizes_.clear();
  compact_headers_.clear();
  compact_bytes_.clear();
  {
    Block* b = block_;
    const char* p = record_end_;
    for (uint32_t k = count; k-- > 0;) {
      const char* args;
      const uint32_t header = ReadRecord(to + k, &b, &p, &args);
      if (compact_slots_[k] != kNone) {
        if (header & kOpaqueFlag) {
          return absl::FailedPreconditionError(absl::StrFormat(
              "%s: Value #%d is a tensor record, which cannot move", op, to + k));
        }
        uint32_t dropped = kNone;  // an input that is not kept, if any
        internal::record::ForEachInput(to + k, header, args, [&](uint32_t in, double) {
          if (in >= to && compact_slots_[in - to] == kNone) dropped = in;
        });
        if (dropped != kNone) {
          return absl::FailedPreconditionError(absl::StrFormat(
              "%s: Value #%d is kept but reads Value #%d, which is dropped", op, to + k,
              dropped));
        }
        compact_sizes_.push_back(static_cast<uint32_t>(p - args));
        compact_headers_.push_back(header);
        compact_bytes_.insert(compact_bytes_.end(), args, p);
      }
      p = args;
    }
  }

  // The kept slots' adjoints move down with them; those left above the new end
  // are cleared afterwards (Note [Clean adjoints]), on every path out.
  RewindTo(to_mark);
  const absl::Cleanup clear_left_adjoints = [this] { ClearAdjointsFrom(size_); };
  const char* scratch_end = compact_bytes_.data() + compact_bytes_.size();
  size_t record = compact_sizes_.size();
  for (uint32_t k = 0; k < count; ++k) {
    if (compact_slots_[k] == kNone) continue;
    const uint32_t old_slot = to + k;
    moved(old_slot, size_);
    const uint32_t bytes = compact_sizes_[--record];
    const char* args = scratch_end - bytes;  // scratch holds the last record first
    scratch_end = args;
    const uint32_t o = size_;
    const uint32_t header = compact_headers_[record];
    const uint32_t n = internal::record::Count(header);
    compact_inputs_.clear();
    internal::record::ForEachInput(old_slot, header, args, [&](uint32_t in, double d) {
      compact_inputs_.push_back({in >= to ? compact_slots_[in - to] : in, d});
    });
    const size_t room = std::max(n * kArgBytes, internal::record::kEmptyBytes);
    if (!HasRoom(room) && !MakeRoom(room)) return error_;
    uint32_t new_header;
    record_end_ = internal::record::Write(record_end_, o, compact_inputs_.data(), n,
                                          /*keep_unit=*/true, &new_header);
    head_[o] = new_header;
    ++size_;
    value_[o] = value_[old_slot];
    adj_[o] = adj_[old_slot];
    gen_[o] = generation_;  // not clean: no handle carries its number
    if (n != 0 && adj_[o] != 0.0 && o < dirty_begin_) dirty_begin_ = o;
  }
  persistent_slots_ = size_;
  return absl::OkStatus();
}

}  // namespace tapegrad
