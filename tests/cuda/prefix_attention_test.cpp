// Prefix-tuning's attention on the device, kernel level: store_prefix_kv (kernels/cuda/prefix_kv.cuh)
// writes each probe group's fp32 prefix, rounded to the dtype, into the first P slots of a key/value
// buffer; append_kv puts the new tokens after the cached ones; cuda::prefixed_attention keeps the P
// prefix keys visible to every query. Compared per dtype with the CPU reference, cpu::attention with
// a cpu::AttentionPrefix over the unprefixed keys (normalized error max |gpu - cpu| / max |cpu|:
// fp32 1e-5, fp16/bf16 2e-2; the CPU fed the rounded inputs and prefix). The cases reach the three
// device kernels (tensor cores: 16-bit, head_dim 64/128, >= 16 queries; decode: <= 4 queries; SIMT:
// fp32 and odd head dims) with causal and encoder masks, left padding (queries that see no key of
// their own still see the prefix), holes, a sliding window shorter than the sequence (the prefix
// stays visible beyond it), GQA, a KV cache holding earlier tokens, and 1 to 3 probe groups read from
// a bank of [groups, region] copies. Buffer slots outside the logical tensors hold NaN, so a read out
// of range shows; the prefix slots' valid flags start at 0 and must come back 1. The argument checks
// run without a GPU, the rest skips.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "core/util/error.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/kv_cache.cuh"
#include "kernels/cuda/prefix_kv.cuh"
#include "tests/cuda/attention_test_util.h"
#include "tests/cuda/cuda_test_util.h"
#include "tests/unit/error_test_util.h"

