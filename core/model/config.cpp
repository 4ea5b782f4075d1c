#include "core/model/config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/io/gguf.h"
#include "core/util/error.h"

namespace zotune {

using json = nlohmann::json;

const char* architecture_name(Architecture a) {
  switch (a) {
    case Architecture::OPT: return "OPT";
    case Architecture::BERT: return "BERT";
    case Architecture::RoBERTa: return "RoBERTa";
    case Architecture::Llama: return "Llama";
  }
  return "?";
}

const char* head_name(HeadKind h) {
  switch (h) {
    case HeadKind::CausalLM: return "causal LM";
    case HeadKind::MaskedLM: return "masked LM";
    case HeadKind::SequenceClassification: return "sequence classification";
    case HeadKind::Base: return "none (hidden states)";
  }
  return "?";
}

namespace {

// Typed access to config.json keys with errors that name the file and key.
class ConfigReader {
 public:
  ConfigReader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  int integer(const char* key) const {
    require(key);
    const json& v = j_.at(key);
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + std::string(v.type_name()));
    return v.get<int>();
  }
  int integer(const char* key, int fallback) const { return has(key) ? integer(key) : fallback; }

  float number(const char* key, float fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_number()) fail(key, "must be a number, got " + std::string(v.type_name()));
    return v.get<float>();
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_boolean()) fail(key, "must be true or false, got " + std::string(v.type_name()));
    return v.get<bool>();
  }

  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_string()) fail(key, "must be a string, got " + std::string(v.type_name()));
    return v.get<std::string>();
  }

  // Token ids may be an int or a list of ints (Llama-3 eos); the first one is used.
  int token_id(const char* key) const {
    if (!has(key)) return -1;
    const json& v = j_.at(key);
    if (v.is_number_integer()) return v.get<int>();
    if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<int>();
    fail(key, "must be an integer token id");
    return -1;
  }

  void require(const char* key) const {
    if (!has(key)) throw Error(source_ + ": missing required key '" + key + "'");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(source_ + ": key '" + key + "' " + what);
  }
  const json& raw() const { return j_; }
  const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string source_;
};

void check_positive(const ModelConfig& c, const char* key, int value) {
  if (value <= 0) throw Error(c.source + ": key '" + key + "' must be positive, got " + std::to_string(value));
}

