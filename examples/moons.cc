// The main demo: micrograd's moons classifier, trained on the tape.
//
//   bazel run -c opt //examples:moons
//
// Prints loss and accuracy per step and the time per step; ends at 100% accuracy.
#include <chrono>
#include <cstdio>

#include "examples/moons_trainer.h"
#include "nn/micrograd.h"

int main() {
  using Clock = std::chrono::steady_clock;
  tapegrad::examples::MoonsTrainer trainer(/*points=*/100, /*seed=*/1337);
  std::printf("model: MLP(2, [16, 16, 1]), %zu parameters, %zu points\n",
              trainer.model().parameters().size(), trainer.data().x.size());
  const Clock::time_point start = Clock::now();
  double accuracy = 0;
  for (int k = 0; k < 100; ++k) {
    const double learning_rate = 1.0 - 0.9 * k / 100;
    absl::StatusOr<tapegrad::examples::MoonsStep> step = trainer.Step(learning_rate);
    if (!step.ok()) {
      std::fprintf(stderr, "step %d failed: %s\n", k, step.status().ToString().c_str());
      return 1;
    }
    accuracy = step->accuracy;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("step %3d loss %.6f accuracy %5.1f%%  elapsed %.4f s\n", k, step->loss,
                100 * step->accuracy, elapsed);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("100 steps in %.4f s (%.1f us/step); tape holds %zu values between steps\n",
              seconds, 1e6 * seconds / 100, trainer.tape().size());
  return accuracy == 1.0 ? 0 : 2;
}
