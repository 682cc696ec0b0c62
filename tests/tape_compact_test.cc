// Tape::Compact: dropping a dead middle of the tape while the Values above it live
// on, with their data, grads and gradient flow intact.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tapegrad.h"

namespace tapegrad {
namespace {

using ::testing::HasSubstr;

// A small graph over the parameters that also leaves dirty intermediate grads.
Value Loss(const std::vector<Value>& params, double x) {
  Value h = (params[0] * x + params[1]).tanh();
  Value y = h * params[2] + h.pow(2.0);
  return (y - 0.5).pow(2.0);
}

std::vector<Value> MakeParams(Tape& tape) {
  return {tape.Leaf(0.3), tape.Leaf(-0.2), tape.Leaf(0.7)};
}

TEST(TapeCompact, DropsTheDeadMiddleAndKeepsTheLiveTop) {
  Tape tape;
  TapeScope scope(&tape);
  std::vector<Value> params = MakeParams(tape);
  TapeMark dead = tape.Mark();
  Value old_loss = Loss(params, 1.5);  // an old step: dead once compacted away
  ASSERT_TRUE(old_loss.Backward().ok());
  TapeMark live = tape.Mark();
  Value loss = Loss(params, -0.4);
  const uint32_t root_offset = loss.index() - live.values;
  const size_t dead_values = live.values - dead.values;
  const size_t before = tape.size();

  ASSERT_TRUE(tape.Compact(dead, {&live}).ok()) << tape.status();
  EXPECT_EQ(tape.size(), before - dead_values);
  EXPECT_EQ(live.values, dead.values);
  EXPECT_FALSE(loss.ok()) << "moved handles are stale";
  EXPECT_FALSE(old_loss.ok()) << "dropped handles are stale";
  for (const Value& p : params) EXPECT_TRUE(p.ok()) << "below the gap: untouched";

  Value moved = tape.ValueAt(live.values + root_offset);
  ASSERT_TRUE(moved.ok());
  for (const Value& p : params) p.set_grad(0);
  ASSERT_TRUE(moved.Backward().ok());

  // The same step on a tape that never held the old one.
  Tape reference;
  TapeScope reference_scope(&reference);
  std::vector<Value> ref_params = MakeParams(reference);
  Value ref_loss = Loss(ref_params, -0.4);
  ASSERT_TRUE(ref_loss.Backward().ok());
  EXPECT_EQ(moved.data(), ref_loss.data());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(params[i].grad(), ref_params[i].grad()) << i;
}

TEST(TapeCompact, GradsMoveWithTheValuesAndRepeatedBackwardMatches) {
  // micrograd semantics after a move: intermediate grads from the first backward
  // propagate again on the second, exactly as on a tape that never moved.
  Tape tape;
  TapeScope scope(&tape);
  std::vector<Value> params = MakeParams(tape);
  TapeMark dead = tape.Mark();
  const Value garbage = params[0] * params[1];
  ASSERT_TRUE(garbage.ok());
  TapeMark live = tape.Mark();
  Value loss = Loss(params, 0.9);
  const uint32_t offset = loss.index() - live.values;
  ASSERT_TRUE(loss.Backward().ok());
  ASSERT_TRUE(tape.Compact(dead, {&live}).ok());
  ASSERT_TRUE(tape.ValueAt(live.values + offset).Backward().ok());

  Tape reference;
  TapeScope reference_scope(&reference);
  std::vector<Value> ref_params = MakeParams(reference);
  Value ref_loss = Loss(ref_params, 0.9);
  ASSERT_TRUE(ref_loss.Backward().ok());
  ASSERT_TRUE(ref_loss.Backward().ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(params[i].grad(), ref_params[i].grad()) << i;
}

TEST(TapeCompact, AnInputRightBelowTheGapBecomesTheChainInput) {
  // After the move the first kept record follows w directly: the sweep's chain
  // rule (Note [Chain adjoint]) must then hold for it too.
  Tape tape;
  TapeScope scope(&tape);
  Value w = tape.Leaf(3.0);
  TapeMark dead = tape.Mark();
  const Value garbage = w * w;
  ASSERT_TRUE(garbage.ok());
  TapeMark live = tape.Mark();
  Value y = (w * w).pow(2.0);  // w ** 4
  const uint32_t offset = y.index() - live.values;
  ASSERT_TRUE(tape.Compact(dead, {&live}).ok());
  Value moved = tape.ValueAt(live.values + offset);
  EXPECT_EQ(moved.data(), 81.0);
  ASSERT_TRUE(moved.Backward().ok());
  EXPECT_EQ(w.grad(), 4 * 27.0);
}

TEST(TapeCompact, RefusesWhenTheGapIsStillRead) {
  Tape tape;
  TapeScope scope(&tape);
  std::vector<Value> params = MakeParams(tape);
  TapeMark dead = tape.Mark();
  Value h = params[0] * params[1];
  TapeMark live = tape.Mark();
  Value y = h + params[2];  // reads the "dead" range
  const size_t before = tape.size();
  const absl::Status s = tape.Compact(dead, {&live});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("inside the range"));
  EXPECT_EQ(tape.size(), before);
  EXPECT_TRUE(y.ok()) << "a refused compaction changes nothing";
  EXPECT_TRUE(h.ok());
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_DOUBLE_EQ(params[0].grad(), params[1].data());
}

TEST(TapeCompact, RefusesTensorRecords) {
  Tape tape;
  TapeScope scope(&tape);
  Value w = tape.Leaf(1.0);
  TapeMark dead = tape.Mark();
  const Value garbage = w * 2.0;
  ASSERT_TRUE(garbage.ok());
  TapeMark live = tape.Mark();
  Tensor t = Tensor::Ones({3}) + Tensor::Ones({3});
  const absl::Status s = tape.Compact(dead, {&live});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("tensors"));
  EXPECT_THAT(t.ToVector(), ::testing::ElementsAre(2, 2, 2));
}

TEST(TapeCompact, UpdatesEveryKeptMarkInOrder) {
  Tape tape;
  TapeScope scope(&tape);
  Value w = tape.Leaf(2.0);
  TapeMark dead = tape.Mark();
  Value garbage = w;
  for (int i = 0; i < 10; ++i) garbage = garbage * 1.0;
  TapeMark first = tape.Mark();
  Value a = w * 3.0;
  TapeMark second = tape.Mark();
  Value b = a * 5.0;
  const uint32_t a_offset = a.index() - first.values;
  const uint32_t b_offset = b.index() - second.values;
  ASSERT_TRUE(tape.Compact(dead, {&first, &second}).ok());
  EXPECT_EQ(first.values, dead.values);
  EXPECT_EQ(second.values, first.values + 1);
  EXPECT_EQ(tape.ValueAt(first.values + a_offset).data(), 6.0);
  EXPECT_EQ(tape.ValueAt(second.values + b_offset).data(), 30.0);
  // The refreshed marks are usable: rewinding to `second` drops b only.
  ASSERT_TRUE(tape.Rewind(second).ok());
  EXPECT_EQ(tape.size(), second.values);
  EXPECT_EQ(tape.ValueAt(first.values + a_offset).data(), 6.0);
}

TEST(TapeCompact, AnEmptyGapChangesNothing) {
  Tape tape;
  TapeScope scope(&tape);
  Value w = tape.Leaf(1.0);
  TapeMark gap = tape.Mark();
  TapeMark live = tape.Mark();
  Value y = w * 2.0;
  TapeMark top = tape.Mark();
  const TapeMark live_before = live;
  ASSERT_TRUE(tape.Compact(gap, {&live, &top}).ok());
  EXPECT_EQ(live.values, live_before.values);
  EXPECT_EQ(top.values, live_before.values + 1);
  EXPECT_TRUE(y.ok());
}

TEST(TapeCompact, RejectsStaleAndDisorderedMarks) {
  Tape tape;
  TapeScope scope(&tape);
  Value w = tape.Leaf(1.0);
  TapeMark a = tape.Mark();
  const Value x = w * 2.0;
  ASSERT_TRUE(x.ok());
  TapeMark b = tape.Mark();
  const Value y = w * 3.0;
  ASSERT_TRUE(y.ok());
  TapeMark b_copy = b;
  EXPECT_EQ(tape.Compact(b, {&a}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tape.Compact(a, {}).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(tape.Rewind(a).ok());
  const absl::Status s = tape.Compact(a, {&b_copy});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("stale mark"));
}

TEST(TapeCompact, MovesRecordsThatSpanManyBlocks) {
  Tape tape(TapeOptions{.initial_chunk_bytes = 4096});
  TapeScope scope(&tape);
  Value w = tape.Leaf(1.0001);
  TapeMark dead = tape.Mark();
  Value x = w;
  for (int i = 0; i < 30000; ++i) x = x * w;
  TapeMark live = tape.Mark();
  Value y = w;
  for (int i = 0; i < 50000; ++i) y = (y * w + 0.0).tanh();
  const uint32_t offset = y.index() - live.values;
  const double data = y.data();
  ASSERT_TRUE(tape.Compact(dead, {&live}).ok());
  Value moved = tape.ValueAt(live.values + offset);
  EXPECT_EQ(moved.data(), data);
  ASSERT_TRUE(moved.Backward().ok());
  EXPECT_TRUE(std::isfinite(w.grad()));
  EXPECT_NE(w.grad(), 0.0);
}

}  // namespace
}  // namespace tapegrad