void validate(const ModelConfig& c) {
  check_positive(c, "vocab_size", c.vocab_size);
  check_positive(c, "hidden_size", c.hidden_size);
  check_positive(c, "num_hidden_layers", c.num_layers);
  check_positive(c, "num_attention_heads", c.num_heads);
  check_positive(c, "num_key_value_heads", c.num_kv_heads);
  check_positive(c, "intermediate_size", c.intermediate_size);
  check_positive(c, "max_position_embeddings", c.max_position);
  if (c.num_heads % c.num_kv_heads != 0)
    throw Error(c.source + ": num_attention_heads " + std::to_string(c.num_heads) +
                " is not a multiple of num_key_value_heads " + std::to_string(c.num_kv_heads));
  if (c.head_dim <= 0 || c.head_dim % 2 != 0)
    throw Error(c.source + ": head_dim " + std::to_string(c.head_dim) + " must be positive and even");
  if (c.arch != Architecture::Llama && c.head_dim * c.num_heads != c.hidden_size)
    throw Error(c.source + ": hidden_size " + std::to_string(c.hidden_size) + " is not divisible by num_attention_heads " +
                std::to_string(c.num_heads));
  static const char* known_acts[] = {"relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "silu", "swish"};
  bool known = false;
  for (const char* a : known_acts) known |= c.activation == a;
  if (!known) throw Error(c.source + ": unsupported activation '" + c.activation + "' (supported: relu, gelu, gelu_new, gelu_pytorch_tanh, silu)");
  if (c.rope.type != "default" && c.rope.type != "linear" && c.rope.type != "llama3")
    throw Error(c.source + ": rope_scaling type '" + c.rope.type + "' is not supported (supported: default, linear, llama3)");
}

HeadKind head_from_architectures(const ConfigReader& r, Architecture arch) {
  std::string name;
  if (r.has("architectures") && r.raw().at("architectures").is_array() && !r.raw().at("architectures").empty() &&
      r.raw().at("architectures")[0].is_string())
    name = r.raw().at("architectures")[0].get<std::string>();
  auto ends_with = [&](const char* s) {
    const std::string suffix(s);
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("ForCausalLM")) return HeadKind::CausalLM;
  if (ends_with("ForMaskedLM")) return HeadKind::MaskedLM;
  if (ends_with("ForSequenceClassification")) return HeadKind::SequenceClassification;
  if (ends_with("Model")) return HeadKind::Base;
  return arch == Architecture::BERT || arch == Architecture::RoBERTa ? HeadKind::MaskedLM : HeadKind::CausalLM;
}

void parse_rope_scaling(const ConfigReader& r, ModelConfig& c) {
  // transformers 5 moved rope settings into "rope_parameters"; 4.x used "rope_scaling".
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!r.has(key)) continue;
    const json& s = r.raw().at(key);
    if (!s.is_object()) throw Error(c.source + ": key '" + key + "' must be an object");
    const std::string where = c.source + ": key '" + key + "'";
    std::string type = s.contains("rope_type") ? s["rope_type"].get<std::string>()
                       : s.contains("type")    ? s["type"].get<std::string>()
                                               : "default";
    c.rope.type = type;
    if (s.contains("rope_theta") && s["rope_theta"].is_number()) c.rope_theta = s["rope_theta"].get<float>();
    if (s.contains("factor") && s["factor"].is_number()) c.rope.factor = s["factor"].get<float>();
    if (s.contains("low_freq_factor")) c.rope.low_freq_factor = s["low_freq_factor"].get<float>();
    if (s.contains("high_freq_factor")) c.rope.high_freq_factor = s["high_freq_factor"].get<float>();
    if (s.contains("original_max_position_embeddings"))
      c.rope.original_max_position = s["original_max_position_embeddings"].get<int>();
    if (type == "llama3" && c.rope.original_max_position <= 0)
      throw Error(where + " of type llama3 needs original_max_position_embeddings");
    if (type != "default" && c.rope.factor <= 0.0f) throw Error(where + ": factor must be positive");
  }
}

}  // namespace

