// BERT and RoBERTa on the device: the straight line of core/model/bert.cpp over kernels/cuda.
// Post-LN: the fp32 stream is normalized in place and converted once per block into the GEMM
// dtype. Heads with a bias on their last GEMM (MLM decoder, classifier) add it in the storage
// dtype, as PyTorch does, and widen the logits to fp32 afterwards.
#include <cmath>
#include <string>

#include "core/cuda/device_forward.h"
#include "core/cuda/device_peft.h"
#include "core/cuda/device_prefix.h"
#include "core/util/error.h"
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/embedding.cuh"
#include "kernels/cuda/gather.cuh"
#include "kernels/cuda/matmul.cuh"
#include "kernels/cuda/norm.cuh"

namespace zotune::cuda {

namespace {

// out [n, width] fp32 = in [n, K] @ W^T + bias, through the storage dtype.
float* linear_to_f32(const DeviceForward& f, const void* in, const std::string& weight, const std::string& bias, int n,
                     int K, int width) {
  Arena& a = *f.arena;
  float* out = a.take<float>(static_cast<size_t>(n) * width);
  if (f.type == DType::F32) {
    matmul(*f.blas, out, DType::F32, in, f.weight(weight), f.type, n, K, width);
    bias_activation(out, DType::F32, f.weight(bias), n, width, Activation::Identity, f.stream);
    return out;
  }
  void* tmp = a.take(static_cast<size_t>(n) * width * dtype_size(f.type));
  matmul(*f.blas, tmp, f.type, in, f.weight(weight), f.type, n, K, width);
  bias_activation(tmp, f.type, f.weight(bias), n, width, Activation::Identity, f.stream);
  convert(tmp, f.type, out, DType::F32, static_cast<size_t>(n) * width, f.stream);
  return out;
}

}  // namespace

float* device_forward_bert(const DeviceForward& f) {
  const ModelConfig& c = *f.config;
  const DType t = f.type;
  const size_t ts = dtype_size(t);
  const int N = f.tokens(), C = c.hidden_size, F = c.intermediate_size;
  const float eps = c.layer_norm_eps;
  const bool roberta = c.arch == Architecture::RoBERTa;
  const std::string prefix = roberta ? "roberta." : "bert.";
  const std::string e = prefix + "embeddings.";
  const Activation act = activation_from_name(c.activation);
  Arena& a = *f.arena;
  void* s = f.stream;

  float* x = a.take<float>(static_cast<size_t>(N) * C);
  void* xt = a.take(static_cast<size_t>(N) * C * ts);  // x in the GEMM dtype
  void* h = a.take(static_cast<size_t>(N) * C * ts);
  // q, k, v back to back in one block (device_attention may convert it at once).
  const size_t NC = static_cast<size_t>(N) * C;
  char* qkv_block = static_cast<char*>(a.take(3 * NC * ts));
  void* q = qkv_block;
  void* k = qkv_block + NC * ts;
  void* v = qkv_block + 2 * NC * ts;
  void* att = a.take(static_cast<size_t>(N) * C * ts);
  void* ff = a.take(static_cast<size_t>(N) * F * ts);
  embedding(x, f.ids, f.weight(e + "word_embeddings.weight"), t, N, C, s);
  embedding_add(x, f.positions, f.weight(e + "position_embeddings.weight"), t, N, C, s);
  embedding_add(x, f.types, f.weight(e + "token_type_embeddings.weight"), t, N, C, s);
  layernorm(x, DType::F32, x, f.weight(e + "LayerNorm.weight"), f.weight(e + "LayerNorm.bias"), t, N, C, eps, s);
  convert(x, DType::F32, xt, t, static_cast<size_t>(N) * C, s);

  cpu::AttentionShape shape;
  shape.batch = f.batch;
  shape.q_len = shape.kv_len = f.seq_len;
  shape.n_heads = shape.n_kv_heads = c.num_heads;
  shape.head_dim = c.head_dim;
  shape.kv_batch_stride = static_cast<int64_t>(f.seq_len) * C;
  shape.mask_batch_stride = f.seq_len;
  shape.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  const AttentionStrides strides{C, C, C};
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = prefix + "encoder.layer." + std::to_string(l) + ".";
    const std::string at = p + "attention.";
    void* qkv[3] = {q, k, v};
    const char* names[3] = {"query", "key", "value"};
    for (int i = 0; i < 3; ++i) {
      const std::string w = at + "self." + names[i] + ".";
      matmul(*f.blas, qkv[i], t, xt, f.weight(w + "weight"), t, N, C, C);
      bias_activation(qkv[i], t, f.weight(w + "bias"), N, C, Activation::Identity, s);
    }
    // LoRA reads the fp32 stream, as the CPU forward does.
    peft_lora(f, l, LoraTarget::Q, q, C, x, DType::F32, N);
    peft_lora(f, l, LoraTarget::K, k, C, x, DType::F32, N);
    peft_lora(f, l, LoraTarget::V, v, C, x, DType::F32, N);
    if (peft_has_prefix(f))  // prefix-tuning: the layer's prefix keys before the tokens', seen by every token
      device_prefix_attention(f, l, att, NC, qkv_block, 3 * NC, q, k, v, shape, strides);
    else
      device_attention(f, att, NC, qkv_block, 3 * NC, q, k, v, shape, strides);
    matmul(*f.blas, h, t, att, f.weight(at + "output.dense.weight"), t, N, C, C);
    peft_lora(f, l, LoraTarget::O, h, C, att, t, N);
    // Houlsby adapters: LN(a(W h + b) + residual), here and after the FFN output projection; the
    // adapter adds the bias itself and leaves residual_add none.
    const void* attention_bias = f.weight(at + "output.dense.bias");
    residual_add(x, h, t, peft_adapt_output(f, l, AdapterPoint::AttentionOutput, h, attention_bias, N), N, C, s);
    layernorm(x, DType::F32, x, f.weight(at + "output.LayerNorm.weight"), f.weight(at + "output.LayerNorm.bias"), t, N, C,
              eps, s);
    convert(x, DType::F32, xt, t, static_cast<size_t>(N) * C, s);

    matmul(*f.blas, ff, t, xt, f.weight(p + "intermediate.dense.weight"), t, N, C, F);
    bias_activation(ff, t, f.weight(p + "intermediate.dense.bias"), N, F, act, s);
    matmul(*f.blas, h, t, ff, f.weight(p + "output.dense.weight"), t, N, F, C);
    const void* output_bias = f.weight(p + "output.dense.bias");
    residual_add(x, h, t, peft_adapt_output(f, l, AdapterPoint::MlpOutput, h, output_bias, N), N, C, s);
    layernorm(x, DType::F32, x, f.weight(p + "output.LayerNorm.weight"), f.weight(p + "output.LayerNorm.bias"), t, N, C,
              eps, s);
    convert(x, DType::F32, xt, t, static_cast<size_t>(N) * C, s);
  }

