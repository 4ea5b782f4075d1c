// The CPU dequantizers against the Python gguf package's reference (gguf.quants.dequantize)
// on fixtures from tests/fixtures/gguf/make_dequant_fixtures.py, plus hand-built blocks
// whose values follow from the format description alone.
#include "kernels/cpu/dequantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "io_test_util.h"

namespace zotune {
namespace {

using test::fixture_path;
using test::read_bytes;
using test::read_floats;

struct DequantCase {
  const char* name;  // fixture stem: dequant_<name>.blocks / .f32
  void (*row)(const uint8_t*, float*, int64_t);
  int64_t block;
  size_t block_bytes;
};

const DequantCase kCases[] = {
    {"f32", cpu::dequantize_row_f32, 1, 4},
    {"f16", cpu::dequantize_row_f16, 1, 2},
    {"bf16", cpu::dequantize_row_bf16, 1, 2},
    {"q4_0", cpu::dequantize_row_q4_0, 32, cpu::kQ4_0Bytes},
    {"q4_1", cpu::dequantize_row_q4_1, 32, cpu::kQ4_1Bytes},
    {"q5_0", cpu::dequantize_row_q5_0, 32, cpu::kQ5_0Bytes},
    {"q5_1", cpu::dequantize_row_q5_1, 32, cpu::kQ5_1Bytes},
    {"q8_0", cpu::dequantize_row_q8_0, 32, cpu::kQ8_0Bytes},
    {"q2_k", cpu::dequantize_row_q2_k, 256, cpu::kQ2_KBytes},
    {"q3_k", cpu::dequantize_row_q3_k, 256, cpu::kQ3_KBytes},
    {"q4_k", cpu::dequantize_row_q4_k, 256, cpu::kQ4_KBytes},
    {"q5_k", cpu::dequantize_row_q5_k, 256, cpu::kQ5_KBytes},
    {"q6_k", cpu::dequantize_row_q6_k, 256, cpu::kQ6_KBytes},
};

void PrintTo(const DequantCase& c, std::ostream* os) { *os << c.name; }

class DequantizeMatchesGgufPy : public ::testing::TestWithParam<DequantCase> {};

// Same operations in the same order as ggml's reference, so results agree to the bit; the
// tolerance only admits a compiler contracting a*b+c into an FMA (a rounding of the largest
// term in the block).
TEST_P(DequantizeMatchesGgufPy, EveryValue) {
  const DequantCase& c = GetParam();
  const std::string stem = fixture_path(std::string("gguf/dequant_") + c.name);
  const std::vector<uint8_t> blocks = read_bytes(stem + ".blocks");
  const std::vector<float> expected = read_floats(stem + ".f32");
  ASSERT_FALSE(expected.empty()) << stem << ".f32 missing: run tests/fixtures/gguf/make_dequant_fixtures.py";
  const int64_t n = static_cast<int64_t>(expected.size());
  ASSERT_EQ(n % c.block, 0);
  ASSERT_EQ(blocks.size(), static_cast<size_t>(n / c.block) * c.block_bytes);

  std::vector<float> got(expected.size(), std::nanf(""));
  c.row(blocks.data(), got.data(), n);
  const int64_t span = std::max<int64_t>(c.block, 32);
  int64_t exact = 0;
  for (int64_t b = 0; b < n; b += span) {
    float scale = 0.0f;
    for (int64_t i = b; i < b + span; ++i) scale = std::max(scale, std::fabs(expected[i]));
    for (int64_t i = b; i < b + span; ++i) {
      ASSERT_NEAR(got[i], expected[i], 1e-6f * scale) << c.name << " element " << i;
      exact += got[i] == expected[i];
    }
  }
  EXPECT_EQ(exact, n) << c.name << ": all within tolerance, but not all bit-identical";

  // Blocks read at an odd address (a mapping or fuzz buffer gives no alignment guarantee).
  std::vector<uint8_t> shifted(blocks.size() + 1);
  std::copy(blocks.begin(), blocks.end(), shifted.begin() + 1);
  std::vector<float> again(expected.size());
  c.row(shifted.data() + 1, again.data(), n);
  EXPECT_EQ(again, got);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantizeMatchesGgufPy, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<DequantCase>& info) { return std::string(info.param.name); });

void put_half(uint8_t* p, float v) {
  const uint16_t h = f32_to_f16(v);
  p[0] = static_cast<uint8_t>(h & 0xff);
  p[1] = static_cast<uint8_t>(h >> 8);
}

TEST(Dequantize, Q4_0HandBuiltBlock) {
  // d = 0.5; byte j holds element j (low nibble) and element j + 16 (high nibble), both
  // stored +8.
  uint8_t block[cpu::kQ4_0Bytes] = {};
  put_half(block, 0.5f);
  for (int j = 0; j < 16; ++j) block[2 + j] = static_cast<uint8_t>((15 - j) << 4 | j);
  float out[32];
  cpu::dequantize_row_q4_0(block, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 0.5f * (j - 8));
    EXPECT_EQ(out[j + 16], 0.5f * (15 - j - 8));
  }
}

TEST(Dequantize, Q5_1HighBitsComeFromQh) {
  // d = 1, m = -16: element value = quant - 16. qh bit j is the fifth bit of element j.
  uint8_t block[cpu::kQ5_1Bytes] = {};
  put_half(block, 1.0f);
  put_half(block + 2, -16.0f);
  const uint32_t qh = 0x80000001u;  // elements 0 and 31 get +16
  for (int i = 0; i < 4; ++i) block[4 + i] = static_cast<uint8_t>(qh >> (8 * i));
  for (int j = 0; j < 16; ++j) block[8 + j] = 0x33;  // every nibble 3
  float out[32];
  cpu::dequantize_row_q5_1(block, out, 32);
  EXPECT_EQ(out[0], 3.0f);
  EXPECT_EQ(out[1], -13.0f);
  EXPECT_EQ(out[30], -13.0f);
  EXPECT_EQ(out[31], 3.0f);
}

TEST(Dequantize, Q8_0IsSignedTimesScale) {
  uint8_t block[cpu::kQ8_0Bytes] = {};
  put_half(block, 0.25f);
  for (int j = 0; j < 32; ++j) block[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128));
  float out[32];
  cpu::dequantize_row_q8_0(block, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.25f * (j * 8 - 128));
}

TEST(Dequantize, Q6_KConstantBlock) {
  // Every 6-bit quant 33 (stored +32, so 1), every scale 2, d = 0.5: all values 1.
  uint8_t block[cpu::kQ6_KBytes] = {};
  for (int i = 0; i < 128; ++i) block[i] = 0x11;          // low nibbles 1
  for (int i = 0; i < 64; ++i) block[128 + i] = 0xAA;     // high bits 2 -> +32
  for (int i = 0; i < 16; ++i) block[192 + i] = 2;
  put_half(block + 208, 0.5f);
  float out[256];
  cpu::dequantize_row_q6_k(block, out, 256);
  for (float v : out) ASSERT_EQ(v, 1.0f);
}

}  // namespace
}  // namespace zotune
