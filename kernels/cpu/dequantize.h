// Dequantization of ggml's block formats into fp32, one routine per type, bit-exact with
// ggml's reference dequantize_row_* (ggml-quants.c) and the Python gguf package.
//
// Every routine turns `n` values (n a multiple of the type's block length) stored as
// n / block_length consecutive blocks at `src` into `dst[n]`. `src` may have any
// alignment: blocks are read byte by byte, so a block straight out of a memory map or a
// fuzzer's buffer is fine. fp16 fields (block scales) are little-endian IEEE binary16.
#pragma once
#include <cstddef>
#include <cstdint>

namespace zotune::cpu {

// Elements per block: 32 for the legacy formats, 256 (QK_K) for the K-quant super-blocks.
constexpr int64_t kQuantBlock = 32;
constexpr int64_t kSuperBlock = 256;

// Bytes per block, as ggml's block_* structs (static_asserted sizes in ggml-common.h).
constexpr size_t kQ4_0Bytes = 18;   // fp16 d; 16 B of 4-bit quants
constexpr size_t kQ4_1Bytes = 20;   // fp16 d, m; 16 B of 4-bit quants
constexpr size_t kQ5_0Bytes = 22;   // fp16 d; 4 B high bits; 16 B low nibbles
constexpr size_t kQ5_1Bytes = 24;   // fp16 d, m; 4 B high bits; 16 B low nibbles
constexpr size_t kQ8_0Bytes = 34;   // fp16 d; 32 int8 quants
constexpr size_t kQ2_KBytes = 84;   // 16 B scales/mins; 64 B 2-bit quants; fp16 d, dmin
constexpr size_t kQ3_KBytes = 110;  // 32 B high-bit mask; 64 B 2-bit quants; 12 B 6-bit scales; fp16 d
constexpr size_t kQ4_KBytes = 144;  // fp16 d, dmin; 12 B 6-bit scales/mins; 128 B 4-bit quants
constexpr size_t kQ5_KBytes = 176;  // fp16 d, dmin; 12 B scales/mins; 32 B high bits; 128 B low nibbles
constexpr size_t kQ6_KBytes = 210;  // 128 B low nibbles; 64 B high 2 bits; 16 int8 scales; fp16 d

// Plain storage types (block length 1), little-endian.
void dequantize_row_f32(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_f16(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_bf16(const uint8_t* src, float* dst, int64_t n);

// Legacy 32-element blocks.
void dequantize_row_q4_0(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_q4_1(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_q5_0(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_q5_1(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_q8_0(const uint8_t* src, float* dst, int64_t n);

// K-quant 256-element super-blocks.
void dequantize_row_q2_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_q3_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_q4_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_q5_k(const uint8_t* src, float* dst, int64_t n);
void dequantize_row_q6_k(const uint8_t* src, float* dst, int64_t n);

}  // namespace zotune::cpu
