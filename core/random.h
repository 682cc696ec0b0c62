// The seedable generator behind parameter init and synthetic data: the same seed
// gives the same numbers on every platform (std::*_distribution does not promise
// that).
//
//   tapegrad::Random rng(1337);
//   double w = rng.Uniform(-1.0, 1.0);
//   double n = rng.Normal();            // mean 0, standard deviation 1
//
// Thread safety: none; one generator per thread.
#ifndef TAPEGRAD_CORE_RANDOM_H_
#define TAPEGRAD_CORE_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <random>

namespace tapegrad {

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // Uniform in [low, high), 53 random bits.
  double Uniform(double low, double high) {
    return low + (high - low) * static_cast<double>(engine_() >> 11) * 0x1.0p-53;
  }

  // Standard normal by Box-Muller.
  double Normal() {
    const double u1 = 1.0 - Uniform(0.0, 1.0);  // (0, 1]: log is finite
    const double u2 = Uniform(0.0, 1.0);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_RANDOM_H_
