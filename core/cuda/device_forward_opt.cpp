// OPT on the device: the straight line of core/model/opt.cpp over kernels/cuda.
#include <cmath>
#include <string>

#include "core/cuda/device_forward.h"
#include "core/cuda/device_peft.h"
#include "core/util/error.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/norm.cuh"

namespace zotune::cuda {

float* device_forward_opt(const DeviceForward& f) {
  const ModelConfig& c = *f.config;
  const DType t = f.type;
  const size_t ts = dtype_size(t);
  const int N = f.tokens(), C = c.hidden_size, F = c.intermediate_size, E = c.word_embed_proj_dim;
  const float eps = c.layer_norm_eps;
  const std::string d = "model.decoder.";
  const Activation act = activation_from_name(c.activation);
  Arena& a = *f.arena;
  void* s = f.stream;

  float* x = a.take<float>(static_cast<size_t>(N) * C);  // the residual stream
  void* h = a.take(static_cast<size_t>(N) * C * ts);
  // q, k, v back to back in one block (device_attention may convert it at once).
  const size_t NC = static_cast<size_t>(N) * C;
  char* qkv_block = static_cast<char*>(a.take(3 * NC * ts));
  void* q = qkv_block;
  void* k = qkv_block + NC * ts;
  void* v = qkv_block + 2 * NC * ts;
  void* att = a.take(static_cast<size_t>(N) * C * ts);
  void* ff = a.take(static_cast<size_t>(N) * F * ts);

  if (E != C) {
    float* e = a.take<float>(static_cast<size_t>(N) * E);
    void* et = a.take(static_cast<size_t>(N) * E * ts);
    embedding(e, f.ids, f.weight(d + "embed_tokens.weight"), t, N, E, s);
    convert(e, DType::F32, et, t, static_cast<size_t>(N) * E, s);
    matmul(*f.blas, x, DType::F32, et, f.weight(d + "project_in.weight"), t, N, E, C);
  } else {
    embedding(x, f.ids, f.weight(d + "embed_tokens.weight"), t, N, C, s);
  }
  embedding_add(x, f.positions, f.weight(d + "embed_positions.weight"), t, N, C, s);

  cpu::AttentionShape shape;
  shape.batch = f.batch;
  shape.q_len = shape.kv_len = f.seq_len;
  shape.n_heads = shape.n_kv_heads = c.num_heads;
  shape.head_dim = c.head_dim;
  shape.kv_batch_stride = static_cast<int64_t>(f.seq_len) * C;
  shape.mask_batch_stride = f.seq_len;
  shape.causal = true;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const AttentionStrides strides{C, C, C};

  const bool pre = c.do_layer_norm_before;
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = d + "layers." + std::to_string(l) + ".";
    const std::string ln1 = p + "self_attn_layer_norm.", ln2 = p + "final_layer_norm.";
    // Attention block: h = LN(x) (pre-LN) or x itself (post-LN, normalized after the residual).
    if (pre) {
      layernorm(h, t, x, f.weight(ln1 + "weight"), f.weight(ln1 + "bias"), t, N, C, eps, s);
    } else {
      convert(x, DType::F32, h, t, static_cast<size_t>(N) * C, s);
    }
    void* qkv[3] = {q, k, v};
    const char* names[3] = {"q_proj", "k_proj", "v_proj"};
    for (int i = 0; i < 3; ++i) {
      const std::string w = p + "self_attn." + names[i] + ".";
      matmul(*f.blas, qkv[i], t, h, f.weight(w + "weight"), t, N, C, C);
      if (const void* b = f.weight_or_null(w + "bias")) bias_activation(qkv[i], t, b, N, C, Activation::Identity, s);
    }
    peft_lora(f, l, LoraTarget::Q, q, C, h, t, N);
    peft_lora(f, l, LoraTarget::K, k, C, h, t, N);
    peft_lora(f, l, LoraTarget::V, v, C, h, t, N);
    device_decoder_attention(f, l, att, NC, qkv_block, 3 * NC, q, k, v, shape, strides);
    matmul(*f.blas, h, t, att, f.weight(p + "self_attn.out_proj.weight"), t, N, C, C);
    peft_lora(f, l, LoraTarget::O, h, C, att, t, N);
    // An output adapter reads W h + b: it adds the bias itself and leaves residual_add none.
    const void* out_bias = f.weight_or_null(p + "self_attn.out_proj.bias");
    residual_add(x, h, t, peft_adapt_output(f, l, AdapterPoint::AttentionOutput, h, out_bias, N), N, C, s);
    if (!pre) layernorm(x, DType::F32, x, f.weight(ln1 + "weight"), f.weight(ln1 + "bias"), t, N, C, eps, s);

    // MLP block.
    if (pre) {
      layernorm(h, t, x, f.weight(ln2 + "weight"), f.weight(ln2 + "bias"), t, N, C, eps, s);
    } else {
      convert(x, DType::F32, h, t, static_cast<size_t>(N) * C, s);
    }
    {
      // AdaZeta's pre-adapter on fc1's input (code placement); scratch for a(h) only then.
      const size_t mark = a.mark();
      void* adapted =
          peft_has_adapter(f, l, AdapterPoint::MlpInput) ? a.take(static_cast<size_t>(N) * C * ts) : nullptr;
      const void* fc1_in = peft_adapt_input(f, l, AdapterPoint::MlpInput, h, N, adapted);
      matmul(*f.blas, ff, t, fc1_in, f.weight(p + "fc1.weight"), t, N, C, F);
      a.rewind(mark);
    }
    bias_activation(ff, t, f.weight_or_null(p + "fc1.bias"), N, F, act, s);
    matmul(*f.blas, h, t, ff, f.weight(p + "fc2.weight"), t, N, F, C);
    const void* fc2_bias = f.weight_or_null(p + "fc2.bias");
    residual_add(x, h, t, peft_adapt_output(f, l, AdapterPoint::MlpOutput, h, fc2_bias, N), N, C, s);
    if (!pre) layernorm(x, DType::F32, x, f.weight(ln2 + "weight"), f.weight(ln2 + "bias"), t, N, C, eps, s);
  }

