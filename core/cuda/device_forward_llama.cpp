// The Llama family on the device: the straight line of core/model/llama.cpp over kernels/cuda.
// q, k and v (and gate and up) are adjacent in the flat parameter buffer, declared in that
// order, so each group runs as one GEMM over the concatenated [q_dim + 2 kv_dim, C] (and
// [2I, C]) weight, and attention reads q, k, v as column slices of its output.
#include <cmath>
#include <string>

#include "core/cuda/device_forward.h"
#include "core/cuda/device_peft.h"
#include "core/util/error.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/norm.cuh"
#include "kernels/cuda/rope.cuh"

namespace zotune::cuda {

namespace {

// The address of `first` when `second` starts right where a [rows, C] tensor `first` ends.
const void* fused(const DeviceForward& f, const std::string& first, const std::string& second, int64_t first_rows,
                  int64_t C) {
  const char* a = static_cast<const char*>(f.weight(first));
  const char* b = static_cast<const char*>(f.weight(second));
  check(b == a + first_rows * C * static_cast<int64_t>(dtype_size(f.type)),
        "CUDA engine: " + second + " does not follow " + first + " in the parameter buffer");
  return a;
}

}  // namespace

float* device_forward_llama(const DeviceForward& f) {
  const ModelConfig& c = *f.config;
  const DType t = f.type;
  const size_t ts = dtype_size(t);
  const int N = f.tokens(), C = c.hidden_size, I = c.intermediate_size, D = c.head_dim;
  const int q_dim = c.num_heads * D, kv_dim = c.num_kv_heads * D, qkv_dim = q_dim + 2 * kv_dim;
  check(c.activation == "silu" || c.activation == "swish",
        c.source + ": the CUDA engine runs the SwiGLU MLP with silu; hidden_act is '" + c.activation + "'");
  Arena& a = *f.arena;
  void* s = f.stream;

  float* x = a.take<float>(static_cast<size_t>(N) * C);
  void* h = a.take(static_cast<size_t>(N) * C * ts);
  void* qkv = a.take(static_cast<size_t>(N) * qkv_dim * ts);
  void* att = a.take(static_cast<size_t>(N) * q_dim * ts);
  void* gate_up = a.take(static_cast<size_t>(N) * 2 * I * ts);
  void* ff = a.take(static_cast<size_t>(N) * I * ts);
  embedding(x, f.ids, f.weight("model.embed_tokens.weight"), t, N, C, s);

  char* const qkv_bytes = static_cast<char*>(qkv);
  void* const q = qkv_bytes;
  void* const k = qkv_bytes + static_cast<size_t>(q_dim) * ts;
  void* const v = qkv_bytes + static_cast<size_t>(q_dim + kv_dim) * ts;
  cpu::AttentionShape shape;
  shape.batch = f.batch;
  shape.q_len = shape.kv_len = f.seq_len;
  shape.n_heads = c.num_heads;
  shape.n_kv_heads = c.num_kv_heads;
  shape.head_dim = D;
  shape.kv_batch_stride = static_cast<int64_t>(f.seq_len) * qkv_dim;
  shape.mask_batch_stride = f.seq_len;
  shape.causal = true;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(D));
  const AttentionStrides strides{qkv_dim, qkv_dim, q_dim};

  // h: the normalized stream each sublayer reads. A sublayer's residual add and the RMSNorm after
  // it run as one kernel (residual_add_rmsnorm); the first layer's input norm stands alone.
  auto input_norm = [&](int l) { return f.weight("model.layers." + std::to_string(l) + ".input_layernorm.weight"); };
  if (c.num_layers > 0) rmsnorm(h, t, x, input_norm(0), t, N, C, c.rms_norm_eps, s);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const std::string sa = p + "self_attn.";
    const void* w_qkv = fused(f, sa + "q_proj.weight", sa + "k_proj.weight", q_dim, C);
    fused(f, sa + "k_proj.weight", sa + "v_proj.weight", kv_dim, C);
    matmul(*f.blas, qkv, t, h, w_qkv, t, N, C, qkv_dim);
    if (f.weight_or_null(sa + "q_proj.bias")) {
      const void* b = fused(f, sa + "q_proj.bias", sa + "k_proj.bias", q_dim, 1);
      fused(f, sa + "k_proj.bias", sa + "v_proj.bias", kv_dim, 1);
      bias_activation(qkv, t, b, N, qkv_dim, Activation::Identity, s);
    }
    // LoRA on the column slices of the fused output, before RoPE (as the CPU forward).
    peft_lora(f, l, LoraTarget::Q, q, qkv_dim, h, t, N);
    peft_lora(f, l, LoraTarget::K, k, qkv_dim, h, t, N);
    peft_lora(f, l, LoraTarget::V, v, qkv_dim, h, t, N);
    // k's heads follow q's in each fused row: one launch rotates both.
    rope(q, t, f.positions, N, c.num_heads + c.num_kv_heads, D, qkv_dim, f.inv_freq, 1.0f, s);
    shape.sliding_window = c.sliding_window[l];
    device_decoder_attention(f, l, att, static_cast<size_t>(N) * q_dim, qkv, static_cast<size_t>(N) * qkv_dim, q, k, v, shape,
                             strides);
    matmul(*f.blas, h, t, att, f.weight(sa + "o_proj.weight"), t, N, q_dim, C);
    peft_lora(f, l, LoraTarget::O, h, C, att, t, N);
    // An output adapter reads W h + b: it adds the bias itself and leaves residual_add none.
    const void* o_bias = f.weight_or_null(sa + "o_proj.bias");
    residual_add_rmsnorm(x, h, h, peft_adapt_output(f, l, AdapterPoint::AttentionOutput, h, o_bias, N),
                         f.weight(p + "post_attention_layernorm.weight"), t, N, C, c.rms_norm_eps, s);

