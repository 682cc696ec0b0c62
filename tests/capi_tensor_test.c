/* The C ABI's tensors exercised from C (compiled as C99): buffers, ops with and
 * without parameters, views and joins, DLPack, index reductions, modules and
 * optimizers. */
#include <dlpack/dlpack.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi/tapegrad.h"
#include "tests/capi_expect.h"

static void test_tensors(void) {
  tg_tape* t;
  EXPECT_OK(tg_tape_create(0, &t));
  EXPECT_OK(tg_tape_set_current(t));
  EXPECT(tg_tape_current() == t);
  const float xs[6] = {1, 2, 3, 4, 5, 6};
  const float ws[6] = {0.5f, -1, 2, 0, 1, 1};
  const int64_t xshape[2] = {2, 3}, wshape[2] = {3, 2};
  tg_tensor *x, *w, *y, *loss, *grad;
  EXPECT_OK(tg_tensor_from_buffer(xs, TG_F32, xshape, 2, TG_CPU, &x));
  EXPECT_OK(tg_tensor_from_buffer(ws, TG_F32, wshape, 2, TG_CPU, &w));
  EXPECT_OK(tg_tensor_set_requires_grad(w, 1));
  EXPECT_OK(tg_tensor_binary(TG_MATMUL, x, w, &y));
  int64_t shape[2];
  EXPECT_OK(tg_tensor_shape(y, shape, 2));
  EXPECT(shape[0] == 2 && shape[1] == 2);
  float yv[4];
  EXPECT_OK(tg_tensor_to_buffer(y, yv, sizeof(yv)));
  EXPECT(yv[0] == 1 * 0.5f + 2 * 2 + 3 * 1 && yv[3] == 4 * -1 + 0 + 6);
  EXPECT_ERROR(tg_tensor_to_buffer(y, yv, 3), TG_INVALID_ARGUMENT, "buffer of 3 bytes");
  EXPECT_ERROR(tg_tensor_binary(TG_MATMUL, x, x, &loss), TG_INVALID_ARGUMENT, "[2, 3]");
  EXPECT_OK(tg_tensor_reduce(TG_SUM, y, NULL, 0, 0, &loss));
  EXPECT_OK(tg_tensor_backward(loss));
  EXPECT_OK(tg_tensor_grad(w, &grad));
  EXPECT(grad != NULL);
  float gv[6];
  EXPECT_OK(tg_tensor_to_buffer(grad, gv, sizeof(gv)));
  /* d sum(x @ w) / d w[i][j] = sum over rows of x[:, i] */
  EXPECT(gv[0] == 5 && gv[1] == 5 && gv[2] == 7 && gv[4] == 9);

  /* DLPack: export shares memory; importing the export gives the same numbers. */
  struct DLManagedTensor* managed;
  EXPECT_OK(tg_tensor_to_dlpack(x, &managed));
  EXPECT(managed->dl_tensor.ndim == 2 && managed->dl_tensor.shape[1] == 3);
  EXPECT(((float*)managed->dl_tensor.data)[4] == 5.0f);
  tg_tensor* back;
  EXPECT_OK(tg_tensor_from_dlpack(managed, &back));
  float bv[6];
  EXPECT_OK(tg_tensor_to_buffer(back, bv, sizeof(bv)));
  EXPECT(memcmp(bv, xs, sizeof(bv)) == 0);
  tg_tensor_destroy(back); /* runs the exporter's deleter */

  char text[64];
  size_t length;
  EXPECT_OK(tg_tensor_format(x, text, sizeof(text), &length));
  EXPECT(strcmp(text, "[[1. 2. 3.]\n [4. 5. 6.]]") == 0);

  tg_tensor_destroy(grad);
  tg_tensor_destroy(loss);
  tg_tensor_destroy(y);
  tg_tensor_destroy(w);
  tg_tensor_destroy(x);
  EXPECT_OK(tg_tape_set_current(NULL));
  tg_tape_destroy(t);
}

/* Reads a tensor's f64 elements into `out` (n of them) and compares with `want`. */
static void expect_values(const tg_tensor* t, const double* want, size_t n) {
  double got[16];
  EXPECT(n <= 16);
  EXPECT_OK(tg_tensor_to_buffer(t, got, n * sizeof(double)));
  for (size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      fprintf(stderr, "element %zu: got %g, want %g\n", i, got[i], want[i]);
      ++failures;
    }
  }
}

