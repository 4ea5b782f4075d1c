// Where zotune's PEFT modules sit in Hugging Face terms, for exports (core/train/hf_export.h):
// the transformers module a module wraps, PEFT's tensor names for LoRA, adapter_config.json,
// and LoRA merged into its base weight.
//
// zotune names a module's tensors "peft.layers.<l>.<site>.<tensor>" (core/peft/peft_modules.h);
// the module it wraps is <layer prefix><l>.<site> in transformers, with the layer prefix of the
// architecture ("model.layers.", "model.decoder.layers.", "bert.encoder.layer.",
// "roberta.encoder.layer."). PEFT names LoRA's tensors after that module inside its
// PeftModel wrapper: base_model.model.<module>.lora_A.weight [r, in] and .lora_B.weight
// [out, r], the layout zotune's lora_A / lora_B already have.
#pragma once
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/peft/peft_settings.h"

namespace zotune {

// "model.layers." etc.: the transformers prefix of layer l's modules is this + l + ".".
std::string hf_layer_prefix(const ModelConfig& config);

struct PeftTensorSite {
  int layer = -1;
  std::string module;  // transformers module path: "model.layers.3.self_attn.q_proj"
  std::string tensor;  // what follows the module in zotune's name: "lora_A", "adapter.down.core.2", "prefix_keys"
};
// The site of zotune PEFT tensor `name` ("peft.layers.3.self_attn.q_proj.lora_A"). For a
// prefix tensor the module is the attention module. Throws Error naming a name that is not
// zotune's PEFT form.
PeftTensorSite peft_tensor_site(const ModelConfig& config, const std::string& name);

// PEFT's name of zotune LoRA tensor `name` (lora_A / lora_B):
// "base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight".
std::string peft_lora_tensor_name(const ModelConfig& config, const std::string& name);

// PEFT's task_type for a model's head: CAUSAL_LM, SEQ_CLS, FEATURE_EXTRACTION; empty for a
// masked-LM head (PEFT has no task type for it: adapter_config.json then says null and the
// adapter loads with PeftModel).
std::string peft_task_type(const ModelConfig& config);

// adapter_config.json text of a LoRA export (PEFT's LoraConfig: peft_type LORA, r, lora_alpha,
// lora_dropout 0, bias none, target_modules, task_type, base_model_name_or_path, ...).
// `lora_sites`: the transformers modules LoRA wraps (from peft_tensor_site); target_modules
// lists their last name components, or is a regular expression over the full paths when a
// component names other modules too (BERT's attention.output.dense: every "dense").
// `modules_to_save`: modules stored whole (a classification head the run created).
std::string peft_lora_adapter_config(const ModelConfig& config, const PeftSettings& settings,
                                     const std::vector<std::string>& lora_sites,
                                     const std::string& base_model_name_or_path,
                                     const std::vector<std::string>& modules_to_save);

// W[out, in] += (alpha / r) * B[out, r] A[r, in], in fp32 (PEFT's merge_and_unload):
// `weight` is fp32 (callers convert a half-precision backbone weight and back).
void merge_lora_into(float* weight, const float* a, const float* b, int out, int in, int r, double alpha);

}  // namespace zotune
