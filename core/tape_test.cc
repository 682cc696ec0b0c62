// The tape's lifetime rules: marks, rewind, reset, stale handles, sticky errors,
// limits and the current-tape scope.
#include "core/tape.h"

#include <cmath>
#include <string>
#include <vector>

#include "core/grad_mode.h"
#include "core/scalar_ops.h"
#include "core/value.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tapegrad {
namespace {

using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(Tape, LeavesBeforeAMarkSurviveRewind) {
  Tape tape;
  Value w = tape.Leaf(0.5);
  Value b = tape.Leaf(0.1);
  const TapeMark mark = tape.Mark();
  for (int step = 0; step < 5; ++step) {
    Value y = (w * 3.0 + b).tanh();
    ASSERT_TRUE(y.Backward().ok());
    w.set_data(w.data() - 0.1 * w.grad());
    w.set_grad(0);
    b.set_grad(0);
    ASSERT_TRUE(tape.Rewind(mark).ok());
    EXPECT_EQ(tape.size(), 2u);
    EXPECT_FALSE(y.ok());
  }
  EXPECT_TRUE(w.ok());
  EXPECT_TRUE(b.ok());
  EXPECT_LT(w.data(), 0.5);
}

TEST(Tape, StaleHandleAfterRewindIsAnErrorNotARead) {
  Tape tape;
  Value x = tape.Leaf(1.0);
  const TapeMark mark = tape.Mark();
  Value old = x * 2;
  ASSERT_TRUE(tape.Rewind(mark).ok());
  Value reused = x * 5;  // same slot index as `old`, new generation
  EXPECT_EQ(reused.index(), old.index());
  EXPECT_TRUE(std::isnan(old.data()));
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(old.status()), HasSubstr("stale Value #1"));
  Value bad = old + 1;
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(Message(tape.status()), HasSubstr("add: stale Value #1"));
  // The error is sticky: Backward reports it instead of sweeping.
  EXPECT_EQ(reused.Backward().code(), absl::StatusCode::kFailedPrecondition);
  // And ops on the poisoned result stay poisoned without overwriting it.
  Value worse = bad * 2;
  EXPECT_FALSE(worse.ok());
  EXPECT_THAT(Message(tape.status()), HasSubstr("add: stale"));
  EXPECT_THAT(Message(worse.status()), HasSubstr("result of a failed op"));
  tape.ClearError();
  EXPECT_TRUE(reused.Backward().ok());
}

TEST(Tape, StaleHandleAfterReset) {
  Tape tape;
  Value x = tape.Leaf(1.0);
  tape.Reset();
  EXPECT_FALSE(x.ok());
  Value y = tape.Leaf(2.0);
  EXPECT_TRUE(y.ok());
  EXPECT_FALSE(x.ok());  // same slot 0, other generation
  EXPECT_FALSE(x.Backward().ok());
}

TEST(Tape, StaleMarkIsRejected) {
  Tape tape;
  tape.Leaf(1.0);
  const TapeMark outer = tape.Mark();
  tape.Leaf(2.0);
  tape.Leaf(3.0);
  const TapeMark inner = tape.Mark();
  ASSERT_TRUE(tape.Rewind(outer).ok());
  tape.Leaf(4.0);
  tape.Leaf(5.0);
  tape.Leaf(6.0);
  const absl::Status s = tape.Rewind(inner);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Message(s), HasSubstr("stale mark at value 3"));
  EXPECT_EQ(tape.size(), 4u);  // unchanged
  tape.Reset();
  EXPECT_FALSE(tape.Rewind(outer).ok());
}

TEST(Tape, NestedMarksRewindInOrder) {
  Tape tape;
  Value x = tape.Leaf(1.0);
  const TapeMark a = tape.Mark();
  Value y = x + 1;
  const TapeMark b = tape.Mark();
  Value z = y * 2;
  ASSERT_TRUE(tape.Rewind(b).ok());
  EXPECT_TRUE(y.ok());
  EXPECT_FALSE(z.ok());
  ASSERT_TRUE(tape.Rewind(a).ok());
  EXPECT_FALSE(y.ok());
  EXPECT_TRUE(x.ok());
}

