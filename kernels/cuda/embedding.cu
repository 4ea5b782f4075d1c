// Embedding lookups: one block per token copies (or adds) its table row into the fp32
// residual stream. Memory bound: 16-byte loads of the table row (8 fp16/bf16 or 4 fp32
// values) and 16-byte stores of fp32 when C and the pointers allow, scalar otherwise.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/embedding.cuh"

namespace zotune::cuda {
namespace {

// grid.x = n tokens, one block each; threads stride over the C / N packs of the row.
// N = 1 is the scalar fallback (C not a multiple of the pack, or unaligned pointers).
template <typename T, int N, bool kAdd>
__global__ void embedding_kernel(float* out, const int32_t* ids, const T* table, int C) {
  const int64_t token = blockIdx.x;
  const T* row = table + static_cast<int64_t>(ids[token]) * C;
  float* o = out + token * C;
  const int n_packs = C / N;
  for (int p = threadIdx.x; p < n_packs; p += blockDim.x) {
    const Pack<T, N> in = *reinterpret_cast<const Pack<T, N>*>(row + static_cast<int64_t>(p) * N);
    Pack<float, N> res;
    if constexpr (kAdd) res = *reinterpret_cast<const Pack<float, N>*>(o + static_cast<int64_t>(p) * N);
#pragma unroll
    for (int j = 0; j < N; ++j) res.v[j] = kAdd ? res.v[j] + to_f32(in.v[j]) : to_f32(in.v[j]);
    *reinterpret_cast<Pack<float, N>*>(o + static_cast<int64_t>(p) * N) = res;
  }
}

template <typename T, bool kAdd>
void launch(float* out, const int32_t* ids, const void* table, int n, int C, cudaStream_t stream) {
  constexpr int N = 16 / sizeof(T);  // 4 fp32 or 8 fp16/bf16 values per 16-byte load
  // Row starts stay 16-byte aligned when C is a multiple of N (table) and of 4 (out).
  const bool vec = C % N == 0 && aligned(table, 16) && aligned(out, 16);
  const int packs = vec ? C / N : C;
  const int threads = std::min(256, (packs + 31) / 32 * 32);
  if (vec)
    embedding_kernel<T, N, kAdd><<<n, threads, 0, stream>>>(out, ids, static_cast<const T*>(table), C);
  else
    embedding_kernel<T, 1, kAdd><<<n, threads, 0, stream>>>(out, ids, static_cast<const T*>(table), C);
  check_status(cudaGetLastError(), kAdd ? "embedding_add kernel launch" : "embedding kernel launch");
}

template <bool kAdd>
void embedding_dispatch(float* out, const int32_t* ids, const void* table, DType table_type, int n, int C,
                        void* stream) {
  check(n >= 0 && C >= 0, "cuda::embedding: negative shape");
  if (n == 0 || C == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (table_type) {
    case DType::F32: return launch<float, kAdd>(out, ids, table, n, C, s);
    case DType::F16: return launch<__half, kAdd>(out, ids, table, n, C, s);
    case DType::BF16: return launch<__nv_bfloat16, kAdd>(out, ids, table, n, C, s);
  }
  throw Error("cuda::embedding: unknown table dtype");
}

}  // namespace

void embedding(float* out, const int32_t* ids, const void* table, DType table_type, int n, int C, void* stream) {
  embedding_dispatch<false>(out, ids, table, table_type, n, C, stream);
}

void embedding_add(float* out, const int32_t* ids, const void* table, DType table_type, int n, int C,
                   void* stream) {
  embedding_dispatch<true>(out, ids, table, table_type, n, C, stream);
}

}  // namespace zotune::cuda
