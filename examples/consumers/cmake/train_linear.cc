// Fits y = 3x - 1 with one nn::Linear layer and SGD on the installed C++ library;
// exits non-zero unless the fit is close.
#include <cmath>
#include <cstdio>
#include <vector>

#include "nn/linear.h"
#include "nn/loss.h"
#include "nn/optimizer.h"
#include "tapegrad.h"

int main() {
  tapegrad::Tape tape;
  tapegrad::TapeScope scope(&tape);
  tapegrad::Random rng(7);
  tapegrad::nn::Linear fc(1, 1, rng, /*bias=*/true, tapegrad::DType::kF64);
  tapegrad::SgdOptions options;
  options.lr = 0.1;
  tapegrad::nn::Sgd sgd(fc.parameters(), options);
  std::vector<double> xs, ys;
  for (int k = 0; k < 16; ++k) {
    xs.push_back(k / 8.0 - 1.0);
    ys.push_back(3.0 * xs.back() - 1.0);
  }
  const tapegrad::Tensor x =
      tapegrad::Tensor::FromData(xs, {16, 1}, tapegrad::DType::kF64);
  const tapegrad::Tensor y =
      tapegrad::Tensor::FromData(ys, {16, 1}, tapegrad::DType::kF64);
  const tapegrad::TapeMark step = tape.Mark();
  double loss = 0;
  for (int k = 0; k < 300; ++k) {
    tapegrad::Tensor l = tapegrad::nn::MseLoss(fc(x), y);
    sgd.ZeroGrad();
    if (absl::Status s = l.Backward(); !s.ok()) {
      std::fprintf(stderr, "backward: %s\n", s.ToString().c_str());
      return 1;
    }
    loss = l.item();
    if (!sgd.Step().ok() || !tape.Rewind(step).ok()) return 1;
  }
  std::printf("cmake consumer: loss after 300 SGD steps %.3g\n", loss);
  return loss < 1e-6 ? 0 : 2;
}