  switch (c.head) {
    case HeadKind::MaskedLM: {
      // Dense + activation + LayerNorm, then the decoder (tied to the word embeddings), on the
      // requested rows only.
      const std::string tr = roberta ? "lm_head." : "cls.predictions.transform.";
      const std::string ln = roberta ? "lm_head.layer_norm." : "cls.predictions.transform.LayerNorm.";
      int n = N;
      float* sel = select_rows(f, x, C, &n);
      void* st = a.take(static_cast<size_t>(n) * C * ts);
      convert(sel, DType::F32, st, t, static_cast<size_t>(n) * C, s);
      void* dense = a.take(static_cast<size_t>(n) * C * ts);
      matmul(*f.blas, dense, t, st, f.weight(tr + "dense.weight"), t, n, C, C);
      bias_activation(dense, t, f.weight(tr + "dense.bias"), n, C, act, s);
      float* dense32 = a.take<float>(static_cast<size_t>(n) * C);
      convert(dense, t, dense32, DType::F32, static_cast<size_t>(n) * C, s);
      layernorm(st, t, dense32, f.weight(ln + "weight"), f.weight(ln + "bias"), t, n, C, c.layer_norm_eps, s);
      const std::string decoder = roberta ? "lm_head.decoder.weight" : "cls.predictions.decoder.weight";
      return linear_to_f32(f, st, c.tie_word_embeddings ? e + "word_embeddings.weight" : decoder,
                           roberta ? "lm_head.bias" : "cls.predictions.bias", n, C, c.vocab_size);
    }
    case HeadKind::SequenceClassification: {
      // The first token's hidden state ([CLS] / <s>) through the pooler (tanh) and classifier;
      // CudaModel stages rows = {b * seq_len} for this head.
      const int B = f.batch;
      int n = B;
      float* first = select_rows(f, x, C, &n);
      void* ft = a.take(static_cast<size_t>(B) * C * ts);
      convert(first, DType::F32, ft, t, static_cast<size_t>(B) * C, s);
      const std::string dense = roberta ? "classifier.dense." : "bert.pooler.dense.";
      const std::string out = roberta ? "classifier.out_proj." : "classifier.";
      void* pooled = a.take(static_cast<size_t>(B) * C * ts);
      matmul(*f.blas, pooled, t, ft, f.weight(dense + "weight"), t, B, C, C);
      bias_activation(pooled, t, f.weight(dense + "bias"), B, C, Activation::Tanh, s);
      return linear_to_f32(f, pooled, out + "weight", out + "bias", B, C, c.num_labels);
    }
    case HeadKind::Base:
    case HeadKind::CausalLM: break;
  }
  return x;
}

}  // namespace zotune::cuda
