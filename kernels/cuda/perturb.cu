#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "core/util/error.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/segment_search.cuh"
#include "kernels/cuda/perturb.cuh"

// How the pass is laid out. A tile is kTileBlocks consecutive Philox blocks (4 elements each);
// thread t of a CTA takes blocks t, t + kThreads, ... (kUnroll of them: independent Philox work
// for the scheduler, and each access instruction of a warp covers a contiguous 256 B (fp16,
// bf16) or 512 B (fp32)). Each CTA owns a contiguous run of tiles, so perturb_segments walks
// the segment table forward with a cursor instead of searching it for every tile. A tile
// lying inside one segment whose Philox blocks are aligned in memory (4 elements = 8 or 16
// bytes) takes vector loads and stores; tiles that touch a segment boundary (a Philox block
// may straddle two segments) or an unaligned segment go element by element.
//
// Speed (H200, zotune_perturb_bench, one term, the models' real tensor tables): OPT-1.3B fp32
// 86% of a device copy, fp16 83%, bf16 89%; Llama-2-7B 86-92%; OPT-13B 88-95%. A 16-bit pass
// is near the point where the Philox work (~80 issued instructions per Philox block: 10 rounds
// of two IMAD.WIDE and two LOP3, less what the head saves, and two Box-Muller pairs on the
// hardware's approximations) takes as long as moving the bytes, so each further term costs
// ~1.1 ms per 1e9 parameters.

namespace zotune::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 8;
constexpr uint64_t kTileBlocks = uint64_t(kThreads) * kUnroll;  // 2048 Philox blocks, 8192 elements

struct TermBlock {
  cpu::DirectionTerm terms[kMaxPerturbTerms];
  int n = 0;
};

// v rounded into T and back: the decay's "scale, round into the storage dtype".
template <typename T>
__device__ __forceinline__ float round_to(float v) { return to_f32<T>(from_f32<T>(v)); }

// The four elements of one Philox block as one 16-byte (fp32) or 8-byte (fp16/bf16) access,
// kept raw until the Philox work is done: unpacking right after the load would make the
// thread wait out the memory latency before it starts computing. Streaming hints (.cs): the
// buffer is far larger than L2 and is touched once.
template <typename T>
struct Packed4 {
  using type = uint2;
};
template <>
struct Packed4<float> {
  using type = float4;
};

template <typename T>
__device__ __forceinline__ typename Packed4<T>::type load4(const T* p) {
  return __ldcs(reinterpret_cast<const typename Packed4<T>::type*>(p));
}
template <typename T>
__device__ __forceinline__ void store4(T* p, const typename Packed4<T>::type& q) {
  __stcs(reinterpret_cast<typename Packed4<T>::type*>(p), q);
}

template <typename T>
__device__ __forceinline__ void unpack4(const typename Packed4<T>::type& q, float v[4]);
template <>
__device__ __forceinline__ void unpack4<float>(const float4& q, float v[4]) {
  v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
}
template <>
__device__ __forceinline__ void unpack4<__half>(const uint2& q, float v[4]) {
  const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&q.x));
  const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&q.y));
  v[0] = lo.x, v[1] = lo.y, v[2] = hi.x, v[3] = hi.y;
}
template <>
__device__ __forceinline__ void unpack4<__nv_bfloat16>(const uint2& q, float v[4]) {
  const float2 lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&q.x));
  const float2 hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&q.y));
  v[0] = lo.x, v[1] = lo.y, v[2] = hi.x, v[3] = hi.y;
}

template <typename T>
__device__ __forceinline__ typename Packed4<T>::type pack4(const float v[4]);
template <>
__device__ __forceinline__ float4 pack4<float>(const float v[4]) {
  return make_float4(v[0], v[1], v[2], v[3]);
}
template <>
__device__ __forceinline__ uint2 pack4<__half>(const float v[4]) {
  const __half2 lo = __floats2half2_rn(v[0], v[1]), hi = __floats2half2_rn(v[2], v[3]);
  return make_uint2(*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi));
}
template <>
__device__ __forceinline__ uint2 pack4<__nv_bfloat16>(const float v[4]) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v[0], v[1]), hi = __floats2bfloat162_rn(v[2], v[3]);
  return make_uint2(*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi));
}

