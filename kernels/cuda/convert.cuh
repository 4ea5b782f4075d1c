// Storage-dtype conversion on the device (f32 <-> f16 <-> bf16), rounding to nearest even
// exactly like the CPU reference zotune::convert. Host-callable launcher only.
#pragma once
#include <cstddef>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// src and dst are device pointers of n elements; runs on `stream` (a cudaStream_t, 0 = default).
void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n, void* stream = nullptr);

}  // namespace zotune::cuda
