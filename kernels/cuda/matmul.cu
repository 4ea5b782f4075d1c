#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/matmul.cuh"

namespace zotune::cuda {
namespace {

// 32 MiB: what cuBLAS asks for on Hopper with split-K and large tiles. A workspace set by
// hand keeps cuBLAS from allocating its own during a stream capture.
constexpr size_t kWorkspaceBytes = size_t(32) << 20;

void check_blas(cublasStatus_t status, const std::string& what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error("cuBLAS: " + what + ": " + cublasGetStatusString(status) + " (" + std::to_string(int(status)) + ")");
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
  }
  return CUDA_R_32F;
}

cublasHandle_t as_handle(void* h) { return static_cast<cublasHandle_t>(h); }

}  // namespace

Blas::Blas(void* stream, bool allow_tf32) : stream_(stream), allow_tf32_(allow_tf32) {
  cublasHandle_t h = nullptr;
  check_blas(cublasCreate(&h), "cublasCreate");
  handle_ = h;
  try {
    check_blas(cublasSetStream(h, static_cast<cudaStream_t>(stream)), "cublasSetStream");
    check_status(cudaMalloc(&workspace_, kWorkspaceBytes), "cudaMalloc (cuBLAS workspace, 32 MiB)");
    workspace_bytes_ = kWorkspaceBytes;
    check_blas(cublasSetWorkspace(h, workspace_, workspace_bytes_), "cublasSetWorkspace");
    // Default math: tensor cores for fp16/bf16 inputs, fp32 accumulation as the compute type
    // says; TF32 only where matmul asks for it through CUBLAS_COMPUTE_32F_FAST_TF32.
    check_blas(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    check_blas(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST), "cublasSetPointerMode");
  } catch (...) {
    cublasDestroy(h);
    if (workspace_ != nullptr) cudaFree(workspace_);
    throw;
  }
}

Blas::~Blas() {
  if (handle_ != nullptr) cublasDestroy(as_handle(handle_));
  if (workspace_ != nullptr) cudaFree(workspace_);
}

void matmul(const Blas& blas, void* out, DType out_type, const void* in, const void* weight, DType type, int M, int K,
            int N, int64_t ldo) {
  const std::string shape = "M " + std::to_string(M) + ", K " + std::to_string(K) + ", N " + std::to_string(N) + ", " +
                            dtype_name(type) + " -> " + dtype_name(out_type);
  if (ldo == 0) ldo = N;
  check(M >= 0 && N >= 0 && K > 0, "cuda::matmul: bad shape (" + shape + ")");
  check(ldo >= N && ldo <= INT32_MAX, "cuda::matmul: leading dimension " + std::to_string(ldo) + " of out < N (" + shape + ")");
  check(out_type == type || out_type == DType::F32,
        "cuda::matmul: the output must be of the input dtype or f32 (" + shape + ")");
  if (M == 0 || N == 0) return;
  // Row-major out[M, N] is column-major out^T[N, M] (leading dimension ldo), and
  //   out^T[N, M] = W[N, K] @ in^T[K, M].
  // Row-major W[N, K] read column-major is W^T[K, N] (ld K): op T gives W. Row-major in[M, K]
  // read column-major is in^T[K, M] (ld K): op N. So one "TN" GEMM with m = N, n = M, k = K.
  const cublasComputeType_t compute =
      type == DType::F32 && blas.allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const float alpha = 1.0f, beta = 0.0f;
  const cublasStatus_t status =
      cublasGemmEx(as_handle(blas.handle()), CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, weight, cuda_type(type), K, in,
                   cuda_type(type), K, &beta, out, cuda_type(out_type), static_cast<int>(ldo), compute,
                   CUBLAS_GEMM_DEFAULT);
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuda::matmul: cublasGemmEx failed: ") + cublasGetStatusString(status) + " (" + shape +
                ", ldo " + std::to_string(ldo) + ")");
}

void matmul_strided_batched(const Blas& blas, void* out, DType out_type, int64_t out_stride, const void* in,
                            int64_t in_stride, const void* weight, int64_t weight_stride, DType type, int M, int K,
                            int N, int batch, int64_t ldo) {
  const std::string shape = "M " + std::to_string(M) + ", K " + std::to_string(K) + ", N " + std::to_string(N) +
                            ", batch " + std::to_string(batch) + ", " + dtype_name(type) + " -> " +
                            dtype_name(out_type);
  check(batch >= 0, "cuda::matmul_strided_batched: bad batch count (" + shape + ")");
  if (batch == 1) return matmul(blas, out, out_type, in, weight, type, M, K, N, ldo);
  if (ldo == 0) ldo = N;
  check(M >= 0 && N >= 0 && K > 0, "cuda::matmul_strided_batched: bad shape (" + shape + ")");
  check(ldo >= N && ldo <= INT32_MAX,
        "cuda::matmul_strided_batched: leading dimension " + std::to_string(ldo) + " of out < N (" + shape + ")");
  check(out_type == type || out_type == DType::F32,
        "cuda::matmul_strided_batched: the output must be of the input dtype or f32 (" + shape + ")");
  if (batch == 0 || M == 0 || N == 0) return;
  check(out_stride >= (static_cast<int64_t>(M) - 1) * ldo + N && in_stride >= 0 && weight_stride >= 0,
        "cuda::matmul_strided_batched: strides out " + std::to_string(out_stride) + ", in " +
            std::to_string(in_stride) + ", weight " + std::to_string(weight_stride) + " overlap or are negative (" +
            shape + ", ldo " + std::to_string(ldo) + ")");
  // Per batch entry the "TN" GEMM of matmul (m = N, n = M, k = K); cuBLAS's A is the weight,
  // B the input, C the output, each advanced by its stride.
  const cublasComputeType_t compute =
      type == DType::F32 && blas.allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const float alpha = 1.0f, beta = 0.0f;
  const cublasStatus_t status = cublasGemmStridedBatchedEx(
      as_handle(blas.handle()), CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &alpha, weight, cuda_type(type), K,
      static_cast<long long>(weight_stride), in, cuda_type(type), K, static_cast<long long>(in_stride), &beta, out,
      cuda_type(out_type), static_cast<int>(ldo), static_cast<long long>(out_stride), batch, compute,
      CUBLAS_GEMM_DEFAULT);
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuda::matmul_strided_batched: cublasGemmStridedBatchedEx failed: ") +
                cublasGetStatusString(status) + " (" + shape + ", ldo " + std::to_string(ldo) + ", strides out " +
                std::to_string(out_stride) + ", in " + std::to_string(in_stride) + ", weight " +
                std::to_string(weight_stride) + ")");
}

}  // namespace zotune::cuda
