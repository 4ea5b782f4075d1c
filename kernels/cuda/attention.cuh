// Fused scaled dot-product attention on the device (flash-style: scores live in registers
// and shared memory one key tile at a time, never as a [q_len, kv_len] matrix in memory),
// with the masks of cpu::attention: grouped-query heads, key padding, causal with a query
// offset (KV cache), sliding window. Inputs and output in the storage dtype, softmax and
// accumulation in fp32. Host-callable launcher only; device pointers.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"
#include "kernels/cpu/attention.h"

namespace zotune::cuda {

// Row strides (elements) of the token rows of q, k/v and out, so q, k and v can be column
// slices of one fused QKV GEMM output. Head h of query token (b, i) starts at
// q + (b * q_len + i) * q_row + h * head_dim; key j of sequence b and kv head g at
// k + b * kv_batch_stride + j * kv_row + g * head_dim (shape.kv_batch_stride, elements).
struct AttentionStrides {
  int64_t q_row = 0;
  int64_t kv_row = 0;
  int64_t out_row = 0;
};

// What the caller needs of the rows of padding queries: query i of sequence b is padding when its
// own key slot, key_valid[b, q_start + i], is 0.
enum class PaddingQueries {
  Computed,  // every row as cpu::attention computes it
  // Never read (engine.unpadded: only the real tokens' rows move back): those rows are
  // unspecified, finite. The tensor-core kernel skips each 64-query tile that holds padding
  // only (writing zeros), which is most of a right-padded batch's causal work.
  Unused,
};

// Same semantics as cpu::attention (kernels/cpu/attention.h): key_valid [batch, mask stride]
// (null = all valid); a query that sees no key gets zeros. head_dim <= 256. The rows of real
// queries are the same bit for bit with either PaddingQueries.
void attention(void* out, const void* q, const void* k, const void* v, DType type, const uint8_t* key_valid,
               const cpu::AttentionShape& shape, const AttentionStrides& strides, void* stream = nullptr,
               PaddingQueries padding_queries = PaddingQueries::Computed);

// attention() with keys [0, visible_prefix) of every sequence exempt from the causal and
// sliding-window masks: prefix-tuning's prefix keys and values (MeZO-prefix) stored in k and v
// before the sequence's own keys, which start at key visible_prefix (shape.kv_len and
// shape.q_start count the prefix: query i is key q_start + i). Key padding still applies, so
// key_valid must mark the prefix slots 1. With k/v = [prefix; keys] this equals cpu::attention
// over `keys` with a cpu::AttentionPrefix of visible_prefix rows (every query sees the prefix).
// Requires 0 <= visible_prefix <= shape.q_start and visible_prefix <= shape.kv_len.
void prefixed_attention(void* out, const void* q, const void* k, const void* v, DType type, const uint8_t* key_valid,
                        const cpu::AttentionShape& shape, const AttentionStrides& strides, int visible_prefix,
                        void* stream);

}  // namespace zotune::cuda