// acc[l] = sum_j c_j z_j[4 b + l] for one Philox block b, terms in order, as cpu::perturb sums
// them (zero coefficients skipped).
template <DirectionKind kKind>
__device__ __forceinline__ void block_sums(const TermBlock& tb, uint64_t b, float acc[4]) {
#pragma unroll
  for (int l = 0; l < 4; ++l) acc[l] = 0.0f;
  for (int j = 0; j < tb.n; ++j) {
    const cpu::DirectionTerm t = tb.terms[j];
    if (t.coeff == 0.0f) continue;
    direction_axpy(t.seed, t.step, t.query, b, kKind, t.coeff, acc);
  }
}

// A whole tile inside one segment with aligned Philox blocks: x points at element 4 * b0 of
// this thread's first block b0 = block_hi * 2^32 + b0_lo; all blocks of the tile share the high
// word (the caller checks), so each term's Philox head (philox.h) is computed once per tile.
// All kUnroll loads come first in the source, so they are in flight while the Philox work
// runs (ptxas keeps 3 to 6 of them ahead of it at 48 registers). Two shapes of the Philox
// work, chosen per launch:
//  - one term with a nonzero coefficient (kOneTerm; the MeZO probe moves): each block is
//    finished (added, stored) before the next, so one block's values are live; the kernel
//    stays near 48 registers and 5 CTAs fit an SM, against 2 at 126 registers. H200, fp16,
//    1.3e9 values: 80% of copy instead of 71%. The term's product goes into the parameter's
//    value in one fma (x + c z rounded once in fp32, where the sum of several terms is formed
//    first and rounds once more), which saves the pass 4 adds per block.
//  - several terms: the term loop is outermost and each term's Philox work runs for all
//    kUnroll blocks at once (independent chains for the scheduler), at the cost of all
//    4 * kUnroll sums being live; a block-by-block loop over the terms measured 15% slower.
template <typename T, DirectionKind kKind, bool kOneTerm>
__device__ __forceinline__ void tile_vector(T* x, const TermBlock& tb, uint32_t block_hi, uint32_t b0_lo, bool decay,
                                            float decay_scale) {
  typename Packed4<T>::type raw[kUnroll];
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) raw[k] = load4(x + 4 * k * kThreads);
  // The stored values of block k, decayed as the CPU's TrainableSpace::apply does.
  const auto start = [&](int k, float v[4]) {
    unpack4<T>(raw[k], v);
    if (decay) {
#pragma unroll
      for (int l = 0; l < 4; ++l) v[l] = round_to<T>(v[l] * decay_scale);
    }
  };
  if constexpr (kOneTerm) {
    const cpu::DirectionTerm t = tb.terms[0];
    const PhiloxHead head = direction_head(t.seed, t.step, t.query, block_hi);
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      const Philox4 bits = philox_with_head(head, b0_lo + uint32_t(k * kThreads));
      float v[4];
      start(k, v);
      direction_axpy_bits(bits, kKind, t.coeff, v);
      store4(x + 4 * k * kThreads, pack4<T>(v));
    }
  } else {
    float acc[kUnroll][4];
#pragma unroll
    for (int k = 0; k < kUnroll; ++k)
#pragma unroll
      for (int l = 0; l < 4; ++l) acc[k][l] = 0.0f;
    for (int j = 0; j < tb.n; ++j) {
      const cpu::DirectionTerm t = tb.terms[j];
      if (t.coeff == 0.0f) continue;
      const PhiloxHead head = direction_head(t.seed, t.step, t.query, block_hi);
#pragma unroll
      for (int k = 0; k < kUnroll; ++k)
        direction_axpy_bits(philox_with_head(head, b0_lo + uint32_t(k * kThreads)), kKind, t.coeff, acc[k]);
    }
#pragma unroll
    for (int k = 0; k < kUnroll; ++k) {
      float v[4];
      start(k, v);
#pragma unroll
      for (int l = 0; l < 4; ++l) v[l] += acc[k][l];
      store4(x + 4 * k * kThreads, pack4<T>(v));
    }
  }
}

