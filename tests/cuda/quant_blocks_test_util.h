// Random ggml quantized blocks for the dequantization tests (tests/cuda/dequantize_test.cpp and
// the GGUF device-load engine test): every byte random (quants, packed scales and mins, high
// bits) except the fp16 fields (block scales and mins), which get random finite values of both
// signs and magnitudes 2^-12 .. 2^-4, some subnormal, so no NaN can blur a bitwise comparison
// and no block scale is zero. Header-only.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"
#include "kernels/cpu/dequantize.h"

namespace zotune::test {

struct QuantFormat {
  const char* name;                 // "q4_k": kernels/cpu/dequantize's dequantize_row_<name>
  uint32_t ggml_type;               // as ggml.h numbers it
  int64_t block;                    // elements per block
  size_t block_bytes;               // bytes per block
  std::vector<size_t> half_fields;  // byte offsets of the block's fp16 scale / min fields
};

inline const std::vector<QuantFormat>& quant_formats() {
  static const std::vector<QuantFormat> formats = {
      {"q4_0", 2, cpu::kQuantBlock, cpu::kQ4_0Bytes, {0}},     {"q4_1", 3, cpu::kQuantBlock, cpu::kQ4_1Bytes, {0, 2}},
      {"q5_0", 6, cpu::kQuantBlock, cpu::kQ5_0Bytes, {0}},     {"q5_1", 7, cpu::kQuantBlock, cpu::kQ5_1Bytes, {0, 2}},
      {"q8_0", 8, cpu::kQuantBlock, cpu::kQ8_0Bytes, {0}},     {"q2_k", 10, cpu::kSuperBlock, cpu::kQ2_KBytes, {80, 82}},
      {"q3_k", 11, cpu::kSuperBlock, cpu::kQ3_KBytes, {108}},  {"q4_k", 12, cpu::kSuperBlock, cpu::kQ4_KBytes, {0, 2}},
      {"q5_k", 13, cpu::kSuperBlock, cpu::kQ5_KBytes, {0, 2}}, {"q6_k", 14, cpu::kSuperBlock, cpu::kQ6_KBytes, {208}},
  };
  return formats;
}

inline const QuantFormat& quant_format(const std::string& name) {
  for (const QuantFormat& f : quant_formats())
    if (name == f.name) return f;
  throw std::invalid_argument("no quant format '" + name + "'");
}

// A random finite fp16: sign, magnitude 2^-12 .. 2^-4 log-uniform; one in eight is a subnormal
// (below 2^-14) instead, which the device must widen exactly too.
inline uint16_t random_scale_half(std::mt19937& rng) {
  std::uniform_real_distribution<float> log2_magnitude(-12.0f, -4.0f);
  const bool subnormal = rng() % 8 == 0;
  const float magnitude = subnormal ? std::ldexp(static_cast<float>(1 + rng() % 1000), -24)
                                    : std::exp2(log2_magnitude(rng));
  return f32_to_f16(rng() % 2 ? magnitude : -magnitude);
}

// n_blocks consecutive random blocks of format f.
inline std::vector<uint8_t> random_blocks(const QuantFormat& f, int64_t n_blocks, std::mt19937& rng) {
  std::vector<uint8_t> bytes(static_cast<size_t>(n_blocks) * f.block_bytes);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < n_blocks; ++i)
    for (size_t at : f.half_fields) {
      const uint16_t h = random_scale_half(rng);
      bytes[static_cast<size_t>(i) * f.block_bytes + at] = static_cast<uint8_t>(h & 0xFF);
      bytes[static_cast<size_t>(i) * f.block_bytes + at + 1] = static_cast<uint8_t>(h >> 8);
    }
  return bytes;
}

}  // namespace zotune::test
