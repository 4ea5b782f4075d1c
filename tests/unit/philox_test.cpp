// Philox4x32-10 against the published Random123 known-answer vectors, the statistics of
// the normals it yields, and the fused perturbation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/common/philox.h"
#include "kernels/cpu/perturb.h"

namespace zotune {
namespace {

TEST(Philox, Random123KnownAnswers) {
  struct Kat {
    Philox4 ctr;
    uint32_t k0, k1;
    Philox4 want;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff, {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0, {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Kat& k : kats) {
    const Philox4 got = philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.v[i], k.want.v[i]) << "word " << i;
  }
}

TEST(Philox, HeadPathEqualsTheFullRoundsBitForBit) {
  std::mt19937_64 rng(0x4ead);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t seed = rng(), block = rng();
    const uint32_t step = static_cast<uint32_t>(rng()), query = static_cast<uint32_t>(rng() % 4 == 0 ? 0 : rng());
    const Philox4 want = direction_block(seed, step, query, block);
    const Philox4 got =
        philox_with_head(direction_head(seed, step, query, static_cast<uint32_t>(block >> 32)), static_cast<uint32_t>(block));
    for (int l = 0; l < 4; ++l) ASSERT_EQ(got.v[l], want.v[l]) << "block " << block << " word " << l;
  }
  // The Random123 all-ones answer through the head.
  const Philox4 ones = philox_with_head(philox_head(~0u, ~0u, ~0u, ~0u, ~0u), ~0u);
  const uint32_t want[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
  for (int l = 0; l < 4; ++l) EXPECT_EQ(ones.v[l], want[l]) << "word " << l;
}

TEST(Philox, NormalsHaveStandardMoments) {
  const int64_t n = 10'000'000;
  std::vector<float> z(n);
  cpu::direction(z.data(), n, 0, 0x5eed, 7, 3, DirectionKind::Gaussian);
  double m1 = 0, m2 = 0, m4 = 0;
  for (float v : z) m1 += v;
  m1 /= n;
  for (float v : z) {
    const double d = v - m1;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  // Five standard errors: mean 1/sqrt(n), variance sqrt(2/n), kurtosis sqrt(24/n).
  EXPECT_NEAR(m1, 0.0, 5 / std::sqrt(double(n)));
  EXPECT_NEAR(m2, 1.0, 5 * std::sqrt(2.0 / n));
  EXPECT_NEAR(m4 / (m2 * m2), 3.0, 5 * std::sqrt(24.0 / n));
}

TEST(Philox, DirectionsOfDifferentQueriesStepsAndSeedsAreUncorrelated) {
  const int64_t n = 1'000'000;
  std::vector<float> a(n), b(n);
  cpu::direction(a.data(), n, 0, 1, 0, 0, DirectionKind::Gaussian);
  const std::tuple<uint64_t, uint32_t, uint32_t> others[] = {{1, 0, 1}, {1, 1, 0}, {2, 0, 0}};
  for (auto [seed, step, query] : others) {
    cpu::direction(b.data(), n, 0, seed, step, query, DirectionKind::Gaussian);
    double dot = 0;
    for (int64_t i = 0; i < n; ++i) dot += double(a[i]) * b[i];
    EXPECT_NEAR(dot / n, 0.0, 5 / std::sqrt(double(n))) << seed << " " << step << " " << query;
  }
}

TEST(Philox, AnyRangeRegeneratesTheSameValues) {
  std::vector<float> whole(1000), part(333);
  cpu::direction(whole.data(), 1000, 0, 9, 4, 2, DirectionKind::Gaussian);
  cpu::direction(part.data(), 333, 517, 9, 4, 2, DirectionKind::Gaussian);  // unaligned start
  for (int i = 0; i < 333; ++i) EXPECT_EQ(part[i], whole[517 + i]);
}

TEST(Philox, RademacherIsBalancedSigns) {
  const int64_t n = 1'000'000;
  std::vector<float> z(n);
  cpu::direction(z.data(), n, 0, 3, 0, 0, DirectionKind::Rademacher);
  double sum = 0;
  for (float v : z) {
    ASSERT_TRUE(v == 1.0f || v == -1.0f);
    sum += v;
  }
  EXPECT_NEAR(sum / n, 0.0, 5 / std::sqrt(double(n)));
}

TEST(Perturb, FusedTermsEqualTheSumOfDirectionsPerDtype) {
  const int64_t n = 40000;
  const uint64_t first = 1234567;  // not a multiple of 4
  const cpu::DirectionTerm terms[] = {{11, 5, 0, -0.5f}, {11, 5, 1, 0.25f}, {11, 6, 0, 1e-3f}};
  std::vector<std::vector<float>> z(3, std::vector<float>(n));
  for (int j = 0; j < 3; ++j) cpu::direction(z[j].data(), n, first, terms[j].seed, terms[j].step, terms[j].query, DirectionKind::Gaussian);
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> base(n);
  for (float& v : base) v = d(rng);
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    std::vector<uint8_t> x(n * dtype_size(t));
    convert(base.data(), DType::F32, x.data(), t, n);
    std::vector<float> before(n);
    convert(x.data(), t, before.data(), DType::F32, n);
    cpu::perturb(x.data(), t, n, first, terms, 3, DirectionKind::Gaussian);
    std::vector<float> after(n);
    convert(x.data(), t, after.data(), DType::F32, n);
    for (int64_t i = 0; i < n; ++i) {
      const float sum = (-0.5f * z[0][i] + 0.25f * z[1][i]) + 1e-3f * z[2][i];
      const float want_f32 = before[i] + sum;
      float want = want_f32;
      if (t == DType::F16) want = f16_to_f32(f32_to_f16(want_f32));
      if (t == DType::BF16) want = bf16_to_f32(f32_to_bf16(want_f32));
      ASSERT_NEAR(after[i], want, std::fabs(want) * 1e-6f + 1e-7f) << dtype_name(t) << " i=" << i;
    }
  }
}

TEST(Perturb, PlusThenMinusRestoresFp32Exactly) {
  // x + c z - c z is exact in fp32 only when no rounding happens; what we need is that the
  // same term with the opposite sign restores to within one rounding per element.
  const int64_t n = 10000;
  std::vector<float> x(n), x0;
  std::mt19937 rng(2);
  std::normal_distribution<float> d(0.0f, 0.1f);
  for (float& v : x) v = d(rng);
  x0 = x;
  cpu::DirectionTerm plus{5, 1, 0, 1e-3f}, minus{5, 1, 0, -1e-3f};
  cpu::perturb(x.data(), DType::F32, n, 0, &plus, 1, DirectionKind::Gaussian);
  cpu::perturb(x.data(), DType::F32, n, 0, &minus, 1, DirectionKind::Gaussian);
  for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(x[i], x0[i], std::fabs(x0[i]) * 2e-7f + 1e-9f);
}

}  // namespace
}  // namespace zotune