    const void* w_gate_up = fused(f, p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", I, C);
    if (peft_has_adapter(f, l, AdapterPoint::GateInput) || peft_has_adapter(f, l, AdapterPoint::UpInput)) {
      // AdaZeta's pre-adapters: gate_proj and up_proj each read their own a(h), so two GEMMs
      // into the halves of gate_up (ld 2I). One scratch serves both: stream order runs the
      // gate GEMM before the up adapter overwrites it.
      const size_t mark = a.mark();
      void* adapted = a.take(static_cast<size_t>(N) * C * ts);
      const void* gate_in = peft_adapt_input(f, l, AdapterPoint::GateInput, h, N, adapted);
      matmul(*f.blas, gate_up, t, gate_in, w_gate_up, t, N, C, I, 2 * I);
      const void* up_in = peft_adapt_input(f, l, AdapterPoint::UpInput, h, N, adapted);
      void* up_half = static_cast<char*>(gate_up) + static_cast<size_t>(I) * ts;
      matmul(*f.blas, up_half, t, up_in, f.weight(p + "mlp.up_proj.weight"), t, N, C, I, 2 * I);
      a.rewind(mark);
    } else {
      matmul(*f.blas, gate_up, t, h, w_gate_up, t, N, C, 2 * I);
    }
    if (f.weight_or_null(p + "mlp.gate_proj.bias"))
      bias_activation(gate_up, t, fused(f, p + "mlp.gate_proj.bias", p + "mlp.up_proj.bias", I, 1), N, 2 * I,
                      Activation::Identity, s);
    silu_mul(ff, gate_up, static_cast<char*>(gate_up) + static_cast<size_t>(I) * ts, t, N, I, 2 * I, s);
    matmul(*f.blas, h, t, ff, f.weight(p + "mlp.down_proj.weight"), t, N, I, C);
    const void* down_bias =
        peft_adapt_output(f, l, AdapterPoint::MlpOutput, h, f.weight_or_null(p + "mlp.down_proj.bias"), N);
    if (l + 1 < c.num_layers)
      residual_add_rmsnorm(x, h, h, down_bias, input_norm(l + 1), t, N, C, c.rms_norm_eps, s);
    else
      residual_add(x, h, t, down_bias, N, C, s);  // the final norm reads x (all rows, or the selected ones)
  }

  if (c.head == HeadKind::Base) {
    float* out = a.take<float>(static_cast<size_t>(N) * C);
    rmsnorm(out, DType::F32, x, f.weight("model.norm.weight"), t, N, C, c.rms_norm_eps, s);
    return out;
  }
  // Only the requested rows pay for the final norm and the vocabulary projection.
  int n = N;
  float* sel = select_rows(f, x, C, &n);
  void* st = a.take(static_cast<size_t>(n) * C * ts);
  rmsnorm(st, t, sel, f.weight("model.norm.weight"), t, n, C, c.rms_norm_eps, s);
  float* logits = a.take<float>(static_cast<size_t>(n) * c.vocab_size);
  const void* head = c.tie_word_embeddings ? f.weight("model.embed_tokens.weight") : f.weight("lm_head.weight");
  matmul(*f.blas, logits, DType::F32, st, head, t, n, C, c.vocab_size);
  return logits;
}

}  // namespace zotune::cuda
