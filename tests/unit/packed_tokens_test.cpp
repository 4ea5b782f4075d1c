// pack_tokens (core/model/packed_tokens.h): the CUDA engine's unpadded forward runs on these
// index maps, so they are checked here where CI runs: right and left padding, the maps inverse
// to each other, head rows remapped, the widened slot layout and its mask, dummy rows rounding
// each probe group's block, and the refusals (a row on padding, unequal groups).
#include "core/model/packed_tokens.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io_test_util.h"

namespace zotune {
namespace {

using test::error_of;

// 3 sequences of 4 slots: right-padded (3 real), full (4), left-padded (2 real).
Batch mixed_batch() {
  Batch b;
  b.batch = 3;
  b.seq_len = 4;
  b.ids = {10, 11, 12, 0, 20, 21, 22, 23, 0, 0, 30, 31};
  b.mask = {1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1};
  return b;
}

TEST(PackedTokens, RightAndLeftPaddingPackTheRealTokensInBatchOrder) {
  const Batch b = mixed_batch();
  const PackedTokens p = pack_tokens(b, {2, 7, 11, 10});
  EXPECT_EQ(p.tokens(), 9);
  EXPECT_EQ(p.padded_seq_len, 4);
  EXPECT_EQ(p.padded_of, (std::vector<int32_t>{0, 1, 2, 4, 5, 6, 7, 10, 11}));
  EXPECT_EQ(p.packed_of, (std::vector<int32_t>{0, 1, 2, -1, 3, 4, 5, 6, -1, -1, 7, 8}));
  EXPECT_EQ(p.mask, b.mask);
  EXPECT_EQ(p.rows, (std::vector<int64_t>{2, 6, 8, 7}));
  EXPECT_EQ(packed_values(p, b.ids), (std::vector<int32_t>{10, 11, 12, 20, 21, 22, 23, 30, 31}));
  for (int i = 0; i < p.tokens(); ++i) EXPECT_EQ(p.packed_of[p.padded_of[i]], i);
}

TEST(PackedTokens, RoundingAddsDummyRowsAndMaskedSlotsAtTheEnds) {
  const Batch b = mixed_batch();
  // 9 real tokens -> 12 rows (3 dummies, slot -1, value 0); 4 slots -> 8 a sequence.
  const PackedTokens p = pack_tokens(b, {2, 10}, 1, 4, 8);
  EXPECT_EQ(p.tokens(), 12);
  EXPECT_EQ(p.padded_seq_len, 8);
  EXPECT_EQ(p.padded_of, (std::vector<int32_t>{0, 1, 2, 8, 9, 10, 11, 18, 19, -1, -1, -1}));
  EXPECT_EQ(p.mask, (std::vector<uint8_t>{1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(p.rows, (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(packed_values(p, b.ids), (std::vector<int32_t>{10, 11, 12, 20, 21, 22, 23, 30, 31, 0, 0, 0}));
  ASSERT_EQ(p.packed_of.size(), 24u);
  for (size_t j = 0; j < p.packed_of.size(); ++j) {
    if (p.packed_of[j] >= 0) EXPECT_EQ(p.padded_of[p.packed_of[j]], static_cast<int32_t>(j));
    EXPECT_EQ(p.packed_of[j] >= 0, p.mask[j] == 1) << "slot " << j;
  }
  // A multiple the count already meets adds nothing.
  EXPECT_EQ(pack_tokens(b, {}, 1, 9, 4).tokens(), 9);
}

TEST(PackedTokens, EachProbeGroupIsOneEqualBlockOfRows) {
  // Probe groups repeat the batch: group g's rows are the g-th block, dummies at its end.
  Batch one;
  one.batch = 2;
  one.seq_len = 3;
  one.ids = {1, 2, 0, 3, 4, 5};
  one.mask = {1, 1, 0, 1, 1, 1};
  const Batch three = one.repeated(3);
  const PackedTokens p = pack_tokens(three, {}, 3, 4);
  ASSERT_EQ(p.tokens(), 24);  // 5 real tokens a group, rounded to 8
  const std::vector<int32_t> ids = packed_values(p, three.ids);
  for (int g = 0; g < 3; ++g)
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(ids[g * 8 + i], ids[i]) << "group " << g << " row " << i;
      EXPECT_EQ(p.padded_of[g * 8 + i], i < 5 ? p.padded_of[i] + g * 6 : -1) << "group " << g << " row " << i;
    }
}

TEST(PackedTokens, RowsOnPaddingUnequalGroupsAndBadShapesAreRefused) {
  Batch b = mixed_batch();
  EXPECT_EQ(error_of([&] { pack_tokens(b, {1, 3}); }),
            "pack_tokens: row 3 (sequence 0, slot 3) is padding: the head reads real tokens only");
  EXPECT_EQ(error_of([&] { pack_tokens(b, {12}); }), "pack_tokens: row 12 is outside the batch's 12 slots");
  EXPECT_EQ(error_of([&] { pack_tokens(b, {}, 2); }), "pack_tokens: 3 sequences do not split into 2 probe groups");
  EXPECT_EQ(error_of([&] { pack_tokens(b, {}, 3); }), "pack_tokens: probe group 1 has 4 real tokens, group 0 3");
  EXPECT_EQ(error_of([&] { pack_tokens(b, {}, 1, 0); }), "pack_tokens: multiples must be at least 1");
  EXPECT_EQ(error_of([&] { packed_values(pack_tokens(b, {}), {1, 2}); }), "packed_values: 2 values for 12 slots");
  b.mask.pop_back();
  EXPECT_EQ(error_of([&] { pack_tokens(b, {}); }), "pack_tokens: the mask has 11 entries for 12 slots");
}

}  // namespace
}  // namespace zotune
