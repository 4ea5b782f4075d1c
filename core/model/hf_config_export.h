// config.json of an exported model (core/train/hf_export.h): the Hugging Face configuration
// transformers builds the exported weights' model from.
#pragma once
#include <string>

#include "core/model/config.h"
#include "core/tensor/dtype.h"

namespace zotune {

// The transformers class of a config's architecture and head ("LlamaForCausalLM",
// "BertForSequenceClassification", ...). Throws Error naming the source for a combination
// transformers has no class for.
std::string hf_architecture_class(const ModelConfig& config);

// "float32", "float16", "bfloat16": config.json's torch_dtype of weights stored in `dtype`.
const char* hf_torch_dtype(DType dtype);

// config.json text built from `config` alone (a GGUF base has no config.json): every field
// transformers' LlamaConfig / MistralConfig / Qwen2Config reads for the model zotune runs
// (architectures, model_type, sizes, head counts, rms_norm_eps, rope_theta and rope_scaling,
// max_position_embeddings, vocab_size, tie_word_embeddings, token ids, torch_dtype), so
// transformers computes what zotune computes. Llama-family architectures only: the others
// always come with their config.json (Error naming the source otherwise).
std::string hf_config_json_from_model_config(const ModelConfig& config, DType dtype);

// The base model's config.json text (`base_text`, read from `source` for error messages) for a
// model whose head and dtype may differ from the base's: "architectures" follows `model`'s head
// when the run put another head on the base (a classification head on a masked-LM checkpoint),
// num_labels / id2label / label2id then follow model.num_labels, and torch_dtype is `dtype`.
// Every other key is kept as the base wrote it, in its order.
std::string hf_config_json_for_export(const std::string& base_text, const std::string& source, const ModelConfig& model,
                                      DType dtype);

}  // namespace zotune