/* Views, clamp, where, index_select, concatenate and stack; gradients through views. */
static void test_views_and_joins(void) {
  tg_tape* t;
  EXPECT_OK(tg_tape_create(0, &t));
  EXPECT_OK(tg_tape_set_current(t));
  const double xs[6] = {1, 2, 3, 4, 5, 6};
  const int64_t shape[2] = {2, 3}, order[2] = {1, 0}, big[3] = {3, 2, 2};
  tg_tensor *x, *s, *p, *u, *e, *c, *loss, *grad;
  EXPECT_OK(tg_tensor_from_buffer(xs, TG_F64, shape, 2, TG_CPU, &x));
  EXPECT_OK(tg_tensor_set_requires_grad(x, 1));

  /* x[:, 1:].T, then broadcast to [3, 2, 2]: each of x[:, 1:] is used 3 times. */
  EXPECT_OK(tg_tensor_slice(x, -1, 1, INT64_MAX, 1, &s));
  EXPECT_OK(tg_tensor_permute(s, order, 2, &p));
  const double pv[4] = {2, 5, 3, 6};
  expect_values(p, pv, 4);
  EXPECT_OK(tg_tensor_unsqueeze(p, 0, &u));
  EXPECT_OK(tg_tensor_expand(u, big, 3, &e));
  EXPECT_OK(tg_tensor_contiguous(e, &c));
  int64_t cshape[3];
  EXPECT_OK(tg_tensor_shape(c, cshape, 3));
  EXPECT(cshape[0] == 3 && cshape[1] == 2 && cshape[2] == 2);
  EXPECT_OK(tg_tensor_reduce(TG_SUM, c, NULL, 0, 0, &loss));
  EXPECT_OK(tg_tensor_backward(loss));
  EXPECT_OK(tg_tensor_grad(x, &grad));
  const double gv[6] = {0, 3, 3, 0, 3, 3};
  expect_values(grad, gv, 6);
  tg_tensor* to_free[] = {s, p, u, e, c, loss, grad};
  for (size_t i = 0; i < sizeof(to_free) / sizeof(to_free[0]); ++i) {
    tg_tensor_destroy(to_free[i]);
  }

  tg_tensor *clamped, *cond, *picked, *idx, *rows, *cat, *stacked, *sq;
  EXPECT_OK(tg_tensor_clamp(x, 2, 5, &clamped));
  const double clampv[6] = {2, 2, 3, 4, 5, 5};
  expect_values(clamped, clampv, 6);
  const double condv[6] = {1, 0, 1, 0, 1, 0};
  EXPECT_OK(tg_tensor_from_buffer(condv, TG_F64, shape, 2, TG_CPU, &cond));
  EXPECT_OK(tg_tensor_where(cond, x, clamped, &picked));
  const double wherev[6] = {1, 2, 3, 4, 5, 5};
  expect_values(picked, wherev, 6);
  tg_tensor* less;
  EXPECT_OK(tg_tensor_binary(TG_LESS, x, clamped, &less)); /* x < clamp(x, 2, 5) */
  const double lessv[6] = {1, 0, 0, 0, 0, 0};
  expect_values(less, lessv, 6);
  tg_tensor_destroy(less);
  const int64_t iv[3] = {1, 1, 0}, ishape[1] = {3};
  EXPECT_OK(tg_tensor_from_buffer(iv, TG_I64, ishape, 1, TG_CPU, &idx));
  EXPECT_OK(tg_tensor_index_select(x, idx, &rows));
  const double rowv[9] = {4, 5, 6, 4, 5, 6, 1, 2, 3};
  expect_values(rows, rowv, 9);
  const tg_tensor* pair[2] = {x, clamped};
  EXPECT_OK(tg_tensor_concatenate(pair, 2, 1, &cat));
  const double catv[12] = {1, 2, 3, 2, 2, 3, 4, 5, 6, 4, 5, 5};
  expect_values(cat, catv, 12);
  EXPECT_OK(tg_tensor_stack(pair, 2, -1, &stacked));
  int64_t sshape[3];
  EXPECT_OK(tg_tensor_shape(stacked, sshape, 3));
  EXPECT(sshape[0] == 2 && sshape[1] == 3 && sshape[2] == 2);
  EXPECT_OK(tg_tensor_slice(x, 0, 1, 2, 1, &s));
  EXPECT_OK(tg_tensor_squeeze(s, 0, &sq));
  const double sqv[3] = {4, 5, 6};
  expect_values(sq, sqv, 3);

  /* Bad input: each call names itself and what is wrong. */
  tg_tensor* bad = NULL;
  EXPECT_ERROR(tg_tensor_squeeze(x, 0, &bad), TG_INVALID_ARGUMENT, "squeeze");
  EXPECT_ERROR(tg_tensor_slice(x, 0, 0, 2, 0, &bad), TG_INVALID_ARGUMENT,
               "steps must be > 0");
  EXPECT_ERROR(tg_tensor_permute(x, NULL, 2, &bad), TG_INVALID_ARGUMENT,
               "tg_tensor_permute: order is NULL");
  EXPECT_ERROR(tg_tensor_permute(x, order, 1, &bad), TG_INVALID_ARGUMENT, "permute");
  EXPECT_ERROR(tg_tensor_expand(x, ishape, 1, &bad), TG_INVALID_ARGUMENT, "[2, 3]");
  EXPECT_ERROR(tg_tensor_unsqueeze(NULL, 0, &bad), TG_INVALID_ARGUMENT,
               "tg_tensor_unsqueeze: x is NULL");
  EXPECT_ERROR(tg_tensor_contiguous(x, NULL), TG_INVALID_ARGUMENT,
               "tg_tensor_contiguous: out is NULL");
  EXPECT_ERROR(tg_tensor_where(NULL, x, x, &bad), TG_INVALID_ARGUMENT, "cond is NULL");
  EXPECT_ERROR(tg_tensor_index_select(x, x, &bad), TG_INVALID_ARGUMENT, "index_select");
  EXPECT_ERROR(tg_tensor_concatenate(NULL, 2, 0, &bad), TG_INVALID_ARGUMENT,
               "tensors is NULL");
  const tg_tensor* holes[2] = {x, NULL};
  EXPECT_ERROR(tg_tensor_concatenate(holes, 2, 0, &bad), TG_INVALID_ARGUMENT,
               "tg_tensor_concatenate: tensors[1] is NULL");
  EXPECT_ERROR(tg_tensor_stack(pair, 0, 0, &bad), TG_INVALID_ARGUMENT,
               "needs at least one tensor");
  const tg_tensor* mismatched[2] = {x, idx};
  EXPECT_ERROR(tg_tensor_concatenate(mismatched, 2, 0, &bad), TG_INVALID_ARGUMENT,
               "i64[3]");
  EXPECT(bad == NULL);

  tg_tensor* rest[] = {clamped, cond, picked, idx, rows, cat, stacked, s, sq, x};
  for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); ++i) tg_tensor_destroy(rest[i]);
  EXPECT_OK(tg_tape_set_current(NULL));
  tg_tape_destroy(t);
}

