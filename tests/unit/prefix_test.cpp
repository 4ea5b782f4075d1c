// Prefix-tuning (MeZO-prefix, core/peft): num_prefix trainable key and value vectors per attention
// layer that every real token attends to, initialized from the backbone's activations on sampled
// tokens (MeZO's init_by_real_act) or N(0, 1).
//  - the attention kernel against a naive double reference over the concatenated [prefix; keys];
//  - decoders (OPT pre/post-LN, Llama GQA and the RoPE variants, Qwen2): the model with a prefix
//    equals the plain model whose KV cache already holds the prefix as P visible slots while the
//    real tokens' positions restart at 0 (an independent route: the plain cached attention);
//  - BERT/RoBERTa: the model with a prefix equals a naive encoder forward written here;
//  - parameter counts 2 * layers * P * kv_width; the real-activation init equals the keys (after
//    RoPE) and values of the plain backbone on the sampled tokens, and is a pure function of the seed;
//  - greedy generation with the KV cache equals the no-cache forward;
//  - a MeZO-prefix run lowers the loss, trains only the prefix and replays bit for bit;
//  - the run-file keys, their defaults and their errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/log/run_log_reader.h"
#include "core/model/forward_util.h"
#include "core/model/generate.h"
#include "core/model/model.h"
#include "core/optim/trainable_space.h"
#include "core/peft/peft_modules.h"
#include "core/train/replay.h"
#include "core/train/run_setup.h"
#include "io_test_util.h"
#include "random_test_util.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"
#include "parity_test_util.h"
#include "train_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::read_batch;
using test::RefBatch;
using test::reference_rows;
using test::rel_error;

const fs::path kRepoRoot = fs::path(ZOTUNE_FIXTURES_DIR).parent_path().parent_path();
const std::string kTinyLm = test::fixture_path("train/tiny_lm");

std::string parity_fixture(const std::string& name) { return (test::parity_dir() / name).string(); }

PeftSettings prefix_settings(int64_t tokens = 5, PrefixInit init = PrefixInit::RealActivations, uint64_t seed = 7) {
  PeftSettings p;
  p.kind = PeftKind::Prefix;
  p.prefix_tokens = tokens;
  p.prefix_init = init;
  p.seed = seed;
  return p;
}

std::unique_ptr<Model> load_with(const std::string& path, const PeftSettings& peft) {
  LoadOptions load;
  load.peft = peft;
  return load_model(path, load);
}

std::vector<float> tensor_values(const Model& m, const std::string& name) {
  const ParamView& v = m.params().at(name);
  const float* x = static_cast<const float*>(m.params().data(v));
  return std::vector<float>(x, x + v.numel);
}

// Where the prefix of `layer` lives: decoders under self_attn, BERT/RoBERTa under attention.self.
std::string prefix_name(const Model& m, int layer, const char* which) {
  const bool encoder = m.config().arch == Architecture::BERT || m.config().arch == Architecture::RoBERTa;
  return "peft.layers." + std::to_string(layer) + (encoder ? ".attention.self." : ".self_attn.") + which;
}

int kv_width(const ModelConfig& c) { return (c.arch == Architecture::Llama ? c.num_kv_heads : c.num_heads) * c.head_dim; }

// ---- The kernel: cpu::attention with a prefix against attention over [prefix; keys] in double,
// ---- the prefix rows visible to every query whatever the causal, padding and window masks say.

std::vector<double> concatenated_attention(const std::vector<float>& q, const std::vector<float>& k,
                                           const std::vector<float>& v, const std::vector<uint8_t>& valid,
                                           const std::vector<float>& pk, const std::vector<float>& pv, int P,
                                           const cpu::AttentionShape& s) {
  const int group = s.n_heads / s.n_kv_heads, D = s.head_dim, kv_row = s.n_kv_heads * D;
  std::vector<double> out(static_cast<size_t>(s.batch) * s.q_len * s.n_heads * D, 0.0);
  for (int b = 0; b < s.batch; ++b)
    for (int i = 0; i < s.q_len; ++i)
      for (int h = 0; h < s.n_heads; ++h) {
        const int qi = s.q_start + i, kvh = h / group;
        // The concatenated key list: P prefix rows, then the kv_len rows of sequence b.
        std::vector<const float*> keys, values;
        for (int j = 0; j < P; ++j) {
          keys.push_back(&pk[static_cast<size_t>(j) * kv_row + kvh * D]);
          values.push_back(&pv[static_cast<size_t>(j) * kv_row + kvh * D]);
        }
        for (int j = 0; j < s.kv_len; ++j) {
          if (!valid[b * s.mask_batch_stride + j] || (s.causal && j > qi) ||
              (s.sliding_window > 0 && qi - j >= s.sliding_window))
            continue;
          keys.push_back(&k[b * s.kv_batch_stride + static_cast<int64_t>(j) * kv_row + kvh * D]);
          values.push_back(&v[b * s.kv_batch_stride + static_cast<int64_t>(j) * kv_row + kvh * D]);
        }
        if (keys.empty()) continue;
        std::vector<double> score(keys.size());
        double best = -INFINITY, sum = 0.0;
        for (size_t j = 0; j < keys.size(); ++j) {
          double dot = 0.0;
          for (int d = 0; d < D; ++d) dot += double(q[((b * s.q_len + i) * s.n_heads + h) * D + d]) * keys[j][d];
          score[j] = dot * s.scale;
          best = std::max(best, score[j]);
        }
        for (double& e : score) sum += (e = std::exp(e - best));
        for (size_t j = 0; j < keys.size(); ++j)
          for (int d = 0; d < D; ++d) out[((b * s.q_len + i) * s.n_heads + h) * D + d] += score[j] / sum * values[j][d];
      }
  return out;
}

