// The reverse sweeps against a plain replay of the records: every record shape,
// in both sweeps (the fast one and the exact one that runs after a set_grad or a
// second Backward), with zero adjoints among them (Note [Zero adjoints] in
// core/tape_sweep.cc), which the sweeps skip.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/scalar_ops.h"
#include "core/tape.h"
#include "core/value.h"
#include "gtest/gtest.h"

namespace tapegrad {
namespace {

// adj[in] += partial * adj[o] for every input of every record, from `root` down,
// skipping nothing: the grads a sweep must give on a tape whose grads were zero.
std::vector<double> Replay(const Tape& tape, const Value& root) {
  std::vector<double> adj(root.index() + 1, 0.0);
  adj[root.index()] = 1.0;
  const absl::Status s = tape.ForEachInput(
      0, root.index(),
      [&](uint32_t o, uint32_t in, double partial) { adj[in] += partial * adj[o]; });
  EXPECT_TRUE(s.ok()) << s;
  return adj;
}

// A program that makes records of every shape the sweep tells apart (unary and
// binary, with and without the chain input, unit inputs, the packed running
// update, Sum and Dot records of many inputs), where about one adjoint in four is
// zero: products with a leaf that is 0, relu of negative numbers. With
// `dead_runs`, every other stretch of a few hundred ops computes values that
// reach the root only through a product with 0: long runs of zero adjoints of
// every shape, leaves among them, which the sweep skips in groups (Note [Zero
// runs] in core/tape_sweep.cc), across record blocks.
struct Program {
  std::vector<Value> leaves;
  uint32_t first_op = 0;  // the slot of the first record after the first leaves
  Value root;
};

Program Build(Tape& tape, uint32_t seed, bool dead_runs = false) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  Program p;
  for (int k = 0; k < 48; ++k) p.leaves.push_back(tape.Leaf(k % 5 == 0 ? 0.0 : u(rng)));
  std::vector<Value> pool = p.leaves;
  const auto pick = [&]() -> const Value& { return pool[rng() % pool.size()]; };
  Value live = tape.Leaf(0.5), dead = tape.Leaf(0.25);
  p.leaves.push_back(live);
  p.leaves.push_back(dead);
  std::vector<Value> dead_pool = {dead};
  p.first_op = dead.index() + 1;
  for (int i = 0; i < 4000; ++i) {
    const bool in_dead_run = dead_runs && (i / (200 + seed % 7)) % 2 == 1;
    Value& x = in_dead_run ? dead : live;
    std::vector<Value>& out = in_dead_run ? dead_pool : pool;
    if (in_dead_run && i % 50 == 0) out.push_back(tape.Leaf(u(rng)));
    switch (rng() % 11) {
      case 0:
        x = x * pick() + pick();
        break;  // packed running update
      case 1:
        x = x.tanh();
        break;  // unary on the previous slot
      case 2:
        x = x.relu();
        break;  // 0 where x < 0
      case 3:
        x = x - pick();
        break;  // chain and one full input
      case 4:
        out.push_back(pick() * pick());
        break;  // two full inputs
      case 5:
        out.push_back((pick() + pick()) * 0.5);
        break;  // unit input
      case 6:
        out.push_back(pick().tanh());
        break;  // unary, not the chain
      case 7:
        x = (x * pick()).tanh() + x;
        break;  // folded, chain twice
      case 8: {
        std::vector<Value> terms;
        for (int k = 0; k < 5; ++k) terms.push_back(pick());
        x = x + Sum(terms);
        break;
      }
      case 9: {
        std::vector<Value> a, b;
        for (int k = 0; k < 40; ++k) {
          a.push_back(pick());
          b.push_back(pick());
        }
        out.push_back(Dot(a, b) * (1.0 / 40));
        break;
      }
      default:
        out.push_back(x);
        break;
    }
    if (std::abs(x.data()) > 4.0) x = x.tanh();
  }
  const Value zero = tape.Leaf(0.0);
  p.leaves.push_back(zero);
  p.root = live + Sum(pool) * (1.0 / pool.size()) + (dead + Sum(dead_pool)) * zero;
  return p;
}

void ExpectReplayedGrads(bool exact_sweep, uint32_t seed, bool dead_runs = false) {
  Tape tape;
  Program p = Build(tape, seed, dead_runs);
  const std::vector<double> want = Replay(tape, p.root);
  // The exact sweep runs once a grad on the tape was set by hand.
  if (exact_sweep) p.root.set_grad(0.5);
  ASSERT_TRUE(p.root.Backward().ok()) << tape.status();
  for (const Value& leaf : p.leaves) {
    const double w = want[leaf.index()];
    EXPECT_NEAR(leaf.grad(), w, 1e-12 * (1 + std::abs(w))) << "leaf #" << leaf.index();
  }
  // Records the sweeps skipped: zero adjoints past the leaves.
  int zero_adjoints = 0;
  for (uint32_t o = p.first_op; o < want.size(); ++o) {
    zero_adjoints += want[o] == 0.0;
  }
  EXPECT_GT(zero_adjoints, dead_runs ? 1500 : 100);
  // Records are written in blocks of 256 KiB: more than one, so runs meet their ends.
  if (dead_runs) EXPECT_GT(tape.Stats().record_bytes, size_t{256} << 10);
}

TEST(Sweep, FastSweepGivesTheReplayedGrads) {
  for (uint32_t seed = 1; seed <= 20; ++seed) ExpectReplayedGrads(false, seed);
}

TEST(Sweep, ExactSweepGivesTheReplayedGrads) {
  for (uint32_t seed = 1; seed <= 20; ++seed) ExpectReplayedGrads(true, seed);
}

TEST(Sweep, FastSweepSkipsRunsOfZeroAdjointsExactly) {
  for (uint32_t seed = 1; seed <= 20; ++seed) ExpectReplayedGrads(false, seed, true);
}

TEST(Sweep, ExactSweepSkipsRunsOfZeroAdjointsExactly) {
  for (uint32_t seed = 1; seed <= 20; ++seed) ExpectReplayedGrads(true, seed, true);
}

// The deliberate difference from PyTorch and micrograd: 0 * inf is not formed,
// in records of few inputs and of many (the sweep's general path) alike.
TEST(Sweep, ZeroAdjointIsNotPropagatedThroughAnInfinitePartial) {
  for (bool exact_sweep : {false, true}) {
    Tape tape;
    const Value x = tape.Leaf(0.0);
    const Value zero = tape.Leaf(0.0);
    const Value inf = tape.Leaf(INFINITY);
    const Value one = tape.Leaf(1.0);
    const Value y = x.log();  // dy/dx = inf
    const std::vector<Value> a = {x, one, one, one}, b = {inf, one, one, one};
    const Value d = Dot(a, b);  // dd/dx = inf
    Value z = y * zero + d * zero;
    if (exact_sweep) z.set_grad(0.5);
    ASSERT_TRUE(z.Backward().ok());
    EXPECT_TRUE(std::isnan(zero.grad()));  // y + d = -inf + inf, as in PyTorch
    EXPECT_EQ(y.grad(), 0.0);
    EXPECT_EQ(d.grad(), 0.0);
    EXPECT_EQ(x.grad(), 0.0) << "PyTorch: nan";
    EXPECT_EQ(inf.grad(), 0.0);
  }
}

// Inputs behind a zero adjoint are still the root's ancestors for the exact sweep
// (micrograd semantics): their kept grads propagate on.
TEST(Sweep, KeptGradsPropagatePastAZeroAdjoint) {
  Tape tape;
  const Value v = tape.Leaf(1.0);
  const Value w = tape.Leaf(4.0);
  const Value zero = tape.Leaf(0.0);
  const Value a = v * 3.0;
  const Value t = a * 2.0;
  Value out = t * zero + w;
  a.set_grad(5.0);  // kept from an earlier step, say
  ASSERT_TRUE(out.Backward().ok());
  EXPECT_EQ(t.grad(), 0.0);
  EXPECT_EQ(a.grad(), 5.0);
  EXPECT_EQ(v.grad(), 15.0);  // a's kept grad, through a = 3v
  EXPECT_EQ(zero.grad(), 6.0);
  EXPECT_EQ(w.grad(), 1.0);
}

}  // namespace
}  // namespace tapegrad
