// PeftModules: the parameter-efficient modules of one model (tensorized adapters, LoRA, prefix
// keys and values), their tensors in the model's ParamStore and the hooks the CPU forward passes call.
//
// Tensors are fp32 whatever the backbone dtype (ParamStore keeps one buffer per dtype), named
// under "peft." (a prefix Hugging Face never uses) after the layer and the module they wrap:
//   peft.layers.3.mlp.gate_proj.adapter.down.core.2   TT core [r_{i-1}, k_i, r_i]
//   peft.layers.3.mlp.gate_proj.adapter.down.bias     [bottleneck]
//   peft.layers.3.mlp.gate_proj.adapter.up.core.0 ... peft.layers.3.mlp.gate_proj.adapter.up.bias [hidden]
//   peft.layers.3.self_attn.q_proj.lora_A             [r, in]
//   peft.layers.3.self_attn.q_proj.lora_B             [out, r]
//   peft.layers.3.self_attn.prefix_keys               [prefix_tokens, n_kv_heads * head_dim]
//   peft.layers.3.self_attn.prefix_values             [prefix_tokens, n_kv_heads * head_dim]
//     (BERT/RoBERTa: peft.layers.3.attention.self.prefix_keys, ...)
// They are declared after the backbone, so they follow it in the flat index; a TT layer's
// cores are declared back to back and are one contiguous run, as tt_linear() reads them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/peft/peft_settings.h"
#include "core/tensor/param_store.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/tt_linear.h"

namespace zotune {

// Where in a block an adapter acts (adazeta.md a.2). Inputs are adapted before the projection
// reads them; outputs after the projection, before the residual add.
enum class AdapterPoint {
  AttentionOutput,  // output of o_proj / out_proj / attention.output.dense
  GateInput,        // Llama: input of gate_proj
  UpInput,          // Llama: input of up_proj
  MlpInput,         // OPT: input of fc1
  MlpOutput,        // output of down_proj / fc2 / output.dense
};
inline constexpr int kAdapterPoints = 5;

// TT modes of the adapter's down map hidden -> bottleneck: hidden in three balanced factors,
// the bottleneck in three (decoders: AdaZeta's large_models code, 4096 -> [16,16,16,4,4,4]) or
// two (encoders: its medium_models code, 1024 -> [8,8,16,8,8]); the up map uses the reversed
// modes. Throws Error naming the sizes the rule supports when a size cannot be factored.
cpu::TtShape adapter_down_shape(Architecture arch, int hidden, int bottleneck, int rank);
cpu::TtShape adapter_up_shape(Architecture arch, int hidden, int bottleneck, int rank);

// The `count` token ids, uniform in [0, vocab_size), whose keys and values initialize the prefix
// (PrefixInit::RealActivations; MeZO: torch.randint(0, vocab_size, (1, num_prefix))). Drawn by
// Philox from `seed` on a stream of their own: every rank and replay samples the same tokens.
std::vector<int32_t> prefix_init_tokens(uint64_t seed, int count, int vocab_size);

class PeftModules {
 public:
  // Declares the modules `settings` asks for into `params` (before ParamStore::allocate()).
  // Errors name the setting (e.g. a hidden size with no TT shape).
  void declare(const PeftSettings& settings, const ModelConfig& config, ParamStore& params);
  // Fills the declared tensors (after the backbone weights are loaded): TT cores N(0,1) /
  // sqrt(r_i) * (1/(in+out))^(1/(2p)), TT biases U(+-1/sqrt(out)) (adazeta.md a.1); LoRA A
  // Kaiming-uniform (a = sqrt 5: U(+-1/sqrt(in))), B zeros (baselines.md 2); prefix keys and
  // values N(0, 1) with peft.prefix_init random, zeros with real_act (Model::initialize_peft then
  // replaces them by the backbone's activations). A pure function of (seed, tensor name order,
  // element index): every rank and replay draw the same values.
  void initialize(ParamStore& params, uint64_t seed) const;

  bool empty() const { return kind_ == PeftKind::None; }
  PeftKind kind() const { return kind_; }
  const PeftSettings& settings() const { return settings_; }
  // Names of every PEFT tensor, in declaration order.
  const std::vector<std::string>& tensor_names() const { return names_; }
  int64_t numel() const { return numel_; }

  // ---- Probe groups (batched probe forwards: engine.probe_batch). Every PEFT tensor is fp32 and
  // they lie back to back in the fp32 buffer: region_offset() .. + region_numel() elements. A
  // bank holds `groups` copies of that region, copy g a probe's perturbed modules. While
  // groups > 1, every forward's batch is `groups` equal blocks of sequences, and block g (tokens
  // [g N / groups, (g + 1) N / groups)) runs with bank copy g; the backbone is shared. `bank`
  // is host memory for the CPU engine's hooks, device memory for the CUDA engine's (which read
  // it through DeviceForward::peft_tensor). groups = 1 (bank null) is the plain forward.
  int64_t region_offset() const { return region_offset_; }
  int64_t region_numel() const { return region_end_ - region_offset_; }
  // Elements from one bank copy to the next: region_numel() rounded up to 64 floats (256 bytes),
  // so every group's tensors are as aligned as group 0's (cuBLAS's vectorized tensor-op paths
  // want 16-byte-aligned operands, the batched GEMMs a 16-byte-multiple stride between groups).
  int64_t bank_stride() const { return (region_numel() + 63) / 64 * 64; }
  void set_probe_groups(int groups, const float* bank);
  int probe_groups() const { return groups_; }
  // Elements from the start of the bank to group g's copy of the tensor at `view`
  // (g * bank_stride() + its offset in the region).
  int64_t bank_offset(const ParamView& view, int group) const;
  // The fp32 tensor at `view` as group `group` sees it: the bank's copy while probe groups
  // are on, else the ParamStore's (host) data.
  const float* group_tensor(size_t view, int group, const ParamStore& params) const;

