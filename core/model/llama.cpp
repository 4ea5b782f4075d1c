// Llama family forward pass (Llama-2/3, Mistral, Qwen2, SmolLM2): RMSNorm, RoPE
// (rotate_half), grouped-query attention with optional sliding window, SwiGLU MLP.
// Parameter names are Hugging Face's LlamaForCausalLM names.
#include <cmath>

#include "core/model/forward_util.h"
#include "core/model/model.h"
#include "core/util/error.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/rope.h"

namespace zotune {
namespace {

class LlamaModel final : public Model {
 public:
  LlamaModel(const ModelConfig& c, DType dtype) : Model(c, dtype), inv_freq_(rope_inv_freq(c)) {
    const int64_t C = c.hidden_size, I = c.intermediate_size;
    const int64_t q_dim = static_cast<int64_t>(c.num_heads) * c.head_dim;
    const int64_t kv_dim = static_cast<int64_t>(c.num_kv_heads) * c.head_dim;
    declare("model.embed_tokens.weight", {c.vocab_size, C});
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      declare(p + "input_layernorm.weight", {C});
      declare(p + "self_attn.q_proj.weight", {q_dim, C});
      declare(p + "self_attn.k_proj.weight", {kv_dim, C});
      declare(p + "self_attn.v_proj.weight", {kv_dim, C});
      declare(p + "self_attn.o_proj.weight", {C, q_dim});
      if (c.attention_bias || c.qkv_bias) {
        declare(p + "self_attn.q_proj.bias", {q_dim});
        declare(p + "self_attn.k_proj.bias", {kv_dim});
        declare(p + "self_attn.v_proj.bias", {kv_dim});
      }
      if (c.attention_bias) declare(p + "self_attn.o_proj.bias", {C});
      declare(p + "post_attention_layernorm.weight", {C});
      declare(p + "mlp.gate_proj.weight", {I, C});
      declare(p + "mlp.up_proj.weight", {I, C});
      declare(p + "mlp.down_proj.weight", {C, I});
      if (c.mlp_bias) {
        declare(p + "mlp.gate_proj.bias", {I});
        declare(p + "mlp.up_proj.bias", {I});
        declare(p + "mlp.down_proj.bias", {C});
      }
    }
    declare("model.norm.weight", {C});
    if (!c.tie_word_embeddings) declare("lm_head.weight", {c.vocab_size, C});
  }

