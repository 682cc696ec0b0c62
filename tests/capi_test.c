/* The C ABI exercised from C (this file is compiled as C99): micrograd's example,
 * every kind of bad input, tensors, views and joins, DLPack, modules and optimizers, the
 * registry, DOT output and compaction. */
#include <dlpack/dlpack.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi/tapegrad.h"

static int failures = 0;

#define EXPECT(cond)                                                      \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                         \
    }                                                                     \
  } while (0)
#define EXPECT_OK(call)                                                   \
  do {                                                                    \
    tg_status s_ = (call);                                                \
    if (s_ != TG_OK) {                                                    \
      fprintf(stderr, "%s:%d: %s -> %s: %s\n", __FILE__, __LINE__, #call, \
              tg_status_name(s_), tg_last_error_message());               \
      ++failures;                                                         \
    }                                                                     \
  } while (0)
#define EXPECT_ERROR(call, code, text)                                               \
  do {                                                                               \
    tg_status s_ = (call);                                                           \
    if (s_ != (code) || strstr(tg_last_error_message(), (text)) == NULL) {           \
      fprintf(stderr, "%s:%d: %s -> %s \"%s\", expected %s with \"%s\"\n", __FILE__, \
              __LINE__, #call, tg_status_name(s_), tg_last_error_message(),          \
              tg_status_name(code), (text));                                         \
      ++failures;                                                                    \
    }                                                                                \
  } while (0)

/* micrograd's README example, composed as micrograd composes it. */
static void test_micrograd_example(void) {
  tg_tape* t;
  EXPECT_OK(tg_tape_create(0, &t));
  tg_value a, b, c, d, e, f, g, two, three, ten, tmp, tmp2;
  EXPECT_OK(tg_value_leaf(t, -4.0, &a));
  EXPECT_OK(tg_value_leaf(t, 2.0, &b));
  EXPECT_OK(tg_value_add(t, a, b, &c)); /* c = a + b */
  EXPECT_OK(tg_value_mul(t, a, b, &tmp));
  EXPECT_OK(tg_value_pow(t, b, 3.0, &tmp2));
  EXPECT_OK(tg_value_add(t, tmp, tmp2, &d)); /* d = a * b + b**3 */
  EXPECT_OK(tg_value_leaf(t, 1.0, &tmp));
  EXPECT_OK(tg_value_add(t, c, tmp, &tmp2));
  EXPECT_OK(tg_value_add(t, c, tmp2, &c)); /* c += c + 1 */
  EXPECT_OK(tg_value_leaf(t, 1.0, &tmp));
  EXPECT_OK(tg_value_add(t, tmp, c, &tmp2));
  EXPECT_OK(tg_value_neg(t, a, &tmp));
  EXPECT_OK(tg_value_add(t, tmp2, tmp, &tmp2));
  EXPECT_OK(tg_value_add(t, c, tmp2, &c)); /* c += 1 + c + (-a) */
  EXPECT_OK(tg_value_leaf(t, 2.0, &two));
  EXPECT_OK(tg_value_mul(t, d, two, &tmp));
  EXPECT_OK(tg_value_add(t, b, a, &tmp2));
  EXPECT_OK(tg_value_relu(t, tmp2, &tmp2));
  EXPECT_OK(tg_value_add(t, tmp, tmp2, &tmp));
  EXPECT_OK(tg_value_add(t, d, tmp, &d)); /* d += d * 2 + (b + a).relu() */
  EXPECT_OK(tg_value_leaf(t, 3.0, &three));
  EXPECT_OK(tg_value_mul(t, three, d, &tmp));
  EXPECT_OK(tg_value_sub(t, b, a, &tmp2));
  EXPECT_OK(tg_value_relu(t, tmp2, &tmp2));
  EXPECT_OK(tg_value_add(t, tmp, tmp2, &tmp));
  EXPECT_OK(tg_value_add(t, d, tmp, &d)); /* d += 3 * d + (b - a).relu() */
  EXPECT_OK(tg_value_sub(t, c, d, &e));
  EXPECT_OK(tg_value_pow(t, e, 2.0, &f));
  EXPECT_OK(tg_value_leaf(t, 2.0, &tmp));
  EXPECT_OK(tg_value_div(t, f, tmp, &g));
  EXPECT_OK(tg_value_leaf(t, 10.0, &ten));
  EXPECT_OK(tg_value_div(t, ten, f, &tmp));
  EXPECT_OK(tg_value_add(t, g, tmp, &g));
  EXPECT_OK(tg_value_backward(t, g));
  double gd, ag, bg;
  EXPECT_OK(tg_value_data(t, g, &gd));
  EXPECT_OK(tg_value_grad(t, a, &ag));
  EXPECT_OK(tg_value_grad(t, b, &bg));
  EXPECT(fabs(gd - 24.70408163265306) < 1e-12);
  EXPECT(fabs(ag - 138.83381924198252) < 1e-12);
  EXPECT(fabs(bg - 645.5772594752186) < 1e-12);

  size_t n = 0;
  tg_value inputs[4];
  EXPECT_OK(tg_value_inputs(t, e, inputs, 4, &n));
  EXPECT(n == 2);
  EXPECT_OK(tg_value_inputs(t, a, inputs, 4, &n));
  EXPECT(n == 0);

  EXPECT_OK(tg_tape_write_dot(t, g, "capi_test_graph.dot"));
  FILE* dot = fopen("capi_test_graph.dot", "r");
  EXPECT(dot != NULL);
  if (dot != NULL) {
    char text[256] = {0};
    EXPECT(fread(text, 1, sizeof(text) - 1, dot) > 0);
    EXPECT(strncmp(text, "digraph tape {", 14) == 0);
    fclose(dot);
  }
  tg_tape_destroy(t);
}