  const bool base = c.head == HeadKind::Base;
  int n = N;
  float* sel = base ? x : select_rows(f, x, C, &n);
  // Final norm (when the config has one) into the GEMM dtype, then project_out, then the tied
  // or separate vocabulary projection with fp32 logits.
  void* st = a.take(static_cast<size_t>(n) * C * ts);
  if (c.final_layer_norm) {
    layernorm(st, t, sel, f.weight(d + "final_layer_norm.weight"), f.weight(d + "final_layer_norm.bias"), t, n, C, eps, s);
  } else {
    convert(sel, DType::F32, st, t, static_cast<size_t>(n) * C, s);
  }
  if (base) {
    if (E == C) {
      float* out = a.take<float>(static_cast<size_t>(n) * C);
      if (c.final_layer_norm)
        layernorm(out, DType::F32, sel, f.weight(d + "final_layer_norm.weight"), f.weight(d + "final_layer_norm.bias"), t, n,
                  C, eps, s);
      else
        return sel;
      return out;
    }
    float* out = a.take<float>(static_cast<size_t>(n) * E);
    matmul(*f.blas, out, DType::F32, st, f.weight(d + "project_out.weight"), t, n, C, E);
    return out;
  }
  const void* head_in = st;
  if (E != C) {
    void* projected = a.take(static_cast<size_t>(n) * E * ts);
    matmul(*f.blas, projected, t, st, f.weight(d + "project_out.weight"), t, n, C, E);
    head_in = projected;
  }
  float* logits = a.take<float>(static_cast<size_t>(n) * c.vocab_size);
  const void* head = c.tie_word_embeddings ? f.weight(d + "embed_tokens.weight") : f.weight("lm_head.weight");
  matmul(*f.blas, logits, DType::F32, head_in, head, t, n, E, c.vocab_size);
  return logits;
}

}  // namespace zotune::cuda
