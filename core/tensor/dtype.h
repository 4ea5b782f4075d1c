// Storage dtypes of weights and activations. Arithmetic is always fp32 (or wider);
// fp16/bf16 only say how values are stored.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace zotune {

enum class DType : uint8_t { F32 = 0, F16 = 1, BF16 = 2 };

constexpr size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }
const char* dtype_name(DType t);  // "f32", "f16", "bf16"
// Accepts f32/fp32/float32, f16/fp16/float16/half, bf16/bfloat16 (case-insensitive).
std::optional<DType> parse_dtype(std::string_view name);

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest even, NaN stays NaN (quiet), as torch and CUDA's __float2bfloat16 do.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // IEEE binary16, round to nearest even, overflow to inf

// Converts n values between storage dtypes (any pair, including same-type copy).
void convert(const void* src, DType src_type, void* dst, DType dst_type, size_t n);

// Reads element i of a buffer of the given dtype as fp32.
inline float load_f32(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
  return 0.0f;
}

}  // namespace zotune
