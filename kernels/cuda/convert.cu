#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/convert.cuh"
#include "kernels/cuda/device.cuh"

namespace zotune::cuda {
namespace {

__device__ float load(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return __half2float(static_cast<const __half*>(p)[i]);
    case DType::BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  }
  return 0.0f;
}

__device__ void store(void* p, DType t, size_t i, float v) {
  switch (t) {
    case DType::F32: static_cast<float*>(p)[i] = v; break;
    case DType::F16: static_cast<__half*>(p)[i] = __float2half_rn(v); break;
    case DType::BF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v); break;
  }
}

__global__ void convert_kernel(const void* src, DType src_type, void* dst, DType dst_type, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    store(dst, dst_type, i, load(src, src_type, i));
}

}  // namespace

void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n, void* stream) {
  if (n == 0) return;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<size_t>((n + threads - 1) / threads, 65535));
  convert_kernel<<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(src, src_type, dst, dst_type, n);
  check_status(cudaGetLastError(), "convert_kernel launch");
}

}  // namespace zotune::cuda