namespace zotune {
namespace {

using test::device_copy;
using test::Pad;
using test::rounded;
using test::seeded;
using test::to_dtype;

struct PrefixCase {
  const char* name;
  int batch, q_len, past, prefix, n_heads, n_kv_heads, head_dim;
  bool causal = true;
  int window = 0;
  Pad pad = Pad::None;
  int groups = 1;
};

struct PrefixResult {
  double error = 0, ref_max = 0;
  bool prefix_flags_set = true;  // the prefix slots' valid flags came back 1
  bool other_flags_kept = true;  // and no other flag changed
};

PrefixResult run_prefix_case(const PrefixCase& c, DType t, cudaStream_t stream) {
  const int hd = c.head_dim, q_dim = c.n_heads * hd, kv_dim = c.n_kv_heads * hd, P = c.prefix;
  const int kv_len = c.past + c.q_len;  // the sequence's own keys: cached, then new
  const int cap = P + kv_len + 3;       // device slots a sequence, 3 past the last used
  const size_t tokens = static_cast<size_t>(c.batch) * c.q_len;
  const uint32_t seed = 13u * c.batch + 29u * c.q_len + 5u * c.past + 3u * hd + 7u * P;

  // The bank: `groups` copies of a region in which the keys and values sit at two offsets (as
  // a layer's tensors among the others); group g's copy differs from group 0's.
  const int64_t prefix_numel = int64_t(P) * kv_dim;
  const int64_t keys_at = 11, values_at = keys_at + prefix_numel + 5, region = values_at + prefix_numel + 7;
  std::vector<float> bank(static_cast<size_t>(c.groups * region), std::numeric_limits<float>::quiet_NaN());
  for (int g = 0; g < c.groups; ++g) {
    const std::vector<float> pk = seeded(P, kv_dim, seed + 10 + g, 0.3f), pv = seeded(P, kv_dim, seed + 20 + g, -0.4f);
    std::copy(pk.begin(), pk.end(), bank.begin() + g * region + keys_at);
    std::copy(pv.begin(), pv.end(), bank.begin() + g * region + values_at);
  }
  // The CPU reads the prefix as the device does: rounded to the dtype (NaN gaps stay NaN).
  const std::vector<float> bank_rounded = rounded(bank, t);

  const std::vector<float> q = rounded(seeded(tokens, q_dim, seed, 0.2f), t);
  const std::vector<float> k = rounded(seeded(size_t(c.batch) * kv_len, kv_dim, seed + 1, -0.1f), t);
  const std::vector<float> v = rounded(seeded(size_t(c.batch) * kv_len, kv_dim, seed + 2, 0.5f), t);
  // Sequence b keeps kv_len - 4 b keys (at least 1); holes at (j + b) % 4 == 1.
  const std::vector<uint8_t> mask = test::key_mask(c.pad, c.batch, kv_len, kv_len, 4, 1);

  cpu::AttentionShape s = test::case_shape(c, kv_len, c.past);
  s.kv_batch_stride = int64_t(kv_len) * kv_dim;
  s.mask_batch_stride = kv_len;
  const cpu::AttentionPrefix prefix{bank_rounded.data() + keys_at, bank_rounded.data() + values_at, P, c.groups,
                                    c.groups > 1 ? region : 0};
  std::vector<float> want(tokens * q_dim);
  cpu::attention(want.data(), q.data(), k.data(), v.data(), mask.data(), s, prefix);

  // Device: K/V [batch, cap, kv_dim] with the cached tokens at slots [P, P + past) and NaN
  // everywhere else; the new tokens' rows in a separate [tokens, kv_dim] source.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> kbuf(size_t(c.batch) * cap * kv_dim, nan), vbuf = kbuf;
  std::vector<float> k_new(tokens * kv_dim), v_new(tokens * kv_dim);
  std::vector<uint8_t> flags(size_t(c.batch) * cap, 0);
  for (int b = 0; b < c.batch; ++b) {
    for (int j = 0; j < kv_len; ++j) {
      const size_t src = (size_t(b) * kv_len + j) * kv_dim;
      flags[size_t(b) * cap + P + j] = mask[size_t(b) * kv_len + j];
      if (j < c.past) {
        const size_t dst = (size_t(b) * cap + P + j) * kv_dim;
        std::copy_n(&k[src], kv_dim, &kbuf[dst]);
        std::copy_n(&v[src], kv_dim, &vbuf[dst]);
      } else {
        const size_t dst = (size_t(b) * c.q_len + j - c.past) * kv_dim;
        std::copy_n(&k[src], kv_dim, &k_new[dst]);
        std::copy_n(&v[src], kv_dim, &v_new[dst]);
      }
    }
  }
  const size_t es = dtype_size(t);
  float* d_bank = device_copy(bank);  // fp32: store_prefix_kv rounds
  uint8_t* dk = device_copy(to_dtype(kbuf, t));
  uint8_t* dv = device_copy(to_dtype(vbuf, t));
  uint8_t* dk_new = device_copy(to_dtype(k_new, t));
  uint8_t* dv_new = device_copy(to_dtype(v_new, t));
  uint8_t* dq = device_copy(to_dtype(q, t));
  uint8_t* dflags = device_copy(flags);
  uint8_t* dout = device_copy(std::vector<uint8_t>(tokens * q_dim * es, 0xff));

  cuda::store_prefix_kv(dk, dv, t, d_bank + keys_at, d_bank + values_at, P, kv_dim, c.batch, c.groups,
                        c.groups > 1 ? region : 0, int64_t(cap) * kv_dim, dflags, cap, stream);
  cuda::append_kv(dk, dv, dk_new, dv_new, t, c.batch, c.q_len, kv_dim, kv_dim, cap, P + c.past, stream);
  cpu::AttentionShape ds = s;
  ds.kv_len = P + kv_len;
  ds.q_start = P + c.past;
  ds.kv_batch_stride = int64_t(cap) * kv_dim;
  ds.mask_batch_stride = cap;
  cuda::prefixed_attention(dout, dq, dk, dv, t, dflags, ds, {q_dim, kv_dim, q_dim}, P, stream);
  EXPECT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  const std::vector<uint8_t> got = test::host_copy(dout, tokens * q_dim * es);
  const std::vector<uint8_t> flags_after = test::host_copy(dflags, flags.size());
  cudaFree(d_bank);
  for (uint8_t* p : {dk, dv, dk_new, dv_new, dq, dflags, dout}) cudaFree(p);

  PrefixResult r;
  for (int b = 0; b < c.batch; ++b)
    for (int j = 0; j < cap; ++j) {
      const size_t i = size_t(b) * cap + j;
      if (j < P) r.prefix_flags_set = r.prefix_flags_set && flags_after[i] == 1;
      else r.other_flags_kept = r.other_flags_kept && flags_after[i] == flags[i];
    }
  std::vector<float> out(tokens * q_dim);
  convert(got.data(), t, out.data(), DType::F32, out.size());
  r.error = test::normalized_error(out, want);
  for (float x : want) r.ref_max = std::max(r.ref_max, double(std::fabs(x)));
  return r;
}

void check_prefix_cases(const std::vector<PrefixCase>& cases) {
  test::check_each_dtype(cases, run_prefix_case, [](const PrefixResult& r, const PrefixCase&, const std::string& what) {
    EXPECT_TRUE(r.prefix_flags_set) << what << ": the prefix slots are not marked valid";
    EXPECT_TRUE(r.other_flags_kept) << what << ": store_prefix_kv wrote flags past the prefix";
  });
}

TEST(CudaPrefixAttention, DecodersWithPaddingWindowAndGqa) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_prefix_cases({
      {.name = "causal", .batch = 2, .q_len = 40, .past = 0, .prefix = 5, .n_heads = 4, .n_kv_heads = 4,
       .head_dim = 64},
      // Left padding: the first queries of the later sequences see no token key, only the prefix.
      {.name = "causal left pad gqa hd128", .batch = 3, .q_len = 24, .past = 0, .prefix = 3, .n_heads = 4,
       .n_kv_heads = 2, .head_dim = 128, .pad = Pad::Left},
      {.name = "causal right pad simt", .batch = 3, .q_len = 9, .past = 0, .prefix = 5, .n_heads = 2,
       .n_kv_heads = 1, .head_dim = 64, .pad = Pad::Right},
      // A window of 8 over 70 tokens: the prefix stays visible to every query beyond it.
      {.name = "window", .batch = 2, .q_len = 70, .past = 0, .prefix = 6, .n_heads = 4, .n_kv_heads = 2,
       .head_dim = 64, .window = 8},
      {.name = "window left pad hd24", .batch = 2, .q_len = 30, .past = 0, .prefix = 4, .n_heads = 2,
       .n_kv_heads = 2, .head_dim = 24, .window = 5, .pad = Pad::Left},
  });
}

TEST(CudaPrefixAttention, EncodersWithPadding) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_prefix_cases({
      {.name = "encoder holes", .batch = 2, .q_len = 33, .past = 0, .prefix = 5, .n_heads = 4, .n_kv_heads = 4,
       .head_dim = 64, .causal = false, .pad = Pad::Holes},
      {.name = "encoder right pad hd32", .batch = 3, .q_len = 12, .past = 0, .prefix = 2, .n_heads = 2,
       .n_kv_heads = 2, .head_dim = 32, .causal = false, .pad = Pad::Right},
  });
}