TEST(PrefixAttention, KernelMatchesNaiveConcatenatedAttention) {
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
  const int P = 4, kv_row = s.n_kv_heads * s.head_dim;
  const std::vector<float> q =
      test::uniform_vector(static_cast<size_t>(s.batch) * s.q_len * s.n_heads * s.head_dim, 10, 2.0f);
  const std::vector<float> k = test::uniform_vector(static_cast<size_t>(s.batch) * s.kv_batch_stride, 11, 2.0f);
  const std::vector<float> v = test::uniform_vector(k.size(), 12, 2.0f);
  const std::vector<float> pk = test::uniform_vector(static_cast<size_t>(P) * kv_row, 13, 2.0f);
  const std::vector<float> pv = test::uniform_vector(pk.size(), 14, 2.0f);
  std::vector<uint8_t> valid(static_cast<size_t>(s.batch) * 9, 1);
  valid[0] = valid[1] = 0;  // sequence 0 is left-padded by two
  valid[9 + 6] = 0;         // sequence 1's last new token is padding
  for (int window : {0, 3}) {
    s.sliding_window = window;
    std::vector<float> with(q.size(), NAN), without(q.size(), NAN);
    cpu::attention(with.data(), q.data(), k.data(), v.data(), valid.data(), s, {pk.data(), pv.data(), P});
    cpu::attention(without.data(), q.data(), k.data(), v.data(), valid.data(), s);
    const std::vector<double> want = concatenated_attention(q, k, v, valid, pk, pv, P, s);
    double num = 0, den = 0, moved = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      num += (with[i] - want[i]) * (with[i] - want[i]);
      den += want[i] * want[i];
      moved = std::max(moved, std::fabs(double(with[i]) - without[i]));
    }
    EXPECT_LT(std::sqrt(num / den), 1e-6) << "window " << window;
    EXPECT_GT(moved, 0.1) << "the prefix changed nothing (window " << window << ")";
    // A prefix of length 0 is the plain kernel, bit for bit.
    std::vector<float> empty(q.size(), NAN);
    cpu::attention(empty.data(), q.data(), k.data(), v.data(), valid.data(), s, {pk.data(), pv.data(), 0});
    EXPECT_EQ(empty, without);
  }
  // A query that sees no real key (all keys padding) still sees the prefix.
  std::vector<uint8_t> none(valid.size(), 0);
  s.sliding_window = 0;
  std::vector<float> out(q.size(), NAN);
  cpu::attention(out.data(), q.data(), k.data(), v.data(), none.data(), s, {pk.data(), pv.data(), P});
  const std::vector<double> want = concatenated_attention(q, k, v, none, pk, pv, P, s);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out[i], want[i], 1e-5) << i;
}

// ---- Decoders: the prefix model against the plain model with the prefix in its KV cache.

// Logits of `plain` (no PEFT) on `batch` with a cache whose first P slots of every sequence hold
// layer l's prefix keys and values from `prefixed` (valid, before every real token), while
// real_tokens = 0 restarts the positions: exactly prefix-tuning's visibility and positions, through
// the plain cached attention path.
std::vector<float> plain_with_prefix_in_cache(Model& plain, const Model& prefixed, const Batch& batch,
                                              const std::vector<int64_t>& rows) {
  const ModelConfig& c = plain.config();
  const int P = prefixed.peft().prefix_tokens(), B = batch.batch, W = kv_width(c);
  KVCache cache = plain.make_cache(B, P + batch.seq_len);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::vector<float> keys = tensor_values(prefixed, prefix_name(prefixed, l, "prefix_keys"));
    const std::vector<float> values = tensor_values(prefixed, prefix_name(prefixed, l, "prefix_values"));
    for (int b = 0; b < B; ++b) {
      std::copy(keys.begin(), keys.end(), cache.k[l].begin() + static_cast<size_t>(b) * cache.capacity * W);
      std::copy(values.begin(), values.end(), cache.v[l].begin() + static_cast<size_t>(b) * cache.capacity * W);
    }
  }
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < P; ++j) cache.valid[static_cast<size_t>(b) * cache.capacity + j] = 1;
  cache.length = P;  // real_tokens stays 0: the batch's tokens get positions 0, 1, ...
  return plain.forward(batch, rows, &cache);
}

