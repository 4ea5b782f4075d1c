// Rotary position embedding, in place. One block per token: the block first builds the
// token's cos/sin table ([head_dim / 2] each, fp32, in shared memory) once for all its heads,
// then each thread rotates a group of N consecutive pairs (i, i + head_dim / 2) of one head:
// N = 4 with 16-byte (fp32) or 8-byte (fp16/bf16) accesses where the shape and the pointer
// allow, N = 1 otherwise. Consecutive threads take consecutive groups, so a warp's accesses
// are contiguous.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/rope.cuh"

namespace zotune::cuda {
namespace {

// Shared memory: cos[half] then sin[half], fp32. 48 KB (no opt-in) holds half <= 6144.
constexpr int kMaxHalf = 6144;

// grid.x = n_tokens. The angle is position * inv_freq[i] rounded to fp32, as cpu::rope and
// transformers form it; sincosf is the full-range accurate version (no fast math here).
template <typename T, int N>
__global__ void rope_kernel(T* x, const int32_t* positions, int n_heads, int head_dim, int64_t row_stride,
                            const float* inv_freq, float attention_scaling) {
  extern __shared__ float cos_sin[];
  const int half = head_dim / 2;
  const int64_t token = blockIdx.x;
  const float position = static_cast<float>(positions[token]);
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float s, c;
    sincosf(position * inv_freq[i], &s, &c);
    cos_sin[i] = c * attention_scaling;
    cos_sin[half + i] = s * attention_scaling;
  }
  __syncthreads();
  T* row = x + token * row_stride;
  const int groups_per_head = half / N;
  const int groups = n_heads * groups_per_head;
  for (int j = threadIdx.x; j < groups; j += blockDim.x) {
    const int h = j / groups_per_head, i0 = (j - h * groups_per_head) * N;
    T* first = row + static_cast<int64_t>(h) * head_dim + i0;
    Pack<T, N> a = *reinterpret_cast<const Pack<T, N>*>(first);
    Pack<T, N> b = *reinterpret_cast<const Pack<T, N>*>(first + half);
#pragma unroll
    for (int k = 0; k < N; ++k) {
      const float af = to_f32(a.v[k]), bf = to_f32(b.v[k]);
      const float c = cos_sin[i0 + k], s = cos_sin[half + i0 + k];
      a.v[k] = from_f32<T>(af * c - bf * s);
      b.v[k] = from_f32<T>(bf * c + af * s);
    }
    *reinterpret_cast<Pack<T, N>*>(first) = a;
    *reinterpret_cast<Pack<T, N>*>(first + half) = b;
  }
}

template <typename T>
void launch_rope(T* x, const int32_t* positions, int n_tokens, int n_heads, int head_dim, int64_t row_stride,
                 const float* inv_freq, float attention_scaling, cudaStream_t stream) {
  constexpr int N = 4;
  const int half = head_dim / 2;
  // Every group start is N-aligned when half, row_stride and the base pointer are.
  const bool vec = half % N == 0 && row_stride % N == 0 && aligned(x, N * sizeof(T));
  const int groups = n_heads * (vec ? half / N : half);
  const int threads = std::min(256, (groups + 31) / 32 * 32);
  const size_t smem = 2 * static_cast<size_t>(half) * sizeof(float);
  if (vec)
    rope_kernel<T, N><<<n_tokens, threads, smem, stream>>>(x, positions, n_heads, head_dim, row_stride, inv_freq,
                                                           attention_scaling);
  else
    rope_kernel<T, 1><<<n_tokens, threads, smem, stream>>>(x, positions, n_heads, head_dim, row_stride, inv_freq,
                                                           attention_scaling);
  check_status(cudaGetLastError(), "rope kernel launch");
}

}  // namespace

void rope(void* x, DType type, const int32_t* positions, int n_tokens, int n_heads, int head_dim, int64_t row_stride,
          const float* inv_freq, float attention_scaling, void* stream) {
  check(n_tokens >= 0 && n_heads >= 0, "cuda::rope: negative shape");
  check(head_dim > 0 && head_dim % 2 == 0 && head_dim / 2 <= kMaxHalf,
        "cuda::rope: head_dim " + std::to_string(head_dim) + " must be even and at most " +
            std::to_string(2 * kMaxHalf));
  check(row_stride >= static_cast<int64_t>(n_heads) * head_dim,
        "cuda::rope: row_stride " + std::to_string(row_stride) + " < n_heads * head_dim");
  check(static_cast<int64_t>(n_heads) * (head_dim / 2) <= INT32_MAX, "cuda::rope: too many heads");
  if (n_tokens == 0 || n_heads == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case DType::F32:
      return launch_rope(static_cast<float*>(x), positions, n_tokens, n_heads, head_dim, row_stride, inv_freq,
                         attention_scaling, s);
    case DType::F16:
      return launch_rope(static_cast<__half*>(x), positions, n_tokens, n_heads, head_dim, row_stride, inv_freq,
                         attention_scaling, s);
    case DType::BF16:
      return launch_rope(static_cast<__nv_bfloat16*>(x), positions, n_tokens, n_heads, head_dim, row_stride,
                         inv_freq, attention_scaling, s);
  }
  throw Error("cuda::rope: unknown dtype");
}

}  // namespace zotune::cuda
