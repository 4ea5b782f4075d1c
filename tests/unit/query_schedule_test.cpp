// AdaZeta's adaptive query schedule (docs/papers/adazeta.md a.4) against the paper notes'
// worked example and per-task exponents, recomputed here from the closed form.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/optim/query_schedule.h"
#include "core/train/task.h"
#include "core/util/error.h"

namespace zotune {
namespace {

// The published launcher: alpha 0.85, NUM 20, Q_max 15, 10,000 steps of batch 16.
QueryScheduleOptions launcher() {
  QueryScheduleOptions o;
  o.alpha = 0.85;
  o.target = 20;
  o.min_queries = 1;
  o.max_queries = 15;
  return o;
}

TrainingExtent extent(int64_t examples) { return TrainingExtent{examples, 16, 10000}; }

TEST(QuerySchedule, WorkedExampleOfTheCode) {
  // 1000 examples: ceil(1000/16) = 63 steps per epoch, E = 10000*16/1000 = 160,
  // beta = ln(20/0.85)/ln(160) = 3.15827/5.07517 = 0.62230.
  const QuerySchedule s(launcher(), extent(1000));
  EXPECT_EQ(s.steps_per_epoch(), 63);
  EXPECT_NEAR(s.beta(), 0.6223, 5e-5);
  EXPECT_NEAR(s.beta(), std::log(20.0 / 0.85) / std::log(160.0), 1e-15);
  // The table of a.4: epochs 0-3, 4, 10, 20, 50, 100, >= 101.
  for (int e : {0, 1, 2, 3}) EXPECT_EQ(s.queries_at_epoch(e), 1) << e;
  EXPECT_EQ(s.queries_at_epoch(4), 2);
  EXPECT_EQ(s.queries_at_epoch(10), 3);
  EXPECT_EQ(s.queries_at_epoch(20), 5);
  EXPECT_EQ(s.queries_at_epoch(50), 9);
  EXPECT_EQ(s.queries_at_epoch(100), 14);
  for (int e : {101, 120, 158}) EXPECT_EQ(s.queries_at_epoch(e), 15) << e;  // the cap
  // Where Q steps up (0.85 e^0.6223 crosses an integer): 2 at e = 4, 3 at 8, 14 at 91.
  EXPECT_EQ(s.queries_at_epoch(7), 2);
  EXPECT_EQ(s.queries_at_epoch(8), 3);
  EXPECT_EQ(s.queries_at_epoch(90), 13);
  EXPECT_EQ(s.queries_at_epoch(91), 14);
}

TEST(QuerySchedule, StepsMapToEpochsAtBoundaries) {
  const QuerySchedule s(launcher(), extent(1000));
  EXPECT_EQ(s.epoch(0), 0);
  EXPECT_EQ(s.epoch(62), 0);
  EXPECT_EQ(s.epoch(63), 1);
  EXPECT_EQ(s.epoch(251), 3);  // 4 * 63 = 252 is the first step of epoch 4
  EXPECT_EQ(s.queries(251), 1);
  EXPECT_EQ(s.queries(252), 2);
  EXPECT_EQ(s.epoch(9999), 158);  // the run's last step: epoch floor(9999 / 63) = 158
  EXPECT_EQ(s.queries(9999), 15);
  // A partial last batch still counts one step: 150 examples of batch 16 = 10 steps.
  EXPECT_EQ(QuerySchedule(launcher(), extent(150)).steps_per_epoch(), 10);
}

TEST(QuerySchedule, PerTaskBetasOfTheCode) {
  // a.4: CB 150 -> 0.453, COPA 300 -> 0.503, WSC 54 -> 0.395, 1000 -> 0.622, with T = 10,000
  // and B = 16 (beta = ln(20/0.85) / ln(160000 / D)).
  EXPECT_NEAR(QuerySchedule(launcher(), extent(150)).beta(), 0.453, 5e-4);
  EXPECT_NEAR(QuerySchedule(launcher(), extent(300)).beta(), 0.503, 5e-4);
  EXPECT_NEAR(QuerySchedule(launcher(), extent(54)).beta(), 0.395, 5e-4);
  EXPECT_NEAR(QuerySchedule(launcher(), extent(1000)).beta(), 0.622, 5e-4);
  // Batch 64 would give other values (CB: ln(20/0.85)/ln(640000/150) = 0.3778): the notes used 16.
  EXPECT_NEAR(derived_query_beta(0.85, 20, TrainingExtent{150, 64, 10000}), 0.3778, 5e-4);
}

TEST(QuerySchedule, GivenBetaIsThePapersVariant) {
  QueryScheduleOptions o = launcher();
  o.beta_auto = false;
  o.beta = 0.45;      // the paper's Llama-2 exponent
  o.max_queries = 20;  // and its cap
  const QuerySchedule s(o, extent(1000));
  EXPECT_EQ(s.beta(), 0.45);
  // floor(0.85 * e^0.45): e = 10 -> 2.396, 100 -> 6.752, 158 -> 8.295.
  EXPECT_EQ(s.queries_at_epoch(10), 2);
  EXPECT_EQ(s.queries_at_epoch(100), 6);
  EXPECT_EQ(s.queries_at_epoch(158), 8);
}

TEST(QuerySchedule, FloorAndFixedMode) {
  QueryScheduleOptions o = launcher();
  o.min_queries = 3;  // the distributed trainer's floor
  const QuerySchedule floored(o, extent(1000));
  EXPECT_EQ(floored.queries_at_epoch(0), 3);
  EXPECT_EQ(floored.queries_at_epoch(9), 3);   // floor(0.85 * 9^0.6223) = 3
  EXPECT_EQ(floored.queries_at_epoch(13), 4);
  o = launcher();
  o.fixed = true;
  o.target = 7;
  const QuerySchedule fixed(o, TrainingExtent{1000, 16, 10});  // one epoch: beta could not be derived
  for (uint32_t k : {0u, 63u, 9999u}) EXPECT_EQ(fixed.queries(k), 7) << k;
}

TEST(QuerySchedule, RejectsInvalidSettings) {
  QueryScheduleOptions o = launcher();
  o.min_queries = 16;
  EXPECT_THROW(QuerySchedule(o, extent(1000)), Error);
  o = launcher();
  o.alpha = 0.0;
  EXPECT_THROW(QuerySchedule(o, extent(1000)), Error);
  o = launcher();
  o.beta_auto = false;
  o.beta = -0.5;
  EXPECT_THROW(QuerySchedule(o, extent(1000)), Error);
  EXPECT_THROW(QuerySchedule(launcher(), TrainingExtent{0, 16, 10000}), Error);
  // T * B <= D: at most one epoch, ln(E) <= 0, and the message says what to do.
  try {
    QuerySchedule(launcher(), TrainingExtent{1000, 16, 60});
    FAIL() << "no error for a run of less than one epoch";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer.queries_beta"), std::string::npos) << e.what();
  }
}

// The schedule's epochs are the epochs the trainer's minibatches pass through (data.sampler
// epoch): Q changes exactly where a new shuffled pass over the training set begins, and the
// pass that ends there has used every example once (the last batch partial: 1000 = 62 * 16 + 8).
TEST(QuerySchedule, EpochsAreTheSamplersPasses) {
  const int n = 1000, batch = 16;
  const QuerySchedule s(launcher(), extent(n));
  ASSERT_EQ(s.steps_per_epoch(), steps_per_epoch(n, batch));
  for (uint32_t step = 0; step < 5 * 63; ++step) {
    const std::vector<int> mb = epoch_minibatch(9, step, n, batch);
    const std::vector<int> pass = epoch_permutation(9, static_cast<uint64_t>(s.epoch(step)), n);
    const size_t first = static_cast<size_t>(step % 63) * batch;
    ASSERT_EQ(mb, std::vector<int>(pass.begin() + first, pass.begin() + std::min<size_t>(n, first + batch))) << step;
  }
  EXPECT_EQ(epoch_minibatch(9, 62, n, batch).size(), 8u);
  EXPECT_EQ(s.epoch(62), 0);
  EXPECT_EQ(s.epoch(63), 1);
  // Epoch 4 starts at step 252: the first step with Q = 2 (the worked example).
  EXPECT_EQ(s.queries(251), 1);
  EXPECT_EQ(s.queries(252), 2);
  EXPECT_NE(epoch_minibatch(9, 252, n, batch), epoch_minibatch(9, 252 - 63, n, batch));
}

}  // namespace
}  // namespace zotune
