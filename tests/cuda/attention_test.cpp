// Fused device attention against cpu::attention per dtype, by normalized error
// max |gpu - cpu| / max |cpu| (fp32 1e-5, fp16/bf16 2e-2, the CPU fed the same rounded inputs).
// Cases cover the three device kernels (tensor cores: f16/bf16, head_dim 64/128, >= 16 queries,
// 16-byte aligned rows; decode: <= 4 queries, head_dim 64/128/256, aligned K/V rows; SIMT
// otherwise, with key splits below 9 queries): causal with left and
// right padding, an encoder with padding, GQA, a sliding window, a KV cache with q_start > 0 and
// a capacity above kv_len, decode, fused-QKV column slices, head_dim 7..256, queries that see
// no key (exact zeros), long sequences. Buffers outside the logical tensors (row gaps, cache
// rows past kv_len) hold NaN so a read out of bounds shows; the output's gaps must keep their
// poison bytes. Each case launches twice on a stream and must repeat bit for bit. Skipped
// without a GPU (except the argument checks, which fail before any device call).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/tensor/dtype.h"
#include "core/util/error.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/device.cuh"
#include "tests/cuda/attention_test_util.h"
#include "tests/cuda/cuda_test_util.h"

namespace zotune {
namespace {

using test::device_copy;
using test::host_copy;
using test::Pad;
using test::rounded;
using test::seeded;
using test::to_dtype;
using test::tolerance;

struct Case {
  const char* name;
  int batch, q_len, kv_len, n_heads, n_kv_heads, head_dim;
  bool causal = false;
  int q_start = 0;
  int window = 0;
  int capacity = 0;  // cache rows a sequence (>= kv_len); 0 = kv_len
  Pad pad = Pad::None;
  bool fused = false;  // q, k, v are column slices of one [tokens, q_dim + 2 kv_dim] buffer
  int row_gap = 0;     // extra elements after each q, k/v and out row (unfused)
  bool expect_empty_rows = false;  // some queries see no key
};

struct Result {
  double error = 0;            // max |gpu - cpu| / max |cpu|, inf on a NaN
  double ref_max = 0;
  int empty_rows = 0;          // (token, head) rows the reference left at zero
  int empty_rows_nonzero = 0;  // of those, rows the device did not leave at exactly zero
  int64_t gap_writes = 0;      // output elements outside the logical tensor that changed
  bool repeatable = true;      // two launches gave the same bytes
};

Result run_case(const Case& c, DType t, cudaStream_t stream) {
  const int hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd;
  const int cap = c.fused ? c.kv_len : (c.capacity ? c.capacity : c.kv_len);
  const size_t tokens = static_cast<size_t>(c.batch) * c.q_len;

  // Logical tensors in the CPU's dense layout, rounded to the storage dtype.
  const uint32_t seed = 17u * c.batch + 31u * c.q_len + 7u * c.kv_len + 3u * hd + c.n_heads;
  const std::vector<float> q = rounded(seeded(tokens, q_dim, seed, 0.2f), t);
  const std::vector<float> k = rounded(seeded(size_t(c.batch) * c.kv_len, kv_dim, seed + 1, -0.1f), t);
  const std::vector<float> v = rounded(seeded(size_t(c.batch) * c.kv_len, kv_dim, seed + 2, 0.5f), t);
  // Sequence b keeps kv_len - 5 b keys (at least 1); holes at (j + b) % 5 == 3.
  const std::vector<uint8_t> valid = test::key_mask(c.pad, c.batch, c.kv_len, cap, 5, 3);

  cpu::AttentionShape s = test::case_shape(c, c.kv_len, c.q_start);
  s.mask_batch_stride = cap;
  const bool masked = c.pad != Pad::None;

  cpu::AttentionShape cs = s;
  cs.kv_batch_stride = int64_t(c.kv_len) * kv_dim;
  std::vector<float> want(tokens * q_dim);
  cpu::attention(want.data(), q.data(), k.data(), v.data(), masked ? valid.data() : nullptr, cs);

  // The device layout: strided rows, NaN in every element that is not part of a tensor.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  cuda::AttentionStrides st;
  std::vector<float> qbuf, kbuf, vbuf;  // kbuf/vbuf empty when fused (k, v live in qbuf)
  size_t q_off = 0, k_off = 0, v_off = 0;
  if (c.fused) {
    const int row = q_dim + 2 * kv_dim;
    st.q_row = st.kv_row = row;
    s.kv_batch_stride = int64_t(c.q_len) * row;
    qbuf.assign(tokens * row, nan);
    for (size_t r = 0; r < tokens; ++r) {
      std::copy_n(&q[r * q_dim], q_dim, &qbuf[r * row]);
      std::copy_n(&k[r * kv_dim], kv_dim, &qbuf[r * row + q_dim]);
      std::copy_n(&v[r * kv_dim], kv_dim, &qbuf[r * row + q_dim + kv_dim]);
    }
    k_off = q_dim;
    v_off = q_dim + kv_dim;
  } else {
    st.q_row = q_dim + c.row_gap;
    st.kv_row = kv_dim + c.row_gap;
    s.kv_batch_stride = int64_t(cap) * st.kv_row;
    qbuf.assign(tokens * st.q_row, nan);
    for (size_t r = 0; r < tokens; ++r) std::copy_n(&q[r * q_dim], q_dim, &qbuf[r * st.q_row]);
    kbuf.assign(size_t(c.batch) * s.kv_batch_stride, nan);
    vbuf = kbuf;
    for (int b = 0; b < c.batch; ++b)
      for (int j = 0; j < c.kv_len; ++j) {
        const size_t src = (size_t(b) * c.kv_len + j) * kv_dim, dst = b * s.kv_batch_stride + size_t(j) * st.kv_row;
        std::copy_n(&k[src], kv_dim, &kbuf[dst]);
        std::copy_n(&v[src], kv_dim, &vbuf[dst]);
      }
  }
  st.out_row = q_dim + c.row_gap;

  const size_t es = dtype_size(t);
  uint8_t* dq = device_copy(to_dtype(qbuf, t));
  uint8_t* dk = c.fused ? nullptr : device_copy(to_dtype(kbuf, t));
  uint8_t* dv = c.fused ? nullptr : device_copy(to_dtype(vbuf, t));
  uint8_t* dmask = device_copy(valid);
  const size_t out_bytes = tokens * st.out_row * es;
  const std::vector<uint8_t> poison(out_bytes, 0xff);  // NaN in every dtype
  uint8_t* dout = device_copy(poison);
  const uint8_t* kp = c.fused ? dq + k_off * es : dk;
  const uint8_t* vp = c.fused ? dq + v_off * es : dv;

  std::vector<uint8_t> got[2];
  for (int rep = 0; rep < 2; ++rep) {
    EXPECT_EQ(cudaMemcpy(dout, poison.data(), out_bytes, cudaMemcpyHostToDevice), cudaSuccess);
    cuda::attention(dout, dq + q_off * es, kp, vp, t, masked ? dmask : nullptr, s, st, stream);
    EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    got[rep] = host_copy(dout, out_bytes);
  }
  cudaFree(dq);
  cudaFree(dk);
  cudaFree(dv);
  cudaFree(dmask);
  cudaFree(dout);

  Result res;
  res.repeatable = got[0] == got[1];
  std::vector<float> out(tokens * st.out_row);
  convert(got[0].data(), t, out.data(), DType::F32, out.size());
  double worst = 0;
  for (size_t r = 0; r < tokens; ++r) {
    for (int c2 = q_dim; c2 < st.out_row; ++c2)
      for (size_t byte = 0; byte < es; ++byte) res.gap_writes += got[0][(r * st.out_row + c2) * es + byte] != 0xff;
    for (int h = 0; h < c.n_heads; ++h) {
      bool ref_zero = true, dev_zero = true;
      for (int d = 0; d < hd; ++d) {
        const double ref = want[r * q_dim + h * hd + d], dev = out[r * st.out_row + h * hd + d];
        res.ref_max = std::max(res.ref_max, std::fabs(ref));
        const double diff = std::fabs(dev - ref);
        worst = std::isnan(diff) ? std::numeric_limits<double>::infinity() : std::max(worst, diff);
        ref_zero = ref_zero && ref == 0.0;
        dev_zero = dev_zero && dev == 0.0;
      }
      res.empty_rows += ref_zero;
      res.empty_rows_nonzero += ref_zero && !dev_zero;
    }
  }
  res.error = worst / std::max(res.ref_max, 1e-30);
  return res;
}

void check_cases(const std::vector<Case>& cases) {
  test::check_each_dtype(cases, run_case, [](const Result& r, const Case& c, const std::string& what) {
    EXPECT_EQ(r.empty_rows_nonzero, 0) << what << ": queries that see no key must get exact zeros";
    if (c.expect_empty_rows) {
      EXPECT_GT(r.empty_rows, 0) << what << ": no query was fully masked";
    } else {
      EXPECT_EQ(r.empty_rows, 0) << what;
    }
    EXPECT_EQ(r.gap_writes, 0) << what << ": wrote outside the output's rows";
    EXPECT_TRUE(r.repeatable) << what << ": two launches differ (a race?)";
  });
}

TEST(CudaAttention, CausalAndEncoderWithPadding) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_cases({
      {.name = "causal", .batch = 2, .q_len = 70, .kv_len = 70, .n_heads = 4, .n_kv_heads = 4, .head_dim = 64,
       .causal = true},
      {.name = "causal right pad", .batch = 3, .q_len = 40, .kv_len = 40, .n_heads = 4, .n_kv_heads = 4,
       .head_dim = 64, .causal = true, .pad = Pad::Right},
      {.name = "causal left pad", .batch = 3, .q_len = 40, .kv_len = 40, .n_heads = 2, .n_kv_heads = 2,
       .head_dim = 128, .causal = true, .pad = Pad::Left, .expect_empty_rows = true},
      {.name = "causal left pad simt", .batch = 3, .q_len = 13, .kv_len = 13, .n_heads = 2, .n_kv_heads = 2,
       .head_dim = 64, .causal = true, .pad = Pad::Left, .expect_empty_rows = true},
      {.name = "encoder pad", .batch = 3, .q_len = 33, .kv_len = 33, .n_heads = 4, .n_kv_heads = 4,
       .head_dim = 64, .pad = Pad::Right},
      {.name = "encoder holes hd128", .batch = 2, .q_len = 77, .kv_len = 77, .n_heads = 2, .n_kv_heads = 2,
       .head_dim = 128, .pad = Pad::Holes},
  });
}

TEST(CudaAttention, GqaAndSlidingWindow) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_cases({
      {.name = "gqa", .batch = 2, .q_len = 48, .kv_len = 48, .n_heads = 8, .n_kv_heads = 2, .head_dim = 64,
       .causal = true},
      {.name = "gqa hd128 right pad", .batch = 2, .q_len = 20, .kv_len = 20, .n_heads = 8, .n_kv_heads = 2,
       .head_dim = 128, .causal = true, .pad = Pad::Right},
      {.name = "window", .batch = 2, .q_len = 150, .kv_len = 150, .n_heads = 4, .n_kv_heads = 2, .head_dim = 64,
       .causal = true, .window = 37},
      {.name = "window left pad", .batch = 2, .q_len = 90, .kv_len = 90, .n_heads = 2, .n_kv_heads = 1,
       .head_dim = 128, .causal = true, .window = 16, .pad = Pad::Left, .expect_empty_rows = true},
      {.name = "window hd80", .batch = 1, .q_len = 70, .kv_len = 70, .n_heads = 2, .n_kv_heads = 2, .head_dim = 80,
       .causal = true, .window = 9},
  });
}

