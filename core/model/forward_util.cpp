#include "core/model/forward_util.h"

#include <cstring>

#include "core/util/error.h"
#include "kernels/cpu/activation.h"

namespace zotune {

std::vector<int32_t> decoder_positions(KVCache& cache, const Batch& batch) {
  check(cache.batch == batch.batch, "forward: KV cache holds " + std::to_string(cache.batch) + " sequences, batch has " +
                                        std::to_string(batch.batch));
  check(cache.length + batch.seq_len <= cache.capacity,
        "forward: KV cache capacity " + std::to_string(cache.capacity) + " exceeded (" + std::to_string(cache.length) +
            " cached + " + std::to_string(batch.seq_len) + " new tokens)");
  std::vector<int32_t> positions(static_cast<size_t>(batch.batch) * batch.seq_len);
  for (int b = 0; b < batch.batch; ++b) {
    int real = cache.real_tokens[b];
    for (int t = 0; t < batch.seq_len; ++t) {
      const size_t i = static_cast<size_t>(b) * batch.seq_len + t;
      const bool is_real = batch.mask[i] != 0;
      positions[i] = is_real ? real++ : -1;
      cache.valid[static_cast<size_t>(b) * cache.capacity + cache.length + t] = is_real ? 1 : 0;
    }
    cache.real_tokens[b] = real;
  }
  return positions;
}

void arch_decoder_positions(const ModelConfig& c, std::vector<int32_t>& positions) {
  if (c.arch == Architecture::Llama) {
    for (int32_t& p : positions) p = p < 0 ? 0 : p;
    return;
  }
  for (int32_t& p : positions) {
    p += kOptPositionOffset;
    check(p < c.max_position + kOptPositionOffset, "forward: OPT position " + std::to_string(p - kOptPositionOffset) +
                                                       " exceeds max_position_embeddings " + std::to_string(c.max_position));
  }
}

std::vector<int32_t> encoder_positions(const ModelConfig& c, const Batch& batch) {
  const bool roberta = c.arch == Architecture::RoBERTa;
  std::vector<int32_t> positions(static_cast<size_t>(batch.batch) * batch.seq_len);
  for (int b = 0; b < batch.batch; ++b) {
    int seen = 0;
    for (int t = 0; t < batch.seq_len; ++t) {
      const size_t i = static_cast<size_t>(b) * batch.seq_len + t;
      positions[i] = !roberta ? t : batch.ids[i] != c.pad_token_id ? c.pad_token_id + (++seen) : c.pad_token_id;
      check(positions[i] < c.max_position, "forward: position " + std::to_string(positions[i]) +
                                               " exceeds max_position_embeddings " + std::to_string(c.max_position));
    }
  }
  return positions;
}

std::vector<int32_t> batch_positions(const ModelConfig& c, const Batch& batch) {
  if (c.arch == Architecture::BERT || c.arch == Architecture::RoBERTa) return encoder_positions(c, batch);
  // An empty cache without key/value storage: decoder_positions needs only its bookkeeping.
  KVCache empty;
  empty.batch = batch.batch;
  empty.capacity = batch.seq_len;
  empty.valid.assign(static_cast<size_t>(batch.batch) * batch.seq_len, 0);
  empty.real_tokens.assign(batch.batch, 0);
  std::vector<int32_t> positions = decoder_positions(empty, batch);
  arch_decoder_positions(c, positions);
  return positions;
}

void store_kv(KVCache& cache, int layer, const float* k, const float* v, int batch, int seq_len, int kv_dim) {
  check(cache.device == nullptr,
        "forward: the KV cache was made by a device engine (its keys and values live on the GPU); the CPU engine "
        "needs a cache from its own make_cache");
  check(static_cast<size_t>(layer) < cache.k.size() && static_cast<size_t>(layer) < cache.v.size(),
        "forward: the KV cache has " + std::to_string(cache.k.size()) + " layers; the model writes layer " +
            std::to_string(layer));
  for (int b = 0; b < batch; ++b) {
    for (int t = 0; t < seq_len; ++t) {
      const size_t src = (static_cast<size_t>(b) * seq_len + t) * kv_dim;
      const size_t dst = (static_cast<size_t>(b) * cache.capacity + cache.length + t) * kv_dim;
      std::memcpy(cache.k[layer].data() + dst, k + src, kv_dim * sizeof(float));
      std::memcpy(cache.v[layer].data() + dst, v + src, kv_dim * sizeof(float));
    }
  }
}

std::vector<float> gather_rows(const std::vector<float>& x, const std::vector<int64_t>& rows, int64_t n, int width) {
  if (rows.empty()) return x;
  std::vector<float> out(rows.size() * static_cast<size_t>(width));
  for (size_t i = 0; i < rows.size(); ++i) {
    check(rows[i] >= 0 && rows[i] < n, "forward: requested row " + std::to_string(rows[i]) + " outside [0, " +
                                           std::to_string(n) + ")");
    std::memcpy(out.data() + i * width, x.data() + rows[i] * width, width * sizeof(float));
  }
  return out;
}

void apply_activation(const std::string& name, float* x, size_t n) {
  if (name == "relu") return cpu::relu(x, n);
  if (name == "gelu") return cpu::gelu_erf(x, n);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return cpu::gelu_tanh(x, n);
  if (name == "silu" || name == "swish") return cpu::silu(x, n);
  throw Error("unsupported activation '" + name + "'");
}

}  // namespace zotune
