// The byte layout of one tape record: how the record path writes it and how the
// sweeps and the walks over the tape read it back. Internal to the tape.
//
//   char* p = record_end;                       // slot o = f(o - 1, w, b)
//   uint32_t header = 3 | kChainFlag;
//   StoreArg(p, w, dw); p += kArgBytes;         // full inputs first
//   p = PutLastInput(p, b, 1.0, &header);       // +1: stored as a unit input
//   record_end = PutTail(p, d_prev, &header);   // chain partial; b's index
//   head[o] = header;                           // moves into the header
//
// Note [Record layout]: a record is a 32-bit header, kept in the slot array
// head[o], and a body in the record stream, read backwards from its end:
//
//   [full input]...  [unit input]   [chain partial]          head[o]
//   index, partial   index          partial                  count | flags
//   u32    f64       u32            f64                      u32
//
// The header's low 28 bits count the inputs, all kinds together. kChainFlag: the
// record's slot o reads slot o - 1, whose index is therefore not stored; its
// partial comes last, where the sweep reads it first (Note [Chain adjoint] in
// tape_sweep.cc). kUnitFlag: the last input before that has the partial +1 and is
// stored as its index alone (sums, `x * w + b`). kOpaqueFlag: one full input whose
// partial's bytes hold an OpaqueRecord* (a tensor op); no other flag goes with it.
// Invariant: only the chain input may be slot o - 1, and at most once. A record
// with no inputs (a leaf's) has a body of kEmptyBytes unused bytes, so that every
// slot takes some record room (Note [One room check] in tape.cc).
//
// kPackedHeader marks the running update `x = x * w + b`'s shape (one full input,
// a unit input, the chain input): the unit input's index is the header's low 28
// bits, where the count would be (3, by shape), and nothing else is stored for it.
// PutTail packs every record of that shape whose unit index fits in 28 bits:
//
//   [w index, partial]   [chain partial]          kPackedHeader | b
//   u32       f64        f64                      u32
//
// Why headers apart: on long tapes the reverse sweep streams its records from
// memory, so its speed is bytes per record, and most records of a long tape are
// skipped (Note [Zero adjoints] in tape_sweep.cc): a skipped record costs its
// header and its adjoint, 12 bytes, while its body is never read. Why so tight
// a body: a running update's 20 bytes are read in full when its adjoint is not
// zero, against 24 with the unit index stored and 36 with every input as
// (index, partial).
//
// Thread safety: functions over bytes the caller owns; no state.
#ifndef TAPEGRAD_CORE_INTERNAL_TAPE_RECORD_H_
#define TAPEGRAD_CORE_INTERNAL_TAPE_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/base/attributes.h"

