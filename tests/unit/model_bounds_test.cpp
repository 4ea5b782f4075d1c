// Input bounds of model files (issue 17): every count and size read from config.json or GGUF
// metadata is range-checked before anything is sized from it, integers that do not fit are
// errors rather than wraps, eps / theta / windows are validated, and only RoPE models need an
// even head size (an encoder with head size 3 runs, its heads independent of their order).
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cmath>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/io/gguf.h"
#include "core/model/config.h"
#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"
#include "gguf_test_image.h"
#include "io_test_util.h"

namespace zotune {
namespace {

using test::GgufImage;

using test::error_of;

const char* kLlama = R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 64,
  "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
  "intermediate_size": 32, "max_position_embeddings": 32, "tie_word_embeddings": true})";

// kLlama with `"key": old` replaced by `"key": value`, or the pair appended when absent.
std::string llama_with(const std::string& key, const std::string& value, const char* base = kLlama) {
  std::string s = base;
  const size_t at = s.find("\"" + key + "\"");
  if (at == std::string::npos) return s.insert(s.size() - 1, ", \"" + key + "\": " + value);
  const size_t colon = s.find(':', at), end = s.find_first_of(",}", colon);
  return s.replace(colon + 1, end - colon - 1, " " + value);
}

void expect_error(const std::string& json, const std::string& expected) {
  const std::string error = error_of([&] { parse_hf_config_text(json, "cfg.json"); });
  EXPECT_NE(error.find(expected), std::string::npos) << "error: '" << error << "', expected '" << expected << "'";
}

TEST(ModelBounds, ConfigJsonIntegersThatDoNotFitAreErrorsNotWraps) {
  // 4294967312 = 2^32 + 16: narrowed to int it read as 16 and the model loaded.
  expect_error(llama_with("hidden_size", "4294967312"), "cfg.json: key 'hidden_size' 4294967312 is outside the supported hidden size range");
  expect_error(llama_with("vocab_size", "18446744073709551615"), "cfg.json: key 'vocab_size' 18446744073709551615 is outside");
  expect_error(llama_with("num_hidden_layers", "-3"), "cfg.json: key 'num_hidden_layers' -3 is outside the supported layer count range [1, 4096]");
  expect_error(llama_with("eos_token_id", "4294967297"), "cfg.json: key 'eos_token_id' 4294967297 is outside");
}

TEST(ModelBounds, ConfigJsonCountsAboveTheLimitsAreErrorsBeforeAllocation) {
  expect_error(llama_with("num_hidden_layers", "1000000000"), "key 'num_hidden_layers' 1000000000 is outside the supported layer count range");
  expect_error(llama_with("vocab_size", "1073741824"), "key 'vocab_size' 1073741824 is outside the supported vocabulary size range");
  expect_error(llama_with("intermediate_size", "268435456"), "key 'intermediate_size' 268435456 is outside");
  expect_error(llama_with("max_position_embeddings", "2147483647"), "key 'max_position_embeddings' 2147483647 is outside");
  expect_error(llama_with("num_attention_heads", "100000"), "key 'num_attention_heads' 100000 is outside the supported head count range");
  // Each within its own limit, the product is not: 2^24 x 2^18 elements.
  std::string big = llama_with("vocab_size", "16777216");
  big = llama_with("hidden_size", "262144", big.c_str());
  big = llama_with("head_dim", "64", big.c_str());
  expect_error(big, "cfg.json: vocab_size x hidden_size = 4398046511104 elements exceeds the supported");
}

TEST(ModelBounds, EpsThetaAndWindowThatMakeNaNAreRefused) {
  expect_error(llama_with("rms_norm_eps", "-1"), "cfg.json: key 'rms_norm_eps' must be a finite number > 0");
  expect_error(llama_with("rms_norm_eps", "0"), "key 'rms_norm_eps' must be a finite number > 0");
  expect_error(llama_with("rms_norm_eps", "1e300"), "key 'rms_norm_eps' must be a finite number > 0");  // inf as a float
  expect_error(llama_with("rope_theta", "0"), "key 'rope_theta' must be a finite number > 0");
  expect_error(llama_with("rope_theta", "-10000"), "key 'rope_theta' must be a finite number > 0");
  std::string mistral = llama_with("model_type", "\"mistral\"");
  expect_error(llama_with("sliding_window", "-1", mistral.c_str()), "key 'sliding_window' -1 is outside the supported sliding window range [1,");
  expect_error(llama_with("sliding_window", "0", mistral.c_str()), "key 'sliding_window' 0 is outside");
  EXPECT_EQ(parse_hf_config_text(llama_with("sliding_window", "null", mistral.c_str()), "c.json").sliding_window, std::vector<int>{0});
  EXPECT_EQ(parse_hf_config_text(llama_with("sliding_window", "8", mistral.c_str()), "c.json").sliding_window, std::vector<int>{8});
  const char* bert = R"({"model_type": "bert", "vocab_size": 30, "hidden_size": 12, "num_hidden_layers": 1,
    "num_attention_heads": 4, "intermediate_size": 24, "max_position_embeddings": 16, "layer_norm_eps": -1e-12})";
  expect_error(bert, "cfg.json: key 'layer_norm_eps' must be a finite number > 0");
}