template <typename T>
__device__ __forceinline__ void update_element(void* data, int64_t i, float acc, bool decay, float decay_scale) {
  T* p = static_cast<T*>(data) + i;
  float e = to_f32<T>(*p);
  if (decay) e = round_to<T>(e * decay_scale);
  *p = from_f32<T>(e + acc);
}

// One element at a time: every element of the tile inside [first, end) finds its segment
// (from the cursor s on), so Philox blocks across segment boundaries and unaligned segments
// are handled alike.
template <DirectionKind kKind>
__device__ void tile_elements(const PerturbSegment* segs, int n_segs, int s, const TermBlock& tb, uint64_t b0,
                              uint64_t first, uint64_t end, float decay_scale) {
  const bool scaling = decay_scale != 1.0f;
#pragma unroll 1
  for (int k = 0; k < kUnroll; ++k) {
    const uint64_t b = b0 + uint64_t(k) * kThreads;
    if (4 * b + 3 < first || 4 * b >= end) continue;
    float acc[4];
    block_sums<kKind>(tb, b, acc);
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const uint64_t g = 4 * b + l;
      if (g < first || g >= end) continue;
      const PerturbSegment& seg = segs[find_segment(segs, s, n_segs, g)];
      const int64_t i = int64_t(g - seg.first);
      const bool decay = scaling && seg.decay;
      switch (seg.dtype) {
        case DType::F32: update_element<float>(seg.data, i, acc[l], decay, decay_scale); break;
        case DType::F16: update_element<__half>(seg.data, i, acc[l], decay, decay_scale); break;
        case DType::BF16: update_element<__nv_bfloat16>(seg.data, i, acc[l], decay, decay_scale); break;
      }
    }
  }
}

// The pass over segments segs[0 .. n_segs) (contiguous in the global index space, starting at
// segs[0].first, `total` elements). CTA c owns tiles [c * per_cta, (c + 1) * per_cta).
template <DirectionKind kKind, bool kOneTerm>
__device__ __forceinline__ void perturb_pass(const PerturbSegment* segs, int n_segs, uint64_t total,
                                             const TermBlock& tb, float decay_scale) {
  const uint64_t first = segs[0].first, end = first + total;
  const uint64_t block0 = first >> 2, block_end = (end + 3) >> 2;
  const uint64_t n_tiles = (block_end - block0 + kTileBlocks - 1) / kTileBlocks;
  const uint64_t per_cta = (n_tiles + gridDim.x - 1) / gridDim.x;
  uint64_t tile = blockIdx.x * per_cta;
  const uint64_t tile_end = min(tile + per_cta, n_tiles);
  if (tile >= tile_end) return;
  // The cursor: the segment holding the first element of the current tile (uniform in the CTA).
  int s = find_segment(segs, 0, n_segs, max(4 * (block0 + tile * kTileBlocks), first));
  PerturbSegment seg = segs[s];
  const bool scaling = decay_scale != 1.0f;
  for (; tile < tile_end; ++tile) {
    const uint64_t tile_block = block0 + tile * kTileBlocks;
    const uint64_t tile_first = max(4 * tile_block, first);
    while (tile_first >= segment_end(seg)) seg = segs[++s];
    const uint64_t b0 = tile_block + threadIdx.x;
    const size_t es = dtype_size(seg.dtype);
    // Element 4b of every block b sits at a multiple of 4 elements from x[0]'s Philox block.
    const bool aligned = ((reinterpret_cast<uintptr_t>(seg.data) - seg.first * es) & (4 * es - 1)) == 0;
    // The tile's blocks share their counter's high word (all but one tile in 2^21 do).
    const bool one_high_word = uint32_t(tile_block) <= UINT32_MAX - uint32_t(kTileBlocks - 1);
    if (aligned && one_high_word && 4 * tile_block >= seg.first && 4 * (tile_block + kTileBlocks) <= segment_end(seg)) {
      const bool decay = scaling && seg.decay;
      const int64_t i = int64_t(4 * b0 - seg.first);
      const uint32_t hi = uint32_t(tile_block >> 32), lo = uint32_t(b0);
      switch (seg.dtype) {
        case DType::F32:
          tile_vector<float, kKind, kOneTerm>(static_cast<float*>(seg.data) + i, tb, hi, lo, decay, decay_scale);
          break;
        case DType::F16:
          tile_vector<__half, kKind, kOneTerm>(static_cast<__half*>(seg.data) + i, tb, hi, lo, decay, decay_scale);
          break;
        case DType::BF16:
          tile_vector<__nv_bfloat16, kKind, kOneTerm>(static_cast<__nv_bfloat16*>(seg.data) + i, tb, hi, lo, decay,
                                                      decay_scale);
          break;
      }
    } else {
      tile_elements<kKind>(segs, n_segs, s, tb, b0, first, end, decay_scale);
    }
  }
}

