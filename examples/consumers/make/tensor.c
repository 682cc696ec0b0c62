/* d/dx sum(x * x) = 2x on a heap tensor, through the installed C ABI; exits
 * non-zero unless the gradient is right. */
#include <math.h>
#include <stdio.h>

#include "capi/tapegrad.h"

int main(void) {
  const double xs[3] = {1.0, -2.0, 0.5};
  const int64_t shape[1] = {3};
  double grad[3] = {0, 0, 0};
  tg_tape* tape;
  tg_tensor *x, *xx, *sum, *g;
  if (tg_tape_create(0, &tape) != TG_OK || tg_tape_set_current(tape) != TG_OK) return 1;
  if (tg_tensor_from_buffer(xs, TG_F64, shape, 1, TG_CPU, &x) != TG_OK ||
      tg_tensor_set_requires_grad(x, 1) != TG_OK ||
      tg_tensor_binary(TG_MUL, x, x, &xx) != TG_OK ||
      tg_tensor_reduce(TG_SUM, xx, NULL, 0, 0, &sum) != TG_OK ||
      tg_tensor_backward(sum) != TG_OK || tg_tensor_grad(x, &g) != TG_OK ||
      tg_tensor_to_buffer(g, grad, sizeof(grad)) != TG_OK) {
    fprintf(stderr, "tensor C consumer: %s\n", tg_last_error_message());
    return 1;
  }
  printf("make C consumer: grad [%g, %g, %g]\n", grad[0], grad[1], grad[2]);
  int right = 1;
  for (int k = 0; k < 3; k++) right &= fabs(grad[k] - 2.0 * xs[k]) < 1e-12;
  tg_tensor_destroy(g);
  tg_tensor_destroy(sum);
  tg_tensor_destroy(xx);
  tg_tensor_destroy(x);
  tg_tape_destroy(tape);
  return right ? 0 : 2;
}
