// The main demo: micrograd's moons classifier, trained on the tape, first with
// scalar Values exactly as micrograd does, then as the same model with tensors.
//
//   bazel run -c opt //examples:moons
//
// Prints loss and accuracy per step and the time per step; both runs end at 100%
// accuracy, and the tensor run's losses match the scalar run's to rounding.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "examples/moons_trainer.h"
#include "nn/micrograd.h"

namespace {

using Clock = std::chrono::steady_clock;

// Runs micrograd's 100 SGD steps with lr = 1 - 0.9 k / 100; returns the losses,
// or an empty vector after printing an error.
template <class Trainer>
std::vector<double> Train(const char* label, Trainer& trainer, double* accuracy) {
  std::vector<double> losses;
  const Clock::time_point start = Clock::now();
  for (int k = 0; k < 100; ++k) {
    absl::StatusOr<tapegrad::examples::MoonsStep> step =
        trainer.Step(1.0 - 0.9 * k / 100);
    if (!step.ok()) {
      std::fprintf(stderr, "%s step %d failed: %s\n", label, k,
                   step.status().ToString().c_str());
      return {};
    }
    losses.push_back(step->loss);
    *accuracy = step->accuracy;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%s step %3d loss %.6f accuracy %5.1f%%  elapsed %.4f s\n", label, k,
                step->loss, 100 * step->accuracy, elapsed);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%s: 100 steps in %.4f s (%.1f us/step)\n", label, seconds,
              1e6 * seconds / 100);
  return losses;
}

}  // namespace

int main() {
  tapegrad::examples::MoonsTrainer scalar(/*points=*/100, /*seed=*/1337);
  std::printf("model: MLP(2, [16, 16, 1]), %zu parameters, %zu points\n",
              scalar.model().parameters().size(), scalar.data().x.size());
  double scalar_accuracy = 0, tensor_accuracy = 0;
  const std::vector<double> a = Train("scalar", scalar, &scalar_accuracy);
  std::printf("the scalar tape holds %zu values between steps\n\n", scalar.tape().size());

  tapegrad::examples::TensorMoonsTrainer tensors(/*points=*/100, /*seed=*/1337);
  const std::vector<double> b = Train("tensor", tensors, &tensor_accuracy);
  if (a.size() != 100 || b.size() != 100) return 1;
  double worst = 0;
  for (int k = 0; k < 100; ++k) worst = std::max(worst, std::fabs(a[k] - b[k]));
  std::printf("largest difference between the two runs' losses: %.3g\n", worst);
  return scalar_accuracy == 1.0 && tensor_accuracy == 1.0 ? 0 : 2;
}
