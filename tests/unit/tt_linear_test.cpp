// The host TT linear layer (kernels/cpu/tt_linear.h, docs/papers/adazeta.md a.1-a.2):
//  - parameter counts of the papers' four adapter shapes (a.2's table: 1,100 / 1,100 / 880 / 880);
//  - tt_dense against a naive fp64 entry-by-entry product G_1[:, a_1, :] ... G_p[:, a_p, :] of the
//    cores, written here independently of the fold the kernel uses;
//  - tt_linear (two-group contraction) against x @ tt_dense + bias computed in fp64, 1e-6
//    normalized error (max |got - want| / max |want|), for 4096 -> 64, 64 -> 4096, 1024 -> 64
//    (o = 3) and 64 -> 1024 (o = 2), with and without bias;
//  - tt_init: reconstructed W entries have std sqrt(1 / (in + out)) within 10%, bias within
//    +-1/sqrt(out) with the uniform's std, reproducible from the seed.
// Inputs are seeded normals with nonzero means, so zeros, a transposed W or a lost bias fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/util/error.h"
#include "kernels/cpu/tt_linear.h"
#include "random_test_util.h"

namespace zotune {
namespace {

using cpu::TtShape;

TtShape llama_down() { return {{16, 16, 16, 4, 4, 4}, 3, 5}; }  // 4096 -> 64
TtShape llama_up() { return {{4, 4, 4, 16, 16, 16}, 3, 5}; }    // 64 -> 4096
TtShape roberta_down() { return {{8, 8, 16, 8, 8}, 3, 5}; }     // 1024 = 8*8*16 -> 64 = 8*8
TtShape roberta_up() { return {{8, 8, 16, 8, 8}, 2, 5}; }       // 64 = 8*8 -> 1024 = 16*8*8

// Cores of O(1) entries scaled so W's entries stay O(1) too, with a nonzero mean.
std::vector<float> random_cores(const TtShape& s, uint32_t seed) {
  return test::normal_vector(static_cast<size_t>(s.cores_numel()), seed, 0.2f, 1.0f / std::sqrt(float(s.rank)));
}

double normalized_error(const std::vector<float>& got, const std::vector<double>& want) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::fabs(got[i] - want[i]));
    ref = std::max(ref, std::fabs(want[i]));
  }
  return diff / ref;
}

// W(a_1..a_p) as the chain of matrix slices, in fp64, straight from the layout: core i is
// row-major [r_i, k_i, r_{i+1}] at offset sum of the earlier cores' sizes.
std::vector<double> naive_dense(const TtShape& s, const std::vector<float>& cores) {
  const int p = static_cast<int>(s.modes.size());
  int in = 1, out = 1;
  for (int i = 0; i < p; ++i) (i < s.in_modes ? in : out) *= s.modes[i];
  std::vector<int> ranks(p + 1, s.rank);
  ranks[0] = ranks[p] = 1;
  std::vector<size_t> offset(p + 1, 0);
  for (int i = 0; i < p; ++i) offset[i + 1] = offset[i] + size_t(ranks[i]) * s.modes[i] * ranks[i + 1];
  EXPECT_EQ(offset[p], cores.size());
  std::vector<double> w(size_t(in) * out);
  std::vector<int> a(p);
  for (int row = 0; row < in; ++row)
    for (int col = 0; col < out; ++col) {
      // Digits of row over modes 0..o-1 and of col over modes o..p-1, the last one fastest.
      int rest = row;
      for (int i = s.in_modes - 1; i >= 0; --i) a[i] = rest % s.modes[i], rest /= s.modes[i];
      rest = col;
      for (int i = p - 1; i >= s.in_modes; --i) a[i] = rest % s.modes[i], rest /= s.modes[i];
      std::vector<double> v = {1.0};  // row vector [1, r_0]
      for (int i = 0; i < p; ++i) {
        std::vector<double> next(ranks[i + 1], 0.0);
        for (int b = 0; b < ranks[i]; ++b)
          for (int c = 0; c < ranks[i + 1]; ++c)
            next[c] += v[b] * cores[offset[i] + (size_t(b) * s.modes[i] + a[i]) * ranks[i + 1] + c];
        v = next;
      }
      w[size_t(row) * out + col] = v[0];
    }
  return w;
}

