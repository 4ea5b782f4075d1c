// Row gathers and fills: plain copies at memory bandwidth, 16-byte accesses where the width,
// the count and the pointers allow, scalar otherwise.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/gather.cuh"

namespace zotune::cuda {
namespace {

// grid.x = n_rows, one block per output row; N = 4 (float4) or 1.
template <int N>
__global__ void gather_rows_kernel(float* out, const float* x, const int64_t* rows, int width) {
  const int64_t r = blockIdx.x;
  const float* src = x + rows[r] * width;
  float* dst = out + r * width;
  const int packs = width / N;
  for (int p = threadIdx.x; p < packs; p += blockDim.x)
    reinterpret_cast<Pack<float, N>*>(dst)[p] = reinterpret_cast<const Pack<float, N>*>(src)[p];
}

// grid (out_rows, mats), one block per output row; U: the copy unit (uint4, uint32_t or
// uint16_t), `units` of them a row.
template <typename U>
__global__ void gather_rows_or_zero_kernel(U* out, const U* x, const int32_t* index, int out_rows, int64_t x_rows,
                                           int units) {
  const int64_t r = blockIdx.x, m = blockIdx.y;
  U* dst = out + (m * out_rows + r) * units;
  const int32_t from = index[r];
  if (from < 0) {
    U zero;
    memset(&zero, 0, sizeof(U));
    for (int u = threadIdx.x; u < units; u += blockDim.x) dst[u] = zero;
    return;
  }
  const U* src = x + (m * x_rows + from) * units;
  for (int u = threadIdx.x; u < units; u += blockDim.x) dst[u] = src[u];
}

template <typename U>
void launch_gather_rows_or_zero(void* out, const void* x, const int32_t* index, int out_rows, int64_t x_rows,
                                size_t row_bytes, int mats, cudaStream_t stream) {
  const int units = static_cast<int>(row_bytes / sizeof(U));
  const int threads = std::min(256, (units + 31) / 32 * 32);
  gather_rows_or_zero_kernel<U><<<dim3(out_rows, mats), threads, 0, stream>>>(
      static_cast<U*>(out), static_cast<const U*>(x), index, out_rows, x_rows, units);
}

// Grid-stride over n / N packs of N values (N * sizeof(T) = 16 bytes, or N = 1).
template <typename T, int N>
__global__ void fill_kernel(T* x, size_t packs, float value) {
  Pack<T, N> v;
#pragma unroll
  for (int j = 0; j < N; ++j) v.v[j] = from_f32<T>(value);
  auto* xp = reinterpret_cast<Pack<T, N>*>(x);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < packs; i += size_t(gridDim.x) * blockDim.x)
    xp[i] = v;
}

template <typename T>
void launch_fill(T* x, size_t n, float value, cudaStream_t stream) {
  constexpr int N = 16 / sizeof(T);
  constexpr int threads = 256;
  // A few waves over an H100/H200 (132 SMs): the grid-stride loop covers the rest.
  auto blocks_for = [](size_t packs) {
    return static_cast<unsigned>(std::min<size_t>((packs + threads - 1) / threads, 132 * 16));
  };
  check(aligned(x, sizeof(T)), "cuda::fill: pointer not aligned to its dtype");
  // Scalar head up to the first 16-byte boundary, 16-byte body, scalar tail.
  const size_t misalign = reinterpret_cast<uintptr_t>(x) % 16;
  const size_t head = std::min(n, misalign == 0 ? size_t(0) : (16 - misalign) / sizeof(T));
  const size_t body_packs = (n - head) / N;
  const size_t tail = n - head - body_packs * N;
  if (head > 0) fill_kernel<T, 1><<<blocks_for(head), threads, 0, stream>>>(x, head, value);
  if (body_packs > 0) fill_kernel<T, N><<<blocks_for(body_packs), threads, 0, stream>>>(x + head, body_packs, value);
  if (tail > 0)
    fill_kernel<T, 1><<<blocks_for(tail), threads, 0, stream>>>(x + head + body_packs * N, tail, value);
  check_status(cudaGetLastError(), "fill kernel launch");
}

}  // namespace

void gather_rows(float* out, const float* x, const int64_t* rows, int n_rows, int width, void* stream) {
  check(n_rows >= 0 && width >= 0, "cuda::gather_rows: negative shape");
  if (n_rows == 0 || width == 0) return;
  const bool vec = width % 4 == 0 && aligned(x, 16) && aligned(out, 16);
  const int packs = vec ? width / 4 : width;
  const int threads = std::min(256, (packs + 31) / 32 * 32);
  const auto s = static_cast<cudaStream_t>(stream);
  if (vec)
    gather_rows_kernel<4><<<n_rows, threads, 0, s>>>(out, x, rows, width);
  else
    gather_rows_kernel<1><<<n_rows, threads, 0, s>>>(out, x, rows, width);
  check_status(cudaGetLastError(), "gather_rows kernel launch");
}

void gather_rows_or_zero(void* out, const void* x, const int32_t* index, int out_rows, int64_t x_rows,
                         size_t row_bytes, int mats, void* stream) {
  check(out_rows >= 0 && x_rows >= 0 && mats >= 1, "cuda::gather_rows_or_zero: negative shape");
  check(row_bytes % 2 == 0, "cuda::gather_rows_or_zero: rows of " + std::to_string(row_bytes) + " bytes (odd)");
  check(out_rows <= 2147483647 && mats <= 65535, "cuda::gather_rows_or_zero: grid too large");
  if (out_rows == 0 || row_bytes == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  auto fits = [&](size_t unit) { return row_bytes % unit == 0 && aligned(x, unit) && aligned(out, unit); };
  if (fits(16))
    launch_gather_rows_or_zero<uint4>(out, x, index, out_rows, x_rows, row_bytes, mats, s);
  else if (fits(4))
    launch_gather_rows_or_zero<uint32_t>(out, x, index, out_rows, x_rows, row_bytes, mats, s);
  else
    launch_gather_rows_or_zero<uint16_t>(out, x, index, out_rows, x_rows, row_bytes, mats, s);
  check_status(cudaGetLastError(), "gather_rows_or_zero kernel launch");
}

void fill(void* x, DType type, size_t n, float value, void* stream) {
  if (n == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case DType::F32: return launch_fill(static_cast<float*>(x), n, value, s);
    case DType::F16: return launch_fill(static_cast<__half*>(x), n, value, s);
    case DType::BF16: return launch_fill(static_cast<__nv_bfloat16*>(x), n, value, s);
  }
  throw Error("cuda::fill: unknown dtype");
}

}  // namespace zotune::cuda
