// The differentiable-op test cases: every tensor op with broadcast operands,
// non-contiguous operands (transposed, sliced, expanded views) and composite
// graphs. tensor_grad_test checks them against finite differences on the CPU;
// cuda/cuda_ops_test runs the same cases on a GPU against the CPU.
//
//   for (const Case& c : Cases()) {
//     Random rng(7);
//     TensorRun run = RunWithGradients(c.f, c.inputs(rng), DType::kF64);
//   }
//
// Inputs are f64 CPU tensors (i64 for labels); functions create no tensors of
// their own, so they run unchanged on any device their inputs are on.
//
// Thread safety: Cases() builds a fresh list per call.
#ifndef TAPEGRAD_TESTS_TENSOR_CASES_H_
#define TAPEGRAD_TESTS_TENSOR_CASES_H_

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tapegrad.h"

namespace tapegrad::testing {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(absl::Span<const Tensor>)>;

struct Case {
  std::string name;
  Fn f;
  std::function<Inputs(Random&)> inputs;
  double tolerance = 1e-6;  // of the finite-difference check
};

std::vector<Case> Cases();
void PrintTo(const Case& c, std::ostream* os);

}  // namespace tapegrad::testing

#endif  // TAPEGRAD_TESTS_TENSOR_CASES_H_