class PrefixDecoder : public ::testing::TestWithParam<std::string> {};

TEST_P(PrefixDecoder, ForwardEqualsPlainModelWithThePrefixCached) {
  const std::string dir = parity_fixture(GetParam());
  const SafetensorsArchive ref = SafetensorsArchive::open(dir + "/reference.safetensors");
  std::unique_ptr<Model> plain = load_model(dir);
  for (PrefixInit init : {PrefixInit::RealActivations, PrefixInit::Random}) {
    std::unique_ptr<Model> prefixed = load_with(dir, prefix_settings(5, init));
    for (const char* name : {"unpadded", "right", "left"}) {
      const RefBatch rb = read_batch(ref, name);
      const std::vector<float> got = prefixed->forward(rb.batch, rb.valid_rows);
      const std::vector<float> want = plain_with_prefix_in_cache(*plain, *prefixed, rb.batch, rb.valid_rows);
      const std::vector<float> without = plain->forward(rb.batch, rb.valid_rows);
      const std::string what = GetParam() + " " + name + (init == PrefixInit::Random ? " random" : " real_act");
      EXPECT_LE(rel_error(got, want), 1e-5) << what;
      EXPECT_GT(rel_error(got, without), 1e-3) << what << ": the prefix changed nothing";
    }
  }
}

// Every decoder fixture but mistral_sliding: there the cached route would apply the window to the
// prefix slots, which prefix-tuning never masks (the kernel test covers windows).
INSTANTIATE_TEST_SUITE_P(Fixtures, PrefixDecoder,
                         ::testing::Values("opt_pre_ln", "opt_post_ln_proj", "llama_gqa", "llama_linear_rope",
                                           "llama_tied_rope_scaled", "qwen2"));

// ---- Encoders: a naive BERT/RoBERTa body (hidden states), attention in double over
// ---- [prefix; unmasked keys]. Records each layer's keys and values when `kv` is given.

struct LayerKv {
  std::vector<float> k, v;  // [N, C]
};

std::vector<float> naive_encoder(const Model& m, const Batch& batch, bool with_prefix, std::vector<LayerKv>* kv = nullptr) {
  const ModelConfig& c = m.config();
  const ParamStore& ps = m.params();
  const std::string top = c.arch == Architecture::RoBERTa ? "roberta." : "bert.";
  auto W = [&](const std::string& name) { return ps.data(ps.at(name)); };
  const DType dt = m.dtype();
  const int B = batch.batch, T = batch.seq_len, N = B * T, C = c.hidden_size, F = c.intermediate_size;
  const int H = c.num_heads, D = c.head_dim, P = with_prefix ? m.peft().prefix_tokens() : 0;
  const float eps = c.layer_norm_eps;
  const std::vector<int32_t> positions = encoder_positions(c, batch);
  const std::vector<int32_t> types = batch.token_types.empty() ? std::vector<int32_t>(N, 0) : batch.token_types;
  std::vector<float> x(static_cast<size_t>(N) * C), q(x.size()), k(x.size()), v(x.size()), att(x.size()), h(x.size()),
      ff(static_cast<size_t>(N) * F);
  const std::string e = top + "embeddings.";
  cpu::embedding(x.data(), batch.ids.data(), W(e + "word_embeddings.weight"), dt, N, C);
  cpu::embedding_add(x.data(), positions.data(), W(e + "position_embeddings.weight"), dt, N, C);
  cpu::embedding_add(x.data(), types.data(), W(e + "token_type_embeddings.weight"), dt, N, C);
  cpu::layernorm(x.data(), x.data(), W(e + "LayerNorm.weight"), W(e + "LayerNorm.bias"), dt, N, C, eps);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string a = top + "encoder.layer." + std::to_string(l) + ".attention.";
    const std::string p = top + "encoder.layer." + std::to_string(l) + ".";
    cpu::matmul(q.data(), x.data(), W(a + "self.query.weight"), dt, W(a + "self.query.bias"), dt, N, C, C);
    cpu::matmul(k.data(), x.data(), W(a + "self.key.weight"), dt, W(a + "self.key.bias"), dt, N, C, C);
    cpu::matmul(v.data(), x.data(), W(a + "self.value.weight"), dt, W(a + "self.value.bias"), dt, N, C, C);
    if (kv) kv->push_back({k, v});
    std::vector<float> pk, pv;
    if (P) pk = tensor_values(m, prefix_name(m, l, "prefix_keys")), pv = tensor_values(m, prefix_name(m, l, "prefix_values"));
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < T; ++i)
        for (int hd = 0; hd < H; ++hd) {
          // Keys of query (b, i): the prefix rows, then the sequence's unmasked tokens.
          std::vector<const float*> keys, values;
          for (int j = 0; j < P; ++j) keys.push_back(&pk[j * C + hd * D]), values.push_back(&pv[j * C + hd * D]);
          for (int j = 0; j < T; ++j)
            if (batch.mask[b * T + j])
              keys.push_back(&k[(b * T + j) * C + hd * D]), values.push_back(&v[(b * T + j) * C + hd * D]);
          std::vector<double> score(keys.size());
          double best = -INFINITY, sum = 0.0;
          for (size_t j = 0; j < keys.size(); ++j) {
            double dot = 0.0;
            for (int d = 0; d < D; ++d) dot += double(q[(b * T + i) * C + hd * D + d]) * keys[j][d];
            score[j] = dot / std::sqrt(double(D));
            best = std::max(best, score[j]);
          }
          for (double& s : score) sum += (s = std::exp(s - best));
          for (int d = 0; d < D; ++d) {
            double o = 0.0;
            for (size_t j = 0; j < keys.size(); ++j) o += score[j] / sum * values[j][d];
            att[(b * T + i) * C + hd * D + d] = static_cast<float>(o);
          }
        }
    cpu::matmul(h.data(), att.data(), W(a + "output.dense.weight"), dt, W(a + "output.dense.bias"), dt, N, C, C);
    for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];
    cpu::layernorm(x.data(), x.data(), W(a + "output.LayerNorm.weight"), W(a + "output.LayerNorm.bias"), dt, N, C, eps);
    cpu::matmul(ff.data(), x.data(), W(p + "intermediate.dense.weight"), dt, W(p + "intermediate.dense.bias"), dt, N, C, F);
    apply_activation(c.activation, ff.data(), ff.size());
    cpu::matmul(h.data(), ff.data(), W(p + "output.dense.weight"), dt, W(p + "output.dense.bias"), dt, N, F, C);
    for (size_t i = 0; i < x.size(); ++i) x[i] += h[i];
    cpu::layernorm(x.data(), x.data(), W(p + "output.LayerNorm.weight"), W(p + "output.LayerNorm.bias"), dt, N, C, eps);
  }
  return x;
}