/* argmax / argmin: i64 positions along an axis or over the flattened tensor. */
static void test_arg_reduce(void) {
  const float xs[6] = {3, 9, 1, 7, 7, 0};
  const int64_t shape[2] = {2, 3}, axis = 1, bad_axis = 2;
  tg_tensor *x, *rows, *flat, *bad = NULL;
  EXPECT_OK(tg_tensor_from_buffer(xs, TG_F32, shape, 2, TG_CPU, &x));
  EXPECT_OK(tg_tensor_arg_reduce(TG_ARGMAX, x, &axis, 0, &rows));
  int64_t got[2] = {-1, -1};
  EXPECT_OK(tg_tensor_to_buffer(rows, got, sizeof(got)));
  EXPECT(got[0] == 1 && got[1] == 0); /* 7, 7: the first */
  tg_dtype dtype;
  EXPECT_OK(tg_tensor_dtype(rows, &dtype));
  EXPECT(dtype == TG_I64);
  EXPECT_OK(tg_tensor_arg_reduce(TG_ARGMIN, x, NULL, 1, &flat));
  size_t ndim = 0;
  EXPECT_OK(tg_tensor_ndim(flat, &ndim));
  EXPECT(ndim == 2); /* keepdim over every axis: [1, 1] */
  EXPECT_OK(tg_tensor_to_buffer(flat, got, sizeof(int64_t)));
  EXPECT(got[0] == 5);
  EXPECT_ERROR(tg_tensor_arg_reduce(TG_ARGMAX, x, &bad_axis, 0, &bad),
               TG_INVALID_ARGUMENT,
               "argmax: axis 2 is out of range (operands: f32[2, 3] on cpu)");
  EXPECT_ERROR(tg_tensor_arg_reduce((tg_arg_reduce_op)7, x, NULL, 0, &bad),
               TG_INVALID_ARGUMENT, "tg_tensor_arg_reduce: unknown op 7");
  /* Any int a C caller passes for an enum is rejected by name, never read as UB. */
  EXPECT_ERROR(tg_tensor_unary((tg_unary_op)-1, x, &bad), TG_INVALID_ARGUMENT,
               "tg_tensor_unary: unknown op -1");
  EXPECT_ERROR(tg_tensor_binary((tg_binary_op)99, x, x, &bad), TG_INVALID_ARGUMENT,
               "tg_tensor_binary: unknown op 99");
  EXPECT_ERROR(tg_tensor_reduce((tg_reduce_op)4, x, NULL, 0, 0, &bad),
               TG_INVALID_ARGUMENT, "tg_tensor_reduce: unknown op 4");
  EXPECT_ERROR(tg_tensor_arg_reduce(TG_ARGMIN, NULL, NULL, 0, &bad), TG_INVALID_ARGUMENT,
               "tg_tensor_arg_reduce: x is NULL");
  EXPECT(bad == NULL);
  tg_tensor_destroy(rows);
  tg_tensor_destroy(flat);
  tg_tensor_destroy(x);
}

