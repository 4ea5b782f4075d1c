// Embedding lookups: rows of a [vocab, C] table in any dtype, gathered into fp32.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cpu {

// out[i, :] = table[ids[i], :] for i < n (ids must be in [0, rows): callers validate).
void embedding(float* out, const int32_t* ids, const void* table, DType ttype, int n, int C);
// out[i, :] += table[ids[i], :] (position and token-type embeddings).
void embedding_add(float* out, const int32_t* ids, const void* table, DType ttype, int n, int C);

}  // namespace zotune::cpu