namespace tapegrad::internal::record {

// The body of a record with no inputs.
inline constexpr size_t kEmptyBytes = 4;
inline constexpr size_t kArgBytes = sizeof(uint32_t) + sizeof(double);  // full input
inline constexpr size_t kUnitBytes = sizeof(uint32_t);
inline constexpr size_t kChainBytes = sizeof(double);
inline constexpr uint32_t kChainFlag = 0x80000000u;
inline constexpr uint32_t kOpaqueFlag = 0x40000000u;
inline constexpr uint32_t kUnitFlag = 0x20000000u;
inline constexpr uint32_t kPackedFlag = 0x10000000u;  // only within kPackedHeader
inline constexpr uint32_t kCountMask = 0x0fffffffu;
inline constexpr uint32_t kPackedHeader = kChainFlag | kUnitFlag | kPackedFlag;
// The largest unit index a packed header holds.
inline constexpr uint32_t kMaxPackedIndex = kCountMask;

// One input of a record, as the walks see it whatever its stored form.
struct Input {
  uint32_t index;
  double partial;
};

inline uint32_t LoadIndex(const char* p) {
  uint32_t index;
  std::memcpy(&index, p, sizeof(index));
  return index;
}
inline double LoadDouble(const char* p) {
  double x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}
inline void StoreDouble(char* p, double x) { std::memcpy(p, &x, sizeof(x)); }

// A full input at `arg`.
inline double LoadPartial(const char* arg) { return LoadDouble(arg + sizeof(uint32_t)); }
inline void StoreArg(char* arg, uint32_t index, double partial) {
  std::memcpy(arg, &index, sizeof(index));
  StoreDouble(arg + sizeof(index), partial);
}

inline bool IsPacked(uint32_t header) { return (header & kPackedFlag) != 0; }
inline uint32_t Count(uint32_t header) {
  return IsPacked(header) ? 3u : header & kCountMask;
}
inline bool HasChain(uint32_t header) { return (header & kChainFlag) != 0; }
inline bool HasUnit(uint32_t header) { return (header & kUnitFlag) != 0; }
// The unit input's index when it is stored as its own, not in the header.
inline bool HasStoredUnit(uint32_t header) {
  return HasUnit(header) && !IsPacked(header);
}
// Inputs stored in full (index and partial).
inline uint32_t FullCount(uint32_t header) {
  return Count(header) - HasChain(header) - HasUnit(header);
}
// The header's count bits, or 0 for a packed header, whose count bits are an
// index. U as for BodyBytes, below.
template <class U>
inline U UnpackedCount(U header) {
  return header & kCountMask & (((header >> 28) & 1) - 1);
}

// The body of a record with `header`, in bytes: its full inputs, a stored unit
// index and the chain partial, or kEmptyBytes for none. U is uint32_t or a
// vector of them (the compilers' vector extension), for the sweep's runs of
// zero adjoints (Note [Zero runs] in tape_sweep.cc): hence masks, not branches
// or bools, which mean 1 in a scalar and all ones in a vector lane. Exact in 32
// bits for every count (12 * 2^28 < 2^32).
template <class U>
inline U BodyBytes(U header) {
  static_assert(kArgBytes == 12 && kUnitBytes == 4 && kChainBytes == 8 &&
                kEmptyBytes == 4);
  const U packed = (header >> 28) & 1;
  const U unit = (header >> 29) & 1;
  const U chain = header >> 31;
  const U count = UnpackedCount(header) | (3 & (0 - packed));  // 3 if packed
  const U empty = ((header | (0 - header)) >> 31) ^ 1;
  // count * 12 less what the chain input (4) and a unit input (8) save, less the
  // unit index a packed header holds (4).
  return count * 12 - chain * 4 - unit * 8 - packed * 4 + empty * 4;
}

// BodyBytes of one record.
inline size_t Bytes(uint32_t header) { return BodyBytes(header); }

// Calls f(index, partial) for each input of the record that starts at `begin`
// and has `header` but its chain input: full inputs in order, then the unit
// input. Returns where the chain partial is (if the header has kChainFlag). Not
// for opaque records.
template <class F>
const char* ForEachOtherInput(uint32_t header, const char* begin, F&& f) {
  const char* p = begin;
  for (uint32_t k = FullCount(header); k > 0; --k, p += kArgBytes) {
    f(LoadIndex(p), LoadPartial(p));
  }
  if (IsPacked(header)) {
    f(header & kCountMask, 1.0);
  } else if (HasUnit(header)) {
    f(LoadIndex(p), 1.0);
    p += kUnitBytes;
  }
  return p;
}

// Calls f(index, partial) for each input of slot o's record, which starts at
// `begin` and has `header`: full inputs in order, then the unit input, then the
// chain input. Not for opaque records.
template <class F>
void ForEachInput(uint32_t o, uint32_t header, const char* begin, F&& f) {
  const char* const chain = ForEachOtherInput(header, begin, f);
  if (HasChain(header)) f(o - 1, LoadDouble(chain));
}

// Note [Shapes by rule]: an input becomes a unit input only where the op's rule
// makes its partial +1 whatever the numbers (a + b, x * w + b, sums), never
// because the data happen to give +1. A record's shape then follows the program,
// not the data, and the sweep's branches on shapes predict as well as the
// program's own do; testing the value would make relu's records (partial 1 or 0
// at random) random shapes. Callers pass the rule's word as `one_by_rule`.

// Writes the last input before the chain's at p: as a unit input if its partial
// is +1 by rule (adding kUnitFlag to *header), else in full. Returns where the
// record goes on.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline char* PutLastInput(char* p, uint32_t index,
                                                       double partial, bool one_by_rule,
                                                       uint32_t* header) {
  if (one_by_rule) {
    std::memcpy(p, &index, sizeof(index));
    *header |= kUnitFlag;
    return p + kUnitBytes;
  }
  StoreArg(p, index, partial);
  return p + kArgBytes;
}

// Ends a record's body at p with the chain partial (if *header has kChainFlag); a
// running update's unit index moves into *header (kPackedHeader), and a record
// with no inputs gets its kEmptyBytes. Returns the body's end; the caller stores
// *header as the slot's.
inline char* PutTail(char* p, double chain_partial, uint32_t* header) {
  if (*header == (kChainFlag | kUnitFlag | 3u)) {
    const uint32_t unit = LoadIndex(p - kUnitBytes);
    if (unit <= kMaxPackedIndex) {
      p -= kUnitBytes;
      *header = kPackedHeader | unit;
    }
  }
  if (HasChain(*header)) {
    StoreDouble(p, chain_partial);
    p += kChainBytes;
  }
  if (*header == 0) p += kEmptyBytes;
  return p;
}

// Ends a record whose full inputs were written from `first` to p: the last of them
// becomes a unit input if `last_is_unit` (its partial must be +1), then the chain
// partial (if has_chain) follows. Sets *header; returns the body's end.
inline char* Finish(char* first, char* p, bool has_chain, double chain_partial,
                    bool last_is_unit, uint32_t* header) {
  const auto full = static_cast<uint32_t>(static_cast<size_t>(p - first) / kArgBytes);
  *header = full + (has_chain ? 1u : 0u);
  if (full != 0 && last_is_unit) {
    p -= kArgBytes - kUnitBytes;
    *header |= kUnitFlag;
  }
  if (has_chain) *header |= kChainFlag;
  return PutTail(p, chain_partial, header);
}

// Writes `inputs` from p as the body of slot o's record: inputs equal to o - 1
// merge into the chain input; the last other one is a unit input if `keep_unit`
// and its partial is +1 (for records rewritten as they were). Needs
// max(count * kArgBytes, kEmptyBytes) of room. Sets *header; returns the body's
// end.
inline char* Write(char* p, uint32_t o, const Input* inputs, size_t count, bool keep_unit,
                   uint32_t* header) {
  char* const first = p;
  double chain_partial = 0.0;
  bool has_chain = false;
  for (size_t k = 0; k < count; ++k) {
    if (inputs[k].index + 1 == o) {
      chain_partial += inputs[k].partial;
      has_chain = true;
    } else {
      StoreArg(p, inputs[k].index, inputs[k].partial);
      p += kArgBytes;
    }
  }
  return Finish(first, p, has_chain, chain_partial,
                keep_unit && p != first && LoadPartial(p - kArgBytes) == 1.0, header);
}

}  // namespace tapegrad::internal::record

#endif  // TAPEGRAD_CORE_INTERNAL_TAPE_RECORD_H_
