// OPT forward pass: learned positions (offset 2), LayerNorm before (OPT-125m, 1.3b, ...) or
// after (OPT-350m) each block, ReLU MLP, and project_in/project_out when
// word_embed_proj_dim differs from hidden_size. Names are Hugging Face's OPTForCausalLM.
#include <cmath>

#include "core/model/forward_util.h"
#include "core/model/model.h"
#include "core/util/error.h"
#include "kernels/cpu/activation.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/norm.h"

namespace zotune {
namespace {

class OptModel final : public Model {
 public:
  OptModel(const ModelConfig& c, DType dtype) : Model(c, dtype) {
    const int64_t C = c.hidden_size, F = c.intermediate_size, E = c.word_embed_proj_dim;
    const std::string d = "model.decoder.";
    declare(d + "embed_tokens.weight", {c.vocab_size, E});
    declare(d + "embed_positions.weight", {c.max_position + kOptPositionOffset, C});
    if (E != C) {
      declare(d + "project_in.weight", {C, E});
      declare(d + "project_out.weight", {E, C});
    }
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = d + "layers." + std::to_string(l) + ".";
      for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
        declare(p + "self_attn." + proj + ".weight", {C, C});
        if (c.enable_bias) declare(p + "self_attn." + proj + ".bias", {C});
      }
      declare(p + "self_attn_layer_norm.weight", {C});
      declare(p + "self_attn_layer_norm.bias", {C});
      declare(p + "fc1.weight", {F, C});
      declare(p + "fc2.weight", {C, F});
      if (c.enable_bias) {
        declare(p + "fc1.bias", {F});
        declare(p + "fc2.bias", {C});
      }
      declare(p + "final_layer_norm.weight", {C});
      declare(p + "final_layer_norm.bias", {C});
    }
    if (c.final_layer_norm) {
      declare(d + "final_layer_norm.weight", {C});
      declare(d + "final_layer_norm.bias", {C});
    }
    if (!c.tie_word_embeddings) declare("lm_head.weight", {c.vocab_size, E});
  }