TEST(CudaAttention, KvCacheOffsetAndDecode) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_cases({
      {.name = "cache chunk", .batch = 2, .q_len = 20, .kv_len = 44, .n_heads = 4, .n_kv_heads = 2,
       .head_dim = 128, .causal = true, .q_start = 24, .capacity = 64},
      {.name = "cache chunk hd64 left pad", .batch = 2, .q_len = 33, .kv_len = 100, .n_heads = 4, .n_kv_heads = 2,
       .head_dim = 64, .causal = true, .q_start = 67, .capacity = 128, .pad = Pad::Left},
      {.name = "cache short chunk", .batch = 2, .q_len = 6, .kv_len = 70, .n_heads = 4, .n_kv_heads = 4,
       .head_dim = 64, .causal = true, .q_start = 64, .capacity = 80},
      {.name = "decode", .batch = 3, .q_len = 1, .kv_len = 300, .n_heads = 8, .n_kv_heads = 2, .head_dim = 128,
       .causal = true, .q_start = 299, .capacity = 320, .pad = Pad::Left},
      {.name = "decode hd64 window", .batch = 2, .q_len = 1, .kv_len = 517, .n_heads = 4, .n_kv_heads = 4,
       .head_dim = 64, .causal = true, .q_start = 516, .window = 128, .capacity = 600},
      {.name = "decode hd256", .batch = 2, .q_len = 1, .kv_len = 200, .n_heads = 2, .n_kv_heads = 1,
       .head_dim = 256, .causal = true, .q_start = 199, .capacity = 256},
      {.name = "decode 4 rows gqa window", .batch = 2, .q_len = 4, .kv_len = 260, .n_heads = 8, .n_kv_heads = 2,
       .head_dim = 64, .causal = true, .q_start = 256, .window = 100, .capacity = 300, .pad = Pad::Left},
      {.name = "decode short cache", .batch = 2, .q_len = 1, .kv_len = 5, .n_heads = 2, .n_kv_heads = 1,
       .head_dim = 256, .causal = true, .q_start = 4, .pad = Pad::Left},
      // Rows that are not 16-byte multiples leave the decode kernel for the SIMT one.
      {.name = "decode unaligned rows", .batch = 2, .q_len = 1, .kv_len = 150, .n_heads = 4, .n_kv_heads = 2,
       .head_dim = 128, .causal = true, .q_start = 149, .capacity = 160, .pad = Pad::Holes, .row_gap = 2},
      {.name = "decode 3 tokens", .batch = 2, .q_len = 3, .kv_len = 131, .n_heads = 4, .n_kv_heads = 2,
       .head_dim = 80, .causal = true, .q_start = 128, .capacity = 140, .pad = Pad::Holes},
  });
}

