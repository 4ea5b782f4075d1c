#include "core/model/hf_config_export.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/util/error.h"

namespace zotune {

using ordered_json = nlohmann::ordered_json;

namespace {

// A float config value as the shortest decimal that reads back as the same float (1e-05, not
// 9.99999974737875e-06): transformers adds it to fp32 tensors, where both round alike, but
// the file then says what the GGUF said.
double shortest(float value) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof(text), value);
  *end = '\0';
  return std::strtod(text, nullptr);
}

// Token ids: null when the model has none (-1).
ordered_json token_id(int id) { return id >= 0 ? ordered_json(id) : ordered_json(nullptr); }

// The class-name stem transformers gives each model_type.
std::string class_stem(const ModelConfig& c) {
  if (c.model_type == "llama") return "Llama";
  if (c.model_type == "mistral") return "Mistral";
  if (c.model_type == "qwen2") return "Qwen2";
  if (c.model_type == "opt") return "OPT";
  if (c.model_type == "bert") return "Bert";
  if (c.model_type == "roberta") return "Roberta";
  throw Error(c.source + ": model_type '" + c.model_type + "' has no transformers class zotune knows");
}

}  // namespace

std::string hf_architecture_class(const ModelConfig& c) {
  const std::string stem = class_stem(c);
  switch (c.head) {
    case HeadKind::CausalLM: return stem + "ForCausalLM";
    case HeadKind::MaskedLM: return stem + "ForMaskedLM";
    case HeadKind::SequenceClassification: return stem + "ForSequenceClassification";
    case HeadKind::Base: return stem + "Model";
  }
  return stem;
}

const char* hf_torch_dtype(DType dtype) {
  switch (dtype) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
  }
  return "float32";
}

std::string hf_config_json_from_model_config(const ModelConfig& c, DType dtype) {
  check(c.arch == Architecture::Llama,
        c.source + ": a config.json can be built only for Llama-family models (llama, mistral, qwen2); this " +
            std::string(architecture_name(c.arch)) + " model needs the config.json it came with");
  check(c.model_type == "llama" || c.model_type == "mistral" || c.model_type == "qwen2",
        c.source + ": model_type '" + c.model_type + "' has no transformers configuration zotune can write");
  // Qwen2 has q/k/v biases by construction; Llama's attention_bias covers o_proj too, and
  // Mistral has none: a q/k/v-only bias on those has no transformers equivalent.
  check(c.model_type == "qwen2" || !c.qkv_bias || c.attention_bias,
        c.source + ": q/k/v projection biases without an o_proj bias have no " + c.model_type +
            " configuration in transformers");
  ordered_json j;
  j["architectures"] = {hf_architecture_class(c)};
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  // transformers derives hidden_size / num_attention_heads when head_dim is absent; Llama and
  // Mistral read an explicit one (Gemma-style head sizes), Qwen2 has no such key.
  if (c.model_type != "qwen2" || c.head_dim * c.num_heads != c.hidden_size) j["head_dim"] = c.head_dim;
  check(c.head_dim * c.num_heads == c.hidden_size || c.model_type != "qwen2",
        c.source + ": head_dim " + std::to_string(c.head_dim) + " x " + std::to_string(c.num_heads) +
            " heads != hidden_size: transformers' Qwen2 has no head_dim setting");
  j["hidden_act"] = c.activation;
  j["max_position_embeddings"] = c.max_position;
  j["rms_norm_eps"] = shortest(c.rms_norm_eps);
  j["rope_theta"] = shortest(c.rope_theta);
  if (c.rope.type != "default") {
    ordered_json s;
    s["rope_type"] = c.rope.type;
    s["factor"] = shortest(c.rope.factor);
    if (c.rope.type == "llama3") {
      s["low_freq_factor"] = shortest(c.rope.low_freq_factor);
      s["high_freq_factor"] = shortest(c.rope.high_freq_factor);
      s["original_max_position_embeddings"] = c.rope.original_max_position;
    }
    j["rope_scaling"] = s;
  }
  if (c.model_type != "qwen2") {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = c.mlp_bias;
  }
  check(!c.mlp_bias || c.model_type == "llama", c.source + ": MLP biases have no " + c.model_type +
                                                     " configuration in transformers");
  // Sliding windows: one window for every layer is all a GGUF states (config_from_gguf).
  int window = 0;
  for (int w : c.sliding_window) window = std::max(window, w);
  for (int w : c.sliding_window)
    check(w == window, c.source + ": per-layer sliding windows differ; a built config.json states one window");
  if (c.model_type == "mistral") j["sliding_window"] = window > 0 ? ordered_json(window) : ordered_json(nullptr);
  if (c.model_type == "qwen2") {
    j["use_sliding_window"] = window > 0;
    j["sliding_window"] = window > 0 ? ordered_json(window) : ordered_json(nullptr);
    j["max_window_layers"] = window > 0 ? 0 : c.num_layers;
  }
  if (c.model_type == "llama") {
    check(window == 0, c.source + ": a sliding window has no llama configuration in transformers");
    j["pretraining_tp"] = 1;
  }
  j["attention_dropout"] = 0.0;
  j["initializer_range"] = 0.02;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["bos_token_id"] = token_id(c.bos_token_id);
  j["eos_token_id"] = token_id(c.eos_token_id);
  j["pad_token_id"] = token_id(c.pad_token_id);
  j["use_cache"] = true;
  j["torch_dtype"] = hf_torch_dtype(dtype);
  return j.dump(2) + "\n";
}

std::string hf_config_json_for_export(const std::string& base_text, const std::string& source, const ModelConfig& model,
                                      DType dtype) {
  const ModelConfig base = parse_hf_config_text(base_text, source);  // validated as the loader reads it
  ordered_json j = ordered_json::parse(base_text);
  const bool new_head = base.head != model.head;
  if (new_head) j["architectures"] = {hf_architecture_class(model)};
  if (model.head == HeadKind::SequenceClassification && (new_head || base.num_labels != model.num_labels)) {
    ordered_json id2label = ordered_json::object(), label2id = ordered_json::object();
    for (int i = 0; i < model.num_labels; ++i) {
      id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
      label2id["LABEL_" + std::to_string(i)] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
    j.erase("num_labels");  // id2label says it (transformers writes no num_labels either)
  }
  j["torch_dtype"] = hf_torch_dtype(dtype);
  if (j.contains("dtype")) j["dtype"] = hf_torch_dtype(dtype);  // transformers 5's name
  return j.dump(2) + "\n";
}

}  // namespace zotune
