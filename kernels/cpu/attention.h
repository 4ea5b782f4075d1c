// Scaled dot-product attention with grouped-query heads, key padding, causal and
// sliding-window masks, over a key/value buffer that may be a KV cache.
#pragma once
#include <cstdint>

namespace zotune::cpu {

struct AttentionShape {
  int batch = 1;
  int q_len = 1;        // new query tokens per sequence
  int kv_len = 1;       // keys visible (cached + new) per sequence
  int n_heads = 1;      // query heads
  int n_kv_heads = 1;   // key/value heads; n_heads % n_kv_heads == 0
  int head_dim = 1;
  int64_t kv_batch_stride = 0;  // elements between sequences in k, v (>= kv_len * n_kv_heads * head_dim)
  int64_t mask_batch_stride = 0;  // elements between sequences in key_valid (>= kv_len)
  bool causal = false;
  int q_start = 0;          // index of query 0 among the keys (the cache length before it)
  int sliding_window = 0;   // > 0: key j is visible to query i only if i - j < sliding_window
  float scale = 1.0f;       // usually 1 / sqrt(head_dim)
};

// Prefix keys and values (MeZO's prefix-tuning): len rows of [n_kv_heads * head_dim] each, shared
// by every sequence of the batch, placed before the keys in k/v and visible to every query: no
// causal, padding or sliding-window mask applies to them (MeZO concatenates zeros to the additive
// mask). len 0 (the default) is plain attention.
struct AttentionPrefix {
  const float* k = nullptr;  // [len, n_kv_heads * head_dim]
  const float* v = nullptr;  // [len, n_kv_heads * head_dim]
  int len = 0;
  // Batched probes: the batch is `groups` equal blocks of sequences, block g attending to the
  // prefix at k + g * group_stride (v alike), e.g. each probe's perturbed prefix.
  int groups = 1;
  int64_t group_stride = 0;  // elements
};

// q:   [batch, q_len, n_heads * head_dim]
// k,v: [batch, (stride), n_kv_heads * head_dim], kv_len rows used per sequence
// key_valid: [batch, (stride)] 1 for real tokens, 0 for padding; null means all valid
// out: [batch, q_len, n_heads * head_dim]. A query that sees no key (and no prefix) gets zeros.
void attention(float* out, const float* q, const float* k, const float* v, const uint8_t* key_valid,
               const AttentionShape& s, const AttentionPrefix& prefix = {});

}  // namespace zotune::cpu