std::unique_ptr<Model> load_encoder_body(const std::string& dir, const PeftSettings& peft) {
  LoadOptions load;
  load.override_head = true;
  load.head = HeadKind::Base;  // hidden states out: what the naive body computes
  load.peft = peft;
  return load_model(dir, load);
}

class PrefixEncoder : public ::testing::TestWithParam<std::string> {};

TEST_P(PrefixEncoder, ForwardEqualsNaiveEncoderOverPrefixAndTokens) {
  const std::string dir = parity_fixture(GetParam());
  const SafetensorsArchive ref = SafetensorsArchive::open(dir + "/reference.safetensors");
  std::unique_ptr<Model> plain = load_encoder_body(dir, {});
  for (PrefixInit init : {PrefixInit::RealActivations, PrefixInit::Random}) {
    std::unique_ptr<Model> prefixed = load_encoder_body(dir, prefix_settings(4, init));
    for (const char* name : {"unpadded", "right", "left"}) {
      if (!ref.find(std::string(name) + ".input_ids")) continue;
      const RefBatch rb = read_batch(ref, name);
      const std::string what = GetParam() + " " + name + (init == PrefixInit::Random ? " random" : " real_act");
      // Padding rows are not compared: nothing reads them.
      const int C = prefixed->config().hidden_size;
      const std::vector<float> got = reference_rows(prefixed->forward(rb.batch), rb.valid_rows, C);
      const std::vector<float> want = reference_rows(naive_encoder(*prefixed, rb.batch, true), rb.valid_rows, C);
      const std::vector<float> without = reference_rows(plain->forward(rb.batch), rb.valid_rows, C);
      EXPECT_LE(rel_error(got, want), 1e-5) << what;
      EXPECT_GT(rel_error(got, without), 1e-3) << what << ": the prefix changed nothing";
      // The naive body without the prefix is the plain model (the reference is sound).
      EXPECT_LE(rel_error(without, reference_rows(naive_encoder(*plain, rb.batch, false), rb.valid_rows, C)), 1e-5) << what;
    }
  }
}