// Resident CTAs per SM the register allocation is held to: a one-term pass needs few registers
// and 5 CTAs (48 registers) hide the memory latency; a several-term pass keeps 4 * kUnroll sums
// live, and 2 CTAs (128 registers) is where it runs fastest (left to itself, ptxas takes 182).
constexpr int min_ctas_per_sm(bool one_term) { return one_term ? 5 : 2; }

template <DirectionKind kKind, bool kOneTerm>
__global__ void __launch_bounds__(kThreads, min_ctas_per_sm(kOneTerm)) perturb_segments_kernel(const PerturbSegment* segs, int n_segs,
                                                                    uint64_t total, const __grid_constant__ TermBlock tb,
                                                                    float decay_scale) {
  perturb_pass<kKind, kOneTerm>(segs, n_segs, total, tb, decay_scale);
}

// The single-range launch: its one segment travels in the parameter block.
template <DirectionKind kKind, bool kOneTerm>
__global__ void __launch_bounds__(kThreads, min_ctas_per_sm(kOneTerm)) perturb_range_kernel(const __grid_constant__ PerturbSegment seg,
                                                                 const __grid_constant__ TermBlock tb) {
  perturb_pass<kKind, kOneTerm>(&seg, 1, uint64_t(seg.n), tb, 1.0f);
}

__global__ void philox_kernel(uint32_t* out, uint64_t seed, uint32_t step, uint32_t query, uint64_t first_block,
                              int64_t n_blocks) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_blocks; i += int64_t(gridDim.x) * blockDim.x) {
    // Through the head, as the pass computes it (direction_block on the CPU is the reference).
    const uint64_t b = first_block + static_cast<uint64_t>(i);
    const Philox4 r = philox_with_head(direction_head(seed, step, query, uint32_t(b >> 32)), uint32_t(b));
    for (int l = 0; l < 4; ++l) out[4 * i + l] = r.v[l];
  }
}

// Nonnegative doubles order like their bit patterns, so atomicMax on the bits is a max.
__device__ void atomic_max_nonneg(unsigned long long* slot, double v) {
  atomicMax(slot, static_cast<unsigned long long>(__double_as_longlong(v)));
}

// out[0] = max over b of |cos_gpu - cos|, |sin_gpu - sin| (fp64 at the CPU's fp32 angle).
__global__ void angle_sweep_kernel(unsigned long long* out) {
#if defined(__CUDA_ARCH__)  // box_muller_polar exists in the device pass only
  constexpr float kTwoPow32Inv = 2.3283064365386963e-10f;
  constexpr float kTwoPi = 6.2831853071795864f;
  double worst = 0;
  for (uint64_t b = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; b < (uint64_t(1) << 32);
       b += uint64_t(gridDim.x) * blockDim.x) {
    float r2, c, s;
    box_muller_polar(0xffffffffu, static_cast<uint32_t>(b), &r2, &c, &s);
    const float angle = __fmul_rn(kTwoPi, __fmul_rn(static_cast<float>(static_cast<uint32_t>(b)), kTwoPow32Inv));
    worst = fmax(worst, fmax(fabs(double(c) - cos(double(angle))), fabs(double(s) - sin(double(angle)))));
  }
  atomic_max_nonneg(out, worst);
#endif
}

