// config.json parsing and model-loading errors: each names the file and the key or tensor.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/io/safetensors.h"
#include "core/model/model.h"
#include "core/util/error.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;

const char* kLlama = R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 64,
  "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
  "intermediate_size": 32, "max_position_embeddings": 32, "tie_word_embeddings": true})";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(ModelConfig, ParsesLlamaWithDefaults) {
  ModelConfig c = parse_hf_config_text(kLlama, "cfg.json");
  EXPECT_EQ(c.arch, Architecture::Llama);
  EXPECT_EQ(c.head, HeadKind::CausalLM);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_FLOAT_EQ(c.rope_theta, 10000.0f);
  EXPECT_EQ(c.sliding_window, std::vector<int>{0});
}

TEST(ModelConfig, ErrorsNameFileAndKey) {
  EXPECT_NE(error_of([] { parse_hf_config_text("{not json", "bad.json"); }).find("bad.json: not valid JSON"), std::string::npos);
  EXPECT_NE(error_of([] { parse_hf_config_text(R"({"model_type": "gpt_neox"})", "c.json"); }).find("c.json: key 'model_type' 'gpt_neox' is not a supported"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_hf_config_text(R"({"model_type": "llama", "vocab_size": 8})", "c.json"); }).find("missing required key 'hidden_size'"),
            std::string::npos);
  std::string wrong_type = kLlama;
  wrong_type.replace(wrong_type.find("\"hidden_size\": 16"), 17, "\"hidden_size\": \"16\"");
  EXPECT_NE(error_of([&] { parse_hf_config_text(wrong_type, "c.json"); }).find("key 'hidden_size' must be an integer"), std::string::npos);
  std::string bad_heads = kLlama;
  bad_heads.replace(bad_heads.find("\"num_key_value_heads\": 2"), 24, "\"num_key_value_heads\": 3");
  EXPECT_NE(error_of([&] { parse_hf_config_text(bad_heads, "c.json"); }).find("not a multiple of num_key_value_heads"), std::string::npos);
  std::string bad_rope = kLlama;
  bad_rope.insert(bad_rope.size() - 1, R"(, "rope_scaling": {"rope_type": "longrope", "factor": 2.0})");
  EXPECT_NE(error_of([&] { parse_hf_config_text(bad_rope, "c.json"); }).find("rope_scaling type 'longrope' is not supported"), std::string::npos);
}

TEST(ModelConfig, Llama3RopeScalingKeepsHighFrequenciesAndSlowsLowOnes) {
  std::string s = kLlama;
  s.insert(s.size() - 1, R"(, "rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
    "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})");
  ModelConfig c = parse_hf_config_text(s, "c.json");
  c.head_dim = 128;
  ModelConfig plain = c;
  plain.rope.type = "default";
  std::vector<float> scaled = rope_inv_freq(c), base = rope_inv_freq(plain);
  EXPECT_FLOAT_EQ(scaled[0], base[0]);             // wavelength 2*pi: kept
  EXPECT_FLOAT_EQ(scaled[63], base[63] / 8.0f);    // longest wavelength: divided by factor
}

class ModelLoadErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zotune_load_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "config.json") << kLlama;
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Writes every tensor of a correct model, with `drop` removed and `reshape` given a wrong shape.
  void write_weights(const std::string& drop, const std::string& reshape) {
    std::unique_ptr<Model> m = create_model(parse_hf_config((dir_ / "config.json").string()), DType::F32);
    std::vector<SafetensorsEntry> entries;
    for (const ParamView& v : m->params().views()) {
      if (v.name == drop) continue;
      std::vector<int64_t> shape = v.shape;
      if (v.name == reshape) std::swap(shape[0], shape[1]);
      entries.push_back({v.name, "F32", shape, m->params().data(v)});
    }
    write_safetensors((dir_ / "model.safetensors").string(), entries);
  }
  fs::path dir_;
};

TEST_F(ModelLoadErrors, CompleteWeightsLoad) {
  write_weights("", "");
  EXPECT_NO_THROW(load_model(dir_.string()));
}

TEST_F(ModelLoadErrors, MissingTensorIsNamed) {
  write_weights("model.layers.0.mlp.up_proj.weight", "");
  const std::string e = error_of([&] { load_model(dir_.string()); });
  EXPECT_NE(e.find("'model.layers.0.mlp.up_proj.weight' [32, 16]"), std::string::npos) << e;
  EXPECT_NE(e.find("missing"), std::string::npos) << e;
}

TEST_F(ModelLoadErrors, ShapeDisagreeingWithConfigIsNamed) {
  write_weights("", "model.layers.0.self_attn.k_proj.weight");
  const std::string e = error_of([&] { load_model(dir_.string()); });
  EXPECT_NE(e.find("model.safetensors: tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16, 8] but config.json implies [8, 16]"),
            std::string::npos)
      << e;
}

TEST_F(ModelLoadErrors, MissingPathAndUnknownFormat) {
  EXPECT_NE(error_of([] { load_model("/nonexistent/model"); }).find("/nonexistent/model: no such model"), std::string::npos);
  std::ofstream(dir_ / "weights.bin") << "x";
  fs::remove(dir_ / "config.json");
  const std::string e = error_of([&] { load_model((dir_ / "weights.bin").string()); });
  EXPECT_NE(e.find("weights.bin: not a model directory"), std::string::npos) << e;
}

}  // namespace
}  // namespace zotune