// BERT/RoBERTa real-activation init: each layer's key and value projections of the sampled
// tokens, run as one unpadded sequence through the plain encoder (MeZO's medium_models prefix.py).
TEST_P(PrefixEncoder, RealActivationInitIsTheEncodersKeysAndValues) {
  const std::string dir = parity_fixture(GetParam());
  const PeftSettings p = prefix_settings(4, PrefixInit::RealActivations, 21);
  std::unique_ptr<Model> prefixed = load_encoder_body(dir, p);
  Batch tokens;
  tokens.batch = 1;
  tokens.seq_len = 4;
  tokens.ids = prefix_init_tokens(p.seed, 4, prefixed->config().vocab_size);
  tokens.mask.assign(4, 1);
  std::vector<LayerKv> kv;
  naive_encoder(*prefixed, tokens, false, &kv);
  ASSERT_EQ(static_cast<int>(kv.size()), prefixed->config().num_layers);
  for (int l = 0; l < prefixed->config().num_layers; ++l) {
    EXPECT_LE(rel_error(tensor_values(*prefixed, prefix_name(*prefixed, l, "prefix_keys")), kv[l].k), 1e-5) << l;
    EXPECT_LE(rel_error(tensor_values(*prefixed, prefix_name(*prefixed, l, "prefix_values")), kv[l].v), 1e-5) << l;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, PrefixEncoder, ::testing::Values("bert_mlm", "roberta_mlm", "bert_cls"));

// ---- Shapes and counts: 2 tensors per attention layer of [P, n_kv_heads * head_dim].

ModelConfig shape_config(const std::string& name) {
  return parse_hf_config((kRepoRoot / "experiments" / "benchmarks" / "shapes" / name / "config.json").string());
}

TEST(PrefixCounts, TwoTimesLayersTimesTokensTimesKvWidth) {
  struct Case {
    std::string shape;
    int64_t layers, kv_width;
  };
  for (const Case& c : {Case{"opt-1.3b", 24, 2048}, Case{"opt-13b", 40, 5120}, Case{"llama-2-7b", 32, 4096},
                        Case{"roberta-large", 24, 1024}}) {
    std::unique_ptr<Model> m = declare_model(shape_config(c.shape), DType::F16, prefix_settings());
    EXPECT_EQ(m->peft().numel(), 2 * c.layers * 5 * c.kv_width) << c.shape;
    EXPECT_EQ(m->params().numel(DType::F32), 2 * c.layers * 5 * c.kv_width) << c.shape;  // fp32 over the fp16 body
    EXPECT_EQ(m->peft().tensor_names().size(), static_cast<size_t>(2 * c.layers)) << c.shape;
  }
  // MeZO's OPT-13B prefix: 2 x 40 x 5 x 5120 = 2,048,000 trainable parameters.
  EXPECT_EQ(declare_model(shape_config("opt-13b"), DType::F16, prefix_settings())->peft().numel(), 2048000);
  // Grouped-query attention: the prefix is n_kv_heads * head_dim wide (llama_gqa: 2 x 8, not 32).
  std::unique_ptr<Model> gqa = load_with(parity_fixture("llama_gqa"), prefix_settings(3));
  EXPECT_EQ(gqa->params().at("peft.layers.1.self_attn.prefix_keys").shape, (std::vector<int64_t>{3, 16}));
  EXPECT_EQ(gqa->params().at("peft.layers.0.self_attn.prefix_values").shape, (std::vector<int64_t>{3, 16}));
  EXPECT_EQ(gqa->peft().numel(), 2 * 2 * 3 * 16);
  std::unique_ptr<Model> bert = load_with(parity_fixture("bert_mlm"), prefix_settings(3));
  EXPECT_NE(bert->params().find("peft.layers.0.attention.self.prefix_keys"), nullptr);
  // Only the prefix is trainable in trainable.mode prefix.
  TrainableSelection sel;
  sel.mode = TrainableSelection::Mode::Peft;
  const TrainableSpace space = TrainableSpace::select(*gqa, sel);
  EXPECT_EQ(space.size(), static_cast<uint64_t>(2 * 2 * 3 * 16));
  for (const TrainableTensor& t : space.tensors()) EXPECT_EQ(param_role(t.view->name), ParamRole::Peft) << t.view->name;
}

// ---- Initialization.

TEST(PrefixInitTokens, UniformOverTheVocabularyAndSeeded) {
  const std::vector<int32_t> a = prefix_init_tokens(7, 2000, 96), b = prefix_init_tokens(7, 2000, 96);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, prefix_init_tokens(8, 2000, 96));
  std::vector<int> count(96, 0);
  for (int32_t t : a) {
    ASSERT_GE(t, 0);
    ASSERT_LT(t, 96);
    ++count[t];
  }
  // 2000 draws over 96 ids: every id is drawn (expected 20.8 each) and none dominates.
  EXPECT_GT(*std::min_element(count.begin(), count.end()), 3);
  EXPECT_LT(*std::max_element(count.begin(), count.end()), 50);
  // The first tokens do not depend on how many are drawn (one Philox block per token).
  EXPECT_EQ(prefix_init_tokens(7, 5, 96), std::vector<int32_t>(a.begin(), a.begin() + 5));
}

