// micrograd's own examples, with micrograd's numbers.
#include "core/scalar_ops.h"
#include "core/tape.h"
#include "core/value.h"
#include "gtest/gtest.h"

namespace tapegrad {
namespace {

TEST(Micrograd, ReadmeExample) {
  Tape tape;
  TapeScope scope(&tape);
  Value a(-4.0);
  Value b(2.0);
  Value c = a + b;
  Value d = a * b + b.pow(3);
  c += c + 1;
  c += 1 + c + (-a);
  d += d * 2 + (b + a).relu();
  d += 3 * d + (b - a).relu();
  Value e = c - d;
  Value f = e.pow(2);
  Value g = f / 2.0;
  g += 10.0 / f;
  ASSERT_TRUE(g.Backward().ok()) << tape.status();
  EXPECT_NEAR(g.data(), 24.70408163265306, 1e-12);
  EXPECT_NEAR(a.grad(), 138.83381924198252, 1e-12);
  EXPECT_NEAR(b.grad(), 645.5772594752186, 1e-12);
}

// micrograd's test_sanity_check: exact integers.
TEST(Micrograd, SanityCheck) {
  Tape tape;
  TapeScope scope(&tape);
  Value x(-4.0);
  Value z = 2 * x + 2 + x;
  Value q = z.relu() + z * x;
  Value h = (z * z).relu();
  Value y = h + q + q * x;
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(y.data(), -20.0);
  EXPECT_EQ(x.grad(), 46.0);
}

// micrograd's backward sets the root's grad to 1 and adds every node's current
// grad into its inputs, so a second call without zero_grad propagates the
// accumulated grads again. For y = 3 * (2 * x): first call x.grad = 6 (t.grad = 3);
// second call t.grad = 6 and x.grad = 6 + 2 * 6 = 18.
TEST(Micrograd, BackwardTwiceAccumulatesAsMicrogradDoes) {
  Tape tape;
  TapeScope scope(&tape);
  Value x(5.0);
  Value t = 2 * x;
  Value y = 3 * t;
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(x.grad(), 6.0);
  EXPECT_EQ(t.grad(), 3.0);
  EXPECT_EQ(y.grad(), 1.0);
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(y.grad(), 1.0);
  EXPECT_EQ(t.grad(), 6.0);
  EXPECT_EQ(x.grad(), 18.0);
}

// A second root that shares leaves but not intermediates: micrograd only visits
// the new root's ancestors, so the first graph's grads must not flow again.
TEST(Micrograd, SecondRootDoesNotRepropagateTheFirstGraph) {
  Tape tape;
  TapeScope scope(&tape);
  Value x(3.0);
  Value t = x * x;  // dt/dx = 6
  Value y = 2 * t;
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(x.grad(), 12.0);
  Value z = x * 5;  // recorded after y; its graph does not contain t
  ASSERT_TRUE(z.Backward().ok());
  EXPECT_EQ(x.grad(), 17.0);
  EXPECT_EQ(t.grad(), 2.0);  // untouched by the second call
}

TEST(Micrograd, IntermediateGradsAreExposed) {
  Tape tape;
  TapeScope scope(&tape);
  Value a(2.0), b(-3.0), c(10.0);
  Value e = a * b;
  Value d = e + c;
  Value f(-2.0);
  Value L = d * f;
  ASSERT_TRUE(L.Backward().ok());
  EXPECT_EQ(L.grad(), 1.0);
  EXPECT_EQ(d.grad(), -2.0);
  EXPECT_EQ(f.grad(), 4.0);
  EXPECT_EQ(e.grad(), -2.0);
  EXPECT_EQ(c.grad(), -2.0);
  EXPECT_EQ(a.grad(), 6.0);
  EXPECT_EQ(b.grad(), -4.0);
}

TEST(Micrograd, ReprMatches) {
  Tape tape;
  Value v = tape.Leaf(3.0);
  std::ostringstream os;
  os << v;
  EXPECT_EQ(os.str(), "Value(data=3.0, grad=0.0)");
  std::ostringstream small;
  small << tape.Leaf(0.1) * 1e-7;
  EXPECT_EQ(small.str(), "Value(data=1e-08, grad=0.0)");
}

}  // namespace
}  // namespace tapegrad
