/* tapegrad's C ABI, tensors: creation from buffers and DLPack, ops, views, joins,
 * autograd, devices; and the kernel registry. Part of capi/tapegrad.h (include
 * that), whose conventions hold here.
 *
 *   const float xs[6] = {1, 2, 3, 4, 5, 6};
 *   const int64_t shape[2] = {2, 3};
 *   tg_tensor *x, *y, *loss;
 *   tg_tensor_from_buffer(xs, TG_F32, shape, 2, TG_CPU, &x);
 *   tg_tensor_set_requires_grad(x, 1);
 *   tg_tensor_unary(TG_TANH, x, &y);
 *   tg_tensor_reduce(TG_SUM, y, NULL, 0, 0, &loss);
 *   tg_tensor_backward(loss);                  // then tg_tensor_grad(x, &g)
 *
 * Thread safety: as capi/tapegrad.h says; a tape tensor belongs to its tape's
 * thread, a heap tensor may be read from any thread.
 */
#ifndef TAPEGRAD_CAPI_TAPEGRAD_TENSOR_H_
#define TAPEGRAD_CAPI_TAPEGRAD_TENSOR_H_

#include "capi/tapegrad.h"

#ifdef __cplusplus
extern "C" {
#endif

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
/* The number of CUDA devices (0 without the backend, a driver or a GPU). */
TG_API int tg_cuda_device_count(void);

/* ---- CPU threads ------------------------------------------------------------ */

/* The threads one CPU op may use (a team that oneDNN's calls share; the
 * machine's cores unless set). Ranks of a data-parallel job that share a machine
 * want their share of its cores. Any thread may call these. n < 1 is
 * TG_INVALID_ARGUMENT. */
TG_API tg_status tg_set_num_threads(int n);
TG_API tg_status tg_num_threads(int* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TAPEGRAD_CAPI_TAPEGRAD_TENSOR_H_ */