static void test_mlp_trains(void) {
  tg_tape* t;
  EXPECT_OK(tg_tape_create(0, &t));
  EXPECT_OK(tg_tape_set_current(t));
  const int64_t sizes[2] = {8, 1};
  tg_module* mlp;
  EXPECT_OK(tg_mlp_create(2, sizes, 2, TG_ACT_TANH, TG_F64, 7, &mlp));
  EXPECT_OK(tg_module_to(mlp, TG_CPU, 0)); /* already there: nothing moves */
  EXPECT_ERROR(tg_module_to(mlp, TG_CPU, 1), TG_INVALID_ARGUMENT,
               "tg_module_to: no device of type 0 and index 1");
  /* No build has a 100th GPU (the code depends on whether it has the backend). */
  EXPECT(tg_module_to(mlp, TG_CUDA, 99) != TG_OK);
  EXPECT(strstr(tg_last_error_message(), "parameter weight: to(cuda:99)") != NULL);
  EXPECT_ERROR(tg_module_to(NULL, TG_CPU, 0), TG_INVALID_ARGUMENT,
               "tg_module_to: m is NULL");
  tg_tensor* params[8];
  size_t n;
  EXPECT_OK(tg_module_parameters(mlp, params, 8, &n));
  EXPECT(n == 4);
  tg_optimizer* adam;
  EXPECT_OK(tg_adam_create(params, n, 0.05, 0.9, 0.999, 1e-8, 0.0, 0, &adam));
  const double xs[8] = {0, 0, 0, 1, 1, 0, 1, 1}, ys[4] = {0, 1, 1, 0};
  const int64_t xshape[2] = {4, 2}, yshape[2] = {4, 1};
  tg_tensor *x, *y;
  EXPECT_OK(tg_tensor_from_buffer(xs, TG_F64, xshape, 2, TG_CPU, &x));
  EXPECT_OK(tg_tensor_from_buffer(ys, TG_F64, yshape, 2, TG_CPU, &y));
  tg_mark* step;
  EXPECT_OK(tg_tape_mark(t, &step));
  double first = 0, last = 0;
  tg_tape_stats before, after;
  for (int i = 0; i < 200; ++i) {
    tg_tensor *out, *loss;
    EXPECT_OK(tg_module_forward(mlp, x, &out));
    EXPECT_OK(tg_tensor_binary(TG_MSE, out, y, &loss));
    EXPECT_OK(tg_optimizer_zero_grad(adam));
    EXPECT_OK(tg_tensor_backward(loss));
    EXPECT_OK(tg_optimizer_step(adam));
    double value;
    EXPECT_OK(tg_tensor_to_buffer(loss, &value, sizeof(value)));
    if (i == 0) first = value;
    last = value;
    tg_tensor_destroy(out);
    tg_tensor_destroy(loss);
    EXPECT_OK(tg_tape_rewind(t, step));
    if (i == 10) EXPECT_OK(tg_tape_stats_get(t, &before));
  }
  EXPECT_OK(tg_tape_stats_get(t, &after));
  EXPECT(after.arena_bytes_reserved == before.arena_bytes_reserved);
  EXPECT(last < 0.05 * first); /* XOR is learned */
  char repr[256];
  size_t length;
  EXPECT_OK(tg_module_format(mlp, repr, sizeof(repr), &length));
  EXPECT(strstr(repr, "Linear(in_features=2, out_features=8, bias=True)") != NULL);
  EXPECT_ERROR(tg_mlp_create(2, sizes, 2, TG_ACT_TANH, TG_I64, 7, &mlp),
               TG_INVALID_ARGUMENT, "f32 or f64");
  for (size_t i = 0; i < n; ++i) tg_tensor_destroy(params[i]);
  tg_tensor_destroy(x);
  tg_tensor_destroy(y);
  tg_mark_destroy(step);
  tg_optimizer_destroy(adam);
  tg_module_destroy(mlp);
  EXPECT_OK(tg_tape_set_current(NULL));
  tg_tape_destroy(t);
}

