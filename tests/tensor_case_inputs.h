// Inputs for the op cases (tensor_cases*.cc): f64 CPU tensors drawn from a seeded
// Random, shaped so that finite differences stay away from an op's kinks.
//
// Thread safety: none needed (test set-up).
#ifndef TAPEGRAD_TESTS_TENSOR_CASE_INPUTS_H_
#define TAPEGRAD_TESTS_TENSOR_CASE_INPUTS_H_

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

#include "tapegrad.h"

namespace tapegrad::testing::inputs {

inline Tensor N(Random& rng, std::initializer_list<int64_t> shape) {
  return Tensor::Randn(shape, rng, DType::kF64);
}
// Values bounded away from 0 (log, sqrt, abs, relu kinks), in [0.5, 2).
inline Tensor P(Random& rng, std::initializer_list<int64_t> shape) {
  return Tensor::Rand(shape, rng, DType::kF64, 0.5, 2.0);
}
// Distinct values spaced 0.1 apart in random order (no ties for max/min).
inline Tensor Distinct(Random& rng, std::initializer_list<int64_t> shape) {
  Tensor t = Tensor::Zeros(shape, DType::kF64);
  std::vector<double> v(t.numel());
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.1 * double(i) - 1.0;
  for (size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1], v[static_cast<size_t>(rng.Uniform(0, double(i)))]);
  }
  (void)t.CopyFrom(v);
  return t;
}
inline Tensor Labels(std::initializer_list<int64_t> labels) {
  std::vector<int64_t> v(labels);
  return Tensor::FromData(absl::Span<const int64_t>(v), {int64_t(v.size())});
}
// A random sign pattern without zeros, so relu/abs are differentiable everywhere.
inline Tensor Signed(Random& rng, std::initializer_list<int64_t> shape) {
  std::vector<double> v = P(rng, shape).ToVector();
  for (double& x : v) x *= rng.Uniform(0, 1) < 0.5 ? -1 : 1;
  return Tensor::FromData(v, shape, DType::kF64);
}

}  // namespace tapegrad::testing::inputs

#endif  // TAPEGRAD_TESTS_TENSOR_CASE_INPUTS_H_
