#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/util/error.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
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
// Speed (H200, 1.3e9 parameters, one term): fp32 3.6 TB/s (84% of a device copy), fp16/bf16
// ~3 TB/s (70%). The pass is bound by issuing instructions (~100 per Philox block: Philox's 10
// rounds and two Box-Muller pairs on the hardware's approximations), not by memory, so each
// further term costs ~1.1 ms per 1e9 parameters. kUnroll = 8 (2 CTAs of 256 threads per SM at
// ~128 registers) measured 5% faster than 4 for fp16, the same for fp32.

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

// acc[k][l] = sum_j c_j z_j[4 b_k + l] for this thread's Philox blocks b_k = b0 + k * kThreads,
// terms in order, as cpu::perturb sums them (zero coefficients skipped).
template <DirectionKind kKind>
__device__ __forceinline__ void tile_sums(const TermBlock& tb, uint64_t b0, float acc[kUnroll][4]) {
#pragma unroll
  for (int k = 0; k < kUnroll; ++k)
#pragma unroll
    for (int l = 0; l < 4; ++l) acc[k][l] = 0.0f;
  for (int j = 0; j < tb.n; ++j) {
    const cpu::DirectionTerm t = tb.terms[j];
    if (t.coeff == 0.0f) continue;
#pragma unroll
    for (int k = 0; k < kUnroll; ++k)
      direction_axpy(t.seed, t.step, t.query, b0 + uint64_t(k) * kThreads, kKind, t.coeff, acc[k]);
  }
}

// A whole tile inside one segment with aligned Philox blocks: x points at element 4 * b0 of
// this thread's first block. The loads are in flight while the Philox work runs.
template <typename T, DirectionKind kKind>
__device__ __forceinline__ void tile_vector(T* x, const TermBlock& tb, uint64_t b0, bool decay, float decay_scale) {
  typename Packed4<T>::type raw[kUnroll];
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) raw[k] = load4(x + 4 * k * kThreads);
  float acc[kUnroll][4];
  tile_sums<kKind>(tb, b0, acc);
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) {
    float v[4];
    unpack4<T>(raw[k], v);
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      if (decay) v[l] = round_to<T>(v[l] * decay_scale);
      v[l] += acc[k][l];
    }
    store4(x + 4 * k * kThreads, pack4<T>(v));
  }
}

template <typename T>
__device__ __forceinline__ void update_element(void* data, int64_t i, float acc, bool decay, float decay_scale) {
  T* p = static_cast<T*>(data) + i;
  float e = to_f32<T>(*p);
  if (decay) e = round_to<T>(e * decay_scale);
  *p = from_f32<T>(e + acc);
}

__device__ __forceinline__ uint64_t segment_end(const PerturbSegment& s) { return s.first + uint64_t(s.n); }

// The first segment in [lo, hi) whose end lies beyond global index g (empty segments never
// qualify). Ends are nondecreasing; the caller guarantees that one exists.
__device__ __forceinline__ int find_segment(const PerturbSegment* segs, int lo, int hi, uint64_t g) {
  while (lo < hi) {
    const int mid = lo + (hi - lo) / 2;
    if (segment_end(segs[mid]) > g)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// One element at a time: every element of the tile inside [first, end) finds its segment
// (from the cursor s on), so Philox blocks across segment boundaries and unaligned segments
// are handled alike.
template <DirectionKind kKind>
__device__ void tile_elements(const PerturbSegment* segs, int n_segs, int s, const TermBlock& tb, uint64_t b0,
                              uint64_t first, uint64_t end, float decay_scale) {
  float acc[kUnroll][4];
  tile_sums<kKind>(tb, b0, acc);
  const bool scaling = decay_scale != 1.0f;
#pragma unroll
  for (int k = 0; k < kUnroll; ++k) {
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const uint64_t g = 4 * (b0 + uint64_t(k) * kThreads) + l;
      if (g < first || g >= end) continue;
      const PerturbSegment& seg = segs[find_segment(segs, s, n_segs, g)];
      const int64_t i = int64_t(g - seg.first);
      const bool decay = scaling && seg.decay;
      switch (seg.dtype) {
        case DType::F32: update_element<float>(seg.data, i, acc[k][l], decay, decay_scale); break;
        case DType::F16: update_element<__half>(seg.data, i, acc[k][l], decay, decay_scale); break;
        case DType::BF16: update_element<__nv_bfloat16>(seg.data, i, acc[k][l], decay, decay_scale); break;
      }
    }
  }
}

// The pass over segments segs[0 .. n_segs) (contiguous in the global index space, starting at
// segs[0].first, `total` elements). CTA c owns tiles [c * per_cta, (c + 1) * per_cta).
template <DirectionKind kKind>
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
    if (aligned && 4 * tile_block >= seg.first && 4 * (tile_block + kTileBlocks) <= segment_end(seg)) {
      const bool decay = scaling && seg.decay;
      const int64_t i = int64_t(4 * b0 - seg.first);
      switch (seg.dtype) {
        case DType::F32:
          tile_vector<float, kKind>(static_cast<float*>(seg.data) + i, tb, b0, decay, decay_scale);
          break;
        case DType::F16:
          tile_vector<__half, kKind>(static_cast<__half*>(seg.data) + i, tb, b0, decay, decay_scale);
          break;
        case DType::BF16:
          tile_vector<__nv_bfloat16, kKind>(static_cast<__nv_bfloat16*>(seg.data) + i, tb, b0, decay, decay_scale);
          break;
      }
    } else {
      tile_elements<kKind>(segs, n_segs, s, tb, b0, first, end, decay_scale);
    }
  }
}