/* Every op enumerator of the header names the op the library dispatches it to
 * (capi/op_table.h), and each family is numbered without gaps. */
/* op(x) into v[3]: with tg_tensor_unary_with(p0, p1) if `with`, else with the
 * op's defaults. */
static void unary_values(tg_unary_op op, const tg_tensor* x, int with, double p0,
                         double p1, double v[3]) {
  tg_tensor* y;
  v[0] = v[1] = v[2] = NAN;
  EXPECT_OK(with ? tg_tensor_unary_with(op, x, p0, p1, &y) : tg_tensor_unary(op, x, &y));
  EXPECT_OK(tg_tensor_to_buffer(y, v, 3 * sizeof(double)));
  tg_tensor_destroy(y);
}

/* Unary ops with parameters: defaults through tg_tensor_unary, others through
 * tg_tensor_unary_with; parameters an op does not have are ignored. */
static void test_unary_parameters(void) {
  const double xs[3] = {-2, 0.5, 3};
  const int64_t shape[1] = {3};
  tg_tensor *x, *y;
  double v[3];
  EXPECT_OK(tg_tensor_from_buffer(xs, TG_F64, shape, 1, TG_CPU, &x));
  unary_values(TG_LEAKY_RELU, x, 0, 0, 0, v);
  EXPECT(v[0] == -2 * 0.01 && v[1] == 0.5 && v[2] == 3);
  unary_values(TG_LEAKY_RELU, x, 1, 0.5, 0, v);
  EXPECT(v[0] == -1 && v[2] == 3);
  /* softplus with beta 2, threshold 4: 3 * 2 > 4 passes x through */
  unary_values(TG_SOFTPLUS, x, 1, 2, 4, v);
  EXPECT(fabs(v[0] - log1p(exp(-4.0)) / 2) < 1e-15 && v[2] == 3);
  unary_values(TG_SQUARE, x, 1, 7, 7, v);
  EXPECT(v[0] == 4 && v[1] == 0.25 && v[2] == 9);
  EXPECT_ERROR(tg_tensor_unary_with((tg_unary_op)99, x, 0, 0, &y), TG_INVALID_ARGUMENT,
               "unknown op 99");
  EXPECT_ERROR(tg_tensor_unary_with(TG_ELU, NULL, 1, 0, &y), TG_INVALID_ARGUMENT, "NULL");
  tg_tensor_destroy(x);
}

/* The image ops: a 1x1 convolution by hand, pooling, batch norm's running
 * statistics through the caller's handles, and NULL arguments named. */