// Generation: the cache holds `past` tokens after the prefix slots; chunks and single tokens.
TEST(CudaPrefixAttention, CachedTokensChunksAndDecode) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_prefix_cases({
      {.name = "cache chunk", .batch = 2, .q_len = 20, .past = 30, .prefix = 5, .n_heads = 4, .n_kv_heads = 2,
       .head_dim = 128, .pad = Pad::Left},
      {.name = "decode", .batch = 3, .q_len = 1, .past = 60, .prefix = 5, .n_heads = 4, .n_kv_heads = 2,
       .head_dim = 128, .pad = Pad::Left},
      {.name = "decode window hd64", .batch = 2, .q_len = 1, .past = 90, .prefix = 3, .n_heads = 2,
       .n_kv_heads = 2, .head_dim = 64, .window = 16},
      {.name = "decode 3 tokens hd256", .batch = 2, .q_len = 3, .past = 20, .prefix = 4, .n_heads = 2,
       .n_kv_heads = 1, .head_dim = 256, .pad = Pad::Holes},
      {.name = "short chunk simt", .batch = 2, .q_len = 6, .past = 10, .prefix = 2, .n_heads = 2,
       .n_kv_heads = 2, .head_dim = 48},
  });
}

// Batched probes: the batch is `groups` blocks, block g attending to bank copy g.
TEST(CudaPrefixAttention, ProbeGroupsReadTheirOwnPrefix) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  check_prefix_cases({
      {.name = "groups 3 causal", .batch = 6, .q_len = 32, .past = 0, .prefix = 5, .n_heads = 4, .n_kv_heads = 2,
       .head_dim = 64, .pad = Pad::Right, .groups = 3},
      {.name = "groups 2 encoder simt", .batch = 4, .q_len = 7, .past = 0, .prefix = 3, .n_heads = 2,
       .n_kv_heads = 2, .head_dim = 40, .causal = false, .pad = Pad::Holes, .groups = 2},
      {.name = "groups 2 decode", .batch = 4, .q_len = 1, .past = 12, .prefix = 5, .n_heads = 2, .n_kv_heads = 1,
       .head_dim = 128, .groups = 2},
  });
}

