#include "tests/gradient_check.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "core/tape.h"

namespace tapegrad::testing {
namespace {

// f at x on a fresh tape; NaN if the tape reports an error.
double Evaluate(const ScalarFunction& f, absl::Span<const double> x) {
  Tape tape;
  std::vector<Value> leaves;
  leaves.reserve(x.size());
  for (double xi : x) leaves.push_back(tape.Leaf(xi));
  const double y = f(leaves).data();
  return tape.status().ok() ? y : std::nan("");
}

}  // namespace

GradientCheck CheckGradient(const ScalarFunction& f, absl::Span<const double> x,
                            double step) {
  GradientCheck check;
  {
    Tape tape;
    std::vector<Value> leaves;
    for (double xi : x) leaves.push_back(tape.Leaf(xi));
    const Value y = f(leaves);
    check.status = y.Backward();
    if (!check.status.ok()) return check;
    check.value = y.data();
    for (const Value& leaf : leaves) check.analytic.push_back(leaf.grad());
  }
  std::vector<double> probe(x.begin(), x.end());
  for (size_t i = 0; i < x.size(); ++i) {
    probe[i] = x[i] + step;
    const double up = Evaluate(f, probe);
    probe[i] = x[i] - step;
    const double down = Evaluate(f, probe);
    probe[i] = x[i];
    const double numeric = (up - down) / (2 * step);
    check.numeric.push_back(numeric);
    const double error =
        std::abs(check.analytic[i] - numeric) / std::max(1.0, std::abs(numeric));
    // NaN compares false: make it the largest error instead.
    check.max_error = std::isnan(error) ? INFINITY : std::max(check.max_error, error);
  }
  return check;
}

std::ostream& operator<<(std::ostream& os, const GradientCheck& check) {
  os << "f=" << check.value << " status=" << check.status
     << " max_error=" << check.max_error;
  for (size_t i = 0; i < check.analytic.size(); ++i) {
    os << "\n  x" << i << ": analytic " << check.analytic[i] << " numeric "
       << check.numeric[i];
  }
  return os;
}

}  // namespace tapegrad::testing
