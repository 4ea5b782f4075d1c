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

// Writes k, v rows [batch * seq_len, kv_dim] into the cache slots after cache.length.
void store_kv(KVCache& cache, int layer, const float* k, const float* v, int batch, int seq_len, int kv_dim);

// Copies rows (flat token indices) of x [n, width] into a [rows.size(), width] buffer;
// empty rows means all n rows.
std::vector<float> gather_rows(const std::vector<float>& x, const std::vector<int64_t>& rows, int64_t n, int width);

// Applies a config activation ("relu", "gelu", "gelu_new", "silu", ...) in place.
void apply_activation(const std::string& name, float* x, size_t n);

}  // namespace zotune
