// Prefix-tuning on the device (MeZO-prefix): the CPU engine's cpu::attention with the layer's
// cpu::AttentionPrefix (PeftModules::attention_prefix, core/peft/peft_modules.h), in the device
// forwards of OPT, the Llama family and BERT/RoBERTa.
//
// Each attention layer has P prefix keys and values, fp32 [P, kv_dim] tensors in the fp32 device
// buffer (or probe group g's copy in the bank, at f.peft_tensor(view, g)). They enter the
// attention as P leading keys of each sequence, the way a KV cache's earlier tokens do: a key
// and a value buffer [batch, P + T, kv_dim] in the attention's dtype holds the prefix (rounded
// once from fp32) then the batch's own keys, and cuda::prefixed_attention keeps the P prefix
// keys visible to every query (no causal, window or padding mask; their valid flags are 1) while
// the queries sit at key P + i. The prefix has no position: Llama's prefix keys are stored
// post-RoPE and the real tokens keep positions 0, 1, ... (the forwards' positions are unchanged).
// With batched probes, sequence block g (of probe_groups() equal blocks) reads group g's prefix.
// With a KV cache (generation), the cache's first P slots of every sequence are the prefix
// (DeviceKV::prefix), rewritten at every forward, and the tokens follow.
// Scratch from the arena, rewound before returning; launches and device-to-device copies on
// f.stream only, so a forward with a prefix is captured into a CUDA graph like any other.
#pragma once
#include <cstddef>

#include "core/cuda/device_forward.h"
#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.cuh"

namespace zotune::cuda {

// Whether f's PEFT modules are a prefix (trainable.mode prefix).
bool peft_has_prefix(const DeviceForward& f);

// Layer `layer`'s self-attention with its prefix; arguments as device_decoder_attention's
// (core/cuda/device_forward.h): q, k, v of the batch's own tokens inside `block`, in f.type, with
// `shape` and `strides` describing them alone (kv_len = q_len, q_start 0 without a cache).
// Attention runs in the cache's dtype with f.kv, else in f.type, or fp16 for an fp32 model on
// TF32 (as device_attention). Without f.kv the keys are [prefix; tokens] in arena scratch; with
// f.kv this layer's prefix goes to the cache's first f.kv->prefix slots and the new tokens after
// its prefix + length filled ones.
void device_prefix_attention(const DeviceForward& f, int layer, void* out, size_t out_elems, const void* block,
                             size_t block_elems, const void* q, const void* k, const void* v,
                             const cpu::AttentionShape& shape, const AttentionStrides& strides);

}  // namespace zotune::cuda