TEST(CudaAttention, FusedQkvAndStridedRows) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_cases({
      {.name = "fused qkv", .batch = 2, .q_len = 50, .kv_len = 50, .n_heads = 4, .n_kv_heads = 2, .head_dim = 64,
       .causal = true, .fused = true},
      {.name = "fused qkv hd128 pad", .batch = 2, .q_len = 32, .kv_len = 32, .n_heads = 2, .n_kv_heads = 1,
       .head_dim = 128, .causal = true, .pad = Pad::Right, .fused = true},
      {.name = "fused qkv encoder hd24", .batch = 2, .q_len = 29, .kv_len = 29, .n_heads = 4, .n_kv_heads = 4,
       .head_dim = 24, .pad = Pad::Right, .fused = true},
      // A gap of 4 elements breaks 16-byte row alignment (f16/bf16 take the SIMT kernel).
      {.name = "row gap 4", .batch = 2, .q_len = 40, .kv_len = 40, .n_heads = 2, .n_kv_heads = 2, .head_dim = 64,
       .causal = true, .row_gap = 4},
      {.name = "row gap 8", .batch = 2, .q_len = 40, .kv_len = 56, .n_heads = 2, .n_kv_heads = 1, .head_dim = 128,
       .causal = true, .q_start = 16, .capacity = 60, .pad = Pad::Holes, .row_gap = 8},
  });
}