// A BERT-style encoder with head size 3 (hidden 12, 4 heads), as OPT or BERT checkpoints may be.
const char* kOddBert = R"({"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 30, "hidden_size": 12,
  "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 24, "max_position_embeddings": 16})";

TEST(ModelBounds, OddHeadSizeIsRefusedOnlyWhereRopeNeedsPairs) {
  EXPECT_EQ(parse_hf_config_text(kOddBert, "bert.json").head_dim, 3);
  const char* opt = R"({"model_type": "opt", "vocab_size": 30, "hidden_size": 12, "num_hidden_layers": 1,
    "num_attention_heads": 4, "ffn_dim": 24, "max_position_embeddings": 16})";
  EXPECT_EQ(parse_hf_config_text(opt, "opt.json").head_dim, 3);
  std::string llama = llama_with("hidden_size", "12");  // 4 heads of 3
  expect_error(llama, "cfg.json: head_dim 3 must be even (rotary position embeddings");
}

// Swapping two heads (their rows of query, key and value, their columns of the output
// projection) must leave an encoder's hidden states unchanged: every head is sliced at its
// own offset of 3, whatever the head size's parity.
TEST(ModelBounds, EncoderWithOddHeadSizeRunsAndItsHeadsAreIndependent) {
  const ModelConfig config = parse_hf_config_text(kOddBert, "bert.json");
  std::unique_ptr<Model> model = create_model(config, DType::F32);
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (const ParamView& v : model->params().views()) {
    auto* p = static_cast<float*>(model->params().data(v));
    const bool norm_weight = v.name.find("LayerNorm.weight") != std::string::npos;
    for (int64_t i = 0; i < v.numel; ++i) p[i] = norm_weight ? 1.0f + normal(rng) * 0.1f : normal(rng);
  }
  const Batch batch = Batch::from_sequences({{2, 5, 7, 11, 3}, {4, 9, 1}}, 0);
  const std::vector<float> before = model->forward(batch);
  ASSERT_FALSE(before.empty());
  for (float x : before) ASSERT_TRUE(std::isfinite(x));

  const int64_t C = config.hidden_size, d = config.head_dim;
  auto swap_heads = [&](const std::string& layer, bool value_and_output) {
    for (const char* proj : {"query", "key", "value"}) {
      if (!value_and_output && std::string(proj) == "value") continue;
      auto* w = static_cast<float*>(model->params().data(model->params().at(layer + "attention.self." + proj + ".weight")));
      auto* b = static_cast<float*>(model->params().data(model->params().at(layer + "attention.self." + proj + ".bias")));
      for (int64_t r = 0; r < d; ++r) {  // head 0's rows <-> head 1's rows
        for (int64_t c = 0; c < C; ++c) std::swap(w[r * C + c], w[(r + d) * C + c]);
        std::swap(b[r], b[r + d]);
      }
    }
    if (!value_and_output) return;
    auto* o = static_cast<float*>(model->params().data(model->params().at(layer + "attention.output.dense.weight")));
    for (int64_t r = 0; r < C; ++r)
      for (int64_t c = 0; c < d; ++c) std::swap(o[r * C + c], o[r * C + c + d]);
  };
  for (int l = 0; l < config.num_layers; ++l) swap_heads("bert.encoder.layer." + std::to_string(l) + ".", true);
  const std::vector<float> swapped = model->forward(batch);
  ASSERT_EQ(swapped.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_NEAR(swapped[i], before[i], 1e-5f) << "element " << i;
  // The check can fail: swapping only the queries and keys of layer 0 pairs them with other values.
  swap_heads("bert.encoder.layer.0.", false);
  const std::vector<float> mismatched = model->forward(batch);
  double diff = 0;
  for (size_t i = 0; i < before.size(); ++i) diff = std::max(diff, std::fabs(static_cast<double>(mismatched[i]) - before[i]));
  EXPECT_GT(diff, 1e-3);
}


// A small valid Llama's metadata with `key` given `value` (u32, or u64 past 32 bits).
std::string gguf_config_error(const std::string& key, uint64_t value, float eps = 1e-5f, float theta = 10000.0f) {
  GgufImage g;
  g.string("general.architecture", "llama");
  const std::pair<const char*, uint64_t> counts[] = {{"llama.block_count", 2}, {"llama.embedding_length", 16},
                                                      {"llama.feed_forward_length", 32}, {"llama.attention.head_count", 4},
                                                      {"llama.context_length", 64}, {"llama.vocab_size", 64}};
  for (const auto& [name, fallback] : counts) {
    const uint64_t v = name == key ? value : fallback;
    if (v > 0xFFFFFFFFull) g.u64(name, v); else g.u32(name, static_cast<uint32_t>(v));
  }
  g.f32("llama.attention.layer_norm_rms_epsilon", eps);
  g.f32("llama.rope.freq_base", theta);
  const std::vector<uint8_t>& bytes = g.finish();
  return error_of([&] { config_from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "m.gguf")); });
}

