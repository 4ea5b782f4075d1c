#include "kernels/cpu/dequantize.h"

#include <cstring>

#include "core/tensor/dtype.h"

namespace zotune::cpu {
namespace {

// Little-endian fp16 at any alignment.
inline float load_half(const uint8_t* p) {
  return f16_to_f32(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

inline uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

// Q4_K/Q5_K pack eight 6-bit (scale, min) pairs into 12 bytes: pairs 0-3 in the low six
// bits of bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 take their low four bits from the
// nibbles of bytes 8-11 and their top two bits from the spare top bits of bytes 0-7.
inline void scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace

void dequantize_row_f32(const uint8_t* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_row_f16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = load_half(src + 2 * i);
}

void dequantize_row_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
}

// Element j of a block is its low nibble for j < 16, the high nibble of byte j - 16 after.
void dequantize_row_q4_0(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b, src += kQ4_0Bytes, dst += kQuantBlock) {
    const float d = load_half(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
      dst[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b, src += kQ4_1Bytes, dst += kQuantBlock) {
    const float d = load_half(src);
    const float m = load_half(src + 2);
    const uint8_t* qs = src + 4;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
      dst[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

// The fifth bit of element j is bit j of the 32-bit little-endian qh.
void dequantize_row_q5_0(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b, src += kQ5_0Bytes, dst += kQuantBlock) {
    const float d = load_half(src);
    const uint32_t qh = load_u32(src + 2);
    const uint8_t* qs = src + 6;
    for (int j = 0; j < 16; ++j) {
      const int high0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int high1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      dst[j] = static_cast<float>(((qs[j] & 0x0F) | high0) - 16) * d;
      dst[j + 16] = static_cast<float>(((qs[j] >> 4) | high1) - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b, src += kQ5_1Bytes, dst += kQuantBlock) {
    const float d = load_half(src);
    const float m = load_half(src + 2);
    const uint32_t qh = load_u32(src + 4);
    const uint8_t* qs = src + 8;
    for (int j = 0; j < 16; ++j) {
      const int high0 = static_cast<int>(((qh >> j) << 4) & 0x10);
      const int high1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      dst[j] = static_cast<float>((qs[j] & 0x0F) | high0) * d + m;
      dst[j + 16] = static_cast<float>((qs[j] >> 4) | high1) * d + m;
    }
  }
}

void dequantize_row_q8_0(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b, src += kQ8_0Bytes, dst += kQuantBlock) {
    const float d = load_half(src);
    for (int j = 0; j < 32; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(src[2 + j])) * d;
  }
}

// 16 sub-blocks of 16: scale byte s holds the sub-block's 4-bit scale (low) and min (high).
// Each 128-element half reads 32 quant bytes four times, two bits at a time.
void dequantize_row_q2_k(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kQ2_KBytes) {
    const uint8_t* scales = src;
    const uint8_t* q = src + 16;
    const float d = load_half(src + 80);
    const float dmin = load_half(src + 82);
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l) *dst++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// 16 sub-blocks of 16 with signed 6-bit scales (stored +32): low four bits in the nibbles of
// bytes 0-7, top two bits in bytes 8-11. A quant is 2 low bits from qs and a high bit from
// hmask; a clear high bit means subtract 4.
void dequantize_row_q3_k(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kQ3_KBytes) {
    const uint8_t* hmask = src;
    const uint8_t* q = src + 32;
    const uint8_t* packed = src + 96;
    const float d = load_half(src + 108);
    int scales[16];
    for (int j = 0; j < 16; ++j) {
      const int low = j < 8 ? (packed[j] & 0xF) : (packed[j - 8] >> 4);
      const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
      scales[j] = (low | (high << 4)) - 32;
    }
    int is = 0;
    uint8_t bit = 1;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, bit = static_cast<uint8_t>(bit << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d * static_cast<float>(scales[is++]);
          for (int l = 16 * part; l < 16 * part + 16; ++l) {
            const int value = ((q[l] >> shift) & 3) - ((hmask[l] & bit) ? 0 : 4);
            *dst++ = dl * static_cast<float>(value);
          }
        }
      }
    }
  }
}

// 8 sub-blocks of 32 with 6-bit scales and mins; each 64 elements read 32 quant bytes, low
// nibbles first.
void dequantize_row_q4_k(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kQ4_KBytes) {
    const float d = load_half(src);
    const float dmin = load_half(src + 2);
    const uint8_t* packed = src + 4;
    const uint8_t* q = src + 16;
    for (int is = 0; is < 8; is += 2, q += 32) {
      uint8_t sc, m;
      scale_min_k4(is, packed, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(is + 1, packed, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// As Q4_K plus a fifth bit per element from qh: sub-block i takes bit i of qh[l].
void dequantize_row_q5_k(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kQ5_KBytes) {
    const float d = load_half(src);
    const float dmin = load_half(src + 2);
    const uint8_t* packed = src + 4;
    const uint8_t* qh = src + 16;
    const uint8_t* ql = src + 48;
    uint8_t bit_low = 1, bit_high = 2;
    for (int is = 0; is < 8; is += 2, ql += 32) {
      uint8_t sc, m;
      scale_min_k4(is, packed, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
      scale_min_k4(is + 1, packed, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
      for (int l = 0; l < 32; ++l)
        *dst++ = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & bit_low) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        *dst++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & bit_high) ? 16 : 0)) - m2;
      bit_low = static_cast<uint8_t>(bit_low << 2);
      bit_high = static_cast<uint8_t>(bit_high << 2);
    }
  }
}

// 16 sub-blocks of 16 with int8 scales; a 6-bit quant (stored +32) is a nibble of ql plus
// two bits of qh. Each 128-element half uses 64 ql bytes, 32 qh bytes and 8 scales.
void dequantize_row_q6_k(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kSuperBlock; ++b, src += kQ6_KBytes) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const uint8_t* sc_bytes = src + 192;
    const float d = load_half(src + 208);
    for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc_bytes += 8, dst += 128) {
      const auto scale = [&](int i) { return static_cast<float>(static_cast<int8_t>(sc_bytes[i])); };
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * scale(is) * static_cast<float>(q1);
        dst[l + 32] = d * scale(is + 2) * static_cast<float>(q2);
        dst[l + 64] = d * scale(is + 4) * static_cast<float>(q3);
        dst[l + 96] = d * scale(is + 6) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace zotune::cpu
