// A run of records on the tape, as core/tape.cc writes them and the sweeps
// (core/tape_sweep.cc) and compaction (core/tape_compact.cc) walk them.
//
// Thread safety: as Tape's.
#ifndef TAPEGRAD_CORE_INTERNAL_TAPE_BLOCK_H_
#define TAPEGRAD_CORE_INTERNAL_TAPE_BLOCK_H_

#include "core/tape.h"

namespace tapegrad {

// A run of records. The records follow the header directly; `end` is valid once
// the block is no longer the open one (the open block ends at record_end_).
struct internal::TapeCore::Block {
  Block* prev;
  char* end;
  char* limit;
  char* begin() { return reinterpret_cast<char*>(this + 1); }
};

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_INTERNAL_TAPE_BLOCK_H_