  std::vector<float> forward(const Batch& batch, const std::vector<int64_t>& rows, KVCache* cache_in) override {
    check_batch(batch);
    const ModelConfig& c = config_;
    const int B = batch.batch, T = batch.seq_len, N = B * T;
    const int C = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
    const int q_dim = c.num_heads * D, kv_dim = c.num_kv_heads * D;
    KVCache local;
    if (cache_in == nullptr) local = make_cache(B, T);
    KVCache& cache = cache_in ? *cache_in : local;
    std::vector<int32_t> positions = decoder_positions(cache, batch);
    arch_decoder_positions(c, positions);

    std::vector<float> adapted;  // a(h) of a pre-adapter (PEFT)
    std::vector<float> x(static_cast<size_t>(N) * C), h(x.size()), q(static_cast<size_t>(N) * q_dim),
        k(static_cast<size_t>(N) * kv_dim), v(k.size()), att(q.size()), gate(static_cast<size_t>(N) * I), up(gate.size());
    cpu::embedding(x.data(), batch.ids.data(), w("model.embed_tokens.weight"), dtype_, N, C);

    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      cpu::rmsnorm(h.data(), x.data(), w(p + "input_layernorm.weight"), dtype_, N, C, c.rms_norm_eps);
      cpu::matmul(q.data(), h.data(), w(p + "self_attn.q_proj.weight"), dtype_, w_or_null(p + "self_attn.q_proj.bias"), dtype_, N, C, q_dim);
      cpu::matmul(k.data(), h.data(), w(p + "self_attn.k_proj.weight"), dtype_, w_or_null(p + "self_attn.k_proj.bias"), dtype_, N, C, kv_dim);
      cpu::matmul(v.data(), h.data(), w(p + "self_attn.v_proj.weight"), dtype_, w_or_null(p + "self_attn.v_proj.bias"), dtype_, N, C, kv_dim);
      peft_.lora(l, LoraTarget::Q, q.data(), h.data(), N, params_);
      peft_.lora(l, LoraTarget::K, k.data(), h.data(), N, params_);
      peft_.lora(l, LoraTarget::V, v.data(), h.data(), N, params_);
      cpu::rope(q.data(), positions.data(), N, c.num_heads, D, inv_freq_.data(), 1.0f);
      cpu::rope(k.data(), positions.data(), N, c.num_kv_heads, D, inv_freq_.data(), 1.0f);
      store_kv(cache, l, k.data(), v.data(), B, T, kv_dim);
      peft_.capture_prefix(l, k.data(), v.data(), N, params_);  // real-act prefix init: post-RoPE keys

      cpu::AttentionShape s;
      s.batch = B;
      s.q_len = T;
      s.kv_len = cache.length + T;
      s.n_heads = c.num_heads;
      s.n_kv_heads = c.num_kv_heads;
      s.head_dim = D;
      s.kv_batch_stride = static_cast<int64_t>(cache.capacity) * kv_dim;
      s.mask_batch_stride = cache.capacity;
      s.causal = true;
      s.q_start = cache.length;
      s.sliding_window = c.sliding_window[l];
      s.scale = 1.0f / std::sqrt(static_cast<float>(D));
      // Prefix-tuning: the prefix keys (stored post-RoPE) precede the cached and new keys, visible
      // to every query; the real tokens keep their positions 0, 1, ...
      cpu::attention(att.data(), q.data(), cache.k[l].data(), cache.v[l].data(), cache.valid.data(), s,
                     peft_.attention_prefix(l, params_));

      cpu::matmul(h.data(), att.data(), w(p + "self_attn.o_proj.weight"), dtype_, w_or_null(p + "self_attn.o_proj.bias"), dtype_, N, q_dim, C);
      peft_.lora(l, LoraTarget::O, h.data(), att.data(), N, params_);
      peft_.adapt(l, AdapterPoint::AttentionOutput, h.data(), N, params_);
      cpu::add_inplace(x.data(), h.data(), x.size());

      cpu::rmsnorm(h.data(), x.data(), w(p + "post_attention_layernorm.weight"), dtype_, N, C, c.rms_norm_eps);
      // AdaZeta's pre-adapters: gate_proj and up_proj each read their own a(h).
      const float* gate_in = peft_.adapt_input(l, AdapterPoint::GateInput, h.data(), N, adapted, params_);
      cpu::matmul(gate.data(), gate_in, w(p + "mlp.gate_proj.weight"), dtype_, w_or_null(p + "mlp.gate_proj.bias"), dtype_, N, C, I);
      const float* up_in = peft_.adapt_input(l, AdapterPoint::UpInput, h.data(), N, adapted, params_);
      cpu::matmul(up.data(), up_in, w(p + "mlp.up_proj.weight"), dtype_, w_or_null(p + "mlp.up_proj.bias"), dtype_, N, C, I);
      apply_activation(c.activation, gate.data(), gate.size());
      for (size_t i = 0; i < gate.size(); ++i) gate[i] *= up[i];
      cpu::matmul(h.data(), gate.data(), w(p + "mlp.down_proj.weight"), dtype_, w_or_null(p + "mlp.down_proj.bias"), dtype_, N, I, C);
      peft_.adapt(l, AdapterPoint::MlpOutput, h.data(), N, params_);
      cpu::add_inplace(x.data(), h.data(), x.size());
    }
    cache.length += T;

    if (c.head == HeadKind::Base) {
      cpu::rmsnorm(x.data(), x.data(), w("model.norm.weight"), dtype_, N, C, c.rms_norm_eps);
      return x;
    }
    // Only the requested rows pay for the final norm and the vocabulary projection.
    std::vector<float> sel = gather_rows(x, rows, N, C);
    const int n = static_cast<int>(sel.size() / C);
    cpu::rmsnorm(sel.data(), sel.data(), w("model.norm.weight"), dtype_, n, C, c.rms_norm_eps);
    std::vector<float> logits(static_cast<size_t>(n) * c.vocab_size);
    const void* head = c.tie_word_embeddings ? w("model.embed_tokens.weight") : w("lm_head.weight");
    cpu::matmul(logits.data(), sel.data(), head, dtype_, nullptr, dtype_, n, C, c.vocab_size);
    return logits;
  }

 private:
  std::vector<float> inv_freq_;
};

}  // namespace

std::unique_ptr<Model> create_llama(const ModelConfig& config, DType dtype) {
  check(config.head == HeadKind::CausalLM || config.head == HeadKind::Base,
        config.source + ": Llama-family models support the causal LM head only (asked for " + head_name(config.head) + ")");
  return std::make_unique<LlamaModel>(config, dtype);
}

}  // namespace zotune
