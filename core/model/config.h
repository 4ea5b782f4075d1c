// ModelConfig: the architecture hyperparameters zotune needs, read from a Hugging Face
// config.json or from a GGUF file's metadata. Every field has the transformers default.
#pragma once
#include <string>
#include <vector>

namespace zotune {

class GgufFile;

enum class Architecture { OPT, BERT, RoBERTa, Llama };  // Llama: also Mistral, Qwen2, SmolLM2
const char* architecture_name(Architecture a);

// What sits on top of the transformer body.
enum class HeadKind {
  CausalLM,                // decoder LM head: next-token logits
  MaskedLM,                // encoder MLM head: logits at chosen positions
  SequenceClassification,  // pooled first token -> num_labels logits
  Base,                    // no head (e.g. a sentence-embedding BertModel): hidden states
};
const char* head_name(HeadKind h);

struct RopeScaling {
  std::string type = "default";  // "default", "linear", "llama3"
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position = 0;
};

struct ModelConfig {
  Architecture arch = Architecture::Llama;
  HeadKind head = HeadKind::CausalLM;
  std::string model_type;          // "opt", "bert", "roberta", "llama", "mistral", "qwen2"
  std::string source;              // the file it came from, for error messages
  int vocab_size = 0;
  int hidden_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int intermediate_size = 0;
  int max_position = 0;
  int pad_token_id = -1;
  int bos_token_id = -1;
  int eos_token_id = -1;
  std::string activation = "gelu";  // hidden_act / activation_function
  bool tie_word_embeddings = true;

  // OPT
  bool do_layer_norm_before = true;
  int word_embed_proj_dim = 0;
  bool enable_bias = true;
  bool final_layer_norm = true;  // OPT: do_layer_norm_before and not _remove_final_layer_norm

  // BERT / RoBERTa
  int type_vocab_size = 2;
  float layer_norm_eps = 1e-12f;
  int num_labels = 2;

  // Llama family
  float rope_theta = 10000.0f;
  float rms_norm_eps = 1e-6f;
  bool attention_bias = false;   // q/k/v/o biases (Llama attention_bias)
  bool qkv_bias = false;         // q/k/v biases only (Qwen2)
  bool mlp_bias = false;
  RopeScaling rope;
  std::vector<int> sliding_window;  // per layer; 0 = full attention
};

// Parses config.json; `head_override` replaces the head the "architectures" field implies.
// Errors name the file and key (a missing required key, a wrong type, an unknown model_type).
ModelConfig parse_hf_config(const std::string& config_json_path);
ModelConfig parse_hf_config_text(const std::string& text, const std::string& source_name);
ModelConfig config_from_gguf(const GgufFile& file);

// The inverse rotary frequencies [head_dim / 2] after the config's scaling.
std::vector<float> rope_inv_freq(const ModelConfig& c);

}  // namespace zotune