TEST(CudaAttention, OddHeadDims) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_cases({
      {.name = "hd80", .batch = 2, .q_len = 37, .kv_len = 37, .n_heads = 3, .n_kv_heads = 3, .head_dim = 80,
       .causal = true, .row_gap = 3},
      {.name = "hd24 holes", .batch = 2, .q_len = 29, .kv_len = 29, .n_heads = 4, .n_kv_heads = 2, .head_dim = 24,
       .pad = Pad::Holes},
      {.name = "hd7", .batch = 2, .q_len = 5, .kv_len = 19, .n_heads = 2, .n_kv_heads = 1, .head_dim = 7,
       .causal = true, .q_start = 14},
      {.name = "hd33", .batch = 1, .q_len = 45, .kv_len = 45, .n_heads = 2, .n_kv_heads = 2, .head_dim = 33},
      {.name = "hd256", .batch = 2, .q_len = 20, .kv_len = 20, .n_heads = 2, .n_kv_heads = 2, .head_dim = 256,
       .causal = true, .pad = Pad::Right},
  });
}

TEST(CudaAttention, LongSequences) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_cases({
      {.name = "long causal hd64 left pad", .batch = 2, .q_len = 1100, .kv_len = 1100, .n_heads = 2,
       .n_kv_heads = 1, .head_dim = 64, .causal = true, .pad = Pad::Left, .expect_empty_rows = true},
      {.name = "long causal hd128", .batch = 1, .q_len = 1030, .kv_len = 1030, .n_heads = 2, .n_kv_heads = 2,
       .head_dim = 128, .causal = true},
      {.name = "long keys encoder", .batch = 1, .q_len = 64, .kv_len = 2100, .n_heads = 2, .n_kv_heads = 2,
       .head_dim = 128, .pad = Pad::Right},
  });
}