TEST(ModelBounds, GgufCountsAreRangeCheckedBeforeAnythingIsSized) {
  EXPECT_EQ(gguf_config_error("", 0), "");  // the unchanged metadata loads
  // 1e9 layers: the per-layer tables grew to 24 GB before the kernel killed the process.
  EXPECT_NE(gguf_config_error("llama.block_count", 1000000000).find(
                "m.gguf: key 'llama.block_count' 1000000000 is outside the supported layer count range [1, 4096]"),
            std::string::npos);
  // 2^31 was narrowed to int and reported as a negative embedding length.
  EXPECT_NE(gguf_config_error("llama.embedding_length", 2147483648u).find(
                "m.gguf: key 'llama.embedding_length' 2147483648 is outside the supported hidden size range"),
            std::string::npos);
  EXPECT_NE(gguf_config_error("llama.vocab_size", 1ull << 40).find("key 'llama.vocab_size' 1099511627776 is outside"),
            std::string::npos);
  EXPECT_NE(gguf_config_error("llama.context_length", 0).find("key 'llama.context_length' 0 is outside"), std::string::npos);
  EXPECT_NE(gguf_config_error("", 0, -1.0f).find("m.gguf: key 'llama.attention.layer_norm_rms_epsilon' must be a finite number > 0"),
            std::string::npos);
  EXPECT_NE(gguf_config_error("", 0, 1e-5f, 0.0f).find("m.gguf: key 'llama.rope.freq_base' must be a finite number > 0"),
            std::string::npos);
}

// tokenizer.json ids are range-checked before they size the id table: an id of 2^31 - 1 made
// a table of 2^31 strings, 2^32 + 1 was narrowed to 1.
std::string tokenizer_error(const std::string& model_vocab, const std::string& rest) {
  test::TempDir dir;
  const std::string path = dir.file("tokenizer.json");
  std::ofstream(path) << R"({"model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": )" << model_vocab << "}" << rest << "}";
  return error_of([&] { Tokenizer::from_file(path); });
}

void expect_mentions(const std::string& error, const std::string& key, const std::string& what) {
  EXPECT_NE(error.find("tokenizer.json"), std::string::npos) << error;
  EXPECT_NE(error.find("key '" + key + "'"), std::string::npos) << error;
  EXPECT_NE(error.find(what), std::string::npos) << error;
}

TEST(ModelBounds, TokenizerJsonIdsAreRangeCheckedBeforeAnythingIsSized) {
  const std::string vocab = R"({"[UNK]": 0, "a": 1, "b": 2})";
  EXPECT_EQ(tokenizer_error(vocab, ""), "");
  expect_mentions(tokenizer_error(R"({"[UNK]": 0, "a": 2147483000})", ""), "model.vocab[\"a\"]",
                  "id 2147483000 is outside [0, 65538]");
  expect_mentions(tokenizer_error(R"({"[UNK]": 0, "a": 4294967297})", ""), "model.vocab[\"a\"]", "id 4294967297 is outside");
  expect_mentions(tokenizer_error(vocab, R"(, "added_tokens": [{"id": 4294967297, "content": "[X]", "special": true}])"),
                  "added_tokens[0].id", "id 4294967297 is outside [0, 16777215]");
  expect_mentions(tokenizer_error(vocab, R"(, "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 99999999999], "sep": ["[SEP]", 2]})"),
                  "post_processor.cls", "id 99999999999 is outside");
}

// A config.json that states sizes its weights file does not hold is refused before the
// parameters are allocated: the declared shapes are checked against the file's tensors first
// (here 2^18 x 1024 embeddings, 1 GB of f32, against the tiny model's 257 x 16).
TEST(ModelBounds, ConfigLyingAboutTheWeightsFailsBeforeAllocation) {
  test::TempDir dir;
  std::filesystem::copy_file(test::fixture_path("train/tiny_lm/model.safetensors"), dir.file("model.safetensors"));
  std::filesystem::copy_file(test::fixture_path("train/tiny_lm/tokenizer.json"), dir.file("tokenizer.json"));
  std::ofstream(dir.file("config.json")) << R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
    "vocab_size": 262144, "hidden_size": 1024, "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 8,
    "intermediate_size": 32, "max_position_embeddings": 128, "tie_word_embeddings": true})";
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const std::string error = error_of([&] { load_model(dir.file("")); });
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_NE(error.find("model.safetensors: tensor 'model.embed_tokens.weight' has shape [257, 16] but config.json implies [262144, 1024]"),
            std::string::npos)
      << error;
  EXPECT_LT((after.ru_maxrss - before.ru_maxrss) * 1024L, 256L << 20) << "the refused load allocated its parameters";
}

}  // namespace
}  // namespace zotune
