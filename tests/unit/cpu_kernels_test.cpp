// Every CPU kernel against a straightforward double-precision reference, on seeded random
// inputs that cannot pass on zeros, per storage dtype of the weights.
#include <gtest/gtest.h>

#include <cblas.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/tensor/dtype.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/gather.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/rope.h"
#include "random_test_util.h"

namespace zotune {
namespace {

// Weights stored in `t`; returns the storage and the exactly representable fp32 values.
std::vector<uint8_t> store_as(const std::vector<float>& v, DType t, std::vector<float>* rounded) {
  std::vector<uint8_t> bytes(v.size() * dtype_size(t));
  convert(v.data(), DType::F32, bytes.data(), t, v.size());
  rounded->resize(v.size());
  convert(bytes.data(), t, rounded->data(), DType::F32, v.size());
  return bytes;
}

double rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

class PerDtype : public ::testing::TestWithParam<DType> {};
INSTANTIATE_TEST_SUITE_P(Weights, PerDtype, ::testing::Values(DType::F32, DType::F16, DType::BF16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST_P(PerDtype, MatmulWithBiasMatchesReference) {
  const int M = 7, K = 33, N = 19;
  std::vector<float> wr, br;
  auto in = test::normal_vector(M * K, 1);
  auto wbytes = store_as(test::normal_vector(N * K, 2, 0.0f, 0.3f), GetParam(), &wr);
  auto bbytes = store_as(test::normal_vector(N, 3), GetParam(), &br);
  std::vector<float> out(M * N, NAN);
  cpu::matmul(out.data(), in.data(), wbytes.data(), GetParam(), bbytes.data(), GetParam(), M, K, N);
  std::vector<double> ref(M * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = br[n];
      for (int k = 0; k < K; ++k) s += double(in[m * K + k]) * wr[n * K + k];
      ref[m * N + n] = s;
    }
  EXPECT_LT(rel_error(out, ref), 1e-6);
}

TEST_P(PerDtype, LayerNormAndRmsNormMatchReference) {
  const int R = 5, C = 24;
  std::vector<float> wr, br;
  auto x = test::normal_vector(R * C, 4, 0.5f, 2.0f);
  auto wbytes = store_as(test::normal_vector(C, 5, 1.0f, 0.1f), GetParam(), &wr);
  auto bbytes = store_as(test::normal_vector(C, 6, 0.0f, 0.1f), GetParam(), &br);
  std::vector<float> ln(R * C), rms(R * C);
  cpu::layernorm(ln.data(), x.data(), wbytes.data(), bbytes.data(), GetParam(), R, C, 1e-5f);
  cpu::rmsnorm(rms.data(), x.data(), wbytes.data(), GetParam(), R, C, 1e-6f);
  std::vector<double> ln_ref(R * C), rms_ref(R * C);
  for (int r = 0; r < R; ++r) {
    double mean = 0, var = 0, ss = 0;
    for (int c = 0; c < C; ++c) mean += x[r * C + c];
    mean /= C;
    for (int c = 0; c < C; ++c) {
      var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
      ss += double(x[r * C + c]) * x[r * C + c];
    }
    var /= C;
    for (int c = 0; c < C; ++c) {
      ln_ref[r * C + c] = (x[r * C + c] - mean) / std::sqrt(var + 1e-5) * wr[c] + br[c];
      rms_ref[r * C + c] = x[r * C + c] / std::sqrt(ss / C + 1e-6) * wr[c];
    }
  }
  EXPECT_LT(rel_error(ln, ln_ref), 1e-6);
  EXPECT_LT(rel_error(rms, rms_ref), 1e-6);
}

TEST_P(PerDtype, EmbeddingGathersAndAdds) {
  const int V = 11, C = 6;
  std::vector<float> tr;
  auto tbytes = store_as(test::normal_vector(V * C, 7), GetParam(), &tr);
  std::vector<int32_t> ids = {3, 0, 10, 3};
  std::vector<float> out(ids.size() * C);
  cpu::embedding(out.data(), ids.data(), tbytes.data(), GetParam(), 4, C);
  cpu::embedding_add(out.data(), ids.data(), tbytes.data(), GetParam(), 4, C);
  for (size_t i = 0; i < ids.size(); ++i)
    for (int c = 0; c < C; ++c) EXPECT_FLOAT_EQ(out[i * C + c], 2 * tr[ids[i] * C + c]);
}

// cpu::gemm against a double reference, and bit for bit the same on 1, 2 and 3 threads (OpenMP
// and OpenBLAS both set to each): shapes cut by rows, by columns and not at all, both layouts of
// B, alpha and beta, leading dimensions wider than the matrices. OpenBLAS's own threading fails
// the second part on the CI machine (its 1- and 2-thread results differ for most of these shapes).
TEST(CpuKernels, GemmIsTheSameOnAnyNumberOfThreads) {
  struct Shape {
    int M, N, K;
  };
  for (const Shape sh : {Shape{300, 96, 80}, Shape{16, 2000, 72}, Shape{200, 150, 64}, Shape{20, 30, 40}}) {
    for (const bool trans_b : {true, false}) {
      const int lda = sh.K + 3, ldb = (trans_b ? sh.K : sh.N) + 5, ldc = sh.N + 2;
      const std::vector<float> a = test::uniform_vector(static_cast<size_t>(sh.M) * lda, 11, 1.0f);
      const std::vector<float> b = test::uniform_vector(static_cast<size_t>(trans_b ? sh.N : sh.K) * ldb, 12, 1.0f);
      const std::vector<float> c0 = test::uniform_vector(static_cast<size_t>(sh.M) * ldc, 13, 1.0f);
      const float alpha = 0.75f, beta = -0.5f;
      const std::string what = std::to_string(sh.M) + "x" + std::to_string(sh.N) + "x" + std::to_string(sh.K) +
                               (trans_b ? " B^T" : " B");
      std::vector<float> first;
      for (int threads = 1; threads <= 3; ++threads) {
#ifdef _OPENMP
        omp_set_num_threads(threads);
#endif
        openblas_set_num_threads(threads);
        std::vector<float> c = c0;
        cpu::gemm(trans_b, sh.M, sh.N, sh.K, alpha, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
        if (threads == 1) {
          std::vector<float> got;
          std::vector<double> want;
          for (int i = 0; i < sh.M; ++i)
            for (int j = 0; j < sh.N; ++j) {
              double sum = 0.0;
              for (int k = 0; k < sh.K; ++k)
                sum += double(a[i * lda + k]) * (trans_b ? b[j * ldb + k] : b[k * ldb + j]);
              want.push_back(alpha * sum + beta * double(c0[i * ldc + j]));
              got.push_back(c[i * ldc + j]);
            }
          EXPECT_LT(rel_error(got, want), 1e-6) << what;
          // the padding between rows is left alone
          for (int i = 0; i < sh.M; ++i)
            for (int j = sh.N; j < ldc; ++j) EXPECT_EQ(c[i * ldc + j], c0[i * ldc + j]) << what;
          first = c;
        } else {
          EXPECT_EQ(std::memcmp(c.data(), first.data(), c.size() * sizeof(float)), 0)
              << what << ": " << threads << " threads give other bits than 1";
        }
      }
    }
  }
#ifdef _OPENMP
  omp_set_num_threads(omp_get_num_procs());
#endif
}

// Packed -> padded and back on fp16-sized values, two matrices: each out row is its source row
// or zeros, for the rows an index names and the -1 rows alike.
TEST(CpuKernels, GatherRowsOrZeroMovesRowsAndZeroesTheRest) {
  const int x_rows = 3, out_rows = 5, mats = 2, width = 3;  // width values of 2 bytes a row
  std::vector<uint16_t> x(mats * x_rows * width);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint16_t>(1000 + i);
  const std::vector<int32_t> index = {2, -1, 0, 0, -1};
  std::vector<uint16_t> out(mats * out_rows * width, 0xFFFF);
  cpu::gather_rows_or_zero(out.data(), x.data(), index.data(), out_rows, x_rows, width * sizeof(uint16_t), mats);
  for (int m = 0; m < mats; ++m)
    for (int r = 0; r < out_rows; ++r)
      for (int c = 0; c < width; ++c) {
        const uint16_t want = index[r] < 0 ? 0 : x[(m * x_rows + index[r]) * width + c];
        EXPECT_EQ(out[(m * out_rows + r) * width + c], want) << "matrix " << m << " row " << r << " column " << c;
      }
}

TEST(CpuKernels, ActivationsMatchDefinitions) {
  auto x = test::normal_vector(64, 8, 0.0f, 2.0f);
  auto relu = x, gelu = x, gelu_t = x, silu = x;
  cpu::relu(relu.data(), x.size());
  cpu::gelu_erf(gelu.data(), x.size());
  cpu::gelu_tanh(gelu_t.data(), x.size());
  cpu::silu(silu.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    EXPECT_FLOAT_EQ(relu[i], v > 0 ? v : 0);
    EXPECT_NEAR(gelu[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
    EXPECT_NEAR(gelu_t[i], 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))), 1e-6);
    EXPECT_NEAR(silu[i], v / (1 + std::exp(-v)), 1e-6);
  }
}

TEST(CpuKernels, RopeRotatesHalvesByPositionAngle) {
  const int T = 3, H = 2, D = 8;
  auto x = test::normal_vector(T * H * D, 9);
  auto y = x;
  std::vector<int32_t> pos = {0, 5, 17};
  std::vector<float> inv(D / 2);
  for (int i = 0; i < D / 2; ++i) inv[i] = std::pow(10000.0f, -2.0f * i / D);
  cpu::rope(y.data(), pos.data(), T, H, D, inv.data(), 1.0f);
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < D / 2; ++i) {
        const float* a = &x[(t * H + h) * D];
        const double ang = double(float(pos[t]) * inv[i]);
        EXPECT_NEAR(y[(t * H + h) * D + i], a[i] * std::cos(ang) - a[i + D / 2] * std::sin(ang), 1e-5);
        EXPECT_NEAR(y[(t * H + h) * D + i + D / 2], a[i + D / 2] * std::cos(ang) + a[i] * std::sin(ang), 1e-5);
      }
  // position 0 is the identity
  for (int d = 0; d < H * D; ++d) EXPECT_FLOAT_EQ(y[d], x[d]);
}

// Reference attention in double with an explicit visibility rule.
std::vector<double> attention_reference(const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, const std::vector<uint8_t>& valid,
                                        const cpu::AttentionShape& s) {
  std::vector<double> out(static_cast<size_t>(s.batch) * s.q_len * s.n_heads * s.head_dim, 0.0);
  const int group = s.n_heads / s.n_kv_heads;
  for (int b = 0; b < s.batch; ++b)
    for (int i = 0; i < s.q_len; ++i)
      for (int h = 0; h < s.n_heads; ++h) {
        std::vector<double> sc(s.kv_len, -INFINITY);
        double best = -INFINITY;
        for (int j = 0; j < s.kv_len; ++j) {
          const int qi = s.q_start + i;
          if (!valid[b * s.mask_batch_stride + j] || (s.causal && j > qi) || (s.sliding_window > 0 && qi - j >= s.sliding_window)) continue;
          double dot = 0;
          for (int d = 0; d < s.head_dim; ++d)
            dot += double(q[((b * s.q_len + i) * s.n_heads + h) * s.head_dim + d]) *
                   k[b * s.kv_batch_stride + (j * s.n_kv_heads + h / group) * s.head_dim + d];
          sc[j] = dot * s.scale;
          best = std::max(best, sc[j]);
        }
        if (best == -INFINITY) continue;
        double sum = 0;
        for (double& e : sc) sum += (e = std::isinf(e) ? 0 : std::exp(e - best));
        for (int j = 0; j < s.kv_len; ++j)
          for (int d = 0; d < s.head_dim; ++d)
            out[((b * s.q_len + i) * s.n_heads + h) * s.head_dim + d] +=
                sc[j] / sum * v[b * s.kv_batch_stride + (j * s.n_kv_heads + h / group) * s.head_dim + d];
      }
  return out;
}

TEST(CpuKernels, AttentionGqaCausalPaddingWindowAndCacheOffset) {
  cpu::AttentionShape s;
  s.batch = 2;
  s.q_len = 3;
  s.kv_len = 7;  // 4 cached + 3 new
  s.n_heads = 6;
  s.n_kv_heads = 2;
  s.head_dim = 5;
  s.kv_batch_stride = 9 * s.n_kv_heads * s.head_dim;  // cache capacity 9
  s.mask_batch_stride = 9;
  s.causal = true;
  s.q_start = 4;
  s.scale = 0.4f;
  auto q = test::normal_vector(s.batch * s.q_len * s.n_heads * s.head_dim, 10);
  auto k = test::normal_vector(s.batch * s.kv_batch_stride, 11);
  auto v = test::normal_vector(s.batch * s.kv_batch_stride, 12);
  std::vector<uint8_t> valid(s.batch * 9, 1);
  valid[0] = valid[1] = 0;  // sequence 0 is left-padded by two
  valid[9 + 6] = 0;         // sequence 1's last new token is padding
  for (int window : {0, 3}) {
    s.sliding_window = window;
    std::vector<float> out(q.size(), NAN);
    cpu::attention(out.data(), q.data(), k.data(), v.data(), valid.data(), s);
    auto ref = attention_reference(q, k, v, valid, s);
    EXPECT_LT(rel_error(out, ref), 1e-6) << "window " << window;
  }
}

TEST(CpuKernels, CrossEntropyAndLogSoftmax) {
  const int R = 3, V = 50;
  auto logits = test::normal_vector(R * V, 13, 0.0f, 3.0f);
  std::vector<int32_t> target = {0, 49, 17};
  std::vector<double> loss(R);
  cpu::cross_entropy(loss.data(), logits.data(), target.data(), R, V);
  auto lsm = logits;
  cpu::log_softmax(lsm.data(), R, V);
  for (int r = 0; r < R; ++r) {
    double sum = 0;
    for (int j = 0; j < V; ++j) sum += std::exp(double(logits[r * V + j]));
    EXPECT_NEAR(loss[r], std::log(sum) - logits[r * V + target[r]], 1e-9);
    EXPECT_NEAR(-lsm[r * V + target[r]], loss[r], 1e-5);
  }
}

}  // namespace
}  // namespace zotune