// The launcher enqueues work only: it can be captured into a CUDA graph (here SIMT kernels
// that need more than 48 KiB of shared memory, the tensor-core and decode ones), and the replay
// matches a direct launch bit for bit.
// PaddingQueries::Unused (engine.unpadded's attention): the rows of real queries are those of
// PaddingQueries::Computed bit for bit; every row is finite; and the tensor-core kernel skipped
// each 64-query tile without a real query (its rows are zeros), which a right-padded batch of
// 200 slots whose sequences keep 200, 130 and 60 tokens has (left padding: at the start).
TEST(CudaAttention, UnusedPaddingQueriesKeepRealRowsAndSkipPaddingTiles) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  constexpr int kTileRows = 64;  // the tensor-core kernel's queries a block (attention.cu kMmaRows)
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  int skipped_tiles = 0;
  for (DType t : {DType::F16, DType::BF16})
    for (int hd : {64, 128})
      for (bool causal : {true, false})
        for (Pad pad : {Pad::Right, Pad::Left}) {
          const std::string what = std::string(dtype_name(t)) + " head_dim " + std::to_string(hd) +
                                   (causal ? " causal" : " encoder") + (pad == Pad::Right ? " right" : " left");
          cpu::AttentionShape s;
          s.batch = 3;
          s.q_len = s.kv_len = 200;
          s.n_heads = 4;
          s.n_kv_heads = 2;
          s.head_dim = hd;
          s.kv_batch_stride = int64_t(s.kv_len) * s.n_kv_heads * hd;
          s.mask_batch_stride = s.kv_len;
          s.causal = causal;
          s.scale = 1.0f / std::sqrt(float(hd));
          const std::vector<uint8_t> valid = test::key_mask(pad, s.batch, s.kv_len, s.kv_len, 70, 0);
          const int q_dim = s.n_heads * hd;
          const size_t rows = size_t(s.batch) * s.q_len, nq = rows * q_dim, nkv = size_t(s.batch) * s.kv_batch_stride;
          const size_t es = dtype_size(t);
          uint8_t* dq = device_copy(to_dtype(seeded(nq / hd, hd, 11, 0.2f), t));
          uint8_t* dk = device_copy(to_dtype(seeded(nkv / hd, hd, 12, -0.1f), t));
          uint8_t* dv = device_copy(to_dtype(seeded(nkv / hd, hd, 13, 0.5f), t));
          uint8_t* dmask = device_copy(valid);
          const std::vector<uint8_t> poison(nq * es, 0xff);  // NaN in every dtype: an unwritten row shows
          uint8_t* computed = device_copy(poison);
          uint8_t* unused = device_copy(poison);
          cuda::attention(computed, dq, dk, dv, t, dmask, s, {}, stream);
          cuda::attention(unused, dq, dk, dv, t, dmask, s, {}, stream, cuda::PaddingQueries::Unused);
          ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess) << what;
          const std::vector<uint8_t> want = host_copy(computed, nq * es), got = host_copy(unused, nq * es);
          const std::vector<float> got32 = test::to_f32(got, t);
          for (int b = 0; b < s.batch; ++b)
            for (int i0 = 0; i0 < s.q_len; i0 += kTileRows) {
              const int i1 = std::min(i0 + kTileRows, s.q_len);
              bool tile_real = false;
              for (int i = i0; i < i1; ++i) tile_real = tile_real || valid[size_t(b) * s.kv_len + i];
              skipped_tiles += !tile_real;
              for (int i = i0; i < i1; ++i) {
                const size_t r = size_t(b) * s.q_len + i;
                const bool real = valid[size_t(b) * s.kv_len + i];
                if (real)
                  ASSERT_TRUE(std::equal(&want[r * q_dim * es], &want[(r + 1) * q_dim * es], &got[r * q_dim * es]))
                      << what << ": real query " << i << " of sequence " << b << " differs";
                for (int e = 0; e < q_dim; ++e) {
                  const float x = got32[r * q_dim + e];
                  ASSERT_TRUE(std::isfinite(x)) << what << ": row " << i << " of sequence " << b;
                  if (!tile_real) ASSERT_EQ(x, 0.0f) << what << ": padding tile at " << i0 << " of sequence " << b;
                }
              }
            }
          for (uint8_t* p : {dq, dk, dv, dmask, computed, unused}) cudaFree(p);
        }
  // Per configuration, right padding: sequence 1's tile 192..199, sequence 2's three from 64 on;
  // left padding: sequence 1's first tile, sequence 2's first two.
  EXPECT_GT(skipped_tiles, 0) << "no tile was padding only: the case proves nothing";
  EXPECT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