static void test_images(void) {
  const double xs[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* [1, 2, 2, 2] */
  const double ws[2] = {10, -1};                 /* [1, 2, 1, 1] */
  const int64_t x_shape[4] = {1, 2, 2, 2}, w_shape[4] = {1, 2, 1, 1}, c_shape[1] = {2};
  const int64_t one[2] = {1, 1}, zero[2] = {0, 0}, two[2] = {2, 2};
  tg_tensor *x, *w, *y, *m, *a, *mean, *var, *bn, *bnr, *flat, *bad = NULL;
  EXPECT_OK(tg_tensor_from_buffer(xs, TG_F64, x_shape, 4, TG_CPU, &x));
  EXPECT_OK(tg_tensor_from_buffer(ws, TG_F64, w_shape, 4, TG_CPU, &w));
  EXPECT_OK(tg_tensor_conv2d(x, w, NULL, one, zero, one, 1, &y));
  double v[4];
  EXPECT_OK(tg_tensor_to_buffer(y, v, sizeof(v)));
  EXPECT(v[0] == 10 - 5 && v[3] == 40 - 8);
  EXPECT_OK(tg_tensor_pool2d(0, x, two, zero, zero, one, 1, &m));
  EXPECT_OK(tg_tensor_to_buffer(m, v, 2 * sizeof(double)));
  EXPECT(v[0] == 4 && v[1] == 8);
  EXPECT_OK(tg_tensor_pool2d(1, x, two, zero, zero, one, 1, &a));
  EXPECT_OK(tg_tensor_to_buffer(a, v, 2 * sizeof(double)));
  EXPECT(v[0] == 2.5 && v[1] == 6.5);
  const double zeros[2] = {0, 0}, ones[2] = {1, 1};
  EXPECT_OK(tg_tensor_from_buffer(zeros, TG_F64, c_shape, 1, TG_CPU, &mean));
  EXPECT_OK(tg_tensor_from_buffer(ones, TG_F64, c_shape, 1, TG_CPU, &var));
  EXPECT_OK(tg_tensor_batch_norm(x, mean, var, NULL, NULL, 1, 0.5, 1e-5, &bn));
  EXPECT_OK(tg_tensor_to_buffer(mean, v, 2 * sizeof(double)));
  EXPECT(v[0] == 1.25 && v[1] == 3.25); /* half of each channel's mean, 2.5 and 6.5 */
  /* relu(batch_norm) without affine: the lower half of each channel becomes 0. */
  EXPECT_OK(tg_tensor_batch_norm_relu(x, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5, &bnr));
  double r[8];
  EXPECT_OK(tg_tensor_to_buffer(bnr, r, sizeof(r)));
  EXPECT(r[0] == 0 && r[1] == 0 && r[2] > 0.4 && r[3] > 1.3);
  EXPECT_OK(tg_tensor_flatten(x, 1, -1, &flat));
  size_t ndim = 0;
  EXPECT_OK(tg_tensor_ndim(flat, &ndim));
  EXPECT(ndim == 2);
  EXPECT_ERROR(tg_tensor_conv2d(x, w, NULL, NULL, zero, one, 1, &bad),
               TG_INVALID_ARGUMENT, "tg_tensor_conv2d: stride is NULL");
  EXPECT_ERROR(tg_tensor_conv2d(x, w, NULL, one, zero, one, 2, &bad), TG_INVALID_ARGUMENT,
               "conv2d: groups = 2 must divide the input's 2 channels and the weight's 1 "
               "filters");
  EXPECT_ERROR(tg_tensor_pool2d(1, x, two, zero, zero, two, 1, &bad), TG_INVALID_ARGUMENT,
               "average pooling has no dilation");
  EXPECT_ERROR(tg_tensor_batch_norm(NULL, NULL, NULL, NULL, NULL, 1, 0.1, 1e-5, &bad),
               TG_INVALID_ARGUMENT, "tg_tensor_batch_norm: x is NULL");
  EXPECT_ERROR(tg_tensor_batch_norm_relu(x, NULL, NULL, NULL, NULL, 0, 0.1, 1e-5, &bad),
               TG_INVALID_ARGUMENT, "evaluation needs the running mean and variance");
  EXPECT(bad == NULL);
  tg_tensor* all[] = {x, w, y, m, a, mean, var, bn, bnr, flat};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) tg_tensor_destroy(all[i]);
}

/* Checkpoints from C: named tensors and a module with its optimizer round trip;
 * bad arguments and a mismatched module are errors that load nothing. */
