#include "core/cuda/device_prefix.h"

#include <cuda_runtime.h>

#include <string>

#include "core/util/error.h"
#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/kv_cache.cuh"
#include "kernels/cuda/prefix_kv.cuh"

namespace zotune::cuda {

bool peft_has_prefix(const DeviceForward& f) { return f.peft != nullptr && f.peft->has_prefix(); }

void device_prefix_attention(const DeviceForward& f, int layer, void* out, size_t out_elems, const void* block,
                             size_t block_elems, const void* q, const void* k, const void* v,
                             const cpu::AttentionShape& shape, const AttentionStrides& strides) {
  const PeftModules::Prefix* m = peft_has_prefix(f) ? f.peft->prefix_at(layer) : nullptr;
  check(m != nullptr, "CUDA engine: no prefix at layer " + std::to_string(layer));
  const int P = f.peft->prefix_tokens();
  const int B = shape.batch, T = shape.q_len;
  const int kv_dim = shape.n_kv_heads * shape.head_dim;
  check(m->kv_width == kv_dim, "CUDA engine: layer " + std::to_string(layer) + "'s prefix rows hold " +
                                   std::to_string(m->kv_width) + " elements; its attention reads " +
                                   std::to_string(kv_dim));
  // The attention's dtype: the cache's, else the storage dtype, or fp16 for fp32 on TF32.
  const DType at = f.kv != nullptr ? f.kv->type
                                   : (f.type == DType::F32 && f.blas->allow_tf32() ? DType::F16 : f.type);
  const size_t es = dtype_size(at);
  Arena& arena = *f.arena;
  const size_t mark = arena.mark();
  const auto stream = static_cast<cudaStream_t>(f.stream);

  // q, k, v (and the output) in the attention's dtype: fp32 on TF32 converts the whole block
  // once, as device_attention does; the element offsets inside it stay the same.
  const void *q_in = q, *k_in = k, *v_in = v;
  void* out_in = out;
  if (at != f.type) {
    check(f.type == DType::F32 && at == DType::F16, "CUDA engine: prefix attention in " + std::string(dtype_name(at)) +
                                                        " for a model in " + dtype_name(f.type));
    const char* base = static_cast<const char*>(block);
    auto offset = [&](const void* p) { return static_cast<size_t>(static_cast<const char*>(p) - base) / sizeof(float); };
    char* half = static_cast<char*>(arena.take(block_elems * 2));
    out_in = arena.take(out_elems * 2);
    convert(block, DType::F32, half, DType::F16, block_elems, f.stream);
    q_in = half + 2 * offset(q);
    k_in = half + 2 * offset(k);
    v_in = half + 2 * offset(v);
  }

  // Group 0's prefix and the distance to the next group's copy (batched probes: the bank).
  const int groups = f.peft->probe_groups();
  const float* k_prefix = f.peft_tensor(m->keys, 0);
  const float* v_prefix = f.peft_tensor(m->values, 0);
  int64_t group_stride = 0;
  if (groups > 1) {
    group_stride = f.peft_tensor(m->keys, 1) - k_prefix;
    check(f.peft_tensor(m->values, 1) - v_prefix == group_stride,
          "CUDA engine: the probe bank's prefix keys and values are not equally spaced");
  }

  // Slots of one sequence, and those filled before the batch's tokens (prefix, cached tokens).
  void* keys = nullptr;
  void* values = nullptr;
  const uint8_t* valid = nullptr;
  int slots = 0, filled = 0;
  if (f.kv == nullptr) {
    check(shape.kv_len == T && shape.q_start == 0 && T == f.seq_len && B == f.batch,
          "CUDA engine: prefix attention without a cache takes the batch's own tokens as keys");
    slots = P + T;
    filled = P;
    keys = arena.take(static_cast<size_t>(B) * slots * kv_dim * es);
    values = arena.take(static_cast<size_t>(B) * slots * kv_dim * es);
    uint8_t* flags = arena.take<uint8_t>(static_cast<size_t>(B) * slots);
    store_prefix_kv(keys, values, at, k_prefix, v_prefix, P, kv_dim, B, groups, group_stride,
                    static_cast<int64_t>(slots) * kv_dim, flags, slots, f.stream);
    // The tokens' flags after the prefix's: flags[b, P + t] = mask[b, t].
    check_status(cudaMemcpy2DAsync(flags + P, slots, f.mask, T, T, B, cudaMemcpyDeviceToDevice, stream),
                 "prefix attention: valid flags");
    valid = flags;
  } else {
    const DeviceKV& kv = *f.kv;
    check(kv.prefix == P, "CUDA engine: the KV cache keeps " + std::to_string(kv.prefix) + " prefix slots; the model's "
                              "prefix has " + std::to_string(P) + " tokens (make the cache with this model)");
    check(kv.kv_dim == kv_dim, "CUDA engine: the KV cache holds rows of " + std::to_string(kv.kv_dim) +
                                   " elements; layer " + std::to_string(layer) + " has " + std::to_string(kv_dim));
    keys = kv.layer_keys(layer);
    values = kv.layer_values(layer);
    slots = kv.capacity;
    filled = P + kv.length;
    // The prefix slots' flags were set to 1 when the cache was made.
    store_prefix_kv(keys, values, at, k_prefix, v_prefix, P, kv_dim, B, groups, group_stride,
                    static_cast<int64_t>(slots) * kv_dim, nullptr, 0, f.stream);
    valid = kv.valid;
  }
  append_kv(keys, values, k_in, v_in, at, B, T, kv_dim, strides.kv_row, slots, filled, f.stream);

  // Query i of a sequence is key filled + i; keys [0, P) are the prefix, seen by every query.
  cpu::AttentionShape s = shape;
  s.kv_len = filled + T;
  s.q_start = filled;
  s.kv_batch_stride = static_cast<int64_t>(slots) * kv_dim;
  s.mask_batch_stride = slots;
  const AttentionStrides s_strides{strides.q_row, kv_dim, strides.out_row};
  prefixed_attention(out_in, q_in, keys, values, at, valid, s, s_strides, P, f.stream);
  if (out_in != out) convert(out_in, DType::F16, out, DType::F32, out_elems, f.stream);
  arena.rewind(mark);
}

}  // namespace zotune::cuda
