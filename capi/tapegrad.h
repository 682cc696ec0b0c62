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
 * TG_RESOURCE_EXHAUSTED. A limit that cannot hold one value (under 282,688 bytes:
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
/* Drops every value and tape tensor made after `mark`, in O(1). */
TG_API tg_status tg_tape_rewind(tg_tape* tape, const tg_mark* mark);
/* Drops everything and clears the tape's sticky error; memory is kept. */
TG_API tg_status tg_tape_reset(tg_tape* tape);
/* Drops the values between `gap` and keep[0] and moves the values after keep[0]
 * down (see Tape::Compact in core/tape.h); each keep[i] is updated to its values'
 * new position. Scalar values only. */
TG_API tg_status tg_tape_compact(tg_tape* tape, const tg_mark* gap, size_t n_keep,
                                 tg_mark* const* keep);
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

/* ---- Tensors ---------------------------------------------------------------- */

typedef struct tg_tensor tg_tensor;

typedef enum tg_dtype TG_ENUM_INT { TG_F32 = 0, TG_F64 = 1, TG_I64 = 2 } tg_dtype;
typedef enum tg_device_type TG_ENUM_INT { TG_CPU = 0, TG_CUDA = 1 } tg_device_type;

typedef enum tg_unary_op TG_ENUM_INT {
  TG_NEG = 0,
  TG_EXP = 1,
  TG_LOG = 2,
  TG_TANH = 3,
  TG_RELU = 4,
  TG_SIGMOID = 5,
  TG_GELU = 6,
  TG_SQRT = 7,
  TG_ABS = 8,
  TG_SOFTPLUS = 9, /* parameters: beta (1), threshold (20) */
  TG_SILU = 10,
  TG_LEAKY_RELU = 11, /* parameter: slope (0.01) */
  TG_ELU = 12,        /* parameter: alpha (1) */
  TG_LOG1P = 13,
  TG_EXPM1 = 14,
  TG_SIN = 15,
  TG_COS = 16,
  TG_SQUARE = 17,
  TG_RSQRT = 18,
  TG_SIGN = 19, /* no gradient flows through it */
  TG_ERF = 20
} tg_unary_op;

typedef enum tg_binary_op TG_ENUM_INT {
  TG_ADD = 0,
  TG_SUB = 1,
  TG_MUL = 2,
  TG_DIV = 3,
  TG_MAXIMUM = 4,
  TG_MINIMUM = 5,
  TG_MATMUL = 6,
  TG_MSE = 7,           /* mean squared error of (prediction, target) */
  TG_CROSS_ENTROPY = 8, /* (logits [N, C], class indices i64 [N]) */
  TG_BCE_WITH_LOGITS = 9,
  /* Comparisons: 1 where true, else 0, in the operands' dtype; no gradient. */
  TG_GREATER = 10,
  TG_GREATER_EQUAL = 11,
  TG_LESS = 12,
  TG_LESS_EQUAL = 13,
  TG_EQUAL = 14,
  TG_NOT_EQUAL = 15
} tg_binary_op;

typedef enum tg_reduce_op TG_ENUM_INT {
  TG_SUM = 0,
  TG_MEAN = 1,
  TG_MAX = 2,
  TG_MIN = 3
} tg_reduce_op;

/* The ops' names, as the library knows them: tg_op_name(TG_OPS_UNARY, TG_EXP) is
 * "exp". Each family is numbered 0, 1, 2, ... with no gaps, so a binding lists one
 * by asking for numbers from 0 until the answer is NULL (unknown family or op). */
typedef enum tg_op_family TG_ENUM_INT {
  TG_OPS_UNARY = 0,     /* tg_unary_op */
  TG_OPS_BINARY = 1,    /* tg_binary_op */
  TG_OPS_REDUCE = 2,    /* tg_reduce_op */
  TG_OPS_ARG_REDUCE = 3 /* tg_arg_reduce_op */
} tg_op_family;
TG_API const char* tg_op_name(tg_op_family family, int op);

/* A heap tensor holding a copy of `data` (ndim dims of `shape`, row-major, of
 * `dtype`). Only TG_CPU exists in builds without CUDA. */
TG_API tg_status tg_tensor_from_buffer(const void* data, tg_dtype dtype,
                                       const int64_t* shape, size_t ndim,
                                       tg_device_type device, tg_tensor** out);
TG_API void tg_tensor_destroy(tg_tensor* t);
/* A new handle to the same tensor (views and storage are shared). */
TG_API tg_status tg_tensor_clone_handle(const tg_tensor* t, tg_tensor** out);
TG_API tg_status tg_tensor_ndim(const tg_tensor* t, size_t* out);
/* Writes min(ndim, capacity) dims. */
TG_API tg_status tg_tensor_shape(const tg_tensor* t, int64_t* out, size_t capacity);
TG_API tg_status tg_tensor_dtype(const tg_tensor* t, tg_dtype* out);
TG_API tg_status tg_tensor_device(const tg_tensor* t, tg_device_type* type, int* index);
TG_API tg_status tg_tensor_numel(const tg_tensor* t, int64_t* out);
/* Copies the elements, row-major, into `out` (bytes must be numel * itemsize). */
TG_API tg_status tg_tensor_to_buffer(const tg_tensor* t, void* out, size_t bytes);
/* NumPy-style text into buf (truncated to capacity, always NUL-terminated);
 * *length is the full length. */
TG_API tg_status tg_tensor_format(const tg_tensor* t, char* buf, size_t capacity,
                                  size_t* length);

/* Ops record on the operands' tape, or on the current tape for heap operands. */
/* The ops of tg_unary_op, as torch's functions of the same names; ops with
 * parameters take their defaults (listed by the enumerators). */
TG_API tg_status tg_tensor_unary(tg_unary_op op, const tg_tensor* x, tg_tensor** out);
/* The same with the op's parameters, in the order listed by the enumerators
 * (softplus: beta, threshold); parameters an op does not have are ignored. */
TG_API tg_status tg_tensor_unary_with(tg_unary_op op, const tg_tensor* x, double param0,
                                      double param1, tg_tensor** out);
TG_API tg_status tg_tensor_binary(tg_binary_op op, const tg_tensor* a, const tg_tensor* b,
                                  tg_tensor** out);
TG_API tg_status tg_tensor_pow(const tg_tensor* x, double exponent, tg_tensor** out);
/* x * factor + offset. */
TG_API tg_status tg_tensor_affine(const tg_tensor* x, double factor, double offset,
                                  tg_tensor** out);
/* Over `axes` (n_axes = 0: all). */
TG_API tg_status tg_tensor_reduce(tg_reduce_op op, const tg_tensor* x,
                                  const int64_t* axes, size_t n_axes, int keepdim,
                                  tg_tensor** out);
typedef enum tg_arg_reduce_op TG_ENUM_INT {
  TG_ARGMAX = 0,
  TG_ARGMIN = 1
} tg_arg_reduce_op;
/* The i64 position of the first largest (TG_ARGMAX) or smallest (TG_ARGMIN)
 * element along *axis, or in the row-major flattened x when axis is NULL (keepdim
 * then keeps every axis, at size 1). NaN counts as largest and as smallest, as in
 * PyTorch. No gradient. */
TG_API tg_status tg_tensor_arg_reduce(tg_arg_reduce_op op, const tg_tensor* x,
                                      const int64_t* axis, int keepdim, tg_tensor** out);
TG_API tg_status tg_tensor_softmax(const tg_tensor* x, int64_t axis, int log,
                                   tg_tensor** out);
/* min(max(x, low), high), elementwise; pass -INFINITY or INFINITY for no bound.
 * The gradient flows where low <= x <= high, as in PyTorch. */
TG_API tg_status tg_tensor_clamp(const tg_tensor* x, double low, double high,
                                 tg_tensor** out);
/* cond != 0 ? a : b, broadcast; cond has a's and b's dtype and gets no gradient. */
TG_API tg_status tg_tensor_where(const tg_tensor* cond, const tg_tensor* a,
                                 const tg_tensor* b, tg_tensor** out);

/* Views: no copy, and recorded on a tape, so gradients flow through them. Axes may
 * be negative (counted from the end). */
/* Of contiguous data; one size may be -1. */
TG_API tg_status tg_tensor_reshape(const tg_tensor* x, const int64_t* shape, size_t ndim,
                                   tg_tensor** out);
TG_API tg_status tg_tensor_transpose(const tg_tensor* x, int64_t a, int64_t b,
                                     tg_tensor** out);
/* Axis i of the result is axis order[i] of x; ndim is x's. */
TG_API tg_status tg_tensor_permute(const tg_tensor* x, const int64_t* order, size_t ndim,
                                   tg_tensor** out);
/* x[start:stop:step] along `axis`, by Python's rules: negative bounds count from
 * the end, out-of-range ones clamp (INT64_MAX for "to the end"); step > 0. */
TG_API tg_status tg_tensor_slice(const tg_tensor* x, int64_t axis, int64_t start,
                                 int64_t stop, int64_t step, tg_tensor** out);
/* NumPy broadcasting of x to `shape` (sizes of 1 are repeated, stride 0). */
TG_API tg_status tg_tensor_expand(const tg_tensor* x, const int64_t* shape, size_t ndim,
                                  tg_tensor** out);
/* Drops `axis`, which must have size 1. */
TG_API tg_status tg_tensor_squeeze(const tg_tensor* x, int64_t axis, tg_tensor** out);
/* Inserts an axis of size 1 before `axis` (-1: after the last). */
TG_API tg_status tg_tensor_unsqueeze(const tg_tensor* x, int64_t axis, tg_tensor** out);
/* A contiguous copy, or a new handle to x if it is contiguous already. */
TG_API tg_status tg_tensor_contiguous(const tg_tensor* x, tg_tensor** out);

/* Joins and picks (copies, recorded). */
/* Rows of x (axis 0) at int64 `indices` (1-D, each in [0, rows)). */
TG_API tg_status tg_tensor_index_select(const tg_tensor* x, const tg_tensor* indices,
                                        tg_tensor** out);
/* n >= 1 tensors of one dtype and device, equal but along `axis`. */
TG_API tg_status tg_tensor_concatenate(const tg_tensor* const* tensors, size_t n,
                                       int64_t axis, tg_tensor** out);
/* n >= 1 tensors of one shape, joined along a new `axis`. */
TG_API tg_status tg_tensor_stack(const tg_tensor* const* tensors, size_t n, int64_t axis,
                                 tg_tensor** out);

TG_API tg_status tg_tensor_set_requires_grad(tg_tensor* t, int requires);
TG_API tg_status tg_tensor_requires_grad(const tg_tensor* t, int* out);
/* The accumulated gradient; *out is NULL when there is none yet. */
TG_API tg_status tg_tensor_grad(const tg_tensor* t, tg_tensor** out);
TG_API tg_status tg_tensor_zero_grad(tg_tensor* t);
/* Backpropagates from a one-element tape tensor. */
TG_API tg_status tg_tensor_backward(const tg_tensor* t);
/* A heap copy that no tape knows. */
TG_API tg_status tg_tensor_detach(const tg_tensor* x, tg_tensor** out);
/* A copy on (device, index), or a new handle to `t` if it is there already.
 * Recorded like any op: gradients flow back to t's device. */
TG_API tg_status tg_tensor_to(const tg_tensor* t, tg_device_type device, int index,
                              tg_tensor** out);

/* DLPack (v0.6, dlpack/dlpack.h). Export shares a heap tensor's memory (a tape
 * tensor's is copied first, since a rewind would free it): the DLManagedTensor keeps
 * the storage alive until its deleter runs. Import shares the memory of `managed`
 * and, on success, owns it (its deleter runs when the last handle goes); on failure
 * the caller still owns it. Strided input is accepted; the dtype must be float32,
 * float64 or int64. */
struct DLManagedTensor;
TG_API tg_status tg_tensor_to_dlpack(const tg_tensor* t, struct DLManagedTensor** out);
TG_API tg_status tg_tensor_from_dlpack(struct DLManagedTensor* managed, tg_tensor** out);

/* ---- nn: modules and optimizers --------------------------------------------- */

typedef struct tg_module tg_module;
typedef struct tg_optimizer tg_optimizer;

typedef enum tg_activation TG_ENUM_INT {
  TG_ACT_RELU = 0,
  TG_ACT_TANH = 1,
  TG_ACT_SIGMOID = 2,
  TG_ACT_GELU = 3
} tg_activation;

/* nn::Linear(in, out) with PyTorch's default init drawn from `seed`. */
TG_API tg_status tg_linear_create(int64_t in_features, int64_t out_features, int bias,
                                  tg_dtype dtype, uint64_t seed, tg_module** out);
/* nn::MLP(nin, nouts): Linear layers with `activation` between them. */
TG_API tg_status tg_mlp_create(int64_t nin, const int64_t* nouts, size_t n_layers,
                               tg_activation activation, tg_dtype dtype, uint64_t seed,
                               tg_module** out);
TG_API void tg_module_destroy(tg_module* m);
TG_API tg_status tg_module_forward(tg_module* m, const tg_tensor* x, tg_tensor** out);
/* New handles to the parameters (PyTorch's order); writes at most `capacity`,
 * the full number to *count. The caller destroys the handles. */
TG_API tg_status tg_module_parameters(const tg_module* m, tg_tensor** out,
                                      size_t capacity, size_t* count);
TG_API tg_status tg_module_zero_grad(tg_module* m);
TG_API tg_status tg_module_train(tg_module* m, int training);
/* PyTorch's repr into buf, as tg_tensor_format. */
TG_API tg_status tg_module_format(const tg_module* m, char* buf, size_t capacity,
                                  size_t* length);

/* Optimizers over `n` parameter tensors (handles are copied). */
TG_API tg_status tg_sgd_create(tg_tensor* const* params, size_t n, double lr,
                               double momentum, double weight_decay, int nesterov,
                               tg_optimizer** out);
TG_API tg_status tg_adam_create(tg_tensor* const* params, size_t n, double lr,
                                double beta1, double beta2, double eps,
                                double weight_decay, int decoupled, tg_optimizer** out);
TG_API void tg_optimizer_destroy(tg_optimizer* opt);
TG_API tg_status tg_optimizer_step(tg_optimizer* opt);
TG_API tg_status tg_optimizer_zero_grad(tg_optimizer* opt);
TG_API tg_status tg_optimizer_set_lr(tg_optimizer* opt, double lr);
TG_API tg_status tg_optimizer_lr(const tg_optimizer* opt, double* out);

/* ---- Kernel registry ------------------------------------------------------- */

typedef struct tg_kernel_info {
  const char* op; /* "add", "matmul", ...: static storage */
  tg_dtype dtype;
  tg_device_type device;
} tg_kernel_info;

/* The registered kernels; writes at most `capacity`, the full number to *count. */
TG_API tg_status tg_registry_kernels(tg_kernel_info* out, size_t capacity, size_t* count);
/* 1 if this build has the CUDA backend and a CUDA device answers, else 0 (never
 * an error). */
TG_API int tg_cuda_available(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TAPEGRAD_CAPI_TAPEGRAD_H_ */
