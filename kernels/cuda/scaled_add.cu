// Scaled add: memory bound and small next to the GEMMs around it (a LoRA delta is [tokens,
// out], an adapter's update [tokens, hidden]), so one scalar element per thread: grid.x covers
// a row's columns, grid.y (at most 65535) strides over the rows, and strided rows (ld > cols)
// need no index division.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/scaled_add.cuh"

namespace zotune::cuda {
namespace {

template <typename T>
__global__ void scaled_add_kernel(T* __restrict__ y, int64_t ld, const float* __restrict__ x, float scale, int rows,
                                  int cols) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    T* p = y + r * ld + c;
    *p = from_f32<T>(fmaf(scale, x[r * cols + c], to_f32(*p)));
  }
}

}  // namespace

void scaled_add(void* y, DType type, int64_t ld, const float* x, float scale, int rows, int cols, void* stream) {
  check(rows >= 0 && cols >= 0 && ld >= cols, "cuda::scaled_add: bad shape rows " + std::to_string(rows) + ", cols " +
                                                  std::to_string(cols) + ", ld " + std::to_string(ld));
  if (rows == 0 || cols == 0) return;
  const int threads = std::min(256, (cols + 31) / 32 * 32);
  const dim3 grid(static_cast<unsigned>((cols + threads - 1) / threads), static_cast<unsigned>(std::min(rows, 65535)));
  with_dtype(type, "cuda::scaled_add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    scaled_add_kernel<T><<<grid, threads, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<T*>(y), ld, x, scale,
                                                                                   rows, cols);
  });
  check_status(cudaGetLastError(), "scaled_add kernel launch");
}

}  // namespace zotune::cuda