TEST(TtLinear, ParameterCountsOfThePapersShapes) {
  struct Want {
    TtShape shape;
    int in, out;
    int64_t cores;
  };
  const std::vector<Want> wants = {{llama_down(), 4096, 64, 1100},
                                   {llama_up(), 64, 4096, 1100},
                                   {roberta_down(), 1024, 64, 880},
                                   {roberta_up(), 64, 1024, 880}};
  for (const Want& w : wants) {
    EXPECT_EQ(w.shape.in(), w.in);
    EXPECT_EQ(w.shape.out(), w.out);
    EXPECT_EQ(w.shape.cores_numel(), w.cores);
  }
  // [16,16,16,4,4,4] rank 5: 1*16*5, 5*16*5, 5*16*5, 5*4*5, 5*4*5, 5*4*1.
  const TtShape d = llama_down();
  const std::vector<int64_t> numel = {80, 400, 400, 100, 100, 20};
  int64_t offset = 0;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(d.core_numel(i), numel[i]) << "core " << i;
    EXPECT_EQ(d.core_offset(i), offset) << "core " << i;
    offset += numel[i];
  }
  EXPECT_EQ(d.core_offset(6), 1100);
}

TEST(TtLinear, DenseMatchesTheNaiveProductOfSlices) {
  const std::vector<TtShape> shapes = {{{3, 4, 2, 5}, 2, 3},  // small, uneven modes and o
                                       {{2, 3}, 1, 4},        // p = 2: the rank only between the two
                                       {{5, 2, 3, 2, 4}, 1, 2},
                                       {{5, 2, 3, 2, 4}, 4, 6},
                                       roberta_up(),
                                       llama_down()};
  for (const TtShape& s : shapes) {
    const std::vector<float> cores = random_cores(s, 17u + uint32_t(s.cores_numel()));
    const std::vector<float> got = cpu::tt_dense(s, cores.data());
    const std::vector<double> want = naive_dense(s, cores);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_LT(normalized_error(got, want), 1e-6) << "in " << s.in() << " out " << s.out() << " o " << s.in_modes;
    // L @ R is W, and L, R have the documented shapes.
    const std::vector<float> left = cpu::tt_left(s, cores.data()), right = cpu::tt_right(s, cores.data());
    ASSERT_EQ(left.size(), size_t(s.in()) * s.rank);
    ASSERT_EQ(right.size(), size_t(s.rank) * s.out());
    std::vector<float> lr(want.size(), 0.0f);
    for (int i = 0; i < s.in(); ++i)
      for (int c = 0; c < s.rank; ++c)
        for (int j = 0; j < s.out(); ++j)
          lr[size_t(i) * s.out() + j] += left[size_t(i) * s.rank + c] * right[size_t(c) * s.out() + j];
    EXPECT_LT(normalized_error(lr, want), 1e-6);
  }
}

TEST(TtLinear, LinearIsXTimesDensePlusBias) {
  for (const TtShape& s : {llama_down(), llama_up(), roberta_down(), roberta_up()}) {
    const int M = 7, in = s.in(), out = s.out();
    const std::vector<float> cores = random_cores(s, 101u + uint32_t(in));
    const std::vector<float> x = test::normal_vector(size_t(M) * in, 202u + uint32_t(out), 0.3f, 1.0f);
    const std::vector<float> bias = test::normal_vector(size_t(out), 303u, 0.5f, 2.0f);
    const std::vector<float> w = cpu::tt_dense(s, cores.data());
    for (const bool with_bias : {true, false}) {
      std::vector<double> want(size_t(M) * out);
      for (int m = 0; m < M; ++m)
        for (int n = 0; n < out; ++n) {
          double acc = with_bias ? bias[n] : 0.0;
          for (int k = 0; k < in; ++k) acc += double(x[size_t(m) * in + k]) * w[size_t(k) * out + n];
          want[size_t(m) * out + n] = acc;
        }
      std::vector<float> got(want.size(), NAN);
      cpu::tt_linear(got.data(), x.data(), s, cores.data(), with_bias ? bias.data() : nullptr, M);
      const double err = normalized_error(got, want);
      EXPECT_LT(err, 1e-6) << in << " -> " << out << " o " << s.in_modes << " bias " << with_bias;
      // The bias is not lost in the noise: without it the answer is far off.
      if (with_bias) {
        std::vector<float> no_bias(want.size());
        cpu::tt_linear(no_bias.data(), x.data(), s, cores.data(), nullptr, M);
        EXPECT_GT(normalized_error(no_bias, want), 1e-3);
      }
    }
  }
}