// The prefix has to matter, or the cases above could pass with it ignored: the same case with
// the prefix gone (a CPU-only computation) is far from the one with it.
TEST(CudaPrefixAttention, PremiseThePrefixMovesTheOutput) {
  const int B = 2, T = 16, H = 2, D = 32, P = 5;
  const std::vector<float> q = seeded(B * T, H * D, 1, 0.2f), k = seeded(B * T, H * D, 2, -0.1f),
                           v = seeded(B * T, H * D, 3, 0.5f), pk = seeded(P, H * D, 4, 0.3f),
                           pv = seeded(P, H * D, 5, -0.4f);
  cpu::AttentionShape s;
  s.batch = B;
  s.q_len = s.kv_len = T;
  s.n_heads = s.n_kv_heads = H;
  s.head_dim = D;
  s.kv_batch_stride = int64_t(T) * H * D;
  s.mask_batch_stride = T;
  s.causal = true;
  s.scale = 1.0f / std::sqrt(float(D));
  std::vector<float> with(q.size()), without(q.size());
  cpu::attention(with.data(), q.data(), k.data(), v.data(), nullptr, s, {pk.data(), pv.data(), P});
  cpu::attention(without.data(), q.data(), k.data(), v.data(), nullptr, s);
  EXPECT_GT(test::normalized_error(with, without), 10 * test::tolerance(DType::BF16));
}

// Checked before any device call: runs without a GPU.
TEST(CudaPrefixAttention, BadArgumentsAreErrors) {
  cpu::AttentionShape s;
  s.batch = 2;
  s.q_len = s.kv_len = 8;
  s.n_heads = s.n_kv_heads = 1;
  s.head_dim = 16;
  s.q_start = 3;
  // The prefix must come before the queries: q_start counts it.
  const std::string e = test::error_of([&] {
    cuda::prefixed_attention(nullptr, nullptr, nullptr, nullptr, DType::F16, nullptr, s, {}, 4, nullptr);
  });
  EXPECT_NE(e.find("visible prefix of 4"), std::string::npos) << e;
  EXPECT_THROW(cuda::store_prefix_kv(nullptr, nullptr, DType::F16, nullptr, nullptr, 5, 16, 3, 2, 200, 80, nullptr, 0),
               Error);  // 3 sequences in 2 groups
  EXPECT_THROW(cuda::store_prefix_kv(nullptr, nullptr, DType::F16, nullptr, nullptr, 5, 16, 4, 2, 79, 80, nullptr, 0),
               Error);  // the groups' copies overlap
  EXPECT_THROW(cuda::store_prefix_kv(nullptr, nullptr, DType::F16, nullptr, nullptr, 5, 16, 4, 1, 0, 79, nullptr, 0),
               Error);  // a sequence's rows cannot hold the prefix
}

}  // namespace
}  // namespace zotune