ModelConfig parse_hf_config_text(const std::string& text, const std::string& source_name) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(source_name + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(source_name + ": expected a JSON object");
  ConfigReader r(j, source_name);
  ModelConfig c;
  c.source = source_name;
  try {
    r.require("model_type");
    c.model_type = r.string("model_type", "");
    if (c.model_type == "opt") {
      c.arch = Architecture::OPT;
      c.vocab_size = r.integer("vocab_size");
      c.hidden_size = r.integer("hidden_size");
      c.num_layers = r.integer("num_hidden_layers");
      c.num_heads = r.integer("num_attention_heads");
      c.intermediate_size = r.integer("ffn_dim");
      c.max_position = r.integer("max_position_embeddings");
      c.activation = r.string("activation_function", "relu");
      c.do_layer_norm_before = r.boolean("do_layer_norm_before", true);
      c.word_embed_proj_dim = r.integer("word_embed_proj_dim", c.hidden_size);
      c.enable_bias = r.boolean("enable_bias", true);
      c.final_layer_norm = c.do_layer_norm_before && !r.boolean("_remove_final_layer_norm", false);
      c.layer_norm_eps = 1e-5f;
      c.tie_word_embeddings = r.boolean("tie_word_embeddings", true);
      c.pad_token_id = r.token_id("pad_token_id");
    } else if (c.model_type == "bert" || c.model_type == "roberta") {
      c.arch = c.model_type == "bert" ? Architecture::BERT : Architecture::RoBERTa;
      c.vocab_size = r.integer("vocab_size");
      c.hidden_size = r.integer("hidden_size");
      c.num_layers = r.integer("num_hidden_layers");
      c.num_heads = r.integer("num_attention_heads");
      c.intermediate_size = r.integer("intermediate_size");
      c.max_position = r.integer("max_position_embeddings");
      c.activation = r.string("hidden_act", "gelu");
      c.type_vocab_size = r.integer("type_vocab_size", 2);
      c.layer_norm_eps = r.number("layer_norm_eps", 1e-12f);
      c.pad_token_id = r.token_id("pad_token_id");
      if (c.arch == Architecture::RoBERTa && c.pad_token_id < 0) c.pad_token_id = 1;
      c.tie_word_embeddings = r.boolean("tie_word_embeddings", true);
      const std::string pos = r.string("position_embedding_type", "absolute");
      if (pos != "absolute") r.fail("position_embedding_type", "'" + pos + "' is not supported (only 'absolute')");
    } else if (c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2") {
      c.arch = Architecture::Llama;
      c.vocab_size = r.integer("vocab_size");
      c.hidden_size = r.integer("hidden_size");
      c.num_layers = r.integer("num_hidden_layers");
      c.num_heads = r.integer("num_attention_heads");
      c.num_kv_heads = r.integer("num_key_value_heads", c.num_heads);
      if (c.num_layers <= 0 || c.num_layers > 4096) r.fail("num_hidden_layers", "must be in [1, 4096]");
      c.intermediate_size = r.integer("intermediate_size");
      c.max_position = r.integer("max_position_embeddings");
      c.activation = r.string("hidden_act", "silu");
      c.rope_theta = r.number("rope_theta", 10000.0f);
      c.rms_norm_eps = r.number("rms_norm_eps", 1e-6f);
      c.attention_bias = r.boolean("attention_bias", false);
      c.qkv_bias = c.model_type == "qwen2";
      c.mlp_bias = r.boolean("mlp_bias", false);
      c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
      c.pad_token_id = r.token_id("pad_token_id");
      parse_rope_scaling(r, c);
      if (r.has("head_dim")) c.head_dim = r.integer("head_dim");
      // Sliding windows: Mistral applies config.sliding_window to every layer; Qwen2 only
      // when use_sliding_window, from layer max_window_layers on; an explicit layer_types
      // list (transformers >= 4.53) decides per layer.
      int window = 0;
      if (c.model_type == "mistral") window = r.integer("sliding_window", 0);
      c.sliding_window.assign(c.num_layers, 0);
      if (c.model_type == "qwen2" && r.boolean("use_sliding_window", false)) {
        const int from = r.integer("max_window_layers", c.num_layers);
        for (int l = from; l < c.num_layers; ++l) c.sliding_window[l] = r.integer("sliding_window", 0);
      } else {
        for (int& w : c.sliding_window) w = window;
      }
      if (r.has("layer_types")) {
        const json& lt = j.at("layer_types");
        if (!lt.is_array() || static_cast<int>(lt.size()) != c.num_layers)
          r.fail("layer_types", "must list one type per layer");
        for (int l = 0; l < c.num_layers; ++l)
          c.sliding_window[l] = lt[l] == "sliding_attention" ? r.integer("sliding_window", 0) : 0;
      }
    } else {
      r.fail("model_type", "'" + c.model_type + "' is not a supported architecture (supported: opt, bert, roberta, llama, mistral, qwen2)");
    }
    c.bos_token_id = r.token_id("bos_token_id");
    c.eos_token_id = r.token_id("eos_token_id");
    c.head = head_from_architectures(r, c.arch);
    c.num_labels = r.has("id2label") && j.at("id2label").is_object() ? static_cast<int>(j.at("id2label").size())
                                                                     : r.integer("num_labels", 2);
    if (c.num_kv_heads == 0) c.num_kv_heads = c.num_heads;
    if (c.head_dim == 0 && c.num_heads > 0) c.head_dim = c.hidden_size / c.num_heads;
    if (c.sliding_window.empty()) c.sliding_window.assign(c.num_layers, 0);
  } catch (const nlohmann::json::exception& e) {
    throw Error(source_name + ": malformed value: " + e.what());
  }
  validate(c);
  return c;
}

ModelConfig parse_hf_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open model config");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_hf_config_text(ss.str(), path);
}

