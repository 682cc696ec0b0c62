// The seedable generator behind parameter init and synthetic data: the same seed
// gives the same numbers on every platform (std::*_distribution does not promise
// that).
//
//   tapegrad::Random rng(1337);
//   double w = rng.Uniform(-1.0, 1.0);
//   double n = rng.Normal();            // mean 0, standard deviation 1
//
// CounterUniform(key, i) is the stateless counterpart for kernels that draw one
// number per element on any device (dropout masks): element i's number depends on
// (key, i) only, so CPU and CUDA, one thread or many, draw the same mask.
//
// Thread safety: Random: none, one generator per thread. CounterUniform: pure.
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

// SplitMix64's finaliser over (key, counter): a statistically sound hash, cheap
// enough to run once per element.
inline constexpr uint64_t CounterHash(uint64_t key, uint64_t counter) {
  uint64_t z = key + (counter + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) from CounterHash, 53 bits.
inline constexpr double CounterUniform(uint64_t key, uint64_t counter) {
  return static_cast<double>(CounterHash(key, counter) >> 11) * 0x1.0p-53;
}

}  // namespace tapegrad

#endif  // TAPEGRAD_CORE_RANDOM_H_
