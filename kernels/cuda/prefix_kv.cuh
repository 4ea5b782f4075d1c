// Prefix-tuning's keys and values (MeZO-prefix) written into a key/value buffer on the device,
// ahead of a sequence's own keys, for cuda::prefixed_attention (the CUDA engine's prefix
// attention, core/cuda/device_prefix.cpp). The CPU reference is cpu::attention with a
// cpu::AttentionPrefix, which reads the fp32 prefix in place; the device attention reads its
// keys in one dtype, so the prefix is rounded to it once (to nearest even, as zotune::convert).
// Host-callable launcher only; device pointers.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// For every sequence b < batch, prefix row j < len and column c < width:
//   k_dst[b * dst_batch_stride + j * width + c] = k_prefix[(b / (batch / groups)) * group_stride + j * width + c]
// (v alike, same indices), and valid[b * valid_stride + j] = 1 when valid is not null.
// k_prefix, v_prefix: fp32 [len, width]; with batched probes (groups > 1) the batch is `groups`
// equal blocks of sequences and block g reads the copy group_stride * g elements further.
// k_dst, v_dst: `type`, rows of width elements, dense within a sequence (a KV cache's first
// len slots); other rows are left untouched.
void store_prefix_kv(void* k_dst, void* v_dst, DType type, const float* k_prefix, const float* v_prefix, int len,
                     int width, int batch, int groups, int64_t group_stride, int64_t dst_batch_stride,
                     uint8_t* valid, int64_t valid_stride, void* stream = nullptr);

}  // namespace zotune::cuda