  // ---- Forward hooks (CPU engine). Each is a no-op when (layer, point/target) carries no module.
  // With probe groups on, N is the whole batch's rows and each group's block uses its tensors.
  bool has_adapter(int layer, AdapterPoint point) const { return adapter_index(layer, point) >= 0; }
  // h[N, hidden] <- h + s * U(ReLU(D(h))) in place.
  void adapt(int layer, AdapterPoint point, float* h, int N, const ParamStore& params) const;
  // a(x) for a projection's input: x itself without an adapter, else `scratch` holding a(x).
  const float* adapt_input(int layer, AdapterPoint point, const float* x, int N, std::vector<float>& scratch,
                           const ParamStore& params) const;
  // out[N, out] += (alpha / r) * (x[N, in] A^T) B^T.
  void lora(int layer, LoraTarget target, float* out, const float* x, int N, const ParamStore& params) const;

  // ---- Prefix-tuning (MeZO-prefix). The prefix is not a token: it has no position and no cache
  // slot; every attention call prepends it to the keys and values (cpu::AttentionPrefix), visible
  // to every query.
  bool has_prefix() const { return kind_ == PeftKind::Prefix; }
  int prefix_tokens() const { return has_prefix() ? static_cast<int>(settings_.prefix_tokens) : 0; }
  // Whether Model::initialize_peft must run the backbone to fill the prefix (peft.prefix_init real_act).
  bool prefix_from_activations() const { return has_prefix() && settings_.prefix_init == PrefixInit::RealActivations; }
  // Layer `layer`'s prefix for cpu::attention; empty (len 0) without a prefix or while capturing.
  cpu::AttentionPrefix attention_prefix(int layer, const ParamStore& params) const;
  // Real-activation init: while capture is on, attention_prefix() is empty (the backbone runs
  // plain, as MeZO samples the activations before inserting the prefix) and the forward passes
  // hand each layer's keys k and values v [N, n_kv_heads * head_dim] of the sampled tokens
  // (after RoPE; N = prefix_tokens) to capture_prefix, which stores them as that layer's prefix.
  void set_prefix_capture(bool on);
  void capture_prefix(int layer, const float* k, const float* v, int N, ParamStore& params);
  // After a capturing forward: every layer's prefix was recorded (else the engine has no hooks).
  bool prefix_captured() const;

  // ---- What the device engine's hooks (core/cuda/device_peft.cpp) read: each module's shapes
  // and the ParamStore view indices of its fp32 tensors.
  struct TtLayer {
    cpu::TtShape shape;
    size_t first_core = 0;  // view index of core 0 (the cores are contiguous)
    size_t bias = 0;        // view index of the bias [out]
  };
  struct Adapter {
    TtLayer down, up;
    int hidden = 0, bottleneck = 0;
  };
  struct Lora {
    size_t a = 0, b = 0;  // view indices: A [r, in], B [out, r]
    int in = 0, out = 0;
  };
  struct Prefix {
    size_t keys = 0, values = 0;  // view indices: [prefix_tokens, kv_width] each
    int kv_width = 0;             // n_kv_heads * head_dim
  };
  // The module at (layer, point / target), or null when that site carries none.
  const Adapter* adapter_at(int layer, AdapterPoint point) const;
  const Lora* lora_at(int layer, LoraTarget target) const;
  // Layer `layer`'s prefix, or null without prefix-tuning (core/cuda/device_prefix.cpp).
  const Prefix* prefix_at(int layer) const;

 private:
  int adapter_index(int layer, AdapterPoint point) const;
  TtLayer declare_tt(ParamStore& params, const std::string& name, const cpu::TtShape& shape);
  size_t declare_tensor(ParamStore& params, const std::string& name, std::vector<int64_t> shape);

  PeftKind kind_ = PeftKind::None;
  PeftSettings settings_;
  std::vector<Adapter> adapters_;
  std::vector<int> adapter_at_;  // [layer * kAdapterPoints + point] -> index into adapters_, -1 = none
  std::vector<Lora> loras_;
  std::vector<int> lora_at_;     // [layer * 4 + target] -> index into loras_, -1 = none
  std::vector<Prefix> prefixes_;        // one per layer
  bool capturing_prefix_ = false;
  std::vector<uint8_t> prefix_recorded_;  // per layer, during a capture
  std::vector<std::string> names_;
  int64_t numel_ = 0;
  int64_t region_offset_ = 0, region_end_ = 0;  // fp32 elements
  int groups_ = 1;
  const float* bank_ = nullptr;
};

}  // namespace zotune
