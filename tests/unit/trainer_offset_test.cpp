// offset_difference: how the in-place trainer moves from one probe to the next (and from the
// last probe to the update) in one parameter pass.
#include <gtest/gtest.h>

#include "core/train/trainer.h"

namespace zotune {
namespace {

cpu::DirectionTerm term(uint32_t query, float coeff, uint32_t step = 4) { return {77, step, query, coeff}; }

TEST(OffsetDifference, MezoProbesAndUpdateAreOneTermEach) {
  // +eps z0 -> -eps z0: one pass of -2 eps z0.
  std::vector<cpu::DirectionTerm> d = offset_difference({term(0, 1e-3f)}, {term(0, -1e-3f)});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].query, 0u);
  EXPECT_FLOAT_EQ(d[0].coeff, -2e-3f);
  // -eps z0 -> the update -lr g z0: back and update fused, (eps - lr g) z0.
  d = offset_difference({term(0, -1e-3f)}, {term(0, -0.25f)});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_FLOAT_EQ(d[0].coeff, 1e-3f - 0.25f);
}

TEST(OffsetDifference, KeepsDistinctDirectionsAndDropsCancelledOnes) {
  const std::vector<cpu::DirectionTerm> from{term(0, 0.5f), term(1, 0.25f)};
  const std::vector<cpu::DirectionTerm> to{term(1, 0.25f), term(2, -1.0f), term(0, 0.5f, 5)};
  const std::vector<cpu::DirectionTerm> d = offset_difference(from, to);
  // z(step 4, q0) leaves, z(q1) cancels, z(q2) and z(step 5, q0) arrive.
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].query, 0u);
  EXPECT_EQ(d[0].step, 4u);
  EXPECT_FLOAT_EQ(d[0].coeff, -0.5f);
  EXPECT_EQ(d[1].query, 2u);
  EXPECT_FLOAT_EQ(d[1].coeff, -1.0f);
  EXPECT_EQ(d[2].step, 5u);
  EXPECT_FLOAT_EQ(d[2].coeff, 0.5f);
  EXPECT_TRUE(offset_difference(from, from).empty());
  EXPECT_TRUE(offset_difference({}, {}).empty());
}

}  // namespace
}  // namespace zotune
