#include "core/peft/peft_export.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "core/util/error.h"

namespace zotune {

using ordered_json = nlohmann::ordered_json;

std::string hf_layer_prefix(const ModelConfig& c) {
  switch (c.arch) {
    case Architecture::Llama: return "model.layers.";
    case Architecture::OPT: return "model.decoder.layers.";
    case Architecture::BERT: return "bert.encoder.layer.";
    case Architecture::RoBERTa: return "roberta.encoder.layer.";
  }
  return "";
}

PeftTensorSite peft_tensor_site(const ModelConfig& c, const std::string& name) {
  const std::string prefix = "peft.layers.";
  const auto bad = [&](const char* why) {
    return Error("PEFT tensor '" + name + "': " + why + " (expected peft.layers.<layer>.<module>.<tensor>)");
  };
  if (name.rfind(prefix, 0) != 0) throw bad("not a zotune PEFT tensor name");
  const size_t dot = name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) throw bad("no layer index");
  const std::string index = name.substr(prefix.size(), dot - prefix.size());
  if (!std::all_of(index.begin(), index.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) || index.size() > 6)
    throw bad("the layer index is not a number");
  PeftTensorSite s;
  s.layer = std::stoi(index);
  if (s.layer >= c.num_layers) throw bad("the layer index is past the model's layers");
  const std::string rest = name.substr(dot + 1);
  // The tensor part starts at the first component that is zotune's, not the module path's.
  size_t at = std::string::npos;
  for (const char* marker : {".lora_A", ".lora_B", ".adapter.", ".prefix_keys", ".prefix_values"}) {
    const size_t p = rest.find(marker);
    if (p != std::string::npos && p < at) at = p;
  }
  if (at == std::string::npos || at == 0) throw bad("no LoRA, adapter or prefix tensor part");
  s.module = hf_layer_prefix(c) + index + "." + rest.substr(0, at);
  s.tensor = rest.substr(at + 1);
  return s;
}

std::string peft_lora_tensor_name(const ModelConfig& c, const std::string& name) {
  const PeftTensorSite s = peft_tensor_site(c, name);
  if (s.tensor != "lora_A" && s.tensor != "lora_B")
    throw Error("PEFT tensor '" + name + "' is not a LoRA lora_A / lora_B tensor");
  return "base_model.model." + s.module + "." + s.tensor + ".weight";
}

std::string peft_task_type(const ModelConfig& c) {
  switch (c.head) {
    case HeadKind::CausalLM: return "CAUSAL_LM";
    case HeadKind::SequenceClassification: return "SEQ_CLS";
    case HeadKind::Base: return "FEATURE_EXTRACTION";
    case HeadKind::MaskedLM: return "";
  }
  return "";
}

namespace {

std::string last_component(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// Modules of a layer (a block's linear layers) whose name ends like one of LoRA's targets but
// that LoRA does not wrap: a suffix list would wrap them too.
bool suffix_is_ambiguous(const ModelConfig& c, const std::string& component) {
  if (c.arch == Architecture::BERT || c.arch == Architecture::RoBERTa) return component == "dense";
  return false;
}

std::string regex_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (std::string(".\\+*?[^]$(){}=!<>|:-").find(ch) != std::string::npos) out += '\\';
    out += ch;
  }
  return out;
}

}  // namespace

std::string peft_lora_adapter_config(const ModelConfig& c, const PeftSettings& settings,
                                     const std::vector<std::string>& lora_sites,
                                     const std::string& base_model_name_or_path,
                                     const std::vector<std::string>& modules_to_save) {
  check(!lora_sites.empty(), c.source + ": a LoRA export needs at least one LoRA module");
  // The site within a layer: "self_attn.q_proj" of "model.layers.3.self_attn.q_proj".
  const std::string layer_prefix = hf_layer_prefix(c);
  std::set<std::string> in_layer, components;
  bool ambiguous = false;
  for (const std::string& module : lora_sites) {
    check(module.rfind(layer_prefix, 0) == 0, module + ": not a module of a layer (" + layer_prefix + "N.)");
    const size_t dot = module.find('.', layer_prefix.size());
    in_layer.insert(module.substr(dot + 1));
    components.insert(last_component(module));
    ambiguous = ambiguous || suffix_is_ambiguous(c, last_component(module));
  }
  ordered_json targets;
  if (ambiguous) {
    // PEFT full-matches a string target_modules against every module path.
    std::string alternatives;
    for (const std::string& s : in_layer) alternatives += (alternatives.empty() ? "" : "|") + regex_escape(s);
    targets = ".*" + regex_escape(layer_prefix) + "\\d+\\.(" + alternatives + ")";
  } else {
    targets = ordered_json::array();
    for (const std::string& s : components) targets.push_back(s);
  }
  ordered_json j;
  j["peft_type"] = "LORA";
  const std::string task = peft_task_type(c);
  j["task_type"] = task.empty() ? ordered_json(nullptr) : ordered_json(task);
  j["base_model_name_or_path"] = base_model_name_or_path;
  j["revision"] = nullptr;
  j["inference_mode"] = true;
  j["r"] = settings.lora_rank;
  j["lora_alpha"] = settings.lora_alpha;
  j["lora_dropout"] = 0.0;
  j["target_modules"] = targets;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["use_rslora"] = false;
  j["use_dora"] = false;
  j["init_lora_weights"] = true;
  j["modules_to_save"] = modules_to_save.empty() ? ordered_json(nullptr) : ordered_json(modules_to_save);
  j["layers_to_transform"] = nullptr;
  j["layers_pattern"] = nullptr;
  j["rank_pattern"] = ordered_json::object();
  j["alpha_pattern"] = ordered_json::object();
  return j.dump(2) + "\n";
}

void merge_lora_into(float* weight, const float* a, const float* b, int out, int in, int r, double alpha) {
  const float scale = static_cast<float>(alpha / r);
  std::vector<float> row(static_cast<size_t>(in));
  for (int o = 0; o < out; ++o) {
    std::fill(row.begin(), row.end(), 0.0f);
    for (int k = 0; k < r; ++k) {
      const float bk = b[static_cast<size_t>(o) * r + k];
      const float* ak = a + static_cast<size_t>(k) * in;
      for (int i = 0; i < in; ++i) row[i] += bk * ak[i];
    }
    float* w = weight + static_cast<size_t>(o) * in;
    for (int i = 0; i < in; ++i) w[i] += row[i] * scale;
  }
}

}  // namespace zotune
