// run.divergence_factor's check (core/train/divergence_guard.h): the first observed loss is
// the initial one, a finite loss above factor x initial stops the run naming step, loss,
// factor and initial loss; 0 turns it off; non-finite losses are left to the trainer's check.
#include "core/train/divergence_guard.h"

#include <gtest/gtest.h>

#include <limits>

#include "core/util/error.h"
#include "io_test_util.h"

namespace zotune {
namespace {

using test::error_of;

TEST(DivergenceGuard, StopsAtTheFirstLossAboveFactorTimesTheFirstStepsLoss) {
  DivergenceGuard guard(100.0);
  guard.observe(0, 2.0);
  EXPECT_EQ(guard.initial(), 2.0);
  EXPECT_EQ(error_of([&] { guard.observe(1, 150.0); }), "");
  EXPECT_EQ(error_of([&] { guard.observe(2, 200.0); }), "");  // not above 100 x 2
  EXPECT_EQ(error_of([&] { guard.observe(3, std::numeric_limits<double>::quiet_NaN()); }), "");
  const std::string error = error_of([&] { guard.observe(4, 200.5); });
  EXPECT_EQ(error.rfind("diverged at step 4 (loss 200.5 > 100 x initial 2)", 0), 0u) << error;
}

TEST(DivergenceGuard, ZeroIsOffAndAResumedRunUsesItsLoggedInitialLoss) {
  DivergenceGuard off(0.0);
  off.observe(0, 1.0);
  EXPECT_EQ(error_of([&] { off.observe(1, 1e30); }), "");
  DivergenceGuard resumed(10.0);
  resumed.set_initial(3.0);  // step 0's logged loss; the resumed run starts at a later step
  EXPECT_EQ(error_of([&] { resumed.observe(7, 29.0); }), "");
  EXPECT_NE(error_of([&] { resumed.observe(8, 31.0); }).find("diverged at step 8 (loss 31 > 10 x initial 3)"), std::string::npos);
}

}  // namespace
}  // namespace zotune