static void test_checkpoints(void) {
  const char* dir = getenv("TEST_TMPDIR");
  char path[512];
  snprintf(path, sizeof(path), "%s/capi_checkpoint.safetensors", dir ? dir : "/tmp");
  const double xs[3] = {1.5, -2.0, 0.25};
  const int64_t shape[1] = {3};
  tg_tensor* x;
  EXPECT_OK(tg_tensor_from_buffer(xs, TG_F64, shape, 1, TG_CPU, &x));
  const char* names[1] = {"x"};
  const tg_tensor* tensors[1] = {x};
  EXPECT_OK(tg_tensors_save(path, names, tensors, 1));
  tg_tensor_list* list;
  EXPECT_OK(tg_tensors_load(path, &list));
  size_t n = 0;
  EXPECT_OK(tg_tensor_list_size(list, &n));
  EXPECT(n == 1);
  const char* name;
  tg_tensor* y;
  EXPECT_OK(tg_tensor_list_get(list, 0, &name, &y));
  EXPECT(strcmp(name, "x") == 0);
  double ys[3];
  EXPECT_OK(tg_tensor_to_buffer(y, ys, sizeof(ys)));
  EXPECT(memcmp(xs, ys, sizeof(xs)) == 0);
  EXPECT(tg_tensor_list_get(list, 1, &name, &y) == TG_OUT_OF_RANGE);
  tg_tensor_destroy(y);
  tg_tensor_list_destroy(list);
  EXPECT(tg_tensors_save(NULL, names, tensors, 1) == TG_INVALID_ARGUMENT);
  EXPECT(tg_tensors_save(path, NULL, tensors, 1) == TG_INVALID_ARGUMENT);
  EXPECT(tg_tensors_load(path, NULL) == TG_INVALID_ARGUMENT);

  const int64_t sizes[2] = {4, 1}, other_sizes[2] = {5, 1};
  tg_module *mlp, *other;
  tg_tensor* params[4];
  EXPECT_OK(tg_mlp_create(2, sizes, 2, TG_ACT_TANH, TG_F64, 7, &mlp));
  EXPECT_OK(tg_module_parameters(mlp, params, 4, &n));
  tg_optimizer* adam;
  EXPECT_OK(tg_adam_create(params, n, 0.05, 0.9, 0.999, 1e-8, 0.0, 0, &adam));
  EXPECT_OK(tg_module_save(mlp, adam, path));
  EXPECT_OK(tg_module_load(mlp, adam, path));
  EXPECT(tg_module_load(mlp, NULL, path) == TG_INVALID_ARGUMENT); /* optimizer state */
  EXPECT_OK(tg_mlp_create(2, other_sizes, 2, TG_ACT_TANH, TG_F64, 7, &other));
  EXPECT(tg_module_load(other, NULL, path) == TG_INVALID_ARGUMENT);
  EXPECT(strstr(tg_last_error_message(), "0.weight") != NULL);
  EXPECT(tg_module_save(NULL, NULL, path) == TG_INVALID_ARGUMENT);
  EXPECT(tg_tensors_load("/nonexistent/x.safetensors", &list) == TG_NOT_FOUND);
  for (size_t i = 0; i < 4; i++) tg_tensor_destroy(params[i]);
  tg_optimizer_destroy(adam);
  tg_module_destroy(other);
  tg_module_destroy(mlp);
  tg_tensor_destroy(x);
}

/* The CPU thread count: set, read back, restored; fewer than one is an error. */
static void test_threads(void) {
  int before = 0, now = 0;
  EXPECT_OK(tg_num_threads(&before));
  EXPECT(before >= 1);
  EXPECT_OK(tg_set_num_threads(1));
  EXPECT_OK(tg_num_threads(&now));
  EXPECT(now == 1);
  EXPECT_ERROR(tg_set_num_threads(0), TG_INVALID_ARGUMENT, "at least one thread");
  EXPECT_ERROR(tg_num_threads(NULL), TG_INVALID_ARGUMENT, "tg_num_threads: out is NULL");
  EXPECT_OK(tg_set_num_threads(before));
}

int main(void) {
  test_checkpoints();
  test_tensors();
  test_views_and_joins();
  test_arg_reduce();
  test_mlp_trains();
  test_unary_parameters();
  test_images();
  test_threads();
  return finish("capi_tensor_test");
}
