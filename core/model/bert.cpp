// BERT and RoBERTa forward pass: word + position + token-type embeddings, post-LN encoder
// blocks with GELU, and one of: the MLM head (tied decoder), a classification head
// (BERT: pooler + classifier; RoBERTa: dense + tanh + out_proj on <s>), or none.
// RoBERTa numbers positions from padding_idx + 1 over non-padding tokens.
// Names are Hugging Face's (bert.* / roberta.* prefixes, as the *For* classes save them).
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

class BertModel final : public Model {
 public:
  BertModel(const ModelConfig& c, DType dtype)
      : Model(c, dtype), roberta_(c.arch == Architecture::RoBERTa), prefix_(roberta_ ? "roberta." : "bert.") {
    const int64_t C = c.hidden_size, F = c.intermediate_size;
    const std::string e = prefix_ + "embeddings.";
    declare(e + "word_embeddings.weight", {c.vocab_size, C});
    declare(e + "position_embeddings.weight", {c.max_position, C});
    declare(e + "token_type_embeddings.weight", {std::max(c.type_vocab_size, 1), C});
    declare(e + "LayerNorm.weight", {C});
    declare(e + "LayerNorm.bias", {C});
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = prefix_ + "encoder.layer." + std::to_string(l) + ".";
      for (const char* proj : {"query", "key", "value"}) {
        declare(p + "attention.self." + proj + ".weight", {C, C});
        declare(p + "attention.self." + proj + ".bias", {C});
      }
      declare(p + "attention.output.dense.weight", {C, C});
      declare(p + "attention.output.dense.bias", {C});
      declare(p + "attention.output.LayerNorm.weight", {C});
      declare(p + "attention.output.LayerNorm.bias", {C});
      declare(p + "intermediate.dense.weight", {F, C});
      declare(p + "intermediate.dense.bias", {F});
      declare(p + "output.dense.weight", {C, F});
      declare(p + "output.dense.bias", {C});
      declare(p + "output.LayerNorm.weight", {C});
      declare(p + "output.LayerNorm.bias", {C});
    }
    switch (c.head) {
      case HeadKind::MaskedLM:
        if (roberta_) {
          declare("lm_head.dense.weight", {C, C});
          declare("lm_head.dense.bias", {C});
          declare("lm_head.layer_norm.weight", {C});
          declare("lm_head.layer_norm.bias", {C});
          declare("lm_head.bias", {c.vocab_size});
          if (!c.tie_word_embeddings) declare("lm_head.decoder.weight", {c.vocab_size, C});
        } else {
          declare("cls.predictions.transform.dense.weight", {C, C});
          declare("cls.predictions.transform.dense.bias", {C});
          declare("cls.predictions.transform.LayerNorm.weight", {C});
          declare("cls.predictions.transform.LayerNorm.bias", {C});
          declare("cls.predictions.bias", {c.vocab_size});
          if (!c.tie_word_embeddings) declare("cls.predictions.decoder.weight", {c.vocab_size, C});
        }
        break;
      case HeadKind::SequenceClassification:
        if (roberta_) {
          declare("classifier.dense.weight", {C, C});
          declare("classifier.dense.bias", {C});
          declare("classifier.out_proj.weight", {c.num_labels, C});
          declare("classifier.out_proj.bias", {c.num_labels});
        } else {
          declare("bert.pooler.dense.weight", {C, C});
          declare("bert.pooler.dense.bias", {C});
          declare("classifier.weight", {c.num_labels, C});
          declare("classifier.bias", {c.num_labels});
        }
        break;
      case HeadKind::Base:
      case HeadKind::CausalLM: break;
    }
  }

  std::vector<float> forward(const Batch& batch, const std::vector<int64_t>& rows, KVCache* cache) override {
    check(cache == nullptr, std::string(architecture_name(config_.arch)) + " is an encoder: it takes no KV cache");
    check_batch(batch);
    const ModelConfig& c = config_;
    const int B = batch.batch, T = batch.seq_len, N = B * T, C = c.hidden_size, F = c.intermediate_size;
    const float eps = c.layer_norm_eps;
    const std::string e = prefix_ + "embeddings.";

    const std::vector<int32_t> positions = encoder_positions(c, batch);
    std::vector<int32_t> types(N, 0);
    if (!batch.token_types.empty()) types = batch.token_types;
    std::vector<float> x(static_cast<size_t>(N) * C), h(x.size()), q(x.size()), k(x.size()), v(x.size()), att(x.size()),
        ff(static_cast<size_t>(N) * F);
    cpu::embedding(x.data(), batch.ids.data(), w(e + "word_embeddings.weight"), dtype_, N, C);
    cpu::embedding_add(x.data(), positions.data(), w(e + "position_embeddings.weight"), dtype_, N, C);
    cpu::embedding_add(x.data(), types.data(), w(e + "token_type_embeddings.weight"), dtype_, N, C);
    cpu::layernorm(x.data(), x.data(), w(e + "LayerNorm.weight"), w(e + "LayerNorm.bias"), dtype_, N, C, eps);

    cpu::AttentionShape s;
    s.batch = B;
    s.q_len = s.kv_len = T;
    s.n_heads = s.n_kv_heads = c.num_heads;
    s.head_dim = c.head_dim;
    s.kv_batch_stride = static_cast<int64_t>(T) * C;
    s.mask_batch_stride = T;
    s.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = prefix_ + "encoder.layer." + std::to_string(l) + ".";
      const std::string a = p + "attention.";
      cpu::matmul(q.data(), x.data(), w(a + "self.query.weight"), dtype_, w(a + "self.query.bias"), dtype_, N, C, C);
      cpu::matmul(k.data(), x.data(), w(a + "self.key.weight"), dtype_, w(a + "self.key.bias"), dtype_, N, C, C);
      cpu::matmul(v.data(), x.data(), w(a + "self.value.weight"), dtype_, w(a + "self.value.bias"), dtype_, N, C, C);
      peft_.lora(l, LoraTarget::Q, q.data(), x.data(), N, params_);
      peft_.lora(l, LoraTarget::K, k.data(), x.data(), N, params_);
      peft_.lora(l, LoraTarget::V, v.data(), x.data(), N, params_);
      peft_.capture_prefix(l, k.data(), v.data(), N, params_);  // real-act prefix init
      // Prefix-tuning: the layer's prefix keys/values precede the tokens' keys, visible to every token.
      cpu::attention(att.data(), q.data(), k.data(), v.data(), batch.mask.data(), s, peft_.attention_prefix(l, params_));
      cpu::matmul(h.data(), att.data(), w(a + "output.dense.weight"), dtype_, w(a + "output.dense.bias"), dtype_, N, C, C);
      peft_.lora(l, LoraTarget::O, h.data(), att.data(), N, params_);
      // Houlsby adapters: LN(a(W h) + residual), here and after the FFN output projection.
      peft_.adapt(l, AdapterPoint::AttentionOutput, h.data(), N, params_);
      cpu::add_inplace(x.data(), h.data(), x.size());
      cpu::layernorm(x.data(), x.data(), w(a + "output.LayerNorm.weight"), w(a + "output.LayerNorm.bias"), dtype_, N, C, eps);

      cpu::matmul(ff.data(), x.data(), w(p + "intermediate.dense.weight"), dtype_, w(p + "intermediate.dense.bias"), dtype_, N, C, F);
      apply_activation(c.activation, ff.data(), ff.size());
      cpu::matmul(h.data(), ff.data(), w(p + "output.dense.weight"), dtype_, w(p + "output.dense.bias"), dtype_, N, F, C);
      peft_.adapt(l, AdapterPoint::MlpOutput, h.data(), N, params_);
      cpu::add_inplace(x.data(), h.data(), x.size());
      cpu::layernorm(x.data(), x.data(), w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias"), dtype_, N, C, eps);
    }

    switch (c.head) {
      case HeadKind::MaskedLM: return mlm_head(x, rows, N);
      case HeadKind::SequenceClassification: return classification_head(x, B, T);
      case HeadKind::Base:
      case HeadKind::CausalLM: break;
    }
    return x;
  }

 private:
  // Dense + activation + LayerNorm, then the decoder tied to the word embeddings, on the
  // requested rows only.
  std::vector<float> mlm_head(const std::vector<float>& x, const std::vector<int64_t>& rows, int N) {
    const ModelConfig& c = config_;
    const int C = c.hidden_size;
    const std::string t = roberta_ ? "lm_head." : "cls.predictions.transform.";
    const std::string ln = roberta_ ? "lm_head.layer_norm." : "cls.predictions.transform.LayerNorm.";
    std::vector<float> sel = gather_rows(x, rows, N, C);
    const int n = static_cast<int>(sel.size() / C);
    std::vector<float> h(sel.size());
    cpu::matmul(h.data(), sel.data(), w(t + "dense.weight"), dtype_, w(t + "dense.bias"), dtype_, n, C, C);
    apply_activation(c.activation, h.data(), h.size());
    cpu::layernorm(h.data(), h.data(), w(ln + "weight"), w(ln + "bias"), dtype_, n, C, c.layer_norm_eps);
    const std::string decoder = roberta_ ? "lm_head.decoder.weight" : "cls.predictions.decoder.weight";
    const void* emb = c.tie_word_embeddings ? w(prefix_ + "embeddings.word_embeddings.weight") : w(decoder);
    std::vector<float> logits(static_cast<size_t>(n) * c.vocab_size);
    cpu::matmul(logits.data(), h.data(), emb, dtype_, w(roberta_ ? "lm_head.bias" : "cls.predictions.bias"), dtype_, n, C,
                c.vocab_size);
    return logits;
  }

  // The first token's hidden state ([CLS] / <s>) through the pooler and classifier.
  std::vector<float> classification_head(const std::vector<float>& x, int B, int T) {
    const ModelConfig& c = config_;
    const int C = c.hidden_size;
    std::vector<int64_t> first(B);
    for (int b = 0; b < B; ++b) first[b] = static_cast<int64_t>(b) * T;
    std::vector<float> sel = gather_rows(x, first, static_cast<int64_t>(B) * T, C), pooled(sel.size());
    const std::string dense = roberta_ ? "classifier.dense." : "bert.pooler.dense.";
    const std::string out = roberta_ ? "classifier.out_proj." : "classifier.";
    cpu::matmul(pooled.data(), sel.data(), w(dense + "weight"), dtype_, w(dense + "bias"), dtype_, B, C, C);
    cpu::tanh_inplace(pooled.data(), pooled.size());
    std::vector<float> logits(static_cast<size_t>(B) * c.num_labels);
    cpu::matmul(logits.data(), pooled.data(), w(out + "weight"), dtype_, w(out + "bias"), dtype_, B, C, c.num_labels);
    return logits;
  }

  bool roberta_;
  std::string prefix_;
};

}  // namespace

std::unique_ptr<Model> create_bert(const ModelConfig& config, DType dtype) {
  check(config.head != HeadKind::CausalLM, config.source + ": BERT/RoBERTa models have no causal LM head");
  return std::make_unique<BertModel>(config, dtype);
}

}  // namespace zotune