template <DirectionKind kKind>
__global__ void __launch_bounds__(kThreads) perturb_segments_kernel(const PerturbSegment* segs, int n_segs,
                                                                    uint64_t total, const __grid_constant__ TermBlock tb,
                                                                    float decay_scale) {
  perturb_pass<kKind>(segs, n_segs, total, tb, decay_scale);
}

// The single-range launch: its one segment travels in the parameter block.
template <DirectionKind kKind>
__global__ void __launch_bounds__(kThreads) perturb_range_kernel(const __grid_constant__ PerturbSegment seg,
                                                                 const __grid_constant__ TermBlock tb) {
  perturb_pass<kKind>(&seg, 1, uint64_t(seg.n), tb, 1.0f);
}

__global__ void philox_kernel(uint32_t* out, uint64_t seed, uint32_t step, uint32_t query, uint64_t first_block,
                              int64_t n_blocks) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n_blocks; i += int64_t(gridDim.x) * blockDim.x) {
    const Philox4 r = direction_block(seed, step, query, first_block + static_cast<uint64_t>(i));
    for (int l = 0; l < 4; ++l) out[4 * i + l] = r.v[l];
  }
}

int grid_for(uint64_t work, int threads) {
  // Enough blocks to fill an H100/H200 several times over; the kernel is a grid-stride loop.
  return static_cast<int>(std::min<uint64_t>((work + threads - 1) / threads, 132ull * 32));
}

// One wave of resident CTAs (each owns a contiguous run of tiles), or fewer for small passes.
// Queried once per process: a host-side attribute read, nothing enters the stream.
int pass_grid(uint64_t total_elements) {
  static const int resident = [] {
    int device = 0, sms = 0, per_sm = 0;
    check_status(cudaGetDevice(&device), "cudaGetDevice");
    check_status(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), "cudaDeviceGetAttribute");
    check_status(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                     &per_sm, perturb_segments_kernel<DirectionKind::Gaussian>, kThreads, 0),
                 "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    return std::max(1, sms * std::max(1, per_sm));
  }();
  // +2 blocks: the range may start and end inside a Philox block.
  const uint64_t tiles = (total_elements / 4 + 2 + kTileBlocks - 1) / kTileBlocks;
  return static_cast<int>(std::min<uint64_t>(tiles, static_cast<uint64_t>(resident)));
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
  const int grid = pass_grid(static_cast<uint64_t>(n));
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (kind == DirectionKind::Gaussian)
    perturb_range_kernel<DirectionKind::Gaussian><<<grid, kThreads, 0, s>>>(seg, tb);
  else
    perturb_range_kernel<DirectionKind::Rademacher><<<grid, kThreads, 0, s>>>(seg, tb);
  check_status(cudaGetLastError(), "perturb_range_kernel launch");
}

void perturb_segments(const PerturbSegment* segments, int n_segments, uint64_t total, const cpu::DirectionTerm* terms,
                      int n_terms, DirectionKind kind, float decay_scale, void* stream) {
  check(n_terms >= 0, "cuda::perturb_segments: negative term count");
  if (total == 0 || (n_terms == 0 && decay_scale == 1.0f)) return;
  check(segments != nullptr && n_segments > 0, "cuda::perturb_segments: no segment table for " +
                                                   std::to_string(total) + " elements");
  check(std::isfinite(decay_scale), "cuda::perturb_segments: decay scale is not finite");
  const int grid = pass_grid(total);
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  // Passes of at most kMaxPerturbTerms terms; the decay goes with the first one only.
  int done = 0;
  do {
    const int count = std::min(kMaxPerturbTerms, n_terms - done);
    const TermBlock tb = term_block(terms + done, count);
    const float scale = done == 0 ? decay_scale : 1.0f;
    if (kind == DirectionKind::Gaussian)
      perturb_segments_kernel<DirectionKind::Gaussian><<<grid, kThreads, 0, s>>>(segments, n_segments, total, tb, scale);
    else
      perturb_segments_kernel<DirectionKind::Rademacher><<<grid, kThreads, 0, s>>>(segments, n_segments, total, tb,
                                                                                    scale);
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

}  // namespace zotune::cuda
