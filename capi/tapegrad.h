/* tapegrad's C ABI: the whole runtime through opaque handles and status codes, for
 * C, Go, Rust, Python's ctypes or any other FFI. Link libtapegrad.so.
 *
 *   tg_tape* tape;
 *   tg_tape_create(0, &tape);                      // 0: no byte limit
 *   tg_value a, b, c, g;
 *   tg_value_leaf(tape, -4.0, &a);
 *   tg_value_leaf(tape, 2.0, &b);
 *   tg_value_mul(tape, a, b, &c);
 *   tg_value_relu(tape, c, &g);
 *   if (tg_value_backward(tape, g) != TG_OK)
 *     fprintf(stderr, "%s\n", tg_last_error_message());
 *   double da;
 *   tg_value_grad(tape, a, &da);
 *   tg_tape_destroy(tape);
 *
 * Conventions.
 *  - Every call that can fail returns a tg_status whose numbers are
 *    absl::StatusCode's; results come back through out-parameters, which are left
 *    untouched on failure. tg_last_error_message() is the message of this thread's
 *    last failure.
 *  - Nothing aborts, throws or reads freed memory on bad input: NULL pointers, stale
 *    handles, mismatched shapes/dtypes/devices all return a status with a message
 *    that names the call and the operands.
 *  - Objects come in create/destroy pairs; destroy accepts NULL. Tensors, modules
 *    and optimizers are independent objects (destroying a module leaves tensor
 *    handles taken from it valid).
 *  - Scalar values are not objects: a tg_value names a slot of its tape and that
 *    slot's generation. It needs no destroy; rewinding, resetting or compacting the
 *    tape makes it stale, and using a stale one is TG_FAILED_PRECONDITION.
 *  - Enums are only ever appended to. TG_ABI_VERSION grows on any incompatible
 *    change; compare it with tg_abi_version() at load time.
 *
 * This header holds the conventions, status codes, tapes and scalar values;
 * capi/tapegrad_tensor.h (tensors, the kernel registry), capi/tapegrad_image.h
 * (convolution, pooling, normalization) and capi/tapegrad_nn.h (modules,
 * optimizers) come with it.
 *
 * Thread safety: a tape, and every value and tape tensor on it, belongs to one
 * thread at a time; different tapes can be used from different threads at once.
 * tg_last_error_message, tg_tape_current and the no-grad scope are per thread.
 */
#ifndef TAPEGRAD_CAPI_TAPEGRAD_H_
#define TAPEGRAD_CAPI_TAPEGRAD_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TG_API __attribute__((visibility("default")))

/* The enums are int-sized in C. C++ sees them with int as their fixed underlying
 * type, so that the library may receive any int a C or Python caller passes, and
 * reject an unknown one with an error rather than read an invalid enum value. */
#ifdef __cplusplus
#define TG_ENUM_INT : int
#else
#define TG_ENUM_INT
#endif
#define TG_ABI_VERSION 1

/* ---- Status, version, errors ---------------------------------------------- */

/* absl::StatusCode's numbers. */
typedef enum tg_status TG_ENUM_INT {
  TG_OK = 0,
  TG_CANCELLED = 1,
  TG_UNKNOWN = 2,
  TG_INVALID_ARGUMENT = 3,
  TG_DEADLINE_EXCEEDED = 4,
  TG_NOT_FOUND = 5,
  TG_ALREADY_EXISTS = 6,
  TG_PERMISSION_DENIED = 7,
  TG_RESOURCE_EXHAUSTED = 8,
  TG_FAILED_PRECONDITION = 9,
  TG_ABORTED = 10,
  TG_OUT_OF_RANGE = 11,
  TG_UNIMPLEMENTED = 12,
  TG_INTERNAL = 13,
  TG_UNAVAILABLE = 14,
  TG_DATA_LOSS = 15,
  TG_UNAUTHENTICATED = 16
} tg_status;

