// Tape::Compact and Tape::Retain: dropping dead Values from the tape while the
// Values above them live on, with their data, grads and gradient flow intact.
#include <algorithm>
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

// `loss` (after its Backward) has the value and parameter grads of Loss(x) on a
// tape that never held anything else.
void ExpectAsOnAFreshTape(const Value& loss, const std::vector<Value>& params, double x) {
  Tape reference;
  TapeScope reference_scope(&reference);
  std::vector<Value> ref_params = MakeParams(reference);
  Value ref_loss = Loss(ref_params, x);
  ASSERT_TRUE(ref_loss.Backward().ok());
  EXPECT_EQ(loss.data(), ref_loss.data());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(params[i].grad(), ref_params[i].grad()) << i;
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

  ExpectAsOnAFreshTape(moved, params, -0.4);
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

TEST(TapeCompact, SlotsFreedAboveTheNewEndStartWithZeroGrads) {
  // Note [Clean adjoints]: the slots a compaction frees held the swept grads of
  // the Values that moved down; Values recorded there next start from zero.
  Tape tape;
  TapeScope scope(&tape);
  std::vector<Value> params = MakeParams(tape);
  TapeMark dead = tape.Mark();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((params[0] * params[1]).ok());
  TapeMark live = tape.Mark();
  Value loss = Loss(params, 0.9);
  const uint32_t offset = loss.index() - live.values;
  ASSERT_TRUE(loss.Backward().ok());
  const size_t before = tape.size();
  ASSERT_TRUE(tape.Compact(dead, {&live}).ok());

  std::vector<Value> fresh;
  while (tape.size() < before) fresh.push_back(params[2] * 2.0);
  for (const Value& v : fresh) EXPECT_EQ(v.grad(), 0.0) << v.index();
  EXPECT_EQ(tape.ValueAt(live.values + offset).grad(), 1.0) << "moved with its grad";
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
  EXPECT_THAT(std::string(s.message()), HasSubstr("which is dropped"));
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

// ---- Tape::Retain: dropping dead Values that interleave with live ones.

TEST(TapeRetain, KeepsInterleavedLiveGraphsAndDropsTheDeadOnes) {
  // Two steps' graphs recorded in turns, as threads or a forward-only loop leave
  // them; the first step's dies. Its Values are not one range, so only Retain can
  // drop them.
  Tape tape;
  TapeScope scope(&tape);
  std::vector<Value> params = MakeParams(tape);
  TapeMark from = tape.Mark();
  Value dead_h = (params[0] * 1.5 + params[1]).tanh();
  Value live_h = (params[0] * -0.4 + params[1]).tanh();
  Value dead_loss = (dead_h * params[2] - 0.5).pow(2.0);
  Value live_y = live_h * params[2] + live_h.pow(2.0);
  Value live_loss = (live_y - 0.5).pow(2.0);
  const uint32_t count = tape.size() - from.values;

  // Keep exactly what live_loss reads, found by walking its records back.
  std::vector<uint8_t> keep(count, 0);
  keep[live_loss.index() - from.values] = 1;
  for (uint32_t slot = tape.size(); slot-- > from.values;) {
    if (!keep[slot - from.values]) continue;
    ASSERT_TRUE(tape.ForEachInput(slot, slot,
                                  [&](uint32_t, uint32_t in, double) {
                                    if (in >= from.values) keep[in - from.values] = 1;
                                  })
                    .ok());
  }
  const size_t kept = std::count(keep.begin(), keep.end(), 1);
  ASSERT_LT(kept, count);
  std::vector<uint32_t> new_slot(count);
  ASSERT_TRUE(tape.Retain(from, keep, absl::MakeSpan(new_slot)).ok()) << tape.status();
  EXPECT_EQ(tape.size(), from.values + kept);
  EXPECT_FALSE(live_loss.ok()) << "moved handles are stale";
  EXPECT_EQ(new_slot[dead_loss.index() - from.values], 0xffffffffu);

  Value moved = tape.ValueAt(new_slot[live_loss.index() - from.values]);
  ASSERT_TRUE(moved.ok());
  ASSERT_TRUE(moved.Backward().ok());

  ExpectAsOnAFreshTape(moved, params, -0.4);
}

TEST(TapeRetain, RefusesToDropWhatAKeptValueReadsAndChangesNothing) {
  Tape tape;
  TapeScope scope(&tape);
  std::vector<Value> params = MakeParams(tape);
  TapeMark from = tape.Mark();
  Value h = params[0] * params[1];
  Value y = h + params[2];
  std::vector<uint8_t> keep = {0, 1};  // y kept, h (which y reads) dropped
  std::vector<uint32_t> new_slot(2);
  const absl::Status s = tape.Retain(from, keep, absl::MakeSpan(new_slot));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("reads Value"));
  ASSERT_TRUE(y.ok()) << "nothing changed";
  EXPECT_EQ(y.data(), 0.3 * -0.2 + 0.7);

  std::vector<uint8_t> short_keep = {1};
  EXPECT_EQ(tape.Retain(from, short_keep, absl::MakeSpan(new_slot)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tapegrad
