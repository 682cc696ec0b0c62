// The reverse sweeps (Backward), and the walks back over the records that
// ForEachInput and compaction share.
#include <algorithm>
#include <cstring>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "core/internal/tape_block.h"
#include "core/status_macros.h"
#include "core/tape.h"

namespace tapegrad {
namespace {

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

absl::Status internal::TapeCore::RunOpaque(const char* arg, Tape& tape) {
  OpaqueRecord* record;
  std::memcpy(&record, arg + sizeof(uint32_t), sizeof(record));
  return record->backward(record, tape);
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
    const uint32_t header = ReadRecord(o, &block, &end, &args);
    if (!(header & kOpaqueFlag)) {
      internal::record::ForEachInput(
          o, header, args, [&](uint32_t in, double partial) { visit(o, in, partial); });
    }
    end = args;
    if (o == first) break;
  }
  return absl::OkStatus();
}

void internal::TapeCore::SkipEmptyBlocks(Block** block, const char** end) {
  while (*end == (*block)->begin()) {
    *block = (*block)->prev;
    *end = (*block)->end;
  }
}

uint32_t internal::TapeCore::ReadRecord(uint32_t o, Block** block, const char** end,
                                        const char** args) const {
  SkipEmptyBlocks(block, end);
  const uint32_t header = head_[o];
  *args = *end - internal::record::Bytes(header);
  return header;
}

void internal::TapeCore::FindRecordEnd(uint32_t o, Block** block,
                                       const char** end) const {
  Block* b = block_;
  const char* p = record_end_;
  uint32_t slot = size_ - 1;
  // Only a record below the last slot is remembered: the last one may still be
  // rewritten in place (Note [Temporaries fuse]); those below it never are.
  if (last_found_.layout_epoch == layout_epoch_ && last_found_.slot >= o &&
      last_found_.slot < slot) {
    b = last_found_.block;
    p = last_found_.end;
    slot = last_found_.slot;
  }
  for (; slot > o; --slot) {
    const char* args;
    ReadRecord(slot, &b, &p, &args);
    p = args;
  }
  SkipEmptyBlocks(&b, &p);
  *block = b;
  *end = p;
  if (o + 1 < size_) last_found_ = {layout_epoch_, o, b, p};
}

// Note [Chain adjoint]: in the sweep, the adjoint of slot o - 1 is the next one
// needed, and in chains (x = f(x) over and over) record o is its only consumer.
// Keeping adj[o - 1] in a register across that step, instead of storing it through
// memory and loading it back, removes a store-to-load round trip from the critical
// path of every op; the chain then costs one multiply per record (ChainAdjoint).
// To make this exact, a record holds its input o - 1 (if it has one) only once, as
// its chain input, and says so with kChainFlag; every other input is added through
// memory as usual. Every slot has a record, so the next record is always o - 1's.
// Note [Zero adjoints]: a record whose adjoint is exactly zero adds nothing to
// its inputs, and the sweep skips it, as CoDiPack and Adept-2 do: the records
// after a vanishing gradient (a long chain whose partials are below 1, inputs
// that reach the root only through a relu that was off) then cost a header read
// and one load, or less in runs (Note [Zero runs]). The test comes before the
// dispatch: a skipped record's size comes from its header, whose address is the
// slot's (head_ + o), so the walk back over the bodies is no chain of loads.
// The difference shows where a partial is inf or NaN: PyTorch and micrograd
// multiply 0 by it and give the input NaN; the input gets nothing here. The
// exact sweep skips alike, so the two sweeps agree.
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
                                                            double* at, double* g) {
  const char* const chain = end - kChain * internal::record::kChainBytes;
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
  // Note [Adjoint stores]: a chain adjoint is stored where it is computed.
  if constexpr (kChain) {
    *g = ChainAdjoint(LoadDouble(chain), *g, at[-1]);
    at[-1] = *g;
  } else {
    *g = at[-1];
  }
  return p;
}

