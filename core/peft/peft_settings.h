// PEFT settings: which parameter-efficient modules a model carries and their hyperparameters.
// The run file's `peft:` section fills everything but `kind`, which follows trainable.mode
// (peft_settings() in core/train/run_setup.h); LoadOptions carries the result to every load
// path, so rank 0, the replicas and replay declare the same tensors.
// Defaults here are the schema's (core/config/run_config_schema.cpp) and the papers':
// adapters per docs/papers/adazeta.md a.2, LoRA and prefix-tuning per baselines.md section 2.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace zotune {

// Prefix: MeZO-prefix (MeZO's prefix.py, no reparameterization), trainable prefix keys and values
// every real token attends to in every attention layer.
enum class PeftKind { None, Lora, Adapter, Prefix };

// Where tensorized adapters sit (adazeta.md a.2). code: as AdaZeta's code places them (Llama:
// pre-adapters on the gate_proj and up_proj inputs and a post-adapter on the down_proj output;
// OPT: fc1 input, fc2 output; BERT/RoBERTa: Houlsby, after the attention output projection and
// after the FFN output projection). paper: after each attention and each feed-forward
// sub-layer, before the residual (the same as code for BERT/RoBERTa).
enum class AdapterPlacement { Code, Paper };
inline constexpr std::array<std::string_view, 2> kAdapterPlacementNames{"code", "paper"};

// Attention projections LoRA can wrap: query, key, value, output.
enum class LoraTarget { Q, K, V, O };
inline constexpr std::array<std::string_view, 4> kLoraTargetNames{"q", "k", "v", "o"};

// How the prefix keys and values start. real_act: MeZO's init_by_real_act ("crucial for MeZO"): the
// plain backbone runs on prefix_tokens tokens drawn uniformly from the vocabulary (from peft.seed)
// and each layer's keys (after RoPE for Llama) and values of those tokens become the prefix;
// random: N(0, 1) entries, as MeZO's torch.randn before the re-initialization.
enum class PrefixInit { RealActivations, Random };
inline constexpr std::array<std::string_view, 2> kPrefixInitNames{"real_act", "random"};

constexpr std::span<const std::string_view> choice_names(AdapterPlacement) { return kAdapterPlacementNames; }
constexpr std::span<const std::string_view> choice_names(PrefixInit) { return kPrefixInitNames; }
constexpr std::span<const std::string_view> choice_names(LoraTarget) { return kLoraTargetNames; }

struct PeftSettings {
  PeftKind kind = PeftKind::None;
  uint64_t seed = 0;  // seeds the modules' initialization (TT cores and biases, LoRA A, prefix tokens)
  // Tensorized adapter a(h) = h + scale * U(ReLU(D(h))), D and U TT layers of rank adapter_rank.
  int64_t adapter_bottleneck = 64;
  int64_t adapter_rank = 5;
  double adapter_scale = 1.0;
  AdapterPlacement adapter_placement = AdapterPlacement::Code;
  // LoRA: out += (lora_alpha / lora_rank) * (x A^T) B^T on each target projection.
  int64_t lora_rank = 8;
  double lora_alpha = 16.0;
  std::vector<LoraTarget> lora_targets = {LoraTarget::Q, LoraTarget::V};
  // Prefix-tuning: prefix_tokens key and value vectors [prefix_tokens, n_kv_heads * head_dim] per
  // attention layer (MeZO: 5).
  int64_t prefix_tokens = 5;
  PrefixInit prefix_init = PrefixInit::RealActivations;
};

}  // namespace zotune
