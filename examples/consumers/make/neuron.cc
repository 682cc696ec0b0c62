// micrograd's lecture neuron, o = tanh(x1 w1 + x2 w2 + b), on the installed C++
// library's scalar tape; exits non-zero unless the gradients match the formula.
#include <cmath>
#include <cstdio>

#include "tapegrad.h"

int main() {
  tapegrad::Tape tape;
  tapegrad::TapeScope scope(&tape);
  tapegrad::Value x1(2.0), x2(0.0), w1(-3.0), w2(1.0), b(6.8813735870195432);
  tapegrad::Value o = (x1 * w1 + x2 * w2 + b).tanh();
  if (absl::Status s = o.Backward(); !s.ok()) {
    std::fprintf(stderr, "backward: %s\n", s.ToString().c_str());
    return 1;
  }
  const double local = 1 - o.data() * o.data();  // d tanh
  std::printf("make consumer: o %.6f, w1.grad %.6f, x1.grad %.6f\n", o.data(), w1.grad(),
              x1.grad());
  const bool right = std::fabs(w1.grad() - local * 2.0) < 1e-12 &&
                     std::fabs(x1.grad() - local * -3.0) < 1e-12 &&
                     std::fabs(w2.grad()) < 1e-12;
  return right ? 0 : 2;
}
