// tapegrad: reverse-mode automatic differentiation on a linear tape.
//
//   #include "tapegrad.h"
//
//   tapegrad::Tape tape;
//   tapegrad::TapeScope scope(&tape);        // Value(double) records here
//   tapegrad::Value a(-4.0), b(2.0);
//   tapegrad::Value c = a + b;
//   tapegrad::Value d = a * b + b.pow(3);
//   absl::Status status = (c * d).Backward(); // a.grad(), b.grad() are ready
//
// Read core/tape.h for the tape (marks, rewind, memory), core/value.h for the
// Value handle and its error rules, core/scalar_ops.h for the ops, and
// core/grad_mode.h for NoGradScope.
//
// Thread safety: one tape per thread at a time; tapes share nothing.
#ifndef TAPEGRAD_TAPEGRAD_H_
#define TAPEGRAD_TAPEGRAD_H_

#include "core/arena.h"       // IWYU pragma: export
#include "core/grad_mode.h"   // IWYU pragma: export
#include "core/random.h"      // IWYU pragma: export
#include "core/scalar_ops.h"  // IWYU pragma: export
#include "core/tape.h"        // IWYU pragma: export
#include "core/tensor.h"      // IWYU pragma: export
#include "core/tensor_ops.h"  // IWYU pragma: export
#include "core/value.h"       // IWYU pragma: export

#endif  // TAPEGRAD_TAPEGRAD_H_
