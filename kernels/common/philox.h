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
#if defined(__CUDA_ARCH__)
  // One IMAD.WIDE.U32. Written as C++ (a 64-bit product, or __umulhi and a * b), nvcc rewrites
  // the product of a block index plus a constant as a product plus a constant and then splits it
  // into IMAD.HI + IADD3, or adds zero high words: 10% more instructions in the pass, measured.
  uint32_t lo;
  asm("{\n\t.reg .u64 p;\n\tmul.wide.u32 p, %2, %3;\n\tmov.b64 {%0, %1}, p;\n\t}"
      : "=r"(lo), "=r"(*hi)
      : "r"(a), "r"(b));
  return lo;
#else
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
#endif
}

inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;  // multipliers
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;  // Weyl key increments

// Rounds first .. 9 of Philox4x32-10 on ctr; (k0, k1) is the key of round `first`.
ZOTUNE_HD Philox4 philox_rounds(Philox4 ctr, uint32_t k0, uint32_t k1, int first) {
  for (int round = first; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo32(kPhiloxM0, ctr.v[0], &hi0);
    const uint32_t lo1 = mulhilo32(kPhiloxM1, ctr.v[2], &hi1);
    ctr = Philox4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
  return ctr;
}

ZOTUNE_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) { return philox_rounds(ctr, k0, k1, 0); }

// Philox4x32-10 over many counters (c0, c1, c2, c3) that differ only in c0 (a run of blocks
// of one direction: c1 = block high word, c2 = step, c3 = query), with the work that does not
// depend on c0 done once. Of the first two rounds' four products, two depend only on
// (c1, c2, key): round 1's M1 * c2 and round 2's M0 * out0. philox_with_head(head, c0) ==
// philox4x32_10({c0, c1, c2, c3}, k0, k1) bit for bit; it saves the device pass two of its 20
// multiply-wides and a logic op per block.
struct PhiloxHead {
  uint32_t out2_xor;   // round 1's output 2 = hi(M0 c0) ^ out2_xor; output 3 = lo(M0 c0)
  uint32_t out0_xor;   // round 2's output 0 = hi(M1 * round 1's output 2) ^ out0_xor
  uint32_t out2b_xor;  // round 2's output 2 = out2b_xor ^ lo(M0 c0); output 3 = out3b
  uint32_t out3b;
  uint32_t k0, k1;     // the key of round 3
};

ZOTUNE_HD PhiloxHead philox_head(uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  uint32_t hi1;
  const uint32_t lo1 = mulhilo32(kPhiloxM1, c2, &hi1);
  const uint32_t out0 = hi1 ^ c1 ^ k0;  // round 1's output 0; output 1 = lo1
  uint32_t hi0b;
  const uint32_t lo0b = mulhilo32(kPhiloxM0, out0, &hi0b);
  PhiloxHead h;
  h.out2_xor = c3 ^ k1;
  h.out0_xor = lo1 ^ (k0 + kPhiloxW0);
  h.out2b_xor = hi0b ^ (k1 + kPhiloxW1);
  h.out3b = lo0b;
  h.k0 = k0 + 2 * kPhiloxW0;
  h.k1 = k1 + 2 * kPhiloxW1;
  return h;
}

ZOTUNE_HD Philox4 philox_with_head(const PhiloxHead& h, uint32_t c0) {
  uint32_t hi0, hi1;
  const uint32_t lo0 = mulhilo32(kPhiloxM0, c0, &hi0);               // round 1
  const uint32_t lo1 = mulhilo32(kPhiloxM1, hi0 ^ h.out2_xor, &hi1);  // round 2
  return philox_rounds(Philox4{{hi1 ^ h.out0_xor, lo1, h.out2b_xor ^ lo0, h.out3b}}, h.k0, h.k1, 2);
}

enum class DirectionKind : uint8_t { Gaussian = 0, Rademacher = 1 };

// The four raw outputs of the block holding global index i of direction (seed, step, query).
ZOTUNE_HD Philox4 direction_block(uint64_t seed, uint32_t step, uint32_t query, uint64_t block) {
  return philox4x32_10(Philox4{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), step, query}},
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

