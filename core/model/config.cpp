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

// Upper limits of the sizes a model file may state, checked where each is read and before
// anything is allocated from it (issue 17: a corrupted GGUF block_count of 1e9 grew to 24 GB).
// Each is far above any published model (Llama 3.1 405B: 126 layers, hidden 16384, 128
// heads, intermediate 53248, vocabulary 128256, 131072 positions) and far below what would
// overflow the int shapes and int64 element counts computed from them.
struct SizeLimit {
  const char* what;
  int64_t min, max;
};
constexpr SizeLimit kLayers{"layer count", 1, 4096};
constexpr SizeLimit kHidden{"hidden size", 1, int64_t{1} << 18};
constexpr SizeLimit kHeads{"head count", 1, int64_t{1} << 12};
constexpr SizeLimit kHeadDim{"head size", 1, int64_t{1} << 12};
constexpr SizeLimit kIntermediate{"intermediate size", 1, int64_t{1} << 20};
constexpr SizeLimit kVocabulary{"vocabulary size", 1, int64_t{1} << 24};
constexpr SizeLimit kPositions{"position count", 1, int64_t{1} << 24};
constexpr SizeLimit kTypeVocabulary{"token type count", 1, int64_t{1} << 16};
constexpr SizeLimit kLabels{"label count", 1, int64_t{1} << 16};
constexpr SizeLimit kWindow{"sliding window", 1, int64_t{1} << 30};
constexpr SizeLimit kTokenId{"token id", -1, int64_t{1} << 24};
// Elements of the largest matrices a config implies (vocabulary x hidden, intermediate x
// hidden): 2^36 = 69 G elements; the largest real one is 2.1 G.
constexpr int64_t kMaxMatrixElements = int64_t{1} << 36;

[[noreturn]] void fail_limit(const std::string& where, const SizeLimit& limit, const std::string& value) {
  throw Error(where + " " + value + " is outside the supported " + limit.what + " range [" + std::to_string(limit.min) +
              ", " + std::to_string(limit.max) + "]");
}

int bounded(const std::string& where, int64_t value, const SizeLimit& limit) {
  if (value < limit.min || value > limit.max) fail_limit(where, limit, std::to_string(value));
  return static_cast<int>(value);
}

// Finite and > 0: an eps of -1 or 0 or a theta of 0 turns every forward pass into NaN.
float positive_finite(const std::string& where, double value) {
  if (!std::isfinite(value) || value <= 0.0 || !std::isfinite(static_cast<float>(value)) || static_cast<float>(value) <= 0.0f)
    throw Error(where + " must be a finite number > 0, got " + std::to_string(value));
  return static_cast<float>(value);
}