ModelConfig config_from_gguf(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  if (arch != "llama" && arch != "qwen2" && arch != "mistral")
    throw Error(f.path() + ": general.architecture '" + arch + "' is not supported (supported: llama, mistral, qwen2)");
  ModelConfig c;
  c.source = f.path();
  c.arch = Architecture::Llama;
  c.head = HeadKind::CausalLM;
  c.model_type = arch;
  const std::string p = arch + ".";
  c.num_layers = static_cast<int>(f.get_int(p + "block_count"));
  c.hidden_size = static_cast<int>(f.get_int(p + "embedding_length"));
  c.intermediate_size = static_cast<int>(f.get_int(p + "feed_forward_length"));
  c.num_heads = static_cast<int>(f.get_int(p + "attention.head_count"));
  c.num_kv_heads = f.find(p + "attention.head_count_kv") ? static_cast<int>(f.get_int(p + "attention.head_count_kv")) : c.num_heads;
  c.max_position = static_cast<int>(f.get_int(p + "context_length"));
  c.rope_theta = f.find(p + "rope.freq_base") ? static_cast<float>(f.get_float(p + "rope.freq_base")) : 10000.0f;
  c.rms_norm_eps = static_cast<float>(f.get_float(p + "attention.layer_norm_rms_epsilon"));
  c.head_dim = f.find(p + "attention.key_length") ? static_cast<int>(f.get_int(p + "attention.key_length"))
                                                   : c.hidden_size / std::max(c.num_heads, 1);
  if (f.find(p + "vocab_size")) {
    c.vocab_size = static_cast<int>(f.get_int(p + "vocab_size"));
  } else {
    c.vocab_size = static_cast<int>(f.get_string_array("tokenizer.ggml.tokens").size());
  }
  c.activation = "silu";
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  if (f.find(p + "rope.scaling.type")) {
    c.rope.type = f.get_string(p + "rope.scaling.type");
    if (c.rope.type == "none") c.rope.type = "default";
    if (f.find(p + "rope.scaling.factor")) c.rope.factor = static_cast<float>(f.get_float(p + "rope.scaling.factor"));
  }
  const int window = f.find(p + "attention.sliding_window") ? static_cast<int>(f.get_int(p + "attention.sliding_window")) : 0;
  c.sliding_window.assign(c.num_layers, window);
  if (f.find("tokenizer.ggml.bos_token_id")) c.bos_token_id = static_cast<int>(f.get_int("tokenizer.ggml.bos_token_id"));
  if (f.find("tokenizer.ggml.eos_token_id")) c.eos_token_id = static_cast<int>(f.get_int("tokenizer.ggml.eos_token_id"));
  if (f.find("tokenizer.ggml.padding_token_id")) c.pad_token_id = static_cast<int>(f.get_int("tokenizer.ggml.padding_token_id"));
  validate(c);
  return c;
}

std::vector<float> rope_inv_freq(const ModelConfig& c) {
  const int half = c.head_dim / 2;
  std::vector<float> inv(half);
  for (int i = 0; i < half; ++i) {
    // fp32 as transformers computes it: 1 / theta^(2i / d)
    inv[i] = 1.0f / std::pow(c.rope_theta, static_cast<float>(2 * i) / static_cast<float>(c.head_dim));
  }
  if (c.rope.type == "linear") {
    for (float& f : inv) f /= c.rope.factor;
  } else if (c.rope.type == "llama3") {
    // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band between
    // interpolated (transformers' _compute_llama3_parameters).
    const float old_ctx = static_cast<float>(c.rope.original_max_position);
    const float low_wavelen = old_ctx / c.rope.low_freq_factor;
    const float high_wavelen = old_ctx / c.rope.high_freq_factor;
    for (float& f : inv) {
      const float wavelen = 2.0f * static_cast<float>(M_PI) / f;
      float scaled = wavelen > low_wavelen ? f / c.rope.factor : f;
      const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
      if (medium) {
        const float smooth = (old_ctx / wavelen - c.rope.low_freq_factor) / (c.rope.high_freq_factor - c.rope.low_freq_factor);
        scaled = (1.0f - smooth) * scaled / c.rope.factor + smooth * scaled;
      }
      f = scaled;
    }
  }
  return inv;
}

}  // namespace zotune