/* "1.0.0": the library's version. */
TG_API const char* tg_version(void);
/* TG_ABI_VERSION of the library that is loaded. */
TG_API int tg_abi_version(void);
/* "INVALID_ARGUMENT" for TG_INVALID_ARGUMENT; "UNKNOWN_STATUS" outside the enum. */
TG_API const char* tg_status_name(int status);
/* The message of this thread's last failed call ("" if none); valid until the next
 * failing call on this thread. */
TG_API const char* tg_last_error_message(void);

/* ---- Tapes ------------------------------------------------------------------ */

typedef struct tg_tape tg_tape;
/* A position on a tape (see tg_tape_rewind). */
typedef struct tg_mark tg_mark;

typedef struct tg_tape_stats {
  uint64_t values;           /* live slots */
  uint64_t slot_bytes;       /* capacity of the slot arrays */
  uint64_t arena_bytes_used; /* records and tape tensors */
  uint64_t arena_bytes_reserved;
  uint64_t arena_chunks;
  uint64_t arena_high_water_bytes;
} tg_tape_stats;

/* A new tape; byte_limit bounds its memory (0: none), reaching it is
 * TG_RESOURCE_EXHAUSTED. A limit that cannot hold one value (under 286,784 bytes:
 * the first slot arrays and one record block) is TG_INVALID_ARGUMENT. */
TG_API tg_status tg_tape_create(uint64_t byte_limit, tg_tape** out);
/* Tensor handles recorded on the tape and marks taken on it stay valid objects to
 * destroy; any other use of them is then TG_FAILED_PRECONDITION. */
TG_API void tg_tape_destroy(tg_tape* tape);
/* Makes `tape` (or NULL: none) this thread's current tape: tensor ops record there. */
TG_API tg_status tg_tape_set_current(tg_tape* tape);
/* This thread's current tape, or NULL. */
TG_API tg_tape* tg_tape_current(void);
/* The current end of the tape; values made before it survive tg_tape_rewind. */
TG_API tg_status tg_tape_mark(tg_tape* tape, tg_mark** out);
TG_API void tg_mark_destroy(tg_mark* mark);
/* The handle the first value made after `mark` has (or would have): values made
 * after the mark are this plus 0, 1, 2, ... until the next rewind or compaction. */
TG_API tg_status tg_mark_first_value(const tg_mark* mark, uint64_t* out);
/* Drops every value and tape tensor made after `mark`, in O(1) but for one memset
 * of the grads a backward left on the dropped values. */
TG_API tg_status tg_tape_rewind(tg_tape* tape, const tg_mark* mark);
/* Drops everything and clears the tape's sticky error; memory is kept. */
TG_API tg_status tg_tape_reset(tg_tape* tape);
/* Drops the values between `gap` and keep[0] and moves the values after keep[0]
 * down (see Tape::Compact in core/tape.h); each keep[i] is updated to its values'
 * new position. Scalar values only. */
TG_API tg_status tg_tape_compact(tg_tape* tape, const tg_mark* gap, size_t n_keep,
                                 tg_mark* const* keep);
/* Keeps the values made after `from` whose flag keep[i] is non-zero (keep[i] for
 * the i-th value after the mark; count must be their number) and drops the others,
 * moving the kept ones down: how a tape whose live and dead values interleave
 * gives the dead ones' memory back. new_values[i] receives the i-th value's new
 * handle (0 if dropped); every other handle after `from`, and marks taken after
 * it, become stale. Fails, changing nothing, if a kept value was computed from a
 * dropped one. Scalar values only (see Tape::Retain in core/tape.h). */
TG_API tg_status tg_tape_retain(tg_tape* tape, const tg_mark* from, const uint8_t* keep,
                                size_t count, uint64_t* new_values);