#if defined(__CUDA_ARCH__)
// The hardware's approximations (MUFU, one instruction each): the perturbation pass has to
// generate normals at memory bandwidth. ftz is harmless here: no argument is subnormal.
__device__ __forceinline__ float philox_lg2_approx(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float philox_sqrt_approx(float x) {
  float y;
  asm("sqrt.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float philox_sin_approx(float x) {
  float y;
  asm("sin.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
__device__ __forceinline__ float philox_cos_approx(float x) {
  float y;
  asm("cos.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
#endif

// Box-Muller on one pair of outputs: u1 = (a + 1) 2^-32 in (0, 1] (never log 0) and
// u2 = b 2^-32 in [0, 1], formed alike on CPU and GPU; z0 = r cos(2 pi u2), z1 = r sin(2 pi u2),
// r = sqrt(-2 ln u1).
//
// The CPU (the reference) uses libm in fp32. The GPU uses the hardware approximations:
//  - ln: lg2.approx has an absolute error of ~2^-22 on [1/2, 2], so near u1 = 1, where r is
//    small, it would lose r's relative accuracy; there (t = 1 - u1 < 2^-10, t exact) the
//    series -ln(1 - t) = t + t^2/2 (truncation t^2/3 < 2^-21.6 relative) replaces it. Above
//    the threshold the lg2 error moves r by at most ~2^-22 / (2 sqrt(t / ln 2)) ~ 3e-6 (r ~ 0.04,
//    scaled by sqrt(2 ln 2)). Either way log2 u1 <= 0 (t >= 0; lg2 of u1 <= 1 - 2^-10 is
//    < -1.4e-3, far beyond its error), so the square root never sees a negative argument.
//    The threshold and the two-term series are the cheapest pair inside the bound below: the
//    pass is bound by issuing instructions, and a five-term series at 1/32 cost 4% of it.
//  - sin/cos: accurate to 2^-21.4 absolute on [-pi, pi] only, so the angle is taken there:
//    2 pi u2 = pi + pi (2 u2 - 1), one fma, and sin/cos change sign.
// CPU-vs-GPU agreement (same integers, so the same u1, u2): |z_gpu - z_cpu| <= kDeviceZAbsError.
// zotune_cuda_tests' BoxMullerSweep measures, over all 2^32 values of each input, the device's
// r against sqrt(-2 ln u1) and its cos/sin against fp64: |dz| <= |dr| (1 + dcs) + r dcs, with
// r <= sqrt(64 ln 2) = 6.66 (the measured values are in docs/PERFORMANCE.md). The integer
// stream (philox4x32_10) and the Rademacher signs are bit-identical.
inline constexpr float kDeviceZAbsError = 8e-6f;

#if defined(__CUDA_ARCH__)
// sqrt(2 ln 2): the device keeps r in log2 units, r = kSqrtTwoLn2 * sqrt(-log2 u1), so that the
// constant folds into the coefficient of a term.
inline constexpr float kSqrtTwoLn2 = 1.17741002251547469f;

// The device's Box-Muller factors of one pair: z0 = kSqrtTwoLn2 * r2 * c, z1 = kSqrtTwoLn2 * r2 * s.
__device__ __forceinline__ void box_muller_polar(uint32_t a, uint32_t b, float* r2, float* c, float* s) {
  constexpr float kTwoPow32Inv = 2.3283064365386963e-10f;  // 2^-32
  constexpr float kPi = 3.14159265358979324f;
  constexpr float kInvLn2 = 1.44269504088896341f;
  constexpr float kSeriesBelow = 0.0009765625f;  // 2^-10
  // (a + 1) 2^-32 rounded once, exactly the CPU's u1 (the scaling by 2^-32 is exact).
  const float u1 = fmaf(static_cast<float>(a), kTwoPow32Inv, kTwoPow32Inv);
  const float t = 1.0f - u1;  // exact where it is used (u1 > 1 - 2^-10: Sterbenz)
  // log2(1 - t) = -t (1 + t/2 + ...) / ln 2
  const float series = t * fmaf(t, -0.5f * kInvLn2, -kInvLn2);
  const float log2_u1 = t < kSeriesBelow ? series : philox_lg2_approx(u1);  // <= 0
  *r2 = philox_sqrt_approx(-log2_u1);
  // pi (2 u2 - 1) = b (2 pi 2^-32) - pi in one rounding (2 pi 2^-32 is exact in fp32).
  const float angle = fmaf(static_cast<float>(b), 2.0f * kPi * kTwoPow32Inv, -kPi);
  *s = -philox_sin_approx(angle);
  *c = -philox_cos_approx(angle);
}
#endif

ZOTUNE_HD void box_muller(uint32_t a, uint32_t b, float* z0, float* z1) {
#if defined(__CUDA_ARCH__)
  float r2, c, s;
  box_muller_polar(a, b, &r2, &c, &s);
  const float r = kSqrtTwoLn2 * r2;
  *z0 = r * c;
  *z1 = r * s;
#else
  constexpr float kTwoPow32Inv = 2.3283064365386963e-10f;  // 2^-32
  constexpr float kTwoPi = 6.2831853071795864f;
  const float u1 = (static_cast<float>(a) + 1.0f) * kTwoPow32Inv;
  const float u2 = static_cast<float>(b) * kTwoPow32Inv;
  const float r = std::sqrt(-2.0f * std::log(u1));
  const float s = std::sin(kTwoPi * u2), c = std::cos(kTwoPi * u2);
  *z0 = r * c;
  *z1 = r * s;
#endif
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

// Derived streams: the counter layout of a direction under the key seed ^ tag, so their
// values never coincide with a direction z(seed, step, query) of the run. Sparse-MeZO's random
// mask draws u(seed ^ kMaskStream, step, query)[i]; LOZO's lazily refreshed factor V draws
// z(seed ^ kLowRankVStream, first step of the window, query).
inline constexpr uint64_t kMaskStream = 0x6D61736B00000000ull;      // "mask"
inline constexpr uint64_t kLowRankVStream = 0x6C6F7A6F00000000ull;  // "lozo"

// The four U[0, 1) values of one block: the top 24 bits of each output times 2^-24 (exact in fp32).
ZOTUNE_HD void uniform_values(uint64_t seed, uint32_t step, uint32_t query, uint64_t block, float out[4]) {
  const Philox4 r = direction_block(seed, step, query, block);
  for (int l = 0; l < 4; ++l) out[l] = static_cast<float>(r.v[l] >> 8) * 5.9604644775390625e-8f;
}

// The head of direction (seed, step, query) for the blocks whose high word is block_hi:
// direction_block(seed, step, query, b) == philox_with_head(head, uint32_t(b)) for them.
ZOTUNE_HD PhiloxHead direction_head(uint64_t seed, uint32_t step, uint32_t query, uint32_t block_hi) {
  return philox_head(block_hi, step, query, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

#if defined(__CUDA_ARCH__)
// acc[l] += coeff * z[l] for the four raw outputs x of a block, on the device, coeff (and
// sqrt(2 ln 2)) folded into r: one multiply per pair instead of three; it differs from
// rounding z first by two fp32 roundings of the product.
__device__ __forceinline__ void direction_axpy_bits(const Philox4& x, DirectionKind kind, float coeff, float acc[4]) {
  if (kind == DirectionKind::Rademacher) {
    for (int l = 0; l < 4; ++l) acc[l] += (x.v[l] >> 31) ? -coeff : coeff;
    return;
  }
  const float scaled = coeff * kSqrtTwoLn2;
  float r2, c, s;
  box_muller_polar(x.v[0], x.v[1], &r2, &c, &s);
  acc[0] = fmaf(scaled * r2, c, acc[0]);
  acc[1] = fmaf(scaled * r2, s, acc[1]);
  box_muller_polar(x.v[2], x.v[3], &r2, &c, &s);
  acc[2] = fmaf(scaled * r2, c, acc[2]);
  acc[3] = fmaf(scaled * r2, s, acc[3]);
}

// acc[l] += coeff * z[4 * block + l] of direction (seed, step, query) on the device.
__device__ __forceinline__ void direction_axpy(uint64_t seed, uint32_t step, uint32_t query, uint64_t block,
                                               DirectionKind kind, float coeff, float acc[4]) {
  direction_axpy_bits(direction_block(seed, step, query, block), kind, coeff, acc);
}
#endif

}  // namespace zotune