// Typed access to config.json keys with errors that name the file and key.
class ConfigReader {
 public:
  ConfigReader(const json& j, std::string source) : j_(j), source_(std::move(source)) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  // Integers are read whole (int64 or uint64) and range-checked, never narrowed: a
  // hidden_size of 4294967312 is an error, not 16.
  int integer(const char* key, const SizeLimit& limit) const {
    require(key);
    const json& v = j_.at(key);
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + std::string(v.type_name()));
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(limit.max))
      fail_limit(source_ + ": key '" + key + "'", limit, std::to_string(v.get<uint64_t>()));
    return bounded(source_ + ": key '" + key + "'", v.get<int64_t>(), limit);
  }
  int integer(const char* key, const SizeLimit& limit, int fallback) const {
    return has(key) ? integer(key, limit) : fallback;
  }

  float number(const char* key, float fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_number()) fail(key, "must be a number, got " + std::string(v.type_name()));
    return static_cast<float>(v.get<double>());
  }
  // A positive finite float (eps, theta).
  float positive_number(const char* key, float fallback) const {
    if (!has(key)) return fallback;
    const json& v = j_.at(key);
    if (!v.is_number()) fail(key, "must be a number, got " + std::string(v.type_name()));
    return positive_finite(source_ + ": key '" + key + "'", v.get<double>());
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
    const json* id = v.is_number_integer() ? &v : v.is_array() && !v.empty() && v[0].is_number_integer() ? &v[0] : nullptr;
    if (!id) fail(key, "must be an integer token id");
    if (id->is_number_unsigned() && id->get<uint64_t>() > static_cast<uint64_t>(kTokenId.max))
      fail_limit(source_ + ": key '" + key + "'", kTokenId, std::to_string(id->get<uint64_t>()));
    return bounded(source_ + ": key '" + key + "'", id->get<int64_t>(), kTokenId);
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
  bounded(c.source + ": head_dim", c.head_dim, kHeadDim);
  // Only rotary embeddings pair a head's dimensions (i, i + d/2); OPT and BERT-style encoders
  // with learned positions take any head size.
  if (c.arch == Architecture::Llama && c.head_dim % 2 != 0)
    throw Error(c.source + ": head_dim " + std::to_string(c.head_dim) + " must be even (rotary position embeddings rotate pairs of dimensions)");
  const auto check_matrix = [&](const char* rows_key, int64_t rows, const char* cols_key, int64_t cols) {
    if (rows * cols > kMaxMatrixElements)
      throw Error(c.source + ": " + rows_key + " x " + cols_key + " = " + std::to_string(rows * cols) +
                  " elements exceeds the supported " + std::to_string(kMaxMatrixElements));
  };
  check_matrix("vocab_size", c.vocab_size, "hidden_size", c.hidden_size);
  check_matrix("intermediate_size", c.intermediate_size, "hidden_size", c.hidden_size);
  check_matrix("num_attention_heads x head_dim", int64_t{c.num_heads} * c.head_dim, "hidden_size", c.hidden_size);
  if (c.arch == Architecture::Llama) positive_finite(c.source + ": rope_theta", c.rope_theta);
  if (c.arch == Architecture::Llama) positive_finite(c.source + ": rms_norm_eps", c.rms_norm_eps);
  else positive_finite(c.source + ": layer_norm_eps", c.layer_norm_eps);
  for (int w : c.sliding_window)
    if (w < 0) throw Error(c.source + ": sliding_window " + std::to_string(w) + " must be >= 1 (or null: no window)");
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
    const auto positive = [&](const char* name) { return positive_finite(where + " " + name, s[name].get<double>()); };
    if (s.contains("rope_theta") && s["rope_theta"].is_number()) c.rope_theta = positive("rope_theta");
    if (s.contains("factor") && s["factor"].is_number()) c.rope.factor = positive("factor");
    if (s.contains("low_freq_factor")) c.rope.low_freq_factor = positive("low_freq_factor");
    if (s.contains("high_freq_factor")) c.rope.high_freq_factor = positive("high_freq_factor");
    if (s.contains("original_max_position_embeddings"))
      c.rope.original_max_position = bounded(where + " original_max_position_embeddings",
                                             s["original_max_position_embeddings"].get<int64_t>(), kPositions);
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
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number past a double (1e400)
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
      c.vocab_size = r.integer("vocab_size", kVocabulary);
      c.hidden_size = r.integer("hidden_size", kHidden);
      c.num_layers = r.integer("num_hidden_layers", kLayers);
      c.num_heads = r.integer("num_attention_heads", kHeads);
      c.intermediate_size = r.integer("ffn_dim", kIntermediate);
      c.max_position = r.integer("max_position_embeddings", kPositions);
      c.activation = r.string("activation_function", "relu");
      c.do_layer_norm_before = r.boolean("do_layer_norm_before", true);
      c.word_embed_proj_dim = r.integer("word_embed_proj_dim", kHidden, c.hidden_size);
      c.enable_bias = r.boolean("enable_bias", true);
      c.final_layer_norm = c.do_layer_norm_before && !r.boolean("_remove_final_layer_norm", false);
      c.layer_norm_eps = 1e-5f;
      c.tie_word_embeddings = r.boolean("tie_word_embeddings", true);
      c.pad_token_id = r.token_id("pad_token_id");
    } else if (c.model_type == "bert" || c.model_type == "roberta") {
      c.arch = c.model_type == "bert" ? Architecture::BERT : Architecture::RoBERTa;
      c.vocab_size = r.integer("vocab_size", kVocabulary);
      c.hidden_size = r.integer("hidden_size", kHidden);
      c.num_layers = r.integer("num_hidden_layers", kLayers);
      c.num_heads = r.integer("num_attention_heads", kHeads);
      c.intermediate_size = r.integer("intermediate_size", kIntermediate);
      c.max_position = r.integer("max_position_embeddings", kPositions);
      c.activation = r.string("hidden_act", "gelu");
      c.type_vocab_size = r.integer("type_vocab_size", kTypeVocabulary, 2);
      c.layer_norm_eps = r.positive_number("layer_norm_eps", 1e-12f);
      c.pad_token_id = r.token_id("pad_token_id");
      if (c.arch == Architecture::RoBERTa && c.pad_token_id < 0) c.pad_token_id = 1;
      c.tie_word_embeddings = r.boolean("tie_word_embeddings", true);
      const std::string pos = r.string("position_embedding_type", "absolute");
      if (pos != "absolute") r.fail("position_embedding_type", "'" + pos + "' is not supported (only 'absolute')");
    } else if (c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2") {
      c.arch = Architecture::Llama;
      c.vocab_size = r.integer("vocab_size", kVocabulary);
      c.hidden_size = r.integer("hidden_size", kHidden);
      c.num_layers = r.integer("num_hidden_layers", kLayers);
      c.num_heads = r.integer("num_attention_heads", kHeads);
      c.num_kv_heads = r.integer("num_key_value_heads", kHeads, c.num_heads);
      c.intermediate_size = r.integer("intermediate_size", kIntermediate);
      c.max_position = r.integer("max_position_embeddings", kPositions);
      c.activation = r.string("hidden_act", "silu");
      c.rope_theta = r.positive_number("rope_theta", 10000.0f);
      c.rms_norm_eps = r.positive_number("rms_norm_eps", 1e-6f);
      c.attention_bias = r.boolean("attention_bias", false);
      c.qkv_bias = c.model_type == "qwen2";
      c.mlp_bias = r.boolean("mlp_bias", false);
      c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
      c.pad_token_id = r.token_id("pad_token_id");
      parse_rope_scaling(r, c);
      if (r.has("head_dim")) c.head_dim = r.integer("head_dim", kHeadDim);
      // Sliding windows: Mistral applies config.sliding_window to every layer; Qwen2 only
      // when use_sliding_window, from layer max_window_layers on; an explicit layer_types
      // list (transformers >= 4.53) decides per layer.
      // null or absent: no window; a number must be >= 1.
      int window = 0;
      if (c.model_type == "mistral") window = r.integer("sliding_window", kWindow, 0);
      c.sliding_window.assign(c.num_layers, 0);
      if (c.model_type == "qwen2" && r.boolean("use_sliding_window", false)) {
        const int from = r.integer("max_window_layers", SizeLimit{"layer index", 0, c.num_layers}, c.num_layers);
        for (int l = from; l < c.num_layers; ++l) c.sliding_window[l] = r.integer("sliding_window", kWindow, 0);
      } else {
        for (int& w : c.sliding_window) w = window;
      }
      if (r.has("layer_types")) {
        const json& lt = j.at("layer_types");
        if (!lt.is_array() || static_cast<int>(lt.size()) != c.num_layers)
          r.fail("layer_types", "must list one type per layer");
        for (int l = 0; l < c.num_layers; ++l)
          c.sliding_window[l] = lt[l] == "sliding_attention" ? r.integer("sliding_window", kWindow, 0) : 0;
      }
    } else {
      r.fail("model_type", "'" + c.model_type + "' is not a supported architecture (supported: opt, bert, roberta, llama, mistral, qwen2)");
    }
    c.bos_token_id = r.token_id("bos_token_id");
    c.eos_token_id = r.token_id("eos_token_id");
    c.head = head_from_architectures(r, c.arch);
    c.num_labels = r.has("id2label") && j.at("id2label").is_object()
                       ? bounded(source_name + ": key 'id2label'", static_cast<int64_t>(j.at("id2label").size()), kLabels)
                       : r.integer("num_labels", kLabels, 2);
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
  // Every count range-checked as it is read (GgufFile::get_int widens to int64; a uint64 past
  // int64 is its own error), before anything is sized from it.
  const auto count = [&](const std::string& key, const SizeLimit& limit) {
    return bounded(f.path() + ": key '" + key + "'", f.get_int(key), limit);
  };
  const auto positive = [&](const std::string& key) { return positive_finite(f.path() + ": key '" + key + "'", f.get_float(key)); };
  c.num_layers = count(p + "block_count", kLayers);
  c.hidden_size = count(p + "embedding_length", kHidden);
  c.intermediate_size = count(p + "feed_forward_length", kIntermediate);
  c.num_heads = count(p + "attention.head_count", kHeads);
  c.num_kv_heads = f.find(p + "attention.head_count_kv") ? count(p + "attention.head_count_kv", kHeads) : c.num_heads;
  c.max_position = count(p + "context_length", kPositions);
  c.rope_theta = f.find(p + "rope.freq_base") ? positive(p + "rope.freq_base") : 10000.0f;
  c.rms_norm_eps = positive(p + "attention.layer_norm_rms_epsilon");
  c.head_dim = f.find(p + "attention.key_length") ? count(p + "attention.key_length", kHeadDim) : c.hidden_size / c.num_heads;
  if (f.find(p + "vocab_size")) {
    c.vocab_size = count(p + "vocab_size", kVocabulary);
  } else {
    const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
    const auto* list = tokens ? std::get_if<GgufArray>(&tokens->value) : nullptr;
    c.vocab_size = bounded(f.path() + ": key 'tokenizer.ggml.tokens'", list ? static_cast<int64_t>(list->size()) : 0, kVocabulary);
  }
  c.activation = "silu";
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.tie_word_embeddings = f.find_tensor("output.weight") == nullptr;
  if (f.find(p + "rope.scaling.type")) {
    c.rope.type = f.get_string(p + "rope.scaling.type");
    if (c.rope.type == "none") c.rope.type = "default";
    if (f.find(p + "rope.scaling.factor")) c.rope.factor = positive(p + "rope.scaling.factor");
  }
  const int window = f.find(p + "attention.sliding_window") ? count(p + "attention.sliding_window", kWindow) : 0;
  c.sliding_window.assign(c.num_layers, window);
  if (f.find("tokenizer.ggml.bos_token_id")) c.bos_token_id = count("tokenizer.ggml.bos_token_id", kTokenId);
  if (f.find("tokenizer.ggml.eos_token_id")) c.eos_token_id = count("tokenizer.ggml.eos_token_id", kTokenId);
  if (f.find("tokenizer.ggml.padding_token_id")) c.pad_token_id = count("tokenizer.ggml.padding_token_id", kTokenId);
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
