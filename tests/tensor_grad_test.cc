// Every differentiable tensor op against central finite differences in f64, with
// broadcast operands, non-contiguous operands (transposed, sliced, expanded views)
// and composite graphs; then the same graphs in f32 against f64.
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tapegrad.h"
#include "tests/tensor_cases.h"
#include "tests/tensor_gradient_check.h"

namespace tapegrad {
namespace {

using testing::Case;
using testing::Cases;
using testing::CheckTensorGradient;
using testing::Inputs;
using testing::RunWithGradients;

class TensorGradTest : public ::testing::TestWithParam<Case> {};

TEST_P(TensorGradTest, MatchesFiniteDifferencesInF64) {
  const Case& c = GetParam();
  Random rng(7);
  testing::TensorGradientCheck check = CheckTensorGradient(c.f, c.inputs(rng));
  ASSERT_TRUE(check.status.ok()) << check.status;
  EXPECT_LT(check.max_error, c.tolerance) << check;
}

TEST_P(TensorGradTest, F32AgreesWithF64) {
  const Case& c = GetParam();
  Random rng(7);
  const Inputs inputs = c.inputs(rng);
  testing::TensorRun f64 = RunWithGradients(c.f, inputs, DType::kF64);
  testing::TensorRun f32 = RunWithGradients(c.f, inputs, DType::kF32);
  ASSERT_TRUE(f64.status.ok()) << f64.status;
  ASSERT_TRUE(f32.status.ok()) << f32.status;
  ASSERT_EQ(f32.output.size(), f64.output.size());
  for (size_t i = 0; i < f64.output.size(); ++i) {
    EXPECT_NEAR(f32.output[i], f64.output[i],
                1e-4 * std::max(1.0, std::fabs(f64.output[i])))
        << "output " << i;
  }
  ASSERT_EQ(f32.grads.size(), f64.grads.size());
  for (size_t k = 0; k < f64.grads.size(); ++k) {
    for (size_t i = 0; i < f64.grads[k].size(); ++i) {
      EXPECT_NEAR(f32.grads[k][i], f64.grads[k][i],
                  1e-4 * std::max(1.0, std::fabs(f64.grads[k][i])))
          << "input " << k << " element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, TensorGradTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace tapegrad
