// Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers: as easy as 1, 2, 3"), and
// the perturbation directions zotune draws from it. Shared by CPU and CUDA code: every
// function is a pure function of (key, counter), so any rank and any thread can regenerate
// any element of any direction without state.
//
// Direction z(seed, step, query)[i] for global trainable index i:
//   key     = (seed low 32 bits, seed high 32 bits)
//   counter = (block low 32, block high 32, step, query), block = i / 4
//   the block's four 32-bit outputs give four N(0,1) values by Box-Muller on the pairs
//   (out0, out1) and (out2, out3); lane i % 4 picks one. Rademacher: sign of bit 31.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define ZOTUNE_HD __host__ __device__ __forceinline__
#else
#define ZOTUNE_HD inline
#endif

namespace zotune {

struct Philox4 {
  uint32_t v[4];
};

ZOTUNE_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

ZOTUNE_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(kM0, ctr.v[0], &hi0);
    const uint32_t lo1 = mulhilo32(kM1, ctr.v[2], &hi1);
    ctr = Philox4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += kW0;
    k1 += kW1;
  }
  return ctr;
}

enum class DirectionKind : uint8_t { Gaussian = 0, Rademacher = 1 };

// The four raw outputs of the block holding global index i of direction (seed, step, query).
ZOTUNE_HD Philox4 direction_block(uint64_t seed, uint32_t step, uint32_t query, uint64_t block) {
  return philox4x32_10(Philox4{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), step, query}},
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Box-Muller on one pair of outputs: u1 in (0, 1] (never log 0), u2 in [0, 1). fp32
// arithmetic on both CPU and GPU; values agree to a few ulp (libm vs CUDA math).
ZOTUNE_HD void box_muller(uint32_t a, uint32_t b, float* z0, float* z1) {
  constexpr float kTwoPow32Inv = 2.3283064365386963e-10f;  // 2^-32
  const float u1 = (static_cast<float>(a) + 1.0f) * kTwoPow32Inv;
  const float u2 = static_cast<float>(b) * kTwoPow32Inv;
#if defined(__CUDA_ARCH__)
  const float r = sqrtf(-2.0f * logf(u1));
  float s, c;
  sincospif(2.0f * u2, &s, &c);
#else
  constexpr float kTwoPi = 6.2831853071795864f;
  const float r = std::sqrt(-2.0f * std::log(u1));
  const float s = std::sin(kTwoPi * u2), c = std::cos(kTwoPi * u2);
#endif
  *z0 = r * c;
  *z1 = r * s;
}

// The four direction values of one block (global indices 4*block .. 4*block+3).
ZOTUNE_HD void direction_values(uint64_t seed, uint32_t step, uint32_t query, uint64_t block, DirectionKind kind,
                                float out[4]) {
  const Philox4 r = direction_block(seed, step, query, block);
  if (kind == DirectionKind::Rademacher) {
    for (int l = 0; l < 4; ++l) out[l] = (r.v[l] >> 31) ? -1.0f : 1.0f;
    return;
  }
  box_muller(r.v[0], r.v[1], &out[0], &out[1]);
  box_muller(r.v[2], r.v[3], &out[2], &out[3]);
}

}  // namespace zotune
