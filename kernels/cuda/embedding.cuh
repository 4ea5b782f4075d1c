// Embedding lookups on the device: rows of a [rows, C] table (storage dtype) gathered into
// the fp32 residual stream. Host-callable launchers only; every pointer is a device pointer.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// out[i, :] = table[ids[i], :] for i < n; ids must be in range (the host validates them).
void embedding(float* out, const int32_t* ids, const void* table, DType table_type, int n, int C, void* stream = nullptr);
// out[i, :] += table[ids[i], :] (position and token-type embeddings).
void embedding_add(float* out, const int32_t* ids, const void* table, DType table_type, int n, int C,
                   void* stream = nullptr);

}  // namespace zotune::cuda
