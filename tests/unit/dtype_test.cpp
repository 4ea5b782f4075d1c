#include "core/tensor/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/tensor/param_store.h"
#include "core/util/error.h"

namespace zotune {
namespace {

TEST(DType, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 lies exactly between two bf16 values (1 and 1 + 2^-7): ties go to even (1).
  EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256), f32_to_bf16(1.0f));
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DType, F16KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);         // rounds past max: inf
  EXPECT_EQ(f32_to_f16(5.9604645e-08f), 0x0001);   // smallest subnormal
  EXPECT_EQ(f32_to_f16(2.9802322e-08f), 0x0000);   // half of it: tie to even (zero)
  EXPECT_EQ(f16_to_f32(0x0001), 5.9604645e-08f);
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
}

TEST(DType, F16RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << "half bits " << h;
  }
}

TEST(DType, F16RoundingMatchesDoubleReference) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-70000.0f, 70000.0f);
  for (int i = 0; i < 100000; ++i) {
    const float x = dist(rng) * (i % 2 ? 1e-4f : 1.0f);
    const float y = f16_to_f32(f32_to_f16(x));
    // the nearest f16: neither neighbour is closer
    const uint16_t h = f32_to_f16(x);
    if (std::isinf(y)) { ASSERT_GE(std::fabs(x), 65520.0f); continue; }
    const float up = f16_to_f32(static_cast<uint16_t>(h + 1));
    const float down = f16_to_f32(static_cast<uint16_t>(h - 1));
    if (!std::isinf(up) && !std::isnan(up)) {
      ASSERT_LE(std::fabs(double(y) - x), std::fabs(double(up) - x));
    }
    if (!std::isinf(down) && !std::isnan(down) && (h & 0x7fff) != 0) {
      ASSERT_LE(std::fabs(double(y) - x), std::fabs(double(down) - x));
    }
  }
}

TEST(DType, ParseNames) {
  EXPECT_EQ(parse_dtype("bfloat16"), DType::BF16);
  EXPECT_EQ(parse_dtype("FP16"), DType::F16);
  EXPECT_EQ(parse_dtype("float32"), DType::F32);
  EXPECT_FALSE(parse_dtype("int8").has_value());
}

TEST(ParamStore, FlatBuffersPerDtypeWithOffsetsInDeclarationOrder) {
  ParamStore store;
  store.declare("a", DType::BF16, {2, 3});
  store.declare("b", DType::F32, {4});
  store.declare("c", DType::BF16, {5});
  store.allocate();
  EXPECT_EQ(store.at("a").offset, 0);
  EXPECT_EQ(store.at("c").offset, 6);
  EXPECT_EQ(store.at("b").offset, 0);
  EXPECT_EQ(store.numel(DType::BF16), 11);
  EXPECT_EQ(store.numel(DType::F32), 4);
  EXPECT_EQ(static_cast<char*>(store.data(store.at("c"))) - static_cast<char*>(store.buffer(DType::BF16)), 12);
  EXPECT_THROW(store.at("missing"), Error);
  EXPECT_THROW(store.f32(store.at("a")), Error);
}

TEST(ParamStore, RejectsDuplicatesAndLateDeclarations) {
  ParamStore store;
  store.declare("w", DType::F32, {2});
  EXPECT_THROW(store.declare("w", DType::F32, {2}), Error);
  EXPECT_THROW(store.declare("z", DType::F32, {0, 2}), Error);
  store.allocate();
  EXPECT_THROW(store.declare("v", DType::F32, {2}), Error);
}

}  // namespace
}  // namespace zotune
