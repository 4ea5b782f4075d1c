#include "kernels/cpu/embedding.h"

namespace zotune::cpu {

void embedding(float* out, const int32_t* ids, const void* table, DType ttype, int n, int C) {
  for (int i = 0; i < n; ++i) {
    const char* row = static_cast<const char*>(table) + static_cast<size_t>(ids[i]) * C * dtype_size(ttype);
    convert(row, ttype, out + static_cast<size_t>(i) * C, DType::F32, C);
  }
}

void embedding_add(float* out, const int32_t* ids, const void* table, DType ttype, int n, int C) {
  for (int i = 0; i < n; ++i) {
    const char* row = static_cast<const char*>(table) + static_cast<size_t>(ids[i]) * C * dtype_size(ttype);
    float* o = out + static_cast<size_t>(i) * C;
    for (int c = 0; c < C; ++c) o[c] += load_f32(row, ttype, c);
  }
}

}  // namespace zotune::cpu
