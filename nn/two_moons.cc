#include "nn/two_moons.h"

#include <cmath>

#include "core/random.h"

namespace tapegrad::nn {

TwoMoons MakeMoons(int n, double noise, uint64_t seed) {
  Random rng(seed);
  TwoMoons data;
  const int outer = n / 2;
  const int inner = n - outer;
  // np.linspace(0, pi, k): k points including both ends.
  auto angle = [](int i, int k) { return k > 1 ? M_PI * i / (k - 1) : 0.0; };
  for (int i = 0; i < outer; ++i) {
    data.x.push_back({std::cos(angle(i, outer)), std::sin(angle(i, outer))});
    data.y.push_back(-1.0);
  }
  for (int i = 0; i < inner; ++i) {
    data.x.push_back({1.0 - std::cos(angle(i, inner)), 0.5 - std::sin(angle(i, inner))});
    data.y.push_back(1.0);
  }
  for (auto& point : data.x) {
    point[0] += noise * rng.Normal();
    point[1] += noise * rng.Normal();
  }
  return data;
}

}  // namespace tapegrad::nn
