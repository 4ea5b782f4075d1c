// PeftModules: the parameter-efficient modules of one model (tensorized adapters, LoRA), their
// tensors in the model's ParamStore and the hooks the CPU forward passes call.
//
// Tensors are fp32 whatever the backbone dtype (ParamStore keeps one buffer per dtype), named
// under "peft." (a prefix Hugging Face never uses) after the layer and the module they wrap:
//   peft.layers.3.mlp.gate_proj.adapter.down.core.2   TT core [r_{i-1}, k_i, r_i]
//   peft.layers.3.mlp.gate_proj.adapter.down.bias     [bottleneck]
//   peft.layers.3.mlp.gate_proj.adapter.up.core.0 ... peft.layers.3.mlp.gate_proj.adapter.up.bias [hidden]
//   peft.layers.3.self_attn.q_proj.lora_A             [r, in]
//   peft.layers.3.self_attn.q_proj.lora_B             [out, r]
// They are declared after the backbone, so they follow it in the flat index; a TT layer's
// cores are declared back to back and are one contiguous run, as tt_linear() reads them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/config.h"
#include "core/peft/peft_settings.h"
#include "core/tensor/param_store.h"
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

class PeftModules {
 public:
  // Declares the modules `settings` asks for into `params` (before ParamStore::allocate()).
  // Errors name the setting (e.g. a hidden size with no TT shape).
  void declare(const PeftSettings& settings, const ModelConfig& config, ParamStore& params);
  // Fills the declared tensors (after the backbone weights are loaded): TT cores N(0,1) /
  // sqrt(r_i) * (1/(in+out))^(1/(2p)), TT biases U(+-1/sqrt(out)) (adazeta.md a.1); LoRA A
  // Kaiming-uniform (a = sqrt 5: U(+-1/sqrt(in))), B zeros (baselines.md 2). A pure function of
  // (seed, tensor name order, element index): every rank and replay draw the same values.
  void initialize(ParamStore& params, uint64_t seed) const;

  bool empty() const { return kind_ == PeftKind::None; }
  PeftKind kind() const { return kind_; }
  const PeftSettings& settings() const { return settings_; }
  // Names of every PEFT tensor, in declaration order.
  const std::vector<std::string>& tensor_names() const { return names_; }
  int64_t numel() const { return numel_; }

  // ---- Forward hooks (CPU engine). Each is a no-op when (layer, point/target) carries no module.
  bool has_adapter(int layer, AdapterPoint point) const { return adapter_index(layer, point) >= 0; }
  // h[N, hidden] <- h + s * U(ReLU(D(h))) in place.
  void adapt(int layer, AdapterPoint point, float* h, int N, const ParamStore& params) const;
  // a(x) for a projection's input: x itself without an adapter, else `scratch` holding a(x).
  const float* adapt_input(int layer, AdapterPoint point, const float* x, int N, std::vector<float>& scratch,
                           const ParamStore& params) const;
  // out[N, out] += (alpha / r) * (x[N, in] A^T) B^T.
  void lora(int layer, LoraTarget target, float* out, const float* x, int N, const ParamStore& params) const;

 private:
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

  int adapter_index(int layer, AdapterPoint point) const;
  TtLayer declare_tt(ParamStore& params, const std::string& name, const cpu::TtShape& shape);
  size_t declare_tensor(ParamStore& params, const std::string& name, std::vector<int64_t> shape);

  PeftKind kind_ = PeftKind::None;
  PeftSettings settings_;
  std::vector<Adapter> adapters_;
  std::vector<int> adapter_at_;  // [layer * kAdapterPoints + point] -> index into adapters_, -1 = none
  std::vector<Lora> loras_;
  std::vector<int> lora_at_;     // [layer * 4 + target] -> index into loras_, -1 = none
  std::vector<std::string> names_;
  int64_t numel_ = 0;
};

}  // namespace zotune