TEST(CudaAttention, CapturesIntoAGraph) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (const auto& [t, hd, q_len] : {std::tuple{DType::F32, 256, 20}, std::tuple{DType::F16, 128, 64},
                                     std::tuple{DType::BF16, 64, 1}, std::tuple{DType::BF16, 80, 3}}) {
    cpu::AttentionShape s;
    s.batch = 2;
    s.q_len = q_len;
    s.kv_len = 100;
    s.n_heads = 4;
    s.n_kv_heads = 2;
    s.head_dim = hd;
    s.kv_batch_stride = int64_t(s.kv_len) * s.n_kv_heads * hd;
    s.causal = true;
    s.q_start = s.kv_len - q_len;
    s.scale = 1.0f / std::sqrt(float(hd));
    const size_t nq = size_t(s.batch) * q_len * s.n_heads * hd, nkv = size_t(s.batch) * s.kv_batch_stride;
    uint8_t* dq = device_copy(to_dtype(seeded(nq / hd, hd, 1, 0.2f), t));
    uint8_t* dk = device_copy(to_dtype(seeded(nkv / hd, hd, 2, -0.1f), t));
    uint8_t* dv = device_copy(to_dtype(seeded(nkv / hd, hd, 3, 0.5f), t));
    uint8_t* d1 = device_copy(std::vector<uint8_t>(nq * dtype_size(t), 0xff));
    uint8_t* d2 = device_copy(std::vector<uint8_t>(nq * dtype_size(t), 0xff));
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
    cuda::attention(d1, dq, dk, dv, t, nullptr, s, {}, stream);
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
    cuda::attention(d2, dq, dk, dv, t, nullptr, s, {}, stream);
    ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess) << dtype_name(t);
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    EXPECT_EQ(host_copy(d1, nq * dtype_size(t)), host_copy(d2, nq * dtype_size(t))) << dtype_name(t);
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
    for (uint8_t* p : {dq, dk, dv, d1, d2}) cudaFree(p);
  }
}

// Checked before any device call, so this runs without a GPU too.
TEST(CudaAttention, BadShapesAreErrors) {
  cpu::AttentionShape s;
  s.head_dim = 257;
  try {
    cuda::attention(nullptr, nullptr, nullptr, nullptr, DType::F32, nullptr, s, {});
    ADD_FAILURE() << "head_dim 257 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("257"), std::string::npos) << e.what();
  }
  s.head_dim = 64;
  s.n_heads = 6;
  s.n_kv_heads = 4;
  EXPECT_THROW(cuda::attention(nullptr, nullptr, nullptr, nullptr, DType::F32, nullptr, s, {}), Error);
  s.n_heads = 4;
  cuda::AttentionStrides short_rows;
  short_rows.q_row = 4 * 64 - 1;
  EXPECT_THROW(cuda::attention(nullptr, nullptr, nullptr, nullptr, DType::F32, nullptr, s, short_rows), Error);
}

