// A finite-difference oracle for tape gradients, in f64.
//
//   GradientCheck check = CheckGradient(
//       [](absl::Span<const Value> x) { return x[0] * x[1].tanh(); }, {0.3, -1.2});
//   EXPECT_TRUE(check.status.ok()) << check.status;
//   EXPECT_LT(check.max_error, 1e-7) << check;   // relative to max(1, |grad|)
//
// The function is evaluated once on a tape and differentiated there, then
// re-evaluated at x +- h along every coordinate (central differences) on a fresh
// tape. The reported error of each coordinate is |analytic - numeric| / max(1,
// |numeric|), so the tolerance means the same for small and large gradients.
//
// Thread safety: uses its own tapes; call from any thread.
#ifndef TAPEGRAD_TESTS_GRADIENT_CHECK_H_
#define TAPEGRAD_TESTS_GRADIENT_CHECK_H_

#include <functional>
#include <iosfwd>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/value.h"

namespace tapegrad::testing {

using ScalarFunction = std::function<Value(absl::Span<const Value>)>;

struct GradientCheck {
  absl::Status status;           // an error from the tape, if any
  double value = 0;              // f(x)
  std::vector<double> analytic;  // gradients from Backward
  std::vector<double> numeric;   // central differences
  double max_error = 0;          // largest scaled difference (see above)
};

GradientCheck CheckGradient(const ScalarFunction& f, absl::Span<const double> x,
                            double step = 1e-5);

std::ostream& operator<<(std::ostream& os, const GradientCheck& check);

}  // namespace tapegrad::testing

#endif  // TAPEGRAD_TESTS_GRADIENT_CHECK_H_
