// scikit-learn's make_moons, deterministic: two interleaving half circles, the
// data set of micrograd's demo.
//
//   tapegrad::nn::TwoMoons data = tapegrad::nn::MakeMoons(100, 0.1, /*seed=*/1337);
//   // data.x[i] = {x0, x1}, data.y[i] = -1 (upper moon) or +1 (lower moon)
//
// Thread safety: a pure function.
#ifndef TAPEGRAD_NN_TWO_MOONS_H_
#define TAPEGRAD_NN_TWO_MOONS_H_

#include <array>
#include <cstdint>
#include <vector>

namespace tapegrad::nn {

struct TwoMoons {
  std::vector<std::array<double, 2>> x;
  std::vector<double> y;  // -1 or +1, as micrograd's demo uses them
};

// n points (the first half on the upper moon), Gaussian noise of the given
// standard deviation.
TwoMoons MakeMoons(int n, double noise, uint64_t seed);

}  // namespace tapegrad::nn

#endif  // TAPEGRAD_NN_TWO_MOONS_H_