// Timings for the shapes that matter (run with --gtest_also_run_disabled_tests): median of
// 20 launches after warm-up, in ms, with the matrix-product rate (4 b h q kv d, halved when
// causal) or, for decode, the K/V read rate.
TEST(CudaAttention, DISABLED_Benchmark) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  struct Bench {
    const char* name;
    int batch, q_len, kv_len, n_heads, n_kv_heads, head_dim;
    bool causal;
  };
  const Bench benches[] = {
      {"opt-1.3b b16 t128", 16, 128, 128, 32, 32, 64, true},
      {"llama2-7b b16 t128", 16, 128, 128, 32, 32, 128, true},
      {"opt-13b b16 t128", 16, 128, 128, 40, 40, 128, true},
      {"roberta-l b64 t128", 64, 128, 128, 16, 16, 64, false},
      {"llama2-7b b1 t2048", 1, 2048, 2048, 32, 32, 128, true},
      {"decode b16 kv2048", 16, 1, 2048, 32, 32, 128, true},
      {"decode gqa b16 kv4096", 16, 1, 4096, 32, 8, 128, true},
  };
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (const Bench& bn : benches) {
    cpu::AttentionShape s;
    s.batch = bn.batch;
    s.q_len = bn.q_len;
    s.kv_len = bn.kv_len;
    s.n_heads = bn.n_heads;
    s.n_kv_heads = bn.n_kv_heads;
    s.head_dim = bn.head_dim;
    s.kv_batch_stride = int64_t(bn.kv_len) * bn.n_kv_heads * bn.head_dim;
    s.causal = bn.causal;
    s.q_start = bn.kv_len - bn.q_len;
    s.scale = 1.0f / std::sqrt(float(bn.head_dim));
    const size_t nq = size_t(bn.batch) * bn.q_len * bn.n_heads * bn.head_dim;
    const size_t nkv = size_t(bn.batch) * s.kv_batch_stride;
    for (DType t : {DType::F32, DType::F16, DType::BF16}) {
      uint8_t* dq = device_copy(to_dtype(seeded(nq / bn.head_dim, bn.head_dim, 1, 0.2f), t));
      uint8_t* dk = device_copy(to_dtype(seeded(nkv / bn.head_dim, bn.head_dim, 2, -0.1f), t));
      uint8_t* dv = device_copy(to_dtype(seeded(nkv / bn.head_dim, bn.head_dim, 3, 0.5f), t));
      uint8_t* dout = nullptr;
      ASSERT_EQ(cudaMalloc(&dout, nq * dtype_size(t)), cudaSuccess);
      for (int w = 0; w < 3; ++w) cuda::attention(dout, dq, dk, dv, t, nullptr, s, {}, stream);
      std::vector<float> ms;
      for (int rep = 0; rep < 20; ++rep) {
        cudaEventRecord(e0, stream);
        cuda::attention(dout, dq, dk, dv, t, nullptr, s, {}, stream);
        cudaEventRecord(e1, stream);
        cudaEventSynchronize(e1);
        float x = 0;
        cudaEventElapsedTime(&x, e0, e1);
        ms.push_back(x);
      }
      ASSERT_EQ(cudaGetLastError(), cudaSuccess);
      std::sort(ms.begin(), ms.end());
      const double med = ms[ms.size() / 2];
      const double flops = 4.0 * bn.batch * bn.n_heads * bn.q_len * double(bn.kv_len) * bn.head_dim *
                           (bn.causal && bn.q_len > 1 ? 0.5 : 1.0);
      const double bytes = 2.0 * nkv * dtype_size(t);
      std::printf("%-24s %-4s %8.4f ms  %7.1f TFLOP/s  %7.1f GB/s (K+V)\n", bn.name, dtype_name(t), med,
                  flops / med * 1e-9, bytes / med * 1e-6);
      for (uint8_t* p : {dq, dk, dv, dout}) cudaFree(p);
    }
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace zotune
