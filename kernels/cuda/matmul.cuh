// Linear layers on the device through cuBLAS on tensor cores: out[M, N] = in[M, K] @ W[N, K]^T
// with W stored as PyTorch stores it ([out, in], row-major), fp32 accumulation. fp16 and bf16
// run at tensor-core rate; fp32 runs as TF32 when allowed (the default of the CUDA engine) or
// as exact fp32. Host-only header: cuBLAS stays out of it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// One cuBLAS handle bound to one stream, with its own workspace (set explicitly so GEMMs can
// be captured in a CUDA graph). Not copyable.
class Blas {
 public:
  explicit Blas(void* stream = nullptr, bool allow_tf32 = true);
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;
  void* stream() const { return stream_; }
  bool allow_tf32() const { return allow_tf32_; }
  void set_allow_tf32(bool allow) { allow_tf32_ = allow; }
  void* handle() const { return handle_; }
  size_t workspace_bytes() const { return workspace_bytes_; }

 private:
  void* stream_ = nullptr;
  void* handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  bool allow_tf32_ = true;
};

// out[M, N] (row-major, leading dimension ldo >= N, 0 = N) = in[M, K] @ weight[N, K]^T, in and
// weight of `type`, out of `out_type` (`type` or F32). Throws Error naming the shapes when
// cuBLAS refuses.
void matmul(const Blas& blas, void* out, DType out_type, const void* in, const void* weight, DType type, int M, int K,
            int N, int64_t ldo = 0);

// `batch` independent matmuls in one cuBLAS call (cublasGemmStridedBatchedEx), e.g. one per
// probe group with each group's own weights: for g < batch,
//   out_g[M, N] = in_g[M, K] @ weight_g[N, K]^T,
// out_g = out + g * out_stride, in_g = in + g * in_stride, weight_g = weight + g * weight_stride
// (strides in elements of each operand's dtype; weight_stride 0 shares one weight), each as
// matmul reads it (out_g's leading dimension ldo, 0 = N). Same dtypes and compute type as
// matmul (TF32 for fp32 when the handle allows it). batch = 1 is exactly matmul (same cuBLAS
// call, same bits). The blocks of out must not overlap: out_stride >= (M - 1) * ldo + N.
void matmul_strided_batched(const Blas& blas, void* out, DType out_type, int64_t out_stride, const void* in,
                            int64_t in_stride, const void* weight, int64_t weight_stride, DType type, int M, int K,
                            int N, int batch, int64_t ldo = 0);

}  // namespace zotune::cuda
