// Dequantization of ggml's block formats on the device, straight into a storage dtype: the
// CUDA versions of kernels/cpu/dequantize (same block layouts, the same float operations in
// the same order, none fused), so an fp32 output equals the CPU reference bit for bit and an
// fp16 / bf16 output is that fp32 value rounded to nearest even (zotune::convert's rounding).
// Host-callable launchers only; every pointer is a device pointer.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// Each turns `n` values stored as n / block consecutive blocks at `src` (any alignment; the
// block lengths and sizes of kernels/cpu/dequantize.h: 32 elements for the legacy formats,
// 256 for the K-quant super-blocks) into dst[n] of `dst_type`, on `stream` (a cudaStream_t,
// null = the default stream). n must be a multiple of the block length (Error otherwise).
void dequantize_q4_0(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q4_1(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q5_0(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q5_1(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q8_0(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q2_k(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q3_k(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q4_k(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q5_k(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);
void dequantize_q6_k(const void* src, void* dst, DType dst_type, int64_t n, void* stream = nullptr);

}  // namespace zotune::cuda
