// ZOTUNE_PROFILE_STEPS (core/train/profile_steps.h): the steps a GPU profiler records, parsed
// strictly (a typo must not profile the wrong steps or none), and where the capture starts and
// stops.
#include "core/train/profile_steps.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "io_test_util.h"

namespace zotune {
namespace {

using test::error_of;

TEST(ProfileSteps, FirstAndCountBracketThoseSteps) {
  const ProfileSteps one = parse_profile_steps("3");
  EXPECT_EQ(one.first, 3);
  EXPECT_EQ(one.count, 1);
  EXPECT_TRUE(one.starts_at(3) && one.ends_at(3));
  EXPECT_FALSE(one.starts_at(2) || one.ends_at(4));
  const ProfileSteps two = parse_profile_steps("2:4");
  EXPECT_TRUE(two.starts_at(2));
  EXPECT_FALSE(two.ends_at(2) || two.ends_at(4) || two.starts_at(5));
  EXPECT_TRUE(two.ends_at(5));
  const ProfileSteps none = parse_profile_steps("");
  for (int64_t s : {-1, 0, 1}) EXPECT_FALSE(none.starts_at(s) || none.ends_at(s));
}

TEST(ProfileSteps, MalformedValuesNameTheVariable) {
  for (const char* bad : {"x", "-1", "3:", "3:0", ":2", "3:2:1", " 3", "3.5", "2:-1", "99999999999999999999"}) {
    const std::string error = error_of([&] { parse_profile_steps(bad); });
    EXPECT_NE(error.find(std::string("ZOTUNE_PROFILE_STEPS: '") + bad + "' is not FIRST or FIRST:COUNT"), std::string::npos)
        << bad << ": " << error;
  }
}

TEST(ProfileSteps, ReadFromTheEnvironment) {
  ::unsetenv(kProfileStepsVariable);
  EXPECT_EQ(profile_steps_from_environment().count, 0);
  ::setenv(kProfileStepsVariable, "5:2", 1);
  const ProfileSteps p = profile_steps_from_environment();
  ::unsetenv(kProfileStepsVariable);
  EXPECT_EQ(p.first, 5);
  EXPECT_EQ(p.count, 2);
}

}  // namespace
}  // namespace zotune