static void test_errors(void) {
  tg_tape* t;
  EXPECT_OK(tg_tape_create(0, &t));
  tg_value a, b, out;
  EXPECT_ERROR(tg_value_leaf(NULL, 1.0, &a), TG_INVALID_ARGUMENT, "tape is NULL");
  EXPECT_ERROR(tg_value_leaf(t, 1.0, NULL), TG_INVALID_ARGUMENT, "out is NULL");
  EXPECT_OK(tg_value_leaf(t, 1.0, &a));
  tg_mark* m;
  EXPECT_OK(tg_tape_mark(t, &m));
  EXPECT_OK(tg_value_leaf(t, 2.0, &b));
  EXPECT_OK(tg_tape_rewind(t, m));
  EXPECT_ERROR(tg_value_mul(t, a, b, &out), TG_FAILED_PRECONDITION, "b is a stale value");
  EXPECT_ERROR(tg_value_data(t, 12345, NULL), TG_INVALID_ARGUMENT, "out is NULL");
  double x;
  EXPECT_ERROR(tg_value_data(t, 12345, &x), TG_FAILED_PRECONDITION, "stale");
  EXPECT_OK(tg_value_mul(t, a, a, &out)); /* the tape still works after errors */
  EXPECT_ERROR(tg_no_grad_exit(), TG_FAILED_PRECONDITION, "no tg_no_grad_enter");
  EXPECT(strcmp(tg_status_name(TG_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED") == 0);
  EXPECT(strcmp(tg_status_name(99), "UNKNOWN_STATUS") == 0);
  EXPECT(tg_abi_version() == TG_ABI_VERSION);
  EXPECT(strlen(tg_version()) > 0);
  tg_mark_destroy(m);
  tg_tape_destroy(t);

  /* A byte limit is an error, never a crash. */
  EXPECT_OK(tg_tape_create(2 << 20, &t));
  tg_status s = TG_OK;
  EXPECT_OK(tg_value_leaf(t, 1.0, &a));
  for (int i = 0; i < 100000 && s == TG_OK; ++i) s = tg_value_mul(t, a, a, &out);
  EXPECT(s == TG_RESOURCE_EXHAUSTED);
  EXPECT(strstr(tg_last_error_message(), "byte limit") != NULL);
  tg_tape_destroy(t);

  /* destroy accepts NULL */
  tg_tape_destroy(NULL);
  tg_mark_destroy(NULL);
  tg_tensor_destroy(NULL);
  tg_module_destroy(NULL);
  tg_optimizer_destroy(NULL);
}

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

static void test_mlp_trains(void) {
  tg_tape* t;
  EXPECT_OK(tg_tape_create(0, &t));
  EXPECT_OK(tg_tape_set_current(t));
  const int64_t sizes[2] = {8, 1};
  tg_module* mlp;
  EXPECT_OK(tg_mlp_create(2, sizes, 2, TG_ACT_TANH, TG_F64, 7, &mlp));
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

static void test_registry(void) {
  size_t count = 0;
  EXPECT_OK(tg_registry_kernels(NULL, 0, &count));
  EXPECT(count > 40);
  tg_kernel_info* kernels = malloc(count * sizeof(tg_kernel_info));
  EXPECT_OK(tg_registry_kernels(kernels, count, &count));
  int has_matmul = 0;
  for (size_t i = 0; i < count; ++i) {
    if (strcmp(kernels[i].op, "matmul") == 0 && kernels[i].dtype == TG_F32 &&
        kernels[i].device == TG_CPU) {
      has_matmul = 1;
    }
  }
  EXPECT(has_matmul);
  free(kernels);
  EXPECT(tg_cuda_available() == 0 || tg_cuda_available() == 1);

  /* Explicit copies: to the same device is a new handle to the same tensor; a bad
   * device is an error; a GPU that is not there is an error, not a crash. */
  const double xs[] = {1, 2, 3};
  const int64_t shape[] = {3};
  tg_tensor *x, *same, *moved;
  EXPECT_OK(tg_tensor_from_buffer(xs, TG_F64, shape, 1, TG_CPU, &x));
  EXPECT_OK(tg_tensor_to(x, TG_CPU, 0, &same));
  double back[3] = {0};
  EXPECT_OK(tg_tensor_to_buffer(same, back, sizeof(back)));
  EXPECT(back[2] == 3);
  EXPECT(tg_tensor_to(x, (tg_device_type)7, 0, &moved) == TG_INVALID_ARGUMENT);
  EXPECT(tg_tensor_to(NULL, TG_CPU, 0, &moved) != TG_OK);
  if (!tg_cuda_available()) {
    EXPECT(tg_tensor_to(x, TG_CUDA, 0, &moved) != TG_OK);
    EXPECT(strstr(tg_last_error_message(), "cuda:0") != NULL);
  }
  tg_tensor_destroy(same);
  tg_tensor_destroy(x);
}

static void test_compact(void) {
  tg_tape* t;
  EXPECT_OK(tg_tape_create(0, &t));
  tg_value w, garbage, y;
  EXPECT_OK(tg_value_leaf(t, 3.0, &w));
  tg_mark *gap, *live;
  EXPECT_OK(tg_tape_mark(t, &gap));
  EXPECT_OK(tg_value_mul(t, w, w, &garbage));
  EXPECT_OK(tg_tape_mark(t, &live));
  uint64_t first;
  EXPECT_OK(tg_mark_first_value(live, &first));
  EXPECT_OK(tg_value_mul(t, w, w, &y));
  EXPECT(y == first);
  EXPECT_OK(tg_value_pow(t, y, 2.0, &y)); /* w ** 4, first + 1 */
  EXPECT_OK(tg_tape_compact(t, gap, 1, &live));
  EXPECT_OK(tg_mark_first_value(live, &first));
  double data;
  EXPECT_ERROR(tg_value_data(t, y, &data), TG_FAILED_PRECONDITION, "stale");
  EXPECT_OK(tg_value_data(t, first + 1, &data));
  EXPECT(data == 81.0);
  EXPECT_OK(tg_value_backward(t, first + 1));
  EXPECT_OK(tg_value_grad(t, w, &data));
  EXPECT(data == 4 * 27.0);
  if (data != 4 * 27.0) fprintf(stderr, "w.grad = %g\n", data);
  tg_tape_stats stats;
  EXPECT_OK(tg_tape_stats_get(t, &stats));
  EXPECT(stats.values == 3);
  tg_mark_destroy(gap);
  tg_mark_destroy(live);
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

/* Hostile sizes and operands: each of these once crashed, overflowed a buffer or
 * returned a tensor without storage. */
static void test_hostile_input(void) {
  const float four[4] = {1, 2, 3, 4};
  const int64_t wraps[2] = {((int64_t)1 << 62) + 1,
                            4}; /* 2^64 + 4 elements: wraps to 4 */
  const int64_t huge[2] = {(int64_t)1 << 32, (int64_t)1 << 32};
  const int64_t negative[1] = {-5};
  tg_tensor *t = NULL, *one = NULL, *big = NULL, *out = NULL;
  EXPECT_ERROR(tg_tensor_from_buffer(four, TG_F32, wraps, 2, TG_CPU, &t),
               TG_INVALID_ARGUMENT,
               "tg_tensor_from_buffer: shape [4611686018427387905, 4] has more than");
  EXPECT_ERROR(tg_tensor_from_buffer(NULL, TG_F32, huge, 2, TG_CPU, &t),
               TG_INVALID_ARGUMENT, "has more than");
  EXPECT_ERROR(tg_tensor_from_buffer(four, TG_F32, negative, 1, TG_CPU, &t),
               TG_INVALID_ARGUMENT, "negative size in shape [-5]");
  EXPECT(t == NULL);

  const int64_t one_by_one[2] = {1, 1}, to_2_31[2] = {(int64_t)1 << 31, (int64_t)1 << 31};
  EXPECT_OK(tg_tensor_from_buffer(four, TG_F32, one_by_one, 2, TG_CPU, &one));
  EXPECT_ERROR(tg_tensor_expand(one, to_2_31, 2, &big), TG_INVALID_ARGUMENT,
               "expand: shape [2147483648, 2147483648] has more than");
  EXPECT_ERROR(tg_tensor_expand(one, huge, 2, &big), TG_INVALID_ARGUMENT,
               "expand: shape");
  const int64_t keep[2] = {-1, 3}, bad_order[2] = {0, 99};
  EXPECT_OK(tg_tensor_expand(one, keep, 2, &big));
  int64_t shape[2] = {0, 0};
  EXPECT_OK(tg_tensor_shape(big, shape, 2));
  EXPECT(shape[0] == 1 && shape[1] == 3);
  EXPECT_ERROR(tg_tensor_permute(one, bad_order, 2, &out), TG_INVALID_ARGUMENT,
               "permute: [0, 99] is not a permutation");
  tg_tensor_destroy(big);

  tg_module* m = NULL;
  EXPECT_ERROR(
      tg_linear_create((int64_t)1 << 62, 5, 1, TG_F32, 0, &m), TG_INVALID_ARGUMENT,
      "tg_linear_create: parameter weight: full: shape [4611686018427387904, 5]");
  EXPECT(m == NULL);

  /* Operands recorded on two tapes cannot be joined: an error, recorded on a real
   * tape (it was recorded through an uninitialised pointer). */
  tg_tape *t1, *t2;
  tg_tensor *a, *b;
  EXPECT_OK(tg_tape_create(0, &t1));
  EXPECT_OK(tg_tape_create(0, &t2));
  EXPECT_OK(tg_tape_set_current(t1));
  EXPECT_OK(tg_tensor_affine(one, 2.0, 0.0, &a));
  EXPECT_OK(tg_tape_set_current(t2));
  EXPECT_OK(tg_tensor_affine(one, 3.0, 0.0, &b));
  const tg_tensor* pair[2] = {a, b};
  EXPECT_ERROR(tg_tensor_concatenate(pair, 2, 0, &out), TG_INVALID_ARGUMENT,
               "concatenate: operands are recorded on different tapes");
  EXPECT_ERROR(tg_tensor_stack(pair, 2, 0, &out), TG_INVALID_ARGUMENT, "different tapes");
  EXPECT_OK(tg_tape_set_current(NULL));
  tg_tensor_destroy(a);
  tg_tensor_destroy(b);
  tg_tensor_destroy(one);
  tg_tape_destroy(t1);
  tg_tape_destroy(t2);

  /* tg_tape_error holds the first failure until reset; later calls still work. */
  tg_tape* tape;
  tg_value v, w, r;
  EXPECT_OK(tg_tape_create(0, &tape));
  EXPECT_OK(tg_tape_error(tape));
  EXPECT_OK(tg_value_leaf(tape, 2.0, &v));
  EXPECT_ERROR(tg_value_mul(tape, v, 99999, &r), TG_FAILED_PRECONDITION, "b is a stale");
  EXPECT_ERROR(tg_value_add(tape, 88888, v, &r), TG_FAILED_PRECONDITION, "a is a stale");
  EXPECT_OK(tg_value_mul(tape, v, v, &w));
  EXPECT_OK(tg_value_backward(tape, w));
  EXPECT_ERROR(tg_tape_error(tape), TG_FAILED_PRECONDITION, "tg_value_mul: b is a stale");
  EXPECT_OK(tg_tape_reset(tape));
  EXPECT_OK(tg_tape_error(tape));
  tg_tape_destroy(tape);

  /* Handles that outlive their tape are stale, not dangling. */
  {
    const float two[2] = {1, 2};
    const int64_t n2[1] = {2};
    tg_tensor *heap, *on_tape, *sum;
    tg_mark* mark;
    uint64_t first;
    int64_t numel;
    EXPECT_OK(tg_tape_create(0, &tape));
    EXPECT_OK(tg_tape_set_current(tape));
    EXPECT_OK(tg_tensor_from_buffer(two, TG_F32, n2, 1, TG_CPU, &heap));
    EXPECT_OK(tg_tensor_set_requires_grad(heap, 1));
    EXPECT_OK(tg_tensor_affine(heap, 2.0, 1.0, &on_tape));
    EXPECT_OK(tg_tape_mark(tape, &mark));
    tg_tape_destroy(tape);
    EXPECT_ERROR(tg_tensor_numel(on_tape, &numel), TG_FAILED_PRECONDITION,
                 "the tape it was recorded on was destroyed");
    EXPECT_ERROR(tg_tensor_reduce(TG_SUM, on_tape, NULL, 0, 0, &sum),
                 TG_FAILED_PRECONDITION, "destroyed");
    EXPECT_ERROR(tg_mark_first_value(mark, &first), TG_FAILED_PRECONDITION,
                 "the mark's tape was destroyed");
    EXPECT_OK(tg_tensor_numel(heap, &numel)); /* heap tensors belong to no tape */
    EXPECT(numel == 2);
    tg_tensor_destroy(on_tape);
    tg_tensor_destroy(heap);
    tg_mark_destroy(mark);
  }

  /* A byte limit that could not hold one value is refused at creation. */
  tape = NULL;
  EXPECT_ERROR(tg_tape_create(1000, &tape), TG_INVALID_ARGUMENT,
               "byte limit 1000 is below");
  EXPECT(tape == NULL);
  EXPECT_OK(tg_tape_create(1 << 20, &tape));
  EXPECT_OK(tg_value_leaf(tape, 1.0, &v));
  tg_tape_destroy(tape);
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

static void test_op_names(void) {
#define EXPECT_NAME(family, op, name) \
  EXPECT(tg_op_name(family, op) != NULL && strcmp(tg_op_name(family, op), name) == 0)
  EXPECT_NAME(TG_OPS_UNARY, TG_NEG, "neg");
  EXPECT_NAME(TG_OPS_UNARY, TG_EXP, "exp");
  EXPECT_NAME(TG_OPS_UNARY, TG_LOG, "log");
  EXPECT_NAME(TG_OPS_UNARY, TG_TANH, "tanh");
  EXPECT_NAME(TG_OPS_UNARY, TG_RELU, "relu");
  EXPECT_NAME(TG_OPS_UNARY, TG_SIGMOID, "sigmoid");
  EXPECT_NAME(TG_OPS_UNARY, TG_GELU, "gelu");
  EXPECT_NAME(TG_OPS_UNARY, TG_SQRT, "sqrt");
  EXPECT_NAME(TG_OPS_UNARY, TG_ABS, "abs");
  EXPECT_NAME(TG_OPS_UNARY, TG_SOFTPLUS, "softplus");
  EXPECT_NAME(TG_OPS_UNARY, TG_SILU, "silu");
  EXPECT_NAME(TG_OPS_UNARY, TG_LEAKY_RELU, "leaky_relu");
  EXPECT_NAME(TG_OPS_UNARY, TG_ELU, "elu");
  EXPECT_NAME(TG_OPS_UNARY, TG_LOG1P, "log1p");
  EXPECT_NAME(TG_OPS_UNARY, TG_EXPM1, "expm1");
  EXPECT_NAME(TG_OPS_UNARY, TG_SIN, "sin");
  EXPECT_NAME(TG_OPS_UNARY, TG_COS, "cos");
  EXPECT_NAME(TG_OPS_UNARY, TG_SQUARE, "square");
  EXPECT_NAME(TG_OPS_UNARY, TG_RSQRT, "rsqrt");
  EXPECT_NAME(TG_OPS_UNARY, TG_SIGN, "sign");
  EXPECT_NAME(TG_OPS_UNARY, TG_ERF, "erf");
  EXPECT(tg_op_name(TG_OPS_UNARY, TG_ERF + 1) == NULL);
  EXPECT_NAME(TG_OPS_BINARY, TG_ADD, "add");
  EXPECT_NAME(TG_OPS_BINARY, TG_SUB, "sub");
  EXPECT_NAME(TG_OPS_BINARY, TG_MUL, "mul");
  EXPECT_NAME(TG_OPS_BINARY, TG_DIV, "div");
  EXPECT_NAME(TG_OPS_BINARY, TG_MAXIMUM, "maximum");
  EXPECT_NAME(TG_OPS_BINARY, TG_MINIMUM, "minimum");
  EXPECT_NAME(TG_OPS_BINARY, TG_MATMUL, "matmul");
  EXPECT_NAME(TG_OPS_BINARY, TG_MSE, "mse");
  EXPECT_NAME(TG_OPS_BINARY, TG_CROSS_ENTROPY, "cross_entropy");
  EXPECT_NAME(TG_OPS_BINARY, TG_BCE_WITH_LOGITS, "bce_with_logits");
  EXPECT_NAME(TG_OPS_BINARY, TG_GREATER, "greater");
  EXPECT_NAME(TG_OPS_BINARY, TG_GREATER_EQUAL, "greater_equal");
  EXPECT_NAME(TG_OPS_BINARY, TG_LESS, "less");
  EXPECT_NAME(TG_OPS_BINARY, TG_LESS_EQUAL, "less_equal");
  EXPECT_NAME(TG_OPS_BINARY, TG_EQUAL, "equal");
  EXPECT_NAME(TG_OPS_BINARY, TG_NOT_EQUAL, "not_equal");
  EXPECT(tg_op_name(TG_OPS_BINARY, TG_NOT_EQUAL + 1) == NULL);
  EXPECT_NAME(TG_OPS_REDUCE, TG_SUM, "sum");
  EXPECT_NAME(TG_OPS_REDUCE, TG_MEAN, "mean");
  EXPECT_NAME(TG_OPS_REDUCE, TG_MAX, "max");
  EXPECT_NAME(TG_OPS_REDUCE, TG_MIN, "min");
  EXPECT(tg_op_name(TG_OPS_REDUCE, TG_MIN + 1) == NULL);
  EXPECT_NAME(TG_OPS_ARG_REDUCE, TG_ARGMAX, "argmax");
  EXPECT_NAME(TG_OPS_ARG_REDUCE, TG_ARGMIN, "argmin");
  EXPECT(tg_op_name(TG_OPS_ARG_REDUCE, TG_ARGMIN + 1) == NULL);
  EXPECT(tg_op_name(TG_OPS_UNARY, -1) == NULL);
  EXPECT(tg_op_name((tg_op_family)99, 0) == NULL);
#undef EXPECT_NAME
}

int main(void) {
  test_micrograd_example();
  test_errors();
  test_tensors();
  test_views_and_joins();
  test_arg_reduce();
  test_mlp_trains();
  test_registry();
  test_compact();
  test_hostile_input();
  test_op_names();
  test_unary_parameters();
  if (failures != 0) {
    fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  printf("capi_test: all passed\n");
  return 0;
}
