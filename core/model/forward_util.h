// Small pieces the forward passes share: position ids, KV-cache bookkeeping, row selection.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model.h"

namespace zotune {

// Prepares `cache` for the batch's tokens (appended after cache.length) and returns each new
// token's position: the count of real tokens before it in its sequence (cached ones
// included), or -1 for padding. This is transformers' cumsum(attention_mask) - 1, which
// generate() uses for Llama and OPT computes itself.
std::vector<int32_t> decoder_positions(KVCache& cache, const Batch& batch);

inline constexpr int kOptPositionOffset = 2;  // OPTLearnedPositionalEmbedding's offset

// The position ids the architecture's embeddings / RoPE read, from decoder_positions' counts
// (-1 for padding), in place: OPT adds its offset 2 (padding lands on row 1, as in
// transformers) and checks max_position_embeddings; Llama sends padding to 0 (it is masked).
void arch_decoder_positions(const ModelConfig& c, std::vector<int32_t>& positions);

// Encoder position ids of a batch: BERT counts 0, 1, ... per sequence; RoBERTa numbers the
// tokens that are not its pad id from pad_token_id + 1 (create_position_ids_from_input_ids) and
// gives padding pad_token_id. Throws naming max_position_embeddings when one exceeds it.
std::vector<int32_t> encoder_positions(const ModelConfig& c, const Batch& batch);

// Position ids of a batch with nothing cached, for every architecture (device engines, which
// keep no host KV cache): decoders as decoder_positions + arch_decoder_positions, encoders as
// encoder_positions.
std::vector<int32_t> batch_positions(const ModelConfig& c, const Batch& batch);

// Writes k, v rows [batch * seq_len, kv_dim] into the cache slots after cache.length.
void store_kv(KVCache& cache, int layer, const float* k, const float* v, int batch, int seq_len, int kv_dim);

// Copies rows (flat token indices) of x [n, width] into a [rows.size(), width] buffer;
// empty rows means all n rows.
std::vector<float> gather_rows(const std::vector<float>& x, const std::vector<int64_t>& rows, int64_t n, int width);

// Applies a config activation ("relu", "gelu", "gelu_new", "silu", ...) in place.
void apply_activation(const std::string& name, float* x, size_t n);

}  // namespace zotune