TEST(Tape, OperandsFromTwoTapesAreAnError) {
  Tape t1, t2;
  Value a = t1.Leaf(1.0);
  Value b = t2.Leaf(2.0);
  Value c = a * b;
  EXPECT_FALSE(c.ok());
  EXPECT_THAT(Message(t1.status()), HasSubstr("mul: operand lives on another tape"));
}

TEST(Tape, EmptyAndDetachedValuesAreErrors) {
  Value empty;
  EXPECT_THAT(Message(empty.status()), HasSubstr("empty Value"));
  EXPECT_FALSE(empty.Backward().ok());
  Value detached(3.0);  // no TapeScope on this thread
  EXPECT_THAT(Message(detached.status()), HasSubstr("no current tape"));
  Value r = detached + 1;
  EXPECT_FALSE(r.ok());
  // With no tape to hold the error, the result is empty and says how that comes.
  EXPECT_THAT(Message(r.status()), HasSubstr("operands were on no tape"));
  Tape tape;
  Value x = tape.Leaf(1.0);
  Value s = x + detached;
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(Message(tape.status()),
              HasSubstr("add: operand was created with no current tape"));
  // An empty second operand is blamed as such, like a first one.
  Tape other;
  Value y = other.Leaf(2.0);
  EXPECT_FALSE((y * Value()).ok());
  EXPECT_THAT(Message(other.status()), HasSubstr("mul: operand is an empty Value"));
}

TEST(Tape, CurrentTapeScopeNestsAndRestores) {
  EXPECT_EQ(Tape::Current(), nullptr);
  Tape outer, inner;
  {
    TapeScope a(&outer);
    EXPECT_EQ(Tape::Current(), &outer);
    {
      TapeScope b(&inner);
      EXPECT_EQ(Value(1.0).tape(), &inner);
    }
    EXPECT_EQ(Value(1.0).tape(), &outer);
  }
  EXPECT_EQ(Tape::Current(), nullptr);
}

