// micrograd's moons classifier, built by another Bazel workspace against
// @tapegrad: 100 SGD steps of MLP(2, [16, 16, 1]) with micrograd's max-margin loss
// (no regularisation here); exits non-zero unless it reaches 100% accuracy.
#include <cstdio>
#include <vector>

#include "nn/micrograd.h"
#include "nn/two_moons.h"
#include "tapegrad.h"

int main() {
  tapegrad::Tape tape;
  tapegrad::TapeScope scope(&tape);
  const tapegrad::nn::TwoMoons data = tapegrad::nn::MakeMoons(100, 0.1, /*seed=*/1337);
  tapegrad::nn::micrograd::MLP model(tape, 2, {16, 16, 1}, /*seed=*/1337);
  const tapegrad::TapeMark step = tape.Mark();
  double accuracy = 0;
  for (int k = 0; k < 100; ++k) {
    tapegrad::Value loss = tape.Leaf(0.0);
    int right = 0;
    for (size_t i = 0; i < data.x.size(); ++i) {
      const tapegrad::Value x[2] = {tape.Leaf(data.x[i][0]), tape.Leaf(data.x[i][1])};
      const tapegrad::Value score = model(x);
      loss = loss + (1.0 - data.y[i] * score).relu();
      right += (data.y[i] > 0) == (score.data() > 0);
    }
    loss = loss * (1.0 / data.x.size());
    for (const tapegrad::Value& p : model.parameters()) p.set_grad(0);
    if (absl::Status s = loss.Backward(); !s.ok()) {
      std::fprintf(stderr, "backward: %s\n", s.ToString().c_str());
      return 1;
    }
    const double lr = 1.0 - 0.9 * k / 100;
    for (const tapegrad::Value& p : model.parameters())
      p.set_data(p.data() - lr * p.grad());
    accuracy = static_cast<double>(right) / data.x.size();
    if (k % 25 == 0 || k == 99) {
      std::printf("bazel consumer: step %d loss %.4f accuracy %.0f%%\n", k, loss.data(),
                  100 * accuracy);
    }
    if (!tape.Rewind(step).ok()) return 1;
  }
  return accuracy == 1.0 ? 0 : 2;
}