// out[0] = max over a of |r_gpu - r|; out[1] = max over a of the pair bound with dcs (see
// box_muller_error_sweep in the header).
__global__ void radius_sweep_kernel(unsigned long long* out, double dcs) {
#if defined(__CUDA_ARCH__)
  constexpr float kTwoPow32Inv = 2.3283064365386963e-10f;
  double worst_dr = 0, worst_dz = 0;
  for (uint64_t a = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; a < (uint64_t(1) << 32);
       a += uint64_t(gridDim.x) * blockDim.x) {
    float r2, c, s;
    box_muller_polar(static_cast<uint32_t>(a), 0, &r2, &c, &s);
    const float r_gpu = kSqrtTwoLn2 * r2;
    const float u1 = __fmul_rn(__fadd_rn(static_cast<float>(static_cast<uint32_t>(a)), 1.0f), kTwoPow32Inv);
    const double r = sqrt(-2.0 * log(double(u1)));
    const double dr = fabs(double(r_gpu) - r);
    worst_dr = fmax(worst_dr, dr);
    worst_dz = fmax(worst_dz, (dr + r * 0x1p-23) * (1.0 + dcs) + r * dcs);
  }
  atomic_max_nonneg(out, worst_dr);
  atomic_max_nonneg(out + 1, worst_dz);
#endif
}

int grid_for(uint64_t work, int threads) {
  // Enough blocks to fill an H100/H200 several times over; the kernel is a grid-stride loop.
  return static_cast<int>(std::min<uint64_t>((work + threads - 1) / threads, 132ull * 32));
}

// One wave of resident CTAs (each owns a contiguous run of tiles), or fewer for small passes.
// The residency of each kernel shape is queried once per process: a host-side attribute read,
// nothing enters the stream.
template <DirectionKind kKind, bool kOneTerm>
int pass_grid(uint64_t total_elements) {
  static const int resident = [] {
    int device = 0, sms = 0, per_sm = 0;
    check_status(cudaGetDevice(&device), "cudaGetDevice");
    check_status(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    check_status(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, perturb_segments_kernel<kKind, kOneTerm>,
                                                               kThreads, 0),
                 "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    return std::max(1, sms * std::max(1, per_sm));
  }();
  // +2 blocks: the range may start and end inside a Philox block.
  const uint64_t tiles = (total_elements / 4 + 2 + kTileBlocks - 1) / kTileBlocks;
  return static_cast<int>(std::min<uint64_t>(tiles, static_cast<uint64_t>(resident)));
}

// f(kind, one_term) with both as compile-time constants (std::integral_constant), for the
// launch of the kernel shape a pass needs.
template <typename F>
void with_pass_shape(DirectionKind kind, bool one_term, F&& f) {
  using Gaussian = std::integral_constant<DirectionKind, DirectionKind::Gaussian>;
  using Rademacher = std::integral_constant<DirectionKind, DirectionKind::Rademacher>;
  if (kind == DirectionKind::Gaussian) {
    if (one_term) f(Gaussian{}, std::true_type{}); else f(Gaussian{}, std::false_type{});
  } else {
    if (one_term) f(Rademacher{}, std::true_type{}); else f(Rademacher{}, std::false_type{});
  }
}

void check_terms(const char* what, int n_terms) {
  check(n_terms >= 0 && n_terms <= kMaxPerturbTerms, std::string(what) + ": " + std::to_string(n_terms) +
                                                         " direction terms in one pass; at most " +
                                                         std::to_string(kMaxPerturbTerms) + " fit a launch");
}

TermBlock term_block(const cpu::DirectionTerm* terms, int n_terms) {
  TermBlock tb;
  std::copy(terms, terms + n_terms, tb.terms);
  tb.n = n_terms;
  return tb;
}

}  // namespace

