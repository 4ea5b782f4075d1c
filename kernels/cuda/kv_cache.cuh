// Appending new tokens' keys and values to a KV cache on the device (the CUDA engine's
// generation path; the CPU reference is store_kv in core/model/forward_util.cpp). A bit copy:
// source and cache share the dtype. Host-callable launcher only; device pointers.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// For every sequence b < batch and new token t < seq_len:
//   k_cache[b, length + t, :] = k_src[b * seq_len + t, :]   (and v alike)
// k_src, v_src: [batch * seq_len] token rows of `width` elements, `src_row` elements apart
// (column slices of a fused QKV GEMM output are fine: src_row >= width);
// k_cache, v_cache: [batch, capacity, width], dense. Slots outside [length, length + seq_len)
// are left untouched. Requires length + seq_len <= capacity.
void append_kv(void* k_cache, void* v_cache, const void* k_src, const void* v_src, DType type, int batch, int seq_len,
               int width, int64_t src_row, int capacity, int length, void* stream = nullptr);

}  // namespace zotune::cuda
