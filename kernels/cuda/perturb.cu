#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/util/error.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/perturb.cuh"

namespace zotune::cuda {
namespace {

struct TermBlock {
  cpu::DirectionTerm terms[kMaxPerturbTerms];
  int n = 0;
};

template <typename T>
__device__ float to_f32(T v);
template <>
__device__ float to_f32(float v) { return v; }
template <>
__device__ float to_f32(__half v) { return __half2float(v); }
template <>
__device__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ T from_f32(float v);
template <>
__device__ float from_f32(float v) { return v; }
template <>
__device__ __half from_f32(float v) { return __float2half_rn(v); }
template <>
__device__ __nv_bfloat16 from_f32(float v) { return __float2bfloat16_rn(v); }

// One thread per Philox block: the four elements with global indices 4b .. 4b+3 that fall
// inside [first, first + n). Every term's four values come from one Philox call.
template <typename T>
__global__ void perturb_kernel(T* x, int64_t n, uint64_t first, TermBlock tb, DirectionKind kind) {
  const uint64_t block0 = first >> 2, block_end = (first + static_cast<uint64_t>(n) + 3) >> 2;
  for (uint64_t b = block0 + blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; b < block_end;
       b += uint64_t(gridDim.x) * blockDim.x) {
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int j = 0; j < tb.n; ++j) {
      const cpu::DirectionTerm t = tb.terms[j];
      if (t.coeff == 0.0f) continue;
      float z[4];
      direction_values(t.seed, t.step, t.query, b, kind, z);
#pragma unroll
      for (int l = 0; l < 4; ++l) acc[l] += t.coeff * z[l];
    }
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const uint64_t g = 4 * b + l;
      if (g < first || g >= first + static_cast<uint64_t>(n)) continue;
      T* p = x + (g - first);
      *p = from_f32<T>(to_f32<T>(*p) + acc[l]);
    }
  }
}

__global__ void philox_kernel(uint32_t* out, uint64_t seed, uint32_t step, uint32_t query, uint64_t first_block,
                              int64_t n_blocks) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_blocks; i += int64_t(gridDim.x) * blockDim.x) {
    const Philox4 r = direction_block(seed, step, query, first_block + static_cast<uint64_t>(i));
    for (int l = 0; l < 4; ++l) out[4 * i + l] = r.v[l];
  }
}

int grid_for(uint64_t work, int threads) {
  // Enough blocks to fill an H100/H200 several times over; the kernels are grid-stride loops.
  return static_cast<int>(std::min<uint64_t>((work + threads - 1) / threads, 132ull * 32));
}

}  // namespace

void perturb(void* x, DType dtype, int64_t n, uint64_t first, const cpu::DirectionTerm* terms, int n_terms,
             DirectionKind kind, void* stream) {
  check(n_terms <= kMaxPerturbTerms, "cuda::perturb: " + std::to_string(n_terms) + " direction terms in one pass; at most " +
                                         std::to_string(kMaxPerturbTerms) + " fit a launch");
  if (n <= 0 || n_terms == 0) return;
  TermBlock tb;
  std::copy(terms, terms + n_terms, tb.terms);
  tb.n = n_terms;
  const int threads = 256;
  const uint64_t blocks = ((first + static_cast<uint64_t>(n) + 3) >> 2) - (first >> 2);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (dtype) {
    case DType::F32:
      perturb_kernel<<<grid_for(blocks, threads), threads, 0, s>>>(static_cast<float*>(x), n, first, tb, kind);
      break;
    case DType::F16:
      perturb_kernel<<<grid_for(blocks, threads), threads, 0, s>>>(static_cast<__half*>(x), n, first, tb, kind);
      break;
    case DType::BF16:
      perturb_kernel<<<grid_for(blocks, threads), threads, 0, s>>>(static_cast<__nv_bfloat16*>(x), n, first, tb, kind);
      break;
  }
  check_status(cudaGetLastError(), "perturb_kernel launch");
}

void philox_blocks(uint32_t* out, uint64_t seed, uint32_t step, uint32_t query, uint64_t first_block,
                   int64_t n_blocks, void* stream) {
  if (n_blocks <= 0) return;
  const int threads = 256;
  philox_kernel<<<grid_for(static_cast<uint64_t>(n_blocks), threads), threads, 0, static_cast<cudaStream_t>(stream)>>>(
      out, seed, step, query, first_block, n_blocks);
  check_status(cudaGetLastError(), "philox_kernel launch");
}

}  // namespace zotune::cuda