// Decoders: the prefix is the plain backbone's KV cache after the sampled tokens, bit for bit
// (keys after RoPE at positions 0 .. P-1 for Llama; k_proj outputs for OPT, as MeZO's past_key_values).
TEST(PrefixInit, RealActivationsAreTheDecodersCachedKeysAndValues) {
  for (const char* fixture : {"opt_pre_ln", "opt_post_ln_proj", "llama_gqa", "llama_tied_rope_scaled"}) {
    const std::string dir = parity_fixture(fixture);
    const PeftSettings p = prefix_settings(5, PrefixInit::RealActivations, 33);
    std::unique_ptr<Model> prefixed = load_with(dir, p);
    std::unique_ptr<Model> plain = load_model(dir);
    Batch tokens;
    tokens.batch = 1;
    tokens.seq_len = 5;
    tokens.ids = prefix_init_tokens(p.seed, 5, plain->config().vocab_size);
    tokens.mask.assign(5, 1);
    EXPECT_GT(std::set<int32_t>(tokens.ids.begin(), tokens.ids.end()).size(), 1u) << fixture;
    KVCache cache = plain->make_cache(1, 5);
    plain->forward(tokens, {0}, &cache);
    for (int l = 0; l < plain->config().num_layers; ++l) {
      const std::vector<float> keys = tensor_values(*prefixed, prefix_name(*prefixed, l, "prefix_keys"));
      const std::vector<float> values = tensor_values(*prefixed, prefix_name(*prefixed, l, "prefix_values"));
      EXPECT_EQ(keys, std::vector<float>(cache.k[l].begin(), cache.k[l].begin() + keys.size())) << fixture << " " << l;
      EXPECT_EQ(values, std::vector<float>(cache.v[l].begin(), cache.v[l].begin() + values.size())) << fixture << " " << l;
      double norm = 0;
      for (float x : keys) norm += double(x) * x;
      EXPECT_GT(norm, 1e-3) << fixture << " " << l;  // not a zero placeholder
    }
    // For RoPE models the stored keys are rotated: position 0 is the identity, position 4 is not
    // the unrotated projection (compare with the same token's key computed at position 0).
    if (plain->config().arch == Architecture::Llama) {
      Batch last;
      last.batch = 1;
      last.seq_len = 1;
      last.ids = {tokens.ids[4]};
      last.mask = {1};
      KVCache alone = plain->make_cache(1, 1);
      plain->forward(last, {0}, &alone);
      const int W = kv_width(plain->config());
      const std::vector<float> keys0 = tensor_values(*prefixed, prefix_name(*prefixed, 0, "prefix_keys"));
      const std::vector<float> at4(keys0.begin() + 4 * W, keys0.begin() + 5 * W);
      EXPECT_GT(rel_error(at4, std::vector<float>(alone.k[0].begin(), alone.k[0].begin() + W)), 1e-2) << fixture;
    }
  }
}

TEST(PrefixInit, PureFunctionOfSeedAndWeights) {
  const std::string dir = parity_fixture("llama_gqa");
  for (PrefixInit init : {PrefixInit::RealActivations, PrefixInit::Random}) {
    std::unique_ptr<Model> a = load_with(dir, prefix_settings(5, init, 3));
    std::unique_ptr<Model> b = load_with(dir, prefix_settings(5, init, 3));
    std::unique_ptr<Model> other = load_with(dir, prefix_settings(5, init, 4));
    for (const std::string& name : a->peft().tensor_names()) {
      EXPECT_EQ(tensor_values(*a, name), tensor_values(*b, name)) << name;
      EXPECT_NE(tensor_values(*a, name), tensor_values(*other, name)) << name;
    }
    // initialize_peft again on the same weights gives the same bits (what replay relies on).
    const std::vector<float> before = tensor_values(*a, "peft.layers.1.self_attn.prefix_values");
    a->initialize_peft(3);
    EXPECT_EQ(tensor_values(*a, "peft.layers.1.self_attn.prefix_values"), before);
  }
  // Real activations follow the weights: another backbone, another prefix.
  std::unique_ptr<Model> a = load_with(dir, prefix_settings(5, PrefixInit::RealActivations, 3));
  const std::vector<float> before = tensor_values(*a, "peft.layers.0.self_attn.prefix_keys");
  float* w = a->params().f32(a->params().at("model.layers.0.self_attn.k_proj.weight"));
  w[0] += 0.5f;
  a->initialize_peft(3);
  EXPECT_NE(tensor_values(*a, "peft.layers.0.self_attn.prefix_keys"), before);
}

TEST(PrefixInit, RandomIsStandardNormal) {
  std::unique_ptr<Model> m = load_with(parity_fixture("llama_gqa"), prefix_settings(100, PrefixInit::Random, 5));
  double sum = 0, sq = 0;
  size_t n = 0;
  for (const std::string& name : m->peft().tensor_names())
    for (float x : tensor_values(*m, name)) sum += x, sq += double(x) * x, ++n;
  ASSERT_EQ(n, 2u * 2 * 100 * 16);
  const double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.05) << mean;  // 5 sigma of the mean over 6400 draws
  EXPECT_NEAR(var, 1.0, 0.1) << var;
}