// Note [Zero runs]: most records of a long tape can have zero adjoints (W1's
// vanish about a thousand steps back from the root and stay zero for the rest
// of a million). The sweep skips them in groups of kRunSlots: if their adjoints
// are all zero and none is a tensor record, it moves down by the sum of their
// body sizes, computed from their headers in vector registers, and never reads
// their bodies. A group that is not all zero, or that reaches past the record
// block or to slot 0, goes record by record. Eight adjoints are 64 bytes, a
// cache line's worth.
// A run walks two arrays down (adjoints and headers), and the hardware
// prefetchers stop at each 4 KiB page: every new page would start with misses
// at full memory latency. So each group asks for the lines kRunPrefetchBytes
// ahead in both, which keeps the next pages in flight: 0.52 -> 0.31 ns/op for
// W1's backward at 10^6 steps on Intel Xeon; 4 KiB ahead measured the same,
// 2 KiB worse. In cache it costs nothing measurable.
constexpr int kRunSlots = 8;
constexpr size_t kRunPrefetchBytes = 8192;
typedef uint32_t HeaderLanes __attribute__((vector_size(kRunSlots * sizeof(uint32_t))));

// The sum (or the bitwise or) of a group's lanes, by halving: log2(kRunSlots)
// shuffles.
template <class Op>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint32_t Reduce(HeaderLanes v, Op op) {
  v = op(v, __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3));
  v = op(v, __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5));
  v = op(v, __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6));
  return v[0];
}

// Moves *at and *head down over whole groups of zero adjoints, the first group's
// top slot being *at, while they stay above slot 0 and after `begin`; returns
// where the body of the record at the new *at ends. Out of line, so that the
// main loop keeps its registers.
ABSL_ATTRIBUTE_NOINLINE const char* SkipZeroRun(const double* adj, double** at_ptr,
                                                const uint32_t** head_ptr,
                                                const char* end, const char* begin) {
  namespace rec = internal::record;
  double* at = *at_ptr;
  const uint32_t* head = *head_ptr;
  while (at - adj > kRunSlots) {
    uint64_t nonzero = 0;
    for (int k = 0; k < kRunSlots; ++k) {
      uint64_t bits;
      std::memcpy(&bits, at - k, sizeof(bits));
      nonzero |= bits;
    }
    nonzero <<= 1;  // -0 is zero too
    HeaderLanes h;
    std::memcpy(&h, head - (kRunSlots - 1), sizeof(h));
    // A tensor record stops the run, and so does a count of 2^24 or more (the
    // sum of the group's sizes could overflow 32 bits); a packed header's count
    // bits are an index.
    const HeaderLanes stop = (h & rec::kOpaqueFlag) | (rec::UnpackedCount(h) >> 24);
    const uint32_t bytes = Reduce(rec::BodyBytes(h), std::plus<HeaderLanes>());
    if (nonzero != 0 || Reduce(stop, std::bit_or<HeaderLanes>()) != 0 ||
        bytes > static_cast<size_t>(end - begin)) {
      break;
    }
    __builtin_prefetch(at - kRunPrefetchBytes / sizeof(double), 0, 3);
    __builtin_prefetch(head - kRunPrefetchBytes / sizeof(uint32_t), 0, 3);
    end -= bytes;
    at -= kRunSlots;
    head -= kRunSlots;
  }
  *at_ptr = at;
  *head_ptr = head;
  return end;
}

}  // namespace

