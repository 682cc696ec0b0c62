/* The README's Python example, (a * b + b**3).relu(), through the installed C ABI; exits
 * non-zero unless the gradients are micrograd's. */
#include <math.h>
#include <stdio.h>

#include "capi/tapegrad.h"

int main(void) {
  tg_tape* tape;
  tg_value a, b, ab, b3, sum, g;
  double da, db;
  if (tg_tape_create(0, &tape) != TG_OK) return 1;
  tg_value_leaf(tape, -4.0, &a);
  tg_value_leaf(tape, 3.0, &b);
  tg_value_mul(tape, a, b, &ab);
  tg_value_pow(tape, b, 3.0, &b3);
  tg_value_add(tape, ab, b3, &sum);
  tg_value_relu(tape, sum, &g); /* (a * b + b**3).relu() */
  if (tg_value_backward(tape, g) != TG_OK) {
    fprintf(stderr, "backward: %s\n", tg_last_error_message());
    return 1;
  }
  tg_value_grad(tape, a, &da);
  tg_value_grad(tape, b, &db);
  tg_tape_destroy(tape);
  printf("C consumer (tapegrad %s): a.grad %g, b.grad %g\n", tg_version(), da, db);
  return fabs(da - 3.0) < 1e-12 && fabs(db - 23.0) < 1e-12 ? 0 : 2;
}
