// ggml block formats dequantized on the device: one thread per output element (grid-stride),
// which finds its block, reads the block's fp16 scales and its own quant bits byte by byte
// (blocks of 18, 20, 22, ... bytes sit at any alignment) and writes one value of the storage
// dtype. Loading is bound by the host-to-device copy of the quantized bytes, not by this
// kernel, so the per-element re-reads of a block's scales (L1 hits) cost nothing that matters.
//
// Each format's value(block, j) is the CPU reference's expression for element j of a block
// (kernels/cpu/dequantize.cpp), operation for operation. The host build does not contract
// a*b+c into an FMA and nvcc does by default, so every product and sum here is an explicit
// __fmul_rn / __fadd_rn / __fsub_rn (never fused), evaluated in the CPU's order.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cpu/dequantize.h"
#include "kernels/cuda/dequantize.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"

namespace zotune::cuda {
namespace {

// Little-endian fp16 at any alignment, widened exactly (as the CPU's f16_to_f32 for every
// finite value, subnormals included).
__device__ __forceinline__ float load_half(const uint8_t* p) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(p[0] | (p[1] << 8))));
}

__device__ __forceinline__ uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

// The CPU's scale_min_k4: pair j (0..7) of Q4_K/Q5_K's twelve packed bytes `q`.
__device__ __forceinline__ void scale_min_k4(int j, const uint8_t* q, int* scale, int* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// ---- Legacy 32-element blocks: element j < 16 is the low nibble of quant byte j, element
// j >= 16 the high nibble of byte j - 16.

struct Q4_0 {  // fp16 d | 16 B quants; x = (q - 8) * d
  static constexpr int kBlock = 32;
  static constexpr size_t kBytes = cpu::kQ4_0Bytes;
  __device__ static float value(const uint8_t* b, int j) {
    const float d = load_half(b);
    const uint8_t q = b[2 + (j & 15)];
    const int nibble = j < 16 ? (q & 0x0F) : (q >> 4);
    return __fmul_rn(static_cast<float>(nibble - 8), d);
  }
};

struct Q4_1 {  // fp16 d, m | 16 B quants; x = q * d + m
  static constexpr int kBlock = 32;
  static constexpr size_t kBytes = cpu::kQ4_1Bytes;
  __device__ static float value(const uint8_t* b, int j) {
    const float d = load_half(b);
    const float m = load_half(b + 2);
    const uint8_t q = b[4 + (j & 15)];
    const int nibble = j < 16 ? (q & 0x0F) : (q >> 4);
    return __fadd_rn(__fmul_rn(static_cast<float>(nibble), d), m);
  }
};

// Q5: the fifth bit of element j is bit j of the 32-bit little-endian qh.
struct Q5_0 {  // fp16 d | u32 qh | 16 B low nibbles; x = (q - 16) * d
  static constexpr int kBlock = 32;
  static constexpr size_t kBytes = cpu::kQ5_0Bytes;
  __device__ static float value(const uint8_t* b, int j) {
    const float d = load_half(b);
    const uint32_t qh = load_u32(b + 2);
    const uint8_t q = b[6 + (j & 15)];
    const int low = j < 16 ? (q & 0x0F) : (q >> 4);
    const int high = static_cast<int>((qh >> j) & 1) << 4;
    return __fmul_rn(static_cast<float>((low | high) - 16), d);
  }
};

struct Q5_1 {  // fp16 d, m | u32 qh | 16 B low nibbles; x = q * d + m
  static constexpr int kBlock = 32;
  static constexpr size_t kBytes = cpu::kQ5_1Bytes;
  __device__ static float value(const uint8_t* b, int j) {
    const float d = load_half(b);
    const float m = load_half(b + 2);
    const uint32_t qh = load_u32(b + 4);
    const uint8_t q = b[8 + (j & 15)];
    const int low = j < 16 ? (q & 0x0F) : (q >> 4);
    const int high = static_cast<int>((qh >> j) & 1) << 4;
    return __fadd_rn(__fmul_rn(static_cast<float>(low | high), d), m);
  }
};

struct Q8_0 {  // fp16 d | 32 int8 quants; x = q * d
  static constexpr int kBlock = 32;
  static constexpr size_t kBytes = cpu::kQ8_0Bytes;
  __device__ static float value(const uint8_t* b, int j) {
    const float d = load_half(b);
    return __fmul_rn(static_cast<float>(static_cast<int8_t>(b[2 + j])), d);
  }
};

// ---- K-quant 256-element super-blocks. Element j = 128 * half + within for the formats that
// walk two 128-element halves (Q2_K, Q3_K, Q6_K), j = 64 * chunk + within for those that walk
// four 64-element chunks (Q4_K, Q5_K).

// 16 B scales (low nibble: scale, high: min, sub-block is) | 64 B 2-bit quants | fp16 d, dmin.
// Half h reads quant bytes 32h..32h+31 four times (shift 0, 2, 4, 6), 16 elements per
// sub-block; x = (d * sc) * q - dmin * m.
struct Q2_K {
  static constexpr int kBlock = 256;
  static constexpr size_t kBytes = cpu::kQ2_KBytes;
  __device__ static float value(const uint8_t* b, int j) {
    const int half = j >> 7, within = j & 127;
    const int step = within >> 5;  // which 2-bit plane of the half's quant bytes
    const int l = within & 31;     // byte within the half's 32 (16 * part + index)
    const int is = half * 8 + step * 2 + (l >> 4);
    const uint8_t sc = b[is];
    const float d = load_half(b + 80);
    const float dmin = load_half(b + 82);
    const float dl = __fmul_rn(d, static_cast<float>(sc & 0xF));
    const float ml = __fmul_rn(dmin, static_cast<float>(sc >> 4));
    const int q = (b[16 + 32 * half + l] >> (2 * step)) & 3;
    return __fsub_rn(__fmul_rn(dl, static_cast<float>(q)), ml);
  }
};

// 32 B high-bit mask | 64 B 2-bit quants | 12 B 6-bit scales (+32) | fp16 d. Quant bytes as
// Q2_K; the high bit of element (half, step, l) is bit 4 * half + step of hmask[l] (a clear
// bit subtracts 4); x = (d * scale) * q.
struct Q3_K {
  static constexpr int kBlock = 256;
  static constexpr size_t kBytes = cpu::kQ3_KBytes;
  __device__ static float value(const uint8_t* b, int j) {
    const int half = j >> 7, within = j & 127;
    const int step = within >> 5, l = within & 31;
    const int is = half * 8 + step * 2 + (l >> 4);
    const uint8_t* packed = b + 96;
    const int low = is < 8 ? (packed[is] & 0xF) : (packed[is - 8] >> 4);
    const int high = (packed[8 + is % 4] >> (2 * (is / 4))) & 3;
    const int scale = (low | (high << 4)) - 32;
    const float d = load_half(b + 108);
    const float dl = __fmul_rn(d, static_cast<float>(scale));
    const int bit = 1 << (4 * half + step);
    const int q = ((b[32 + 32 * half + l] >> (2 * step)) & 3) - ((b[l] & bit) ? 0 : 4);
    return __fmul_rn(dl, static_cast<float>(q));
  }
};

// Q4_K and Q5_K alike: fp16 d, dmin | 12 B 6-bit scales/mins | (Q5_K: 32 B high bits qh) |
// 128 B 4-bit quants starting at byte `quants`. Chunk c uses quant bytes 32c..32c+31: low
// nibbles for sub-block 2c, high nibbles for 2c + 1; Q5_K adds 16 when bit `sub` of qh[l] is
// set. x = (d * sc) * q - dmin * m.
__device__ __forceinline__ float k4_value(const uint8_t* b, int j, int quants, const uint8_t* qh) {
  const int chunk = j >> 6, within = j & 63, l = within & 31;
  const int sub = 2 * chunk + (within >> 5);
  int sc, m;
  scale_min_k4(sub, b + 4, &sc, &m);
  const float d1 = __fmul_rn(load_half(b), static_cast<float>(sc));
  const float m1 = __fmul_rn(load_half(b + 2), static_cast<float>(m));
  const uint8_t q = b[quants + 32 * chunk + l];
  const int nibble = within < 32 ? (q & 0xF) : (q >> 4);
  const int high = (qh != nullptr && ((qh[l] >> sub) & 1)) ? 16 : 0;
  return __fsub_rn(__fmul_rn(d1, static_cast<float>(nibble + high)), m1);
}

struct Q4_K {
  static constexpr int kBlock = 256;
  static constexpr size_t kBytes = cpu::kQ4_KBytes;
  __device__ static float value(const uint8_t* b, int j) { return k4_value(b, j, 16, nullptr); }
};

struct Q5_K {
  static constexpr int kBlock = 256;
  static constexpr size_t kBytes = cpu::kQ5_KBytes;
  __device__ static float value(const uint8_t* b, int j) { return k4_value(b, j, 48, b + 16); }
};

// 128 B low nibbles | 64 B high 2 bits | 16 int8 scales | fp16 d. In half h, group g (0..3)
// of 32 elements takes the low (g < 2) or high nibble of ql[64h + 32(g & 1) + l], bits 2g, 2g+1
// of qh[32h + l] and scale 8h + 2g + l / 16; q is stored +32; x = (d * scale) * q.
struct Q6_K {
  static constexpr int kBlock = 256;
  static constexpr size_t kBytes = cpu::kQ6_KBytes;
  __device__ static float value(const uint8_t* b, int j) {
    const int half = j >> 7, within = j & 127;
    const int g = within >> 5, l = within & 31;
    const uint8_t ql = b[64 * half + 32 * (g & 1) + l];
    const int low = g < 2 ? (ql & 0xF) : (ql >> 4);
    const int high = (b[128 + 32 * half + l] >> (2 * g)) & 3;
    const int q = (low | (high << 4)) - 32;
    const float scale = static_cast<float>(static_cast<int8_t>(b[192 + 8 * half + 2 * g + (l >> 4)]));
    const float d = load_half(b + 208);
    return __fmul_rn(__fmul_rn(d, scale), static_cast<float>(q));
  }
};

template <class Format, typename T>
__global__ void dequantize_kernel(const uint8_t* src, T* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t block = i / Format::kBlock;
    const int j = static_cast<int>(i - block * Format::kBlock);
    dst[i] = from_f32<T>(Format::value(src + block * static_cast<int64_t>(Format::kBytes), j));
  }
}