void perturb(void* x, DType dtype, int64_t n, uint64_t first, const cpu::DirectionTerm* terms, int n_terms,
             DirectionKind kind, void* stream) {
  check_terms("cuda::perturb", n_terms);
  if (n <= 0 || n_terms == 0) return;
  check(x != nullptr, "cuda::perturb: null buffer");
  const TermBlock tb = term_block(terms, n_terms);
  PerturbSegment seg;
  seg.data = x;
  seg.first = first;
  seg.n = n;
  seg.dtype = dtype;
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  with_pass_shape(kind, n_terms == 1 && terms[0].coeff != 0.0f, [&](auto k, auto one) {
    constexpr DirectionKind kKind = decltype(k)::value;
    constexpr bool kOneTerm = decltype(one)::value;
    perturb_range_kernel<kKind, kOneTerm><<<pass_grid<kKind, kOneTerm>(uint64_t(n)), kThreads, 0, s>>>(seg, tb);
  });
  check_status(cudaGetLastError(), "perturb_range_kernel launch");
}

void perturb_segments(const PerturbSegment* segments, int n_segments, uint64_t total, const cpu::DirectionTerm* terms,
                      int n_terms, DirectionKind kind, float decay_scale, void* stream) {
  check(n_terms >= 0, "cuda::perturb_segments: negative term count");
  if (total == 0 || (n_terms == 0 && decay_scale == 1.0f)) return;
  check(segments != nullptr && n_segments > 0, "cuda::perturb_segments: no segment table for " +
                                                   std::to_string(total) + " elements");
  check(std::isfinite(decay_scale), "cuda::perturb_segments: decay scale is not finite");
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  // Passes of at most kMaxPerturbTerms terms; the decay goes with the first one only.
  int done = 0;
  do {
    const int count = std::min(kMaxPerturbTerms, n_terms - done);
    const TermBlock tb = term_block(terms + done, count);
    const float scale = done == 0 ? decay_scale : 1.0f;
    with_pass_shape(kind, count == 1 && terms[done].coeff != 0.0f, [&](auto k, auto one) {
      constexpr DirectionKind kKind = decltype(k)::value;
      constexpr bool kOneTerm = decltype(one)::value;
      perturb_segments_kernel<kKind, kOneTerm>
          <<<pass_grid<kKind, kOneTerm>(total), kThreads, 0, s>>>(segments, n_segments, total, tb, scale);
    });
    check_status(cudaGetLastError(), "perturb_segments_kernel launch");
    done += count;
  } while (done < n_terms);
}

void philox_blocks(uint32_t* out, uint64_t seed, uint32_t step, uint32_t query, uint64_t first_block,
                   int64_t n_blocks, void* stream) {
  if (n_blocks <= 0) return;
  const int threads = 256;
  philox_kernel<<<grid_for(static_cast<uint64_t>(n_blocks), threads), threads, 0, static_cast<cudaStream_t>(stream)>>>(
      out, seed, step, query, first_block, n_blocks);
  check_status(cudaGetLastError(), "philox_kernel launch");
}

BoxMullerErrors box_muller_error_sweep() {
  unsigned long long* d = nullptr;
  check_status(cudaMalloc(&d, 3 * sizeof(unsigned long long)), "cudaMalloc");
  check_status(cudaMemset(d, 0, 3 * sizeof(unsigned long long)), "cudaMemset");
  angle_sweep_kernel<<<132 * 16, 256>>>(d);
  check_status(cudaGetLastError(), "angle_sweep_kernel launch");
  unsigned long long h[3] = {0, 0, 0};
  check_status(cudaMemcpy(h, d, sizeof(unsigned long long), cudaMemcpyDeviceToHost), "cudaMemcpy");
  BoxMullerErrors e;
  std::memcpy(&e.max_dcs, &h[0], sizeof(double));
  radius_sweep_kernel<<<132 * 16, 256>>>(d + 1, e.max_dcs + 0x1p-24);
  check_status(cudaGetLastError(), "radius_sweep_kernel launch");
  check_status(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost), "cudaMemcpy");
  check_status(cudaFree(d), "cudaFree");
  std::memcpy(&e.max_dr, &h[1], sizeof(double));
  std::memcpy(&e.max_dz, &h[2], sizeof(double));
  return e;
}

}  // namespace zotune::cuda