TG_API tg_status tg_tape_stats_get(const tg_tape* tape, tg_tape_stats* out);
/* Sets every scalar grad on the tape to 0. */
TG_API tg_status tg_tape_zero_grad(tg_tape* tape);
/* The tape's first failure since it was made or reset: TG_OK, or the status of
 * the first tg_value_* call on it that failed (or the first error C++ code
 * recorded on it), whose message tg_last_error_message() then holds. Only noted:
 * a failed call returns its own status and later calls on the tape still work.
 * Tensor calls return their errors and note none here. */
TG_API tg_status tg_tape_error(const tg_tape* tape);
/* Writes the records up to `root` (a value on `tape`) as a Graphviz DOT file. */
TG_API tg_status tg_tape_write_dot(tg_tape* tape, uint64_t root, const char* path);

/* No-grad scope of this thread: between enter and exit ops compute without
 * recording. Scopes nest; exit without enter is TG_FAILED_PRECONDITION. */
TG_API tg_status tg_no_grad_enter(void);
TG_API tg_status tg_no_grad_exit(void);
TG_API int tg_is_grad_enabled(void);

/* ---- Scalar values (micrograd's Value) -------------------------------------- */

/* (generation << 32) | slot. */
typedef uint64_t tg_value;

TG_API tg_status tg_value_leaf(tg_tape* tape, double data, tg_value* out);
TG_API tg_status tg_value_add(tg_tape* tape, tg_value a, tg_value b, tg_value* out);
TG_API tg_status tg_value_sub(tg_tape* tape, tg_value a, tg_value b, tg_value* out);
TG_API tg_status tg_value_mul(tg_tape* tape, tg_value a, tg_value b, tg_value* out);
TG_API tg_status tg_value_div(tg_tape* tape, tg_value a, tg_value b, tg_value* out);
TG_API tg_status tg_value_pow(tg_tape* tape, tg_value a, double exponent, tg_value* out);
TG_API tg_status tg_value_neg(tg_tape* tape, tg_value a, tg_value* out);
TG_API tg_status tg_value_relu(tg_tape* tape, tg_value a, tg_value* out);
TG_API tg_status tg_value_tanh(tg_tape* tape, tg_value a, tg_value* out);
TG_API tg_status tg_value_exp(tg_tape* tape, tg_value a, tg_value* out);
TG_API tg_status tg_value_log(tg_tape* tape, tg_value a, tg_value* out);
TG_API tg_status tg_value_sigmoid(tg_tape* tape, tg_value a, tg_value* out);
TG_API tg_status tg_value_data(const tg_tape* tape, tg_value v, double* out);
TG_API tg_status tg_value_grad(const tg_tape* tape, tg_value v, double* out);
TG_API tg_status tg_value_set_data(tg_tape* tape, tg_value v, double data);
TG_API tg_status tg_value_set_grad(tg_tape* tape, tg_value v, double grad);
/* Sets v's grad to 1 and backpropagates to everything it depends on. */
TG_API tg_status tg_value_backward(tg_tape* tape, tg_value v);
/* The values `v` was computed from, in record order (none for a leaf). Writes at
 * most `capacity`, and the full number to *count. */
TG_API tg_status tg_value_inputs(const tg_tape* tape, tg_value v, tg_value* out,
                                 size_t capacity, size_t* count);
/* The local derivatives of `v` with respect to those inputs, in the same order,
 * as its record holds them (taken when the op ran); a repeated input may appear
 * once with their sum. Writes at most `capacity`, and the full number to *count. */
TG_API tg_status tg_value_partials(const tg_tape* tape, tg_value v, double* out,
                                   size_t capacity, size_t* count);

#ifdef __cplusplus
} /* extern "C" */
#endif

/* The rest of the C ABI, one header per part. */
#include "capi/tapegrad_image.h"  /* IWYU pragma: export */
#include "capi/tapegrad_nn.h"     /* IWYU pragma: export */
#include "capi/tapegrad_tensor.h" /* IWYU pragma: export */

#endif /* TAPEGRAD_CAPI_TAPEGRAD_H_ */
