// A finite-difference oracle for tensor gradients, in f64.
//
//   TensorGradientCheck check = CheckTensorGradient(
//       [](absl::Span<const Tensor> x) { return MatMul(x[0], x[1].T()); },
//       {Tensor::Randn({2, 3}, rng, DType::kF64), Tensor::Randn({4, 3}, rng,
//       DType::kF64)});
//   EXPECT_TRUE(check.status.ok()) << check.status;
//   EXPECT_LT(check.max_error, 1e-7);
//
// The function's output y (any shape) is reduced to the scalar L = sum(y * W) with
// a fixed random W, so every output element's gradient is exercised with a
// different weight. The inputs are copied into leaves that require grad; L is
// recorded on a fresh tape and differentiated; then every input element is moved
// by +-h and L re-evaluated (central differences). Errors are scaled by
// max(1, |numeric|).
//
// Thread safety: uses its own tapes; call from any thread.
#ifndef TAPEGRAD_TESTS_TENSOR_GRADIENT_CHECK_H_
#define TAPEGRAD_TESTS_TENSOR_GRADIENT_CHECK_H_

#include <functional>
#include <iosfwd>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/tensor.h"

namespace tapegrad::testing {

using TensorFunction = std::function<Tensor(absl::Span<const Tensor>)>;

struct TensorGradientCheck {
  absl::Status status;
  std::vector<std::vector<double>> analytic;  // per input, row-major
  std::vector<std::vector<double>> numeric;
  double max_error = 0;
};

TensorGradientCheck CheckTensorGradient(const TensorFunction& f,
                                        const std::vector<Tensor>& inputs,
                                        double step = 1e-6);

// Runs f on `inputs` converted to `dtype` and copied to `device`, then backward of
// sum(y * W); returns the output and the input gradients, all as doubles on the
// host (for f32-vs-f64 and device-vs-cpu checks).
struct TensorRun {
  absl::Status status;
  std::vector<double> output;
  std::vector<std::vector<double>> grads;
};
TensorRun RunWithGradients(const TensorFunction& f, const std::vector<Tensor>& inputs,
                           DType dtype, Device device = Device::Cpu());

std::ostream& operator<<(std::ostream& os, const TensorGradientCheck& check);

}  // namespace tapegrad::testing

#endif  // TAPEGRAD_TESTS_TENSOR_GRADIENT_CHECK_H_