TEST(Tape, ByteLimitIsResourceExhaustedNotACrash) {
  Tape tape(TapeOptions{.initial_chunk_bytes = 1 << 16, .byte_limit = 1 << 20});
  Value x = tape.Leaf(1.0);
  for (int i = 0; i < 1000000 && tape.status().ok(); ++i) x = x * 1.0 + 0.5;
  EXPECT_EQ(tape.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(Message(tape.status()), HasSubstr("byte limit 1048576"));
  EXPECT_FALSE(x.ok());
  EXPECT_EQ(x.Backward().code(), absl::StatusCode::kResourceExhausted);
  const TapeStats stats = tape.Stats();
  EXPECT_LE(stats.arena.bytes_reserved + stats.slot_bytes, size_t{1} << 20);
  tape.Reset();  // recovers
  Value y = tape.Leaf(2.0) * 3;
  EXPECT_TRUE(y.Backward().ok());
}

TEST(Tape, BackwardFromAnEarlierValueIgnoresLaterRecords) {
  Tape tape;
  Value x = tape.Leaf(2.0);
  Value y = x * x;     // dy/dx = 4
  Value z = y * 10.0;  // recorded after y
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(x.grad(), 4.0);
  EXPECT_EQ(z.grad(), 0.0);
}

TEST(Tape, ZeroGradClearsEverything) {
  Tape tape;
  Value x = tape.Leaf(2.0);
  Value y = x * x;
  ASSERT_TRUE(y.Backward().ok());
  tape.ZeroGrad();
  EXPECT_EQ(x.grad(), 0.0);
  EXPECT_EQ(y.grad(), 0.0);
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(x.grad(), 4.0);
}

// Note [Clean adjoints]: a Value made where a dropped one was starts at grad 0,
// whatever set the dropped one's grad.
TEST(Tape, SlotsReusedAfterRewindOrResetStartWithZeroGrads) {
  Tape tape;
  Value x = tape.Leaf(2.0);
  const TapeMark mark = tape.Mark();
  Value unswept = x * 3;  // a grad from set_grad alone, past any sweep
  Value later = unswept + 1;
  later.set_grad(7.0);
  unswept.set_grad(5.0);
  ASSERT_TRUE(tape.Rewind(mark).ok());
  Value a = x * 4, b = a + 1;
  ASSERT_EQ(b.index(), later.index());
  EXPECT_EQ(a.grad(), 0.0);
  EXPECT_EQ(b.grad(), 0.0);
  ASSERT_TRUE(b.Backward().ok());
  EXPECT_EQ(x.grad(), 4.0);

  tape.Reset();
  Value y = tape.Leaf(1.0);
  Value z = y * 3;
  EXPECT_EQ(y.grad(), 0.0);
  EXPECT_EQ(z.grad(), 0.0);
}

TEST(Tape, SetGradOnAnIntermediateFlowsLikeMicrograd) {
  // micrograd propagates an intermediate's grad, whatever set it.
  Tape tape;
  Value x = tape.Leaf(2.0);
  Value t = x * 3;
  Value y = t + 1;
  t.set_grad(5.0);
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(t.grad(), 6.0);
  EXPECT_EQ(x.grad(), 18.0);
}

// Note [Data in the handle]: ops see every write, through any handle.
TEST(Tape, OpsSeeSetDataThroughAnyHandle) {
  Tape tape;
  Value x = tape.Leaf(1.0);  // sole
  x.set_data(5.0);
  EXPECT_EQ((x * 2).data(), 10.0);
  Value copy = x;  // neither is sole now
  copy.set_data(7.0);
  EXPECT_EQ((x * 2).data(), 14.0);
  EXPECT_EQ(x.data(), 7.0);
  Value t = x + 1;  // sole temporary
  t.set_data(-1.0);
  EXPECT_EQ((t * 3).data(), -3.0);
}

// A handle made from a slot index (as the C ABI makes them) writes around the sole
// handle; the sole handle must then read the slot, in every kind of op.
TEST(Tape, OpsSeeWritesAroundTheSoleHandle) {
  Tape tape;
  Value x = tape.Leaf(1.0);
  Value y = x * 3.0;  // sole
  tape.ValueAt(y.index()).set_data(4.0);
  EXPECT_EQ((y + x).data(), 5.0);
  EXPECT_EQ((x + y).data(), 5.0);
  EXPECT_EQ((y * 2.0).data(), 8.0);
  EXPECT_EQ((2.0 - y).data(), -2.0);
  EXPECT_EQ(y.tanh().data(), std::tanh(4.0));
  EXPECT_EQ(Sum({y, x}).data(), 5.0);
  // Writing through the sole handle again keeps its number right, too.
  y.set_data(6.0);
  EXPECT_EQ((y - x).data(), 5.0);
  // A temporary written around before it is used.
  Value t = x + 2.0;
  tape.ValueAt(t.index()).set_data(10.0);
  EXPECT_EQ((std::move(t) * 2.0).data(), 20.0);
  ASSERT_TRUE(tape.status().ok()) << tape.status();
}

// The slot's clean bit is not part of its generation: writes do not make a mark
// or a handle stale.
TEST(Tape, WritesDoNotMakeMarksOrHandlesStale) {
  Tape tape;
  Value x = tape.Leaf(1.0);
  Value y = x * 2.0;
  const TapeMark mark = tape.Mark();
  Value copy = y;
  copy.set_data(3.0);  // clears the clean bit of the slot just below the mark
  Value z = y * x;
  EXPECT_EQ(z.data(), 3.0);
  ASSERT_TRUE(tape.Rewind(mark).ok());
  EXPECT_TRUE(y.ok());
  EXPECT_EQ(y.data(), 3.0);
  EXPECT_FALSE(z.ok());
  ASSERT_TRUE(y.Backward().ok());
  EXPECT_EQ(x.grad(), 2.0);
}

TEST(Tape, RecordsSpanManyBlocks) {
  Tape tape(TapeOptions{.initial_chunk_bytes = 4096});
  Value x = tape.Leaf(0.999);
  Value acc = x;
  for (int i = 0; i < 200000; ++i) acc = acc * x;
  ASSERT_TRUE(acc.Backward().ok());
  // d/dx x^200001 = 200001 * x^200000
  EXPECT_NEAR(x.grad() / (200001 * std::pow(0.999, 200000)), 1.0, 1e-9);
  EXPECT_GT(tape.Stats().arena.chunk_count, 1u);
}

// Long sweeps (over more than the cache holds) must give the same grads, bit
// for bit, for every record shape the chain below makes.
TEST(Tape, LongSweepsGiveTheSameGrads) {
  const auto grads = [](int padding) {
    Tape tape;
    for (int i = 0; i < padding; ++i) tape.Leaf(i);
    std::vector<Value> w, b;
    for (int k = 0; k < 8; ++k) w.push_back(tape.Leaf(0.5 + 0.01 * k));
    for (int k = 0; k < 8; ++k) b.push_back(tape.Leaf(0.1 * k));
    Value x = tape.Leaf(1.0);
    for (int i = 0; i < 3000; ++i) {
      x = x * w[i % 8] + b[i % 8];
      if (i % 3 == 0) x = x.tanh();
      if (i % 5 == 0) x = x - b[(i + 1) % 8] * w[i % 8];
      if (i % 7 == 0) x = (x + x) / 2.0;
    }
    EXPECT_TRUE(x.Backward().ok()) << tape.status();
    std::vector<double> out;
    for (const Value& v : w) out.push_back(v.grad());
    for (const Value& v : b) out.push_back(v.grad());
    return out;
  };
  const std::vector<double> short_sweep = grads(0);
  EXPECT_NE(short_sweep[0], 0.0);
  EXPECT_EQ(grads(200000), short_sweep);
}

// Leaves have 4-byte records, so a record block outlasts several growths of the
// slot arrays: the one room check must still notice that slots ran out
// (Note [One room check]), also across a rewind that frees slots.
TEST(Tape, SlotsGrowUnderSmallRecords) {
  Tape tape;
  std::vector<Value> leaves;
  for (int i = 0; i < 50000; ++i) leaves.push_back(tape.Leaf(0.5 + i));
  const TapeMark mark = tape.Mark();
  for (int round = 0; round < 2; ++round) {
    std::vector<Value> more;
    for (int i = 0; i < 30000; ++i) more.push_back(tape.Leaf(i));
    Value s = Sum(leaves) + Sum(more);
    ASSERT_TRUE(s.Backward().ok()) << tape.status();
    EXPECT_EQ(s.data(), 50000 * 0.5 + 49999.0 * 50000 / 2 + 29999.0 * 30000 / 2);
    EXPECT_EQ(leaves[49999].grad(), 1.0);
    EXPECT_EQ(more[29999].grad(), 1.0);
    // The two sums; the add folds into the second, whose chain input is the first.
    EXPECT_EQ(tape.size(), 80002u);
    tape.ZeroGrad();
    ASSERT_TRUE(tape.Rewind(mark).ok());
  }
}

// Note [Record layout]: the running update x = x * w + b is one record of 24
// bytes (w in full, the chain input's partial alone, a header that holds b's index),
// and the walks over the tape still see all three inputs with their partials.
// One record's inputs, as (input slot, partial) pairs.
std::vector<std::pair<uint32_t, double>> InputsOf(const Tape& tape, const Value& v) {
  std::vector<std::pair<uint32_t, double>> inputs;
  EXPECT_TRUE(tape.ForEachInput(v.index(), v.index(),
                                [&](uint32_t, uint32_t input, double partial) {
                                  inputs.emplace_back(input, partial);
                                })
                  .ok());
  return inputs;
}

// Queries one record at a time start where the last one stopped (FindRecordEnd's
// memory); what they see must follow every rewind, reset and fused rewrite.
TEST(Tape, RecordQueriesFollowRewindsResetsAndFusion) {
  using Inputs = std::vector<std::pair<uint32_t, double>>;
  Tape tape;
  const Value a = tape.Leaf(3.0), b = tape.Leaf(5.0);
  const TapeMark mark = tape.Mark();
  std::vector<Value> chain = {a * b};
  for (int k = 0; k < 1000; ++k) chain.push_back(chain.back() * 2.0);  // many blocks
  const Value tail = chain.back() + 1.0;
  EXPECT_EQ(InputsOf(tape, chain[1]), (Inputs{{chain[0].index(), 2.0}}));
  EXPECT_EQ(InputsOf(tape, chain[0]), (Inputs{{a.index(), 5.0}, {b.index(), 3.0}}));
  EXPECT_EQ(InputsOf(tape, chain[500]), (Inputs{{chain[499].index(), 2.0}}));
  EXPECT_EQ(InputsOf(tape, tail), (Inputs{{chain.back().index(), 1.0}}));

  // Rewound and recorded again: the same slots hold other records.
  ASSERT_TRUE(tape.Rewind(mark).ok());
  const Value c = a + b;
  const Value d = c * c;  // the last record: may still fuse
  EXPECT_EQ(InputsOf(tape, c), (Inputs{{a.index(), 1.0}, {b.index(), 1.0}}));
  Value e = d * 3.0;
  EXPECT_EQ(InputsOf(tape, d), (Inputs{{c.index(), 16.0}}));
  EXPECT_EQ(InputsOf(tape, e), (Inputs{{d.index(), 3.0}}));
  e = std::move(e) + a;  // folds into e's record, which was the last
  const Value f = e * 1.0;
  EXPECT_THAT(InputsOf(tape, e), ::testing::UnorderedElementsAre(
                                     std::pair<uint32_t, double>{d.index(), 3.0},
                                     std::pair<uint32_t, double>{a.index(), 1.0}));
  EXPECT_EQ(InputsOf(tape, d), (Inputs{{c.index(), 16.0}}));
  EXPECT_EQ(InputsOf(tape, f), (Inputs{{e.index(), 1.0}}));

  tape.Reset();
  const Value x = tape.Leaf(2.0), y = x * x, z = y * 4.0, w = z * 1.0;
  EXPECT_EQ(InputsOf(tape, z), (Inputs{{y.index(), 4.0}}));
  EXPECT_EQ(InputsOf(tape, y), (Inputs{{x.index(), 4.0}}));
  EXPECT_EQ(InputsOf(tape, w), (Inputs{{z.index(), 1.0}}));
}

TEST(Tape, RunningUpdateIsOneCompactRecord) {
  Tape tape;
  const Value w = tape.Leaf(0.5), b = tape.Leaf(0.25), x0 = tape.Leaf(2.0);
  Value x = x0 * 1.0;  // a record of its own, so that x is an op's result
  const size_t before = tape.Stats().record_bytes;
  x = x * w + b;  // a 20-byte body; its header is in the slot arrays
  EXPECT_EQ(tape.Stats().record_bytes - before, 20u);
  std::vector<std::pair<uint32_t, double>> inputs;
  ASSERT_TRUE(tape.ForEachInput(x.index(), x.index(),
                                [&](uint32_t slot, uint32_t input, double partial) {
                                  EXPECT_EQ(slot, x.index());
                                  inputs.emplace_back(input, partial);
                                })
                  .ok());
  EXPECT_THAT(inputs, ::testing::UnorderedElementsAre(
                          std::pair<uint32_t, double>{w.index(), 2.0},
                          std::pair<uint32_t, double>{b.index(), 1.0},
                          std::pair<uint32_t, double>{x.index() - 1, 0.5}));
  // Scaled by a unary op, the unit input is stored in full: 12 bytes more.
  x = std::move(x).tanh();
  EXPECT_EQ(tape.Stats().record_bytes - before, 32u);
  ASSERT_TRUE(x.Backward().ok());
  const double dy = 1.0 - std::pow(std::tanh(2.0 * 0.5 + 0.25), 2);
  EXPECT_DOUBLE_EQ(w.grad(), dy * 2.0);
  EXPECT_DOUBLE_EQ(b.grad(), dy);
  EXPECT_DOUBLE_EQ(x0.grad(), dy * 0.5);
}

// Every path that meets a packed running-update record (Note [Record layout]):
// an input appended to it, a unary op folded into it, `x + c + d` packed when
// written, the exact sweep, the walks and Compact. Each gives the grads of the
// same expression built from named parts, which never fuse.
struct Leaves {
  Value w, b, c, x0;
};
Leaves MakeLeaves(Tape& tape) {
  return {tape.Leaf(0.75), tape.Leaf(-0.25), tape.Leaf(0.5), tape.Leaf(1.25)};
}
Value PackedSteps(const Leaves& l) {
  Value x = l.x0 * 1.0;
  x = x * l.w + l.b;           // packed
  x = x * l.w + l.b + l.c;     // packed, then c appended
  x = (x * l.w + l.b).tanh();  // packed, then scaled
  return x + l.b + l.c;        // written packed
}
Value UnfusedSteps(const Leaves& l) {
  Value x = l.x0 * 1.0;
  for (int k = 0; k < 2; ++k) {
    const Value p = x * l.w;
    const Value q = p + l.b;
    x = q;
  }
  const Value r = x + l.c;
  const Value p = r * l.w;
  const Value q = p + l.b;
  const Value t = q.tanh();
  const Value u = t + l.b;
  return u + l.c;
}
void ExpectSameGrads(const Leaves& got, const Leaves& want) {
  EXPECT_NEAR(got.w.grad(), want.w.grad(), 1e-12 * std::abs(want.w.grad()));
  EXPECT_NEAR(got.b.grad(), want.b.grad(), 1e-12 * std::abs(want.b.grad()));
  EXPECT_NEAR(got.c.grad(), want.c.grad(), 1e-12 * std::abs(want.c.grad()));
  EXPECT_NEAR(got.x0.grad(), want.x0.grad(), 1e-12 * std::abs(want.x0.grad()));
}
void ZeroGrads(const Leaves& l) {
  for (const Value* v : {&l.w, &l.b, &l.c, &l.x0}) v->set_grad(0.0);
}

TEST(Tape, PackedRecordsGiveTheUnfusedGrads) {
  Tape packed, unfused;
  const Leaves p = MakeLeaves(packed), u = MakeLeaves(unfused);
  const Value y = PackedSteps(p), z = UnfusedSteps(u);
  EXPECT_DOUBLE_EQ(y.data(), z.data());
  EXPECT_LT(packed.Stats().record_bytes, unfused.Stats().record_bytes);
  ASSERT_TRUE(y.Backward().ok());
  ASSERT_TRUE(z.Backward().ok());
  ExpectSameGrads(p, u);
  EXPECT_NE(p.w.grad(), 0.0);

  // The walks see b in every packed record with partial +1.
  int b_inputs = 0;
  ASSERT_TRUE(packed
                  .ForEachInput(0, y.index(),
                                [&](uint32_t, uint32_t input, double partial) {
                                  if (input == p.b.index() && partial == 1.0) ++b_inputs;
                                })
                  .ok());
  EXPECT_EQ(b_inputs, 3);  // the first two steps and the last; the third is scaled

  // Above grads that a sweep left, the next sweep is the exact one (Note [Dirty
  // adjoints] in tape_sweep.cc).
  ZeroGrads(p);
  ZeroGrads(u);
  const Value y2 = PackedSteps(p), z2 = UnfusedSteps(u);
  ASSERT_TRUE(y2.Backward().ok());
  ASSERT_TRUE(z2.Backward().ok());
  ExpectSameGrads(p, u);
  EXPECT_NE(p.w.grad(), 0.0);
}

TEST(Tape, CompactRewritesPackedRecords) {
  Tape tape, reference;
  const Leaves p = MakeLeaves(tape), r = MakeLeaves(reference);
  TapeMark dead = tape.Mark();
  { const Value old = PackedSteps(p); }  // dead once compacted away
  TapeMark live = tape.Mark();
  const Value y = PackedSteps(p);
  const uint32_t root_offset = y.index() - live.values;
  ASSERT_TRUE(tape.Compact(dead, {&live}).ok()) << tape.status();
  const Value moved = tape.ValueAt(live.values + root_offset);
  ASSERT_TRUE(moved.ok());
  ASSERT_TRUE(moved.Backward().ok());
  const Value want = PackedSteps(r);
  ASSERT_TRUE(want.Backward().ok());
  // Moved records are written as the reference's were: packed.
  EXPECT_EQ(tape.Stats().record_bytes, reference.Stats().record_bytes);
  EXPECT_EQ(moved.data(), want.data());
  ExpectSameGrads(p, r);
}

TEST(Tape, SteadyStateReusesMemory) {
  Tape tape;
  std::vector<Value> params;
  for (int i = 0; i < 100; ++i) params.push_back(tape.Leaf(0.01 * i));
  const TapeMark mark = tape.Mark();
  TapeStats first;
  for (int step = 0; step < 20; ++step) {
    Value loss = Sum(params) * 0.0;
    for (int k = 0; k < 5000; ++k) loss = loss + params[k % 100] * params[(k + 1) % 100];
    ASSERT_TRUE(loss.Backward().ok());
    if (step == 1) first = tape.Stats();
    ASSERT_TRUE(tape.Rewind(mark).ok());
  }
  const TapeStats last = tape.Stats();
  EXPECT_EQ(last.arena.bytes_reserved, first.arena.bytes_reserved);
  EXPECT_EQ(last.arena.chunk_count, first.arena.chunk_count);
  EXPECT_EQ(last.slot_bytes, first.slot_bytes);
  EXPECT_EQ(last.values, 100u);
}

}  // namespace
}  // namespace tapegrad