template <class Format>
void launch(const void* src, void* dst, DType dst_type, int64_t n, void* stream, const char* name) {
  check(n >= 0 && n % Format::kBlock == 0, std::string("dequantize_") + name + ": " + std::to_string(n) +
                                               " values are not a whole number of " + std::to_string(Format::kBlock) +
                                               "-element blocks");
  if (n == 0) return;
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 1 << 16));
  with_dtype(dst_type, name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dequantize_kernel<Format, T><<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const uint8_t*>(src), static_cast<T*>(dst), n);
  });
  check_status(cudaGetLastError(), "dequantize_kernel launch");
}

}  // namespace

void dequantize_q4_0(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q4_0>(src, dst, t, n, s, "q4_0"); }
void dequantize_q4_1(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q4_1>(src, dst, t, n, s, "q4_1"); }
void dequantize_q5_0(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q5_0>(src, dst, t, n, s, "q5_0"); }
void dequantize_q5_1(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q5_1>(src, dst, t, n, s, "q5_1"); }
void dequantize_q8_0(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q8_0>(src, dst, t, n, s, "q8_0"); }
void dequantize_q2_k(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q2_K>(src, dst, t, n, s, "q2_k"); }
void dequantize_q3_k(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q3_K>(src, dst, t, n, s, "q3_k"); }
void dequantize_q4_k(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q4_K>(src, dst, t, n, s, "q4_k"); }
void dequantize_q5_k(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q5_K>(src, dst, t, n, s, "q5_k"); }
void dequantize_q6_k(const void* src, void* dst, DType t, int64_t n, void* s) { launch<Q6_K>(src, dst, t, n, s, "q6_k"); }

}  // namespace zotune::cuda
