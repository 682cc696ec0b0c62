// Every scalar op against central finite differences in f64, as lvalue operands
// (one record per op) and as temporaries (fused records), alone and in graphs
// that reuse values many times.
#include "core/scalar_ops.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/grad_mode.h"
#include "core/tape.h"
#include "core/value.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gradient_check.h"

namespace tapegrad {
namespace {

using testing::CheckGradient;
using testing::ScalarFunction;

constexpr double kTolerance = 1e-7;

struct OpCase {
  std::string name;
  ScalarFunction f;
  std::vector<double> x;
  double expected_value;
};

class ScalarOpGradient : public ::testing::TestWithParam<OpCase> {};

TEST_P(ScalarOpGradient, MatchesFiniteDifferences) {
  const OpCase& c = GetParam();
  const testing::GradientCheck check = CheckGradient(c.f, c.x);
  ASSERT_TRUE(check.status.ok()) << check.status;
  EXPECT_NEAR(check.value, c.expected_value,
              1e-12 * std::max(1.0, std::abs(c.expected_value)));
  EXPECT_LT(check.max_error, kTolerance) << check;
}

using V = absl::Span<const Value>;

INSTANTIATE_TEST_SUITE_P(
    Ops, ScalarOpGradient,
    ::testing::ValuesIn(std::vector<OpCase>{
        {"add", [](V x) { return x[0] + x[1]; }, {1.5, -2.25}, -0.75},
        {"add_number_left", [](V x) { return 2.5 + x[0]; }, {1.5}, 4.0},
        {"add_number_right", [](V x) { return x[0] + 2.5; }, {1.5}, 4.0},
        {"sub", [](V x) { return x[0] - x[1]; }, {1.5, -2.25}, 3.75},
        {"sub_number_left", [](V x) { return 1.0 - x[0]; }, {1.5}, -0.5},
        {"sub_number_right", [](V x) { return x[0] - 1.0; }, {1.5}, 0.5},
        {"mul", [](V x) { return x[0] * x[1]; }, {1.5, -2.25}, -3.375},
        {"mul_self", [](V x) { return x[0] * x[0]; }, {1.5}, 2.25},
        {"mul_number", [](V x) { return 3 * x[0] * 2; }, {1.5}, 9.0},
        {"div", [](V x) { return x[0] / x[1]; }, {1.5, -2.0}, -0.75},
        {"div_number_left", [](V x) { return 3.0 / x[0]; }, {1.5}, 2.0},
        {"div_number_right", [](V x) { return x[0] / 4.0; }, {1.5}, 0.375},
        {"neg", [](V x) { return -x[0]; }, {1.5}, -1.5},
        {"pow_int", [](V x) { return x[0].pow(3); }, {1.5}, 3.375},
        {"pow_frac", [](V x) { return pow(x[0], 0.5); }, {2.25}, 1.5},
        {"pow_neg", [](V x) { return x[0].pow(-2); }, {2.0}, 0.25},
        {"relu_pos", [](V x) { return x[0].relu(); }, {1.5}, 1.5},
        {"relu_neg", [](V x) { return x[0].relu(); }, {-1.5}, 0.0},
        {"tanh", [](V x) { return x[0].tanh(); }, {0.7}, std::tanh(0.7)},
        {"exp", [](V x) { return x[0].exp(); }, {0.7}, std::exp(0.7)},
        {"log", [](V x) { return x[0].log(); }, {0.7}, std::log(0.7)},
        {"sigmoid_pos", [](V x) { return x[0].sigmoid(); }, {0.7}, 1 / (1 + std::exp(-0.7))},
        {"sigmoid_neg", [](V x) { return sigmoid(x[0]); }, {-3.0}, 1 / (1 + std::exp(3.0))},
        // Temporaries: every op below folds into the previous record.
        {"fused_affine_tanh", [](V x) { return (x[0] * x[1] + x[2]).tanh(); },
         {0.3, -1.2, 0.5}, std::tanh(0.3 * -1.2 + 0.5)},
        {"fused_chain_of_temporaries",
         [](V x) { return ((x[0] * 2 - x[1]) / 3).exp().log().pow(2) * x[1]; },
         {0.4, 1.1}, std::pow((0.8 - 1.1) / 3, 2) * 1.1},
        {"fused_self_operand",  // the temporary is also the other operand
         [](V x) {
           Value t = x[0] * 3;
           return std::move(t) * t;
         },
         {0.5}, 2.25},
        {"fused_with_previous_slot",  // other operand is the slot before the temporary
         [](V x) {
           Value a = x[0] + 1;
           return (a * x[1]) + a;
         },
         {0.5, 2.0}, 4.5},
        {"sum", [](V x) { return Sum(x); }, {0.5, 2.0, -1.0}, 1.5},
        {"sum_with_repeats",
         [](V x) {
           Value t = x[0] * x[1];
           return Sum({t, x[0], t, t});
         },
         {0.5, 2.0}, 3.5},
        {"dot", [](V x) { return Dot(x.subspan(0, 2), x.subspan(2, 2)); }, {1, 2, 3, 4}, 11},
        {"dot_neuron",
         [](V x) { return relu(Dot(x.subspan(0, 2), x.subspan(2, 2)) + x[4]); },
         {1, -2, 3, 0.5, 0.25}, 2.25},
        {"dot_previous_slot_inside_and_twice",  // t is the chain input, met 3 times
         [](V x) {
           const Value t = x[0] * x[1];
           const std::vector<Value> a = {x[2], t, t}, b = {t, x[3], x[0]};
           return Dot(a, b);
         },
         {0.5, 2.0, -1.5, 3.0}, -1.5 + 3.0 + 0.5},
        // One record of every shape the sweep has a case for (Note [Sweep cases]),
        // with and without the chain input, and the general loop's.
        {"every_record_shape",
         [](V x) {
           const Value n1 = x[0].tanh();                 // 1 input, x[4] precedes it
           const Value n2 = x[1] * x[2];                 // 2 inputs, no chain
           const Value n3 = x[0] * x[3] + x[1];          // 3 inputs, no chain
           const Value c1 = n3.exp();                    // chain alone
           const Value c2 = x[2] * c1;                   // chain + 1
           const Value c3 = c2 * x[3] + x[0];            // chain + 2
           const Value leaf = x[0].tape()->Leaf(0.25);   // a leaf among ops
           const Value c4 = leaf * n1 + n2 * x[4] + c3;  // chain + 3: the general loop
           return Sum({c4, n1, n2, c3, x[4]});
         },
         {0.3, -0.7, 1.1, 0.4, 0.9},
         [] {
           const double n1 = std::tanh(0.3), n2 = -0.7 * 1.1, n3 = 0.3 * 0.4 - 0.7;
           const double c3 = 1.1 * std::exp(n3) * 0.4 + 0.3;
           const double c4 = 0.25 * n1 + n2 * 0.9 + c3;
           return c4 + n1 + n2 + c3 + 0.9;
         }()},
        // Inputs whose partial is +1 by rule are stored as indices alone (Note
        // [Record layout]); each shape they make, and each way out of it.
        {"every_unit_shape",
         [](V x) {
           const Value u1 = x[1] + 2.0;                         // unit alone
           const Value u2 = x[0] + x[2];                        // full + unit
           const Value u3 = u2 + x[3];                          // unit + chain
           const Value u4 = (x[0] * x[3] + x[1]).relu();        // in full, dy 0
           const Value u5 = (x[2] * x[4] + x[1]).relu();        // in full, dy 1
           const Value u6 = x[0] * x[3] + x[1] + x[2];          // unit, then another
           const Value u7 = (x[0] + x[2]) * x[3];               // rewritten by a fold
           const Value u8 = (x[1] * x[4] + x[0]).tanh() + x[3];  // in full, then unit
           return Sum({u1, u2, u3, u4, u5, u6, u7, u8, x[2]});  // 9 units: general loop
         },
         {0.3, -0.7, 1.1, 0.4, 0.9},
         [] {
           const double u2 = 0.3 + 1.1, u3 = u2 + 0.4;
           const double u5 = 1.1 * 0.9 - 0.7;  // > 0; u4 = relu(-0.58) = 0
           const double u6 = 0.3 * 0.4 - 0.7 + 1.1, u7 = (0.3 + 1.1) * 0.4;
           const double u8 = std::tanh(-0.7 * 0.9 + 0.3) + 0.4;
           return (-0.7 + 2.0) + u2 + u3 + u5 + u6 + u7 + u8 + 1.1;
         }()},
        // Plain scalar code: each term's product gains the running sum as its
        // chain input, then a tanh scales the last record in place.
        {"running_sum_of_products",
         [](V x) {
           Value act = x[0];
           for (int i = 1; i + 1 < 7; i += 2) act = act + x[i] * x[i + 1];
           return act.tanh();
         },
         {0.3, -0.7, 1.1, 0.4, 0.9, -0.2, 0.5},
         std::tanh(0.3 - 0.7 * 1.1 + 0.4 * 0.9 - 0.2 * 0.5)},
        // Records longer than kMaxFusedArgs (32): appended to in place, and a new
        // record for the tanh, which would otherwise scale all of them.
        {"long_temporary_sum",
         [](V x) {
           std::vector<Value> a, b;
           for (int i = 0; i < 20; ++i) {
             a.push_back(x[i % 3]);
             b.push_back(x[3 + i % 2]);
           }
           Value s = Dot(a, b) + x[4];
           s = std::move(s) + x[0];
           return (std::move(s) * 0.5).tanh();
         },
         {0.3, -0.7, 0.2, 0.4, -0.1},
         [] {
           const double x[] = {0.3, -0.7, 0.2, 0.4, -0.1};
           double s = 0;
           for (int i = 0; i < 20; ++i) s += x[i % 3] * x[3 + i % 2];
           return std::tanh(0.5 * (s + x[4] + x[0]));
         }()},
    }),
    [](const ::testing::TestParamInfo<OpCase>& info) { return info.param.name; });

// Values reused many times in one graph: every path must add up.
TEST(ScalarOpsComposite, ReusedValuesAccumulate) {
  const ScalarFunction f = [](V x) {
    Value acc = x[0];
    for (int i = 0; i < 50; ++i) {
      acc = acc * x[1] + x[0].tanh() * acc - (acc / (x[2] * x[2] + 1.0)).sigmoid();
      acc += x[1] * 0.01;
    }
    return acc * acc + x[0] * x[1] * x[2];
  };
  const testing::GradientCheck check = CheckGradient(f, {0.3, 0.9, -0.4});
  ASSERT_TRUE(check.status.ok()) << check.status;
  EXPECT_LT(check.max_error, kTolerance) << check;
}

TEST(ScalarOpsComposite, LongChainLikeTheBenchmark) {
  const ScalarFunction f = [](V x) {
    Value acc = x[0];
    for (int i = 0; i < 1000; ++i) {
      acc = acc * x[1 + i % 4] + x[5 + i % 4];
      if (i % 8 == 7) acc = acc.tanh();
    }
    return acc;
  };
  const testing::GradientCheck check =
      CheckGradient(f, {1.0, 0.5, 0.501, 0.502, 0.503, 0.0, 0.01, 0.02, 0.03});
  ASSERT_TRUE(check.status.ok()) << check.status;
  EXPECT_LT(check.max_error, kTolerance) << check;
}

// The chain as the benchmarks and the peer harness record it: built in a function
// of its own from copies of leaves below a mark, then swept, rewound and built
// again, with the same numbers every round.
Value TanhOf(const Value& x) { return x.tanh(); }

ABSL_ATTRIBUTE_NOINLINE Value BuildChain(int steps, const Value& x0,
                                         const std::vector<Value>& w,
                                         const std::vector<Value>& b) {
  Value x = x0;
  for (int i = 0; i < steps; ++i) {
    x = x * w[i % 64] + b[i % 64];
    if (i % 8 == 7) x = TanhOf(x);
  }
  return x;
}

TEST(ScalarOpsComposite, ChainRebuiltAfterRewindsGivesTheSameGrads) {
  Tape tape;
  std::vector<Value> w, b;
  for (int k = 0; k < 64; ++k) w.push_back(tape.Leaf(0.5 + 0.001 * k));
  for (int k = 0; k < 64; ++k) b.push_back(tape.Leaf(0.01 * k));
  const Value x0 = tape.Leaf(1.0);
  const TapeMark mark = tape.Mark();
  double first_value = 0, first_grad = 0;
  for (int round = 0; round < 4; ++round) {
    ASSERT_TRUE(tape.Rewind(mark).ok());
    tape.ZeroGrad();
    const Value x = BuildChain(20000, x0, w, b);
    ASSERT_TRUE(x.Backward().ok()) << tape.status();
    if (round == 0) {
      first_value = x.data();
      first_grad = w[3].grad();
      EXPECT_TRUE(std::isfinite(first_value));
      EXPECT_NE(first_grad, 0.0);
    }
    EXPECT_EQ(x.data(), first_value) << round;
    EXPECT_EQ(w[3].grad(), first_grad) << round;
  }
}

// A fused record equals the unfused one: same value, same gradients (to rounding).
TEST(ScalarOpsFusion, FusedAndUnfusedAgree) {
  Tape tape;
  Value x = tape.Leaf(0.3), w = tape.Leaf(-1.2), b = tape.Leaf(0.5);
  Value fused = (x * w + b).tanh();
  const size_t fused_size = tape.size();
  Value p = x * w;
  Value s = p + b;
  Value unfused = s.tanh();
  EXPECT_EQ(fused_size, 4u);   // three leaves and one record
  EXPECT_EQ(tape.size(), 7u);  // plus three records
  EXPECT_DOUBLE_EQ(fused.data(), unfused.data());
  ASSERT_TRUE(fused.Backward().ok());
  const double gx = x.grad(), gw = w.grad(), gb = b.grad();
  tape.ZeroGrad();
  ASSERT_TRUE(unfused.Backward().ok());
  EXPECT_DOUBLE_EQ(gx, x.grad());
  EXPECT_DOUBLE_EQ(gw, w.grad());
  EXPECT_DOUBLE_EQ(gb, b.grad());
}

// `act = act + w * x`, the way plain scalar code sums: one record per term, the
// product's, with the grads of the unfused graph.
TEST(ScalarOpsFusion, RunningSumOfProductsIsOneRecordPerTerm) {
  Tape tape;
  std::vector<Value> w, x;
  for (int i = 0; i < 16; ++i) {
    w.push_back(tape.Leaf(0.1 * i - 0.7));
    x.push_back(tape.Leaf(1.0 - 0.05 * i));
  }
  const Value b = tape.Leaf(0.25);
  const size_t before = tape.size();
  Value act = b;
  for (int i = 0; i < 16; ++i) act = act + w[i] * x[i];
  EXPECT_EQ(tape.size() - before, 16u);
  ASSERT_TRUE(act.Backward().ok());
  std::vector<double> fused_grads;
  for (int i = 0; i < 16; ++i) fused_grads.push_back(w[i].grad());
  const double fused_b = b.grad();
  tape.ZeroGrad();
  Value named = b;
  for (int i = 0; i < 16; ++i) {
    const Value p = w[i] * x[i];
    named = named + p;
  }
  EXPECT_DOUBLE_EQ(named.data(), act.data());
  ASSERT_TRUE(named.Backward().ok());
  for (int i = 0; i < 16; ++i) EXPECT_DOUBLE_EQ(w[i].grad(), fused_grads[i]) << i;
  EXPECT_DOUBLE_EQ(b.grad(), fused_b);
}

// A sum into a temporary appends in place at any length: `Dot(w, h) + b` and
// `std::move(s) + x` stay one record past kMaxFusedArgs inputs.
TEST(ScalarOpsFusion, LongTemporarySumsStayOneRecord) {
  Tape tape;
  std::vector<Value> w, h;
  for (int i = 0; i < 40; ++i) {
    w.push_back(tape.Leaf(0.01 * i));
    h.push_back(tape.Leaf(1.0));
  }
  const Value b = tape.Leaf(2.0);
  size_t before = tape.size();
  const Value d = Dot(w, h) + b;
  EXPECT_EQ(tape.size() - before, 1u);
  before = tape.size();
  Value s = w[0] + w[1];
  for (int i = 2; i < 40; ++i) s = std::move(s) + w[i];
  EXPECT_EQ(tape.size() - before, 1u);
  ASSERT_TRUE(s.Backward().ok());
  for (int i = 0; i < 40; ++i) EXPECT_EQ(w[i].grad(), 1.0) << i;
  tape.ZeroGrad();
  ASSERT_TRUE(d.Backward().ok());
  EXPECT_EQ(b.grad(), 1.0);
  EXPECT_DOUBLE_EQ(w[7].grad(), 1.0);
}

// A number in an expression is a constant of the op: no slot, no input.
TEST(ScalarOpsFusion, PlainNumbersTakeNoSlot) {
  Tape tape;
  const Value w = tape.Leaf(0.3);
  const size_t before = tape.size();
  const Value y = 2.0 * (w * 0.5 + 1.0) / 4.0;
  EXPECT_EQ(tape.size() - before, 1u);
  int inputs = 0;
  ASSERT_TRUE(tape.ForEachInput(y.index(), y.index(),
                                [&](uint32_t, uint32_t input, double partial) {
                                  EXPECT_EQ(input, w.index());
                                  EXPECT_DOUBLE_EQ(partial, 0.25);
                                  ++inputs;
                                })
                  .ok());
  EXPECT_EQ(inputs, 1);
  EXPECT_DOUBLE_EQ(y.data(), 2.0 * (0.15 + 1.0) / 4.0);
}

// A copied handle is never fused into: the copy keeps its own number.
TEST(ScalarOpsFusion, CopiesAreNeverOverwritten) {
  Tape tape;
  Value x = tape.Leaf(2.0);
  Value t = x * 3;  // sole handle of the last slot
  Value copy = t;   // no longer sole
  Value y = std::move(t) + 1;
  EXPECT_EQ(copy.data(), 6.0);
  EXPECT_EQ(y.data(), 7.0);
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(x.grad(), 3.0);
}

TEST(ScalarOpsFusion, MovedFromValueIsAnError) {
  Tape tape;
  Value x = tape.Leaf(2.0);
  Value t = x * 3;
  Value y = std::move(t) + 1;
  EXPECT_EQ(y.data(), 7.0);
  EXPECT_TRUE(std::isnan(t.data()));  // NOLINT(bugprone-use-after-move): on purpose
  EXPECT_THAT(std::string(t.status().message()), ::testing::HasSubstr("moved from"));
}

TEST(ScalarOpsFusion, NothingBelowAMarkIsRewritten) {
  Tape tape;
  Value x = tape.Leaf(2.0);
  Value t = x * 3;
  const TapeMark mark = tape.Mark();
  Value y = std::move(t) + 1;  // t is below the mark: a new record, t stays
  EXPECT_EQ(tape.size(), 3u);
  ASSERT_TRUE(tape.Rewind(mark).ok());
  EXPECT_EQ(tape.size(), 2u);
  EXPECT_FALSE(y.ok());
}

// A temporary whose grad a sweep or set_grad wrote keeps its slot and that grad,
// as micrograd's node would: the op on it gets a record of its own.
TEST(ScalarOpsFusion, NothingSweptOrGivenAGradIsRewritten) {
  Tape tape;
  Value x = tape.Leaf(2.0);
  Value t = x * 3;
  ASSERT_TRUE(t.Backward().ok());  // t.grad = 1, x.grad = 3
  Value y = std::move(t) * 2;
  EXPECT_EQ(tape.size(), 3u);
  EXPECT_EQ(y.grad(), 0.0);
  ASSERT_TRUE(y.Backward().ok());  // t.grad = 1 + 2, x.grad = 3 + 3 * 3
  EXPECT_EQ(x.grad(), 12.0);

  Tape tape2;
  Value x2 = tape2.Leaf(2.0);
  Value t2 = x2 * 3;
  t2.set_grad(5.0);
  Value y2 = std::move(t2) + 1;
  EXPECT_EQ(tape2.size(), 3u);
  EXPECT_EQ(y2.data(), 7.0);
  ASSERT_TRUE(y2.Backward().ok());  // t2.grad = 5 + 1, x2.grad = 3 * 6
  EXPECT_EQ(x2.grad(), 18.0);
}

// TanhRule::Tanh replaces std::tanh away from 0; it must stay within a few ulp.
TEST(ScalarOps, FastTanhIsAccurate) {
  for (double x = -40.0; x <= 40.0; x += 0.00137) {
    const double expected = std::tanh(x);
    const double got = internal::TanhRule::Tanh(x);
    EXPECT_NEAR(got, expected,
                4 * std::numeric_limits<double>::epsilon() * std::abs(expected))
        << "x = " << x;
  }
  EXPECT_EQ(internal::TanhRule::Tanh(1000.0), 1.0);
  EXPECT_EQ(internal::TanhRule::Tanh(-1000.0), -1.0);
  EXPECT_TRUE(std::isnan(internal::TanhRule::Tanh(std::nan(""))));
}

TEST(ScalarOps, DotAndSumValidateOperands) {
  Tape tape;
  TapeScope scope(&tape);
  std::vector<Value> a = {Value(1.0), Value(2.0)};
  std::vector<Value> b = {Value(1.0)};
  Value d = Dot(a, b);
  EXPECT_FALSE(d.ok());
  EXPECT_THAT(std::string(tape.status().message()),
              ::testing::HasSubstr("dot: operands must be equally long"));
  tape.ClearError();
  Value s = Sum(absl::Span<const Value>());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(tape.status().message()),
              ::testing::HasSubstr("sum: no operands"));
}

TEST(ScalarOps, NoGradComputesWithoutRecordingInputs) {
  Tape tape;
  Value x = tape.Leaf(2.0);
  Value y;
  {
    NoGradScope no_grad;
    EXPECT_FALSE(IsGradEnabled());
    y = (x * x + 1).tanh();
  }
  EXPECT_TRUE(IsGradEnabled());
  EXPECT_DOUBLE_EQ(y.data(), std::tanh(5.0));
  Value z = y * x;
  ASSERT_TRUE(z.Backward().ok());
  EXPECT_DOUBLE_EQ(x.grad(), y.data());  // nothing flows back through y
}

}  // namespace
}  // namespace tapegrad