TEST(PrefixInit, TooManyTokensForThePositionsNamesTheKey) {
  // opt_pre_ln has 64 positions: 80 sampled tokens cannot run through it.
  const std::string e = error_of([] { load_with(parity_fixture("opt_pre_ln"), prefix_settings(80)); });
  EXPECT_NE(e.find("peft.prefix_tokens = 80"), std::string::npos) << e;
  EXPECT_NE(e.find("max_position_embeddings"), std::string::npos) << e;
  // Random init runs no backbone: any length loads (the prefix has no position).
  EXPECT_EQ(load_with(parity_fixture("opt_pre_ln"), prefix_settings(80, PrefixInit::Random))->peft().prefix_tokens(), 80);
  const std::string zero = error_of([] { declare_model(parse_hf_config(kTinyLm + "/config.json"), DType::F32, prefix_settings(0)); });
  EXPECT_NE(zero.find("peft.prefix_tokens must be >= 1"), std::string::npos) << zero;
}

// ---- Generation: the KV cache holds real tokens only and the prefix is prepended at every call,
// ---- so cached greedy decoding equals recomputing every step without a cache.

TEST(PrefixGeneration, GreedyWithTheCacheEqualsTheNoCacheForward) {
  for (const char* fixture : {"llama_gqa", "opt_pre_ln"}) {
    std::unique_ptr<Model> m = load_with(parity_fixture(fixture), prefix_settings(5, PrefixInit::Random, 9));
    const int V = m->config().vocab_size;
    const std::vector<std::vector<int32_t>> prompts = {{5, 17, 42, 8, 61, 33}, {71, 12, 3}};
    GenerateOptions options;
    options.max_new_tokens = 8;
    const std::vector<std::vector<int32_t>> generated = generate_greedy(*m, prompts, 0, options);
    for (size_t p = 0; p < prompts.size(); ++p) {
      // No cache: the whole sequence again at every step, argmax at its last token.
      std::vector<int32_t> seq = prompts[p], fresh;
      for (int step = 0; step < options.max_new_tokens; ++step) {
        const Batch b = Batch::from_sequences({seq}, 0);
        const std::vector<float> logits = m->forward(b, {static_cast<int64_t>(seq.size()) - 1});
        const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        fresh.push_back(next);
        seq.push_back(next);
      }
      EXPECT_EQ(generated[p], fresh) << fixture << " prompt " << p;
      // The logits themselves: prompt then one token at a time through a cache, against one forward.
      KVCache cache = m->make_cache(1, static_cast<int>(seq.size()));
      const Batch prompt = Batch::from_sequences({prompts[p]}, 0);
      std::vector<float> pieced = m->forward(prompt, {}, &cache);
      for (size_t t = prompts[p].size(); t < seq.size(); ++t) {
        const std::vector<float> one = m->forward(Batch::from_sequences({{seq[t]}}, 0), {}, &cache);
        pieced.insert(pieced.end(), one.begin(), one.end());
      }
      const std::vector<float> full = m->forward(Batch::from_sequences({seq}, 0));
      ASSERT_EQ(pieced.size(), full.size());
      EXPECT_LE(rel_error(pieced, full), 1e-5) << fixture << " prompt " << p;
      ASSERT_EQ(full.size(), seq.size() * V);
    }
    // The prefix matters: the plain model's logits differ.
    std::unique_ptr<Model> plain = load_model(parity_fixture(fixture));
    const Batch b = Batch::from_sequences({prompts[0]}, 0);
    EXPECT_GT(rel_error(m->forward(b), plain->forward(b)), 1e-3) << fixture;
  }
}

// ---- Training: MeZO-prefix (baselines.md 2: lr 1e-2, eps 1e-1) on the tiny training fixture. Its
// ---- random backbone gives 80 prefix parameters little leverage: 300 steps lower the loss by ~0.035.

