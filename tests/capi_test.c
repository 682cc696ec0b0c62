/* The C ABI exercised from C (this file is compiled as C99): micrograd's example,
 * every kind of bad input, the registry, DOT output, compaction and op names.
 * Tensors, modules and optimizers: capi_tensor_test.c. */
#include <dlpack/dlpack.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capi/tapegrad.h"
#include "tests/capi_expect.h"

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
  double partials[4];
  double ed;
  EXPECT_OK(tg_value_data(t, e, &ed));
  EXPECT_OK(tg_value_partials(t, f, partials, 4, &n)); /* f = e**2: 2e */
  EXPECT(n == 1 && partials[0] == 2.0 * ed);
  EXPECT_OK(tg_value_partials(t, e, partials, 1, &n)); /* e = c - d: 1, -1 */
  EXPECT(n == 2 && partials[0] == 1.0);
  EXPECT_OK(tg_value_partials(t, e, partials, 4, &n));
  EXPECT(n == 2 && partials[0] == 1.0 && partials[1] == -1.0);
  EXPECT(tg_value_partials(t, e, NULL, 4, &n) == TG_INVALID_ARGUMENT);

  /* Into Bazel's scratch directory (or /tmp when run by hand), then removed. */
  const char* dir = getenv("TEST_TMPDIR");
  char path[512];
  snprintf(path, sizeof(path), "%s/capi_test_graph.dot", dir != NULL ? dir : "/tmp");
  EXPECT_OK(tg_tape_write_dot(t, g, path));
  FILE* dot = fopen(path, "r");
  EXPECT(dot != NULL);
  if (dot != NULL) {
    char text[256] = {0};
    EXPECT(fread(text, 1, sizeof(text) - 1, dot) > 0);
    EXPECT(strncmp(text, "digraph tape {", 14) == 0);
    fclose(dot);
    remove(path);
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
  EXPECT((tg_cuda_device_count() > 0) == tg_cuda_available());

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
  test_registry();
  test_compact();
  test_hostile_input();
  test_op_names();
  return finish("capi_test");
}