TEST(TtLinear, InitGivesXavierStdAndUniformBias) {
  // W's entries over many seeds: one seed's entries are strongly correlated (1,100 parameters
  // make 262,144 entries; one seed's std ranges over 0.67x..1.2x the target), so pool 32.
  const TtShape s = llama_down();
  const double want_std = std::sqrt(1.0 / (4096.0 + 64.0));
  double sum = 0, sum2 = 0, count = 0;
  std::vector<float> cores(size_t(s.cores_numel())), bias(size_t(s.out()));
  for (uint64_t seed = 1; seed <= 32; ++seed) {
    cpu::tt_init(cores.data(), bias.data(), s, seed * 0x9E3779B97F4A7C15ull);
    for (float v : cpu::tt_dense(s, cores.data())) sum += v, sum2 += double(v) * v, count += 1;
  }
  const double mean = sum / count, std = std::sqrt(sum2 / count - mean * mean);
  EXPECT_NEAR(std, want_std, 0.10 * want_std) << "W std " << std << " want " << want_std;
  EXPECT_LT(std::fabs(mean), 0.1 * want_std);

  // Each core's entries: N(0, 1) s^{1/p} / sqrt(r_right), so the pooled z^2 averages 1.
  cpu::tt_init(cores.data(), bias.data(), s, 42);
  double z2 = 0;
  for (int i = 0; i < 6; ++i) {
    const double scale = std::pow(want_std, 1.0 / 6) / std::sqrt(i == 5 ? 1.0 : 5.0);
    for (int64_t j = s.core_offset(i); j < s.core_offset(i + 1); ++j) z2 += (cores[j] / scale) * (cores[j] / scale);
  }
  EXPECT_NEAR(z2 / double(s.cores_numel()), 1.0, 0.1);

  // Bias of the 64 -> 4096 layer: U(-1/64, 1/64), std 1 / (64 sqrt 3).
  const TtShape up = llama_up();
  std::vector<float> up_cores(size_t(up.cores_numel())), up_bias(4096);
  cpu::tt_init(up_cores.data(), up_bias.data(), up, 7);
  const double bound = 1.0 / 64.0;
  double bsum = 0, bsum2 = 0;
  for (float b : up_bias) {
    ASSERT_LE(std::fabs(b), bound);
    bsum += b, bsum2 += double(b) * b;
  }
  const double bmean = bsum / 4096, bstd = std::sqrt(bsum2 / 4096 - bmean * bmean);
  EXPECT_NEAR(bstd, bound / std::sqrt(3.0), 0.05 * bound / std::sqrt(3.0));
  EXPECT_LT(std::fabs(bmean), 0.1 * bound);
  EXPECT_GT(*std::max_element(up_bias.begin(), up_bias.end()), 0.99 * bound);
  EXPECT_LT(*std::min_element(up_bias.begin(), up_bias.end()), -0.99 * bound);

  // Reproducible from the seed, different across seeds; a null bias leaves the cores alone.
  std::vector<float> again(up_cores.size()), again_bias(4096), other(up_cores.size());
  cpu::tt_init(again.data(), again_bias.data(), up, 7);
  EXPECT_EQ(again, up_cores);
  EXPECT_EQ(again_bias, up_bias);
  cpu::tt_init(other.data(), nullptr, up, 7);
  EXPECT_EQ(other, up_cores);
  cpu::tt_init(other.data(), nullptr, up, 8);
  EXPECT_NE(other, up_cores);
}

TEST(TtLinear, BadShapesAreErrors) {
  const std::vector<float> cores(2000, 1.0f);
  float y = 0, x = 1;
  const auto throws_with = [&](const TtShape& s, const std::string& needle) {
    try {
      cpu::tt_linear(&y, &x, s, cores.data(), nullptr, 1);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("tt_linear"), std::string::npos) << e.what();
    }
  };
  throws_with({{16}, 1, 5}, "at least 2 modes");
  throws_with({{4, 4, 4}, 0, 5}, "in_modes");
  throws_with({{4, 4, 4}, 3, 5}, "in_modes");
  throws_with({{4, 4, 4}, 1, 0}, "rank");
  throws_with({{4, 0, 4}, 1, 2}, "mode 1");
}

}  // namespace
}  // namespace zotune