absl::Status internal::TapeCore::SweepFast(uint32_t root) {
  Block* root_block;
  const char* root_end;
  FindRecordEnd(root, &root_block, &root_end);
  Block* block = root_block;  // copies that can live in registers
  const char* end = root_end;
  const char* begin = block->begin();
  double* const adj = adj_;
  double* at = adj + root;              // adj + o
  const uint32_t* head = head_ + root;  // head_ + o
  double g = *at;
  const double* lowest_op = nullptr;  // adj + the lowest slot whose record has inputs
  for (;;) {
    if (g == 0.0 && at - adj > kRunSlots) {  // Note [Zero runs]
      end = SkipZeroRun(adj, &at, &head, end, begin);
      if (ABSL_PREDICT_FALSE(end == begin)) {
        do {
          block = block->prev;
          end = block->end;
          begin = block->begin();
        } while (end == begin);
      }
      g = *at;
    }
    if (g == 0.0 && at != adj && (*head & kOpaqueFlag) == 0) {  // Note [Zero adjoints]
      // Skipped: its size from its header, which is no load on the walk back.
      end -= internal::record::Bytes(*head);
      g = at[-1];
    } else {
      const uint32_t header = *head;
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
            end -= internal::record::kEmptyBytes;
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
              if (absl::Status s = RunOpaque(args, *self()); !s.ok()) return s;
            }
            if (at == adj) {  // slot 0: done
              if (lowest_op != nullptr) {
                dirty_begin_ =
                    std::min(dirty_begin_, static_cast<uint32_t>(lowest_op - adj));
              }
              return absl::OkStatus();
            }
            if ((header & kOpaqueFlag) || g == 0.0) {
              // A tensor op may feed a scalar slot. Zero adjoints of scalar
              // records were skipped before the dispatch; the test that cannot
              // hold here stays because without it g++ lays the loop out ~8%
              // slower (BM_Chain_NonzeroAdjoints, in cache).
              g = at[-1];
            } else {
              // As SweepSimple, for any number of inputs.
              const char* chain = internal::record::ForEachOtherInput(
                  header, args,
                  [&](uint32_t in, double partial) { adj[in] += partial * g; });
              if (header & kChainFlag) {
                g = ChainAdjoint(LoadDouble(chain), g, at[-1]);
                at[-1] = g;
              } else {
                g = at[-1];
              }
              if (internal::record::Count(header) != 0) lowest_op = at;
            }
            end = args;
          }
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
    --head;
  }
}
// Note [Dirty adjoints]: SweepFast propagates every record's adjoint, which is
// right only while the records that are not ancestors of the root hold zero
// adjoints. After a Backward (or a set_grad) some may not: micrograd would skip
// them, since it only visits the root's ancestors. Then this sweep runs instead: it
// marks the ancestors as it goes and propagates only theirs.
absl::Status internal::TapeCore::SweepExact(uint32_t root) {
  Block* block;
  const char* end;
  FindRecordEnd(root, &block, &end);
  reached_.assign(size_t{root} + 1, 0);
  reached_[root] = 1;
  uint32_t lowest_op = kNone;
  for (uint32_t o = root;; --o) {
    const char* args;
    const uint32_t header = ReadRecord(o, &block, &end, &args);
    if (ABSL_PREDICT_FALSE(header & kOpaqueFlag)) {
      if (absl::Status s = RunOpaque(args, *self()); !s.ok()) return s;
    } else if (reached_[o] && internal::record::Count(header) != 0) {
      const double g = adj_[o];
      if (g == 0.0) {  // Note [Zero adjoints]: the inputs are reached all the same
        internal::record::ForEachInput(o, header, args,
                                       [&](uint32_t in, double) { reached_[in] = 1; });
      } else {
        internal::record::ForEachInput(o, header, args, [&](uint32_t in, double partial) {
          adj_[in] += partial * g;
          reached_[in] = 1;
        });
        lowest_op = o;
      }
    }
    end = args;
    if (o == 0) break;
  }
  dirty_begin_ = std::min(dirty_begin_, lowest_op);
  return absl::OkStatus();
}

absl::Status internal::TapeCore::BackwardFrom(Value::HandleBits bits) {
  const Value root = Value::FromBits(bits);
  if (!error_.ok()) return error_;
  if (!IsLive(root)) return Diagnose(root, "Backward");
  adj_[root.index_] = 1.0;  // SweepFrom raises adjoints_end_ past it
  NextSweepEpoch();
  return SweepFrom(root.index_);
}

absl::Status internal::TapeCore::SweepFrom(uint32_t root) {
  UncleanLast();
  // The sweep writes adjoints at and below the root only (Note [Clean adjoints]).
  adjoints_end_ = std::max(adjoints_end_, root + 1);
  absl::Status status = dirty_begin_ <= root ? SweepExact(root) : SweepFast(root);
  if (!status.ok()) RecordError(status);
  return status;
}

}  // namespace tapegrad
