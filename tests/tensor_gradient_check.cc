#include "tests/tensor_gradient_check.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "absl/strings/str_format.h"
#include "core/grad_mode.h"
#include "core/random.h"
#include "core/tape.h"
#include "core/tensor_ops.h"

namespace tapegrad::testing {
namespace {

Tensor Convert(const Tensor& t, DType dtype) {
  if (t.dtype() == DType::kI64) return t;  // class labels and indices stay as they are
  return Tensor::FromData(t.ToVector(), t.shape(), dtype);
}

// L = sum(f(x) * W), W fixed by the output's shape.
Tensor WeightedLoss(const TensorFunction& f, absl::Span<const Tensor> x, Tensor* output) {
  Tensor y = f(x);
  if (!y.ok()) return y;
  if (output != nullptr) *output = y;
  Random rng(12345);
  Tensor w = Tensor::Rand(y.shape(), rng, y.dtype(), 0.5, 1.5).To(y.device());
  return Sum(y * w);
}

}  // namespace

TensorRun RunWithGradients(const TensorFunction& f, const std::vector<Tensor>& inputs,
                           DType dtype, Device device) {
  TensorRun run;
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    leaves.push_back(Convert(t, dtype).To(device));
    if (leaves.back().dtype() != DType::kI64) leaves.back().RequiresGrad();
  }
  Tape tape;
  TapeScope scope(&tape);
  Tensor y;
  Tensor loss = WeightedLoss(f, leaves, &y);
  run.status = loss.status();
  if (!run.status.ok()) return run;
  run.output = y.ToVector();
  run.status = loss.Backward();
  for (const Tensor& leaf : leaves) {
    run.grads.push_back(leaf.grad().ok() ? leaf.grad().ToVector()
                                         : std::vector<double>(leaf.numel(), 0.0));
  }
  return run;
}

TensorGradientCheck CheckTensorGradient(const TensorFunction& f,
                                        const std::vector<Tensor>& inputs, double step) {
  TensorGradientCheck check;
  TensorRun run = RunWithGradients(f, inputs, DType::kF64);
  check.status = run.status;
  if (!check.status.ok()) return check;
  check.analytic = run.grads;

  std::vector<Tensor> x;
  for (const Tensor& t : inputs)
    x.push_back(Convert(t, t.dtype() == DType::kI64 ? DType::kI64 : DType::kF64));
  Tape tape;
  TapeScope scope(&tape);
  NoGradScope no_grad;
  const TapeMark mark = tape.Mark();
  auto loss_at = [&]() {
    const double value = WeightedLoss(f, x, nullptr).item();
    (void)tape.Rewind(mark);
    return value;
  };
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<double> values = x[i].ToVector();
    std::vector<double> numeric(values.size(), 0.0);
    if (x[i].dtype() != DType::kI64) {
      for (size_t j = 0; j < values.size(); ++j) {
        const double saved = values[j];
        values[j] = saved + step;
        (void)x[i].CopyFrom(values);
        const double plus = loss_at();
        values[j] = saved - step;
        (void)x[i].CopyFrom(values);
        const double minus = loss_at();
        values[j] = saved;
        (void)x[i].CopyFrom(values);
        numeric[j] = (plus - minus) / (2 * step);
        const double error = std::fabs(check.analytic[i][j] - numeric[j]) /
                             std::max(1.0, std::fabs(numeric[j]));
        check.max_error = std::max(check.max_error, std::isnan(error) ? INFINITY : error);
      }
    }
    check.numeric.push_back(numeric);
  }
  return check;
}

std::ostream& operator<<(std::ostream& os, const TensorGradientCheck& check) {
  os << "max_error=" << check.max_error << " status=" << check.status;
  for (size_t i = 0; i < check.analytic.size(); ++i) {
    os << "\n input " << i << ":";
    for (size_t j = 0; j < check.analytic[i].size() && j < 12; ++j) {
      os << absl::StrFormat(" (%.6g vs %.6g)", check.analytic[i][j], check.numeric[i][j]);
    }
  }
  return os;
}

}  // namespace tapegrad::testing
