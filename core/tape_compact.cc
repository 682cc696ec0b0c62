// Tape::Compact: dropping a dead middle of the tape and moving what lives above
// it down.
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "core/internal/tape_block.h"
#include "core/status_macros.h"
#include "core/tape.h"

namespace tapegrad {

using internal::record::kArgBytes;
using internal::record::kOpaqueFlag;

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

}  // namespace tapegrad