TEST(PrefixTraining, MezoPrefixRunTrainsOnlyThePrefixAndReplays) {
  test::TempDir dir;
  const std::string log = (dir.path() / "prefix.h5").string(), saved = (dir.path() / "trained.safetensors").string();
  const std::string yaml =
      "run:\n  seed: 3\n  steps: 300\n  progress: off\n  output: " + log + "\n  save: " + saved + "\n"
      "model:\n  path: " + kTinyLm + "\n"
      "task:\n  name: lm\n  max_length: 24\n  texts:\n"
      "    - \"The capital of France is Paris.\"\n"
      "    - \"Zeroth-order methods estimate gradients from forward passes only.\"\n"
      "trainable:\n  mode: prefix\n"
      "peft:\n  prefix_tokens: 5\n  seed: 4\n"
      "optimizer:\n  name: mezo\n  lr: 1e-2\n  eps: 1e-1\n"
      "data:\n  batch_size: 2\neval:\n  every: 0\n";
  const TrainOutcome out = test::train_quietly(yaml, dir.path());
  const PeftSettings peft = peft_settings(parse_run_config(yaml, "x.yaml"));
  ASSERT_EQ(peft.kind, PeftKind::Prefix);
  std::unique_ptr<Model> fresh = load_with(kTinyLm, peft);
  // tiny_lm: 2 layers, 1 kv head of 8.
  EXPECT_EQ(out.trainable_params, 2u * 2 * 5 * 8);
  EXPECT_EQ(out.trainable_params, static_cast<uint64_t>(fresh->peft().numel()));
  ASSERT_TRUE(out.initial_loss && out.final_loss);
  EXPECT_LT(*out.final_loss, *out.initial_loss - 0.01) << *out.initial_loss << " -> " << *out.final_loss;

  // The saved weights: backbone bytes as in the base file, every prefix tensor moved from its init.
  std::unique_ptr<Model> trained = load_with(saved, peft);
  // Replay onto the base model, whose prefix is initialized again from the seed, gives the run's checksum.
  test::expect_peft_run_trained_and_replays(*fresh, *trained, log, out.checksum);
  // The replayed prefix is the saved one, bit for bit.
  for (const std::string& name : fresh->peft().tensor_names()) EXPECT_EQ(tensor_values(*fresh, name), tensor_values(*trained, name)) << name;
}

// ---- The run file.

TEST(PrefixConfig, ModeKeysDefaultsAndErrors) {
  const std::string head = "model:\n  path: m\ntask:\n  name: lm\n  texts: [\"a\"]\n";
  const RunConfig c =
      parse_run_config(head + "trainable:\n  mode: prefix\npeft:\n  prefix_tokens: 3\n  prefix_init: random\n", "p.yaml");
  const PeftSettings p = peft_settings(c);
  EXPECT_EQ(p.kind, PeftKind::Prefix);
  EXPECT_EQ(p.prefix_tokens, 3);
  EXPECT_EQ(p.prefix_init, PrefixInit::Random);
  EXPECT_EQ(trainable_selection(c.trainable).mode, TrainableSelection::Mode::Peft);
  // The schema's defaults are PeftSettings' own (MeZO: 5 tokens, init by real activations).
  const RunConfig d = parse_run_config(head + "trainable:\n  mode: prefix\n", "d.yaml");
  const PeftSettings defaults;
  EXPECT_EQ(d.peft.prefix_tokens, defaults.prefix_tokens);
  EXPECT_EQ(d.peft.prefix_init, defaults.prefix_init);
  EXPECT_EQ(defaults.prefix_tokens, 5);
  EXPECT_EQ(defaults.prefix_init, PrefixInit::RealActivations);

  const std::string zero = error_of([&] { parse_run_config(head + "peft:\n  prefix_tokens: 0\n", "b.yaml"); });
  EXPECT_NE(zero.find("peft.prefix_tokens"), std::string::npos) << zero;
  EXPECT_NE(zero.find(">= 1"), std::string::npos) << zero;
  const std::string init = error_of([&] { parse_run_config(head + "peft:\n  prefix_init: zeros\n", "b.yaml"); });
  EXPECT_NE(init.find("peft.prefix_init"), std::string::npos) << init;
  EXPECT_NE(init.find("real_act"), std::string::npos) << init;
  const std::string typo = error_of([&] { parse_run_config(head + "peft:\n  prefix_token: 5\n", "b.yaml"); });
  EXPECT_NE(typo.find("prefix_token"), std::string::npos) << typo;
  const std::string mode = error_of([&] { parse_run_config(head + "trainable:\n  mode: prefx\n", "b.yaml"); });
  EXPECT_NE(mode.find("prefix"), std::string::npos) << mode;  // the allowed modes are listed

  // The key reference (`zotune config --defaults`, docs/CONFIG.md) lists the mode and both keys.
  const std::string md = run_config_reference();
  EXPECT_NE(md.find("| `peft.prefix_tokens` | integer | `5` |"), std::string::npos);
  EXPECT_NE(md.find("| `peft.prefix_init` | choice | `real_act` | `real_act`, `random` |"), std::string::npos);
  EXPECT_NE(md.find("`adapter`, `prefix`"), std::string::npos);
}

// The example run file parses into MeZO-prefix's settings.
TEST(PrefixConfig, ExampleRunFileIsMezoPrefix) {
  const RunConfig c = load_run_config((kRepoRoot / "experiments" / "runs" / "smollm2_sst2_mezo_prefix.yaml").string());
  EXPECT_EQ(c.trainable.mode, TrainableMode::Prefix);
  EXPECT_EQ(c.peft.prefix_tokens, 5);
  EXPECT_EQ(c.peft.prefix_init, PrefixInit::RealActivations);
  EXPECT_EQ(c.optimizer.lr, 1e-2);
  EXPECT_EQ(c.optimizer.eps, 1e-1);
}

}  // namespace
}  // namespace zotune