  std::vector<float> forward(const Batch& batch, const std::vector<int64_t>& rows, KVCache* cache_in) override {
    check_batch(batch);
    const ModelConfig& c = config_;
    const int B = batch.batch, T = batch.seq_len, N = B * T;
    const int C = c.hidden_size, F = c.intermediate_size, E = c.word_embed_proj_dim;
    const float eps = c.layer_norm_eps;
    const std::string d = "model.decoder.";
    KVCache local;
    if (cache_in == nullptr) local = make_cache(B, T);
    KVCache& cache = cache_in ? *cache_in : local;
    std::vector<int32_t> positions = decoder_positions(cache, batch);
    arch_decoder_positions(c, positions);

    std::vector<float> adapted;  // a(h) of a pre-adapter (PEFT)
    std::vector<float> x(static_cast<size_t>(N) * C), h(x.size()), q(x.size()), k(x.size()), v(x.size()), att(x.size()),
        ff(static_cast<size_t>(N) * F);
    if (E != C) {
      std::vector<float> e(static_cast<size_t>(N) * E);
      cpu::embedding(e.data(), batch.ids.data(), w(d + "embed_tokens.weight"), dtype_, N, E);
      cpu::matmul(x.data(), e.data(), w(d + "project_in.weight"), dtype_, nullptr, dtype_, N, E, C);
    } else {
      cpu::embedding(x.data(), batch.ids.data(), w(d + "embed_tokens.weight"), dtype_, N, C);
    }
    cpu::embedding_add(x.data(), positions.data(), w(d + "embed_positions.weight"), dtype_, N, C);

    const bool pre = c.do_layer_norm_before;
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = d + "layers." + std::to_string(l) + ".";
      const std::string ln1 = p + "self_attn_layer_norm.", ln2 = p + "final_layer_norm.";
      // Attention block: h = LN(x) before (pre-LN) or x itself (post-LN, normalized after).
      if (pre) {
        cpu::layernorm(h.data(), x.data(), w(ln1 + "weight"), w(ln1 + "bias"), dtype_, N, C, eps);
      } else {
        h = x;
      }
      cpu::matmul(q.data(), h.data(), w(p + "self_attn.q_proj.weight"), dtype_, w_or_null(p + "self_attn.q_proj.bias"), dtype_, N, C, C);
      cpu::matmul(k.data(), h.data(), w(p + "self_attn.k_proj.weight"), dtype_, w_or_null(p + "self_attn.k_proj.bias"), dtype_, N, C, C);
      cpu::matmul(v.data(), h.data(), w(p + "self_attn.v_proj.weight"), dtype_, w_or_null(p + "self_attn.v_proj.bias"), dtype_, N, C, C);
      peft_.lora(l, LoraTarget::Q, q.data(), h.data(), N, params_);
      peft_.lora(l, LoraTarget::K, k.data(), h.data(), N, params_);
      peft_.lora(l, LoraTarget::V, v.data(), h.data(), N, params_);
      store_kv(cache, l, k.data(), v.data(), B, T, C);
      peft_.capture_prefix(l, k.data(), v.data(), N, params_);  // real-act prefix init
      cpu::AttentionShape s;
      s.batch = B;
      s.q_len = T;
      s.kv_len = cache.length + T;
      s.n_heads = s.n_kv_heads = c.num_heads;
      s.head_dim = c.head_dim;
      s.kv_batch_stride = static_cast<int64_t>(cache.capacity) * C;
      s.mask_batch_stride = cache.capacity;
      s.causal = true;
      s.q_start = cache.length;
      s.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
      // Prefix-tuning as MeZO's OPT hook: the prefix keys/values are concatenated after the k/v
      // projections, always visible; positions were added to the embeddings, so real tokens keep 0, 1, ...
      cpu::attention(att.data(), q.data(), cache.k[l].data(), cache.v[l].data(), cache.valid.data(), s,
                     peft_.attention_prefix(l, params_));
      cpu::matmul(h.data(), att.data(), w(p + "self_attn.out_proj.weight"), dtype_, w_or_null(p + "self_attn.out_proj.bias"), dtype_, N, C, C);
      peft_.lora(l, LoraTarget::O, h.data(), att.data(), N, params_);
      peft_.adapt(l, AdapterPoint::AttentionOutput, h.data(), N, params_);
      cpu::add_inplace(x.data(), h.data(), x.size());
      if (!pre) cpu::layernorm(x.data(), x.data(), w(ln1 + "weight"), w(ln1 + "bias"), dtype_, N, C, eps);

      // MLP block.
      if (pre) {
        cpu::layernorm(h.data(), x.data(), w(ln2 + "weight"), w(ln2 + "bias"), dtype_, N, C, eps);
      } else {
        h = x;
      }
      const float* fc1_in = peft_.adapt_input(l, AdapterPoint::MlpInput, h.data(), N, adapted, params_);
      cpu::matmul(ff.data(), fc1_in, w(p + "fc1.weight"), dtype_, w_or_null(p + "fc1.bias"), dtype_, N, C, F);
      apply_activation(c.activation, ff.data(), ff.size());
      cpu::matmul(h.data(), ff.data(), w(p + "fc2.weight"), dtype_, w_or_null(p + "fc2.bias"), dtype_, N, F, C);
      peft_.adapt(l, AdapterPoint::MlpOutput, h.data(), N, params_);
      cpu::add_inplace(x.data(), h.data(), x.size());
      if (!pre) cpu::layernorm(x.data(), x.data(), w(ln2 + "weight"), w(ln2 + "bias"), dtype_, N, C, eps);
    }
    cache.length += T;

    const bool all_rows = c.head == HeadKind::Base;
    std::vector<float> sel = all_rows ? x : gather_rows(x, rows, N, C);
    const int n = static_cast<int>(sel.size() / C);
    if (c.final_layer_norm)
      cpu::layernorm(sel.data(), sel.data(), w(d + "final_layer_norm.weight"), w(d + "final_layer_norm.bias"), dtype_, n, C, eps);
    if (E != C) {
      std::vector<float> projected(static_cast<size_t>(n) * E);
      cpu::matmul(projected.data(), sel.data(), w(d + "project_out.weight"), dtype_, nullptr, dtype_, n, C, E);
      sel.swap(projected);
    }
    if (all_rows) return sel;
    std::vector<float> logits(static_cast<size_t>(n) * c.vocab_size);
    const void* head = c.tie_word_embeddings ? w(d + "embed_tokens.weight") : w("lm_head.weight");
    cpu::matmul(logits.data(), sel.data(), head, dtype_, nullptr, dtype_, n, E, c.vocab_size);
    return logits;
  }
};

}  // namespace

std::unique_ptr<Model> create_opt(const ModelConfig& config, DType dtype) {
  check(config.head == HeadKind::CausalLM || config.head == HeadKind::Base,
        config.source + ": OPT models support the causal LM head only (asked for " + head_name(config.head) + ")");
  return std::make_unique<OptModel>(config, dtype);
}

}  // namespace zotune
