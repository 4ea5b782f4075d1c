#include "kernels/cuda/zo_passes.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/segment_search.cuh"

// Layout: thread t of the grid takes Philox blocks block0 + t, + stride, ... (4 consecutive
// global indices each, grid-stride); a block's z (and Sparse-MeZO's mask draw) is drawn once
// and serves its up to four elements, which may lie in two or more segments (a tensor may
// start inside a block). Elements are loaded and stored one by one in their storage dtype:
// these passes move more bytes than the perturbation (MeZO-Adam reads and writes m and v
// beside x), and a warp's four scalar accesses per block cover the same cache lines.

namespace zotune::cuda {
namespace {

constexpr int kThreads = 256;

// The host closures' fp32 operations, each rounded once (never fused into an fma).
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float dvd(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ float sqrt_rn(float a) { return __fsqrt_rn(a); }

// v rounded into T and widened back: cpu::round_to_dtype.
template <typename T>
__device__ __forceinline__ float rd(float v) { return to_f32<T>(from_f32<T>(v)); }

// One element: x (widened) -> its new value, in the arithmetic of the pass kind. g: global
// index; z: the direction value at g; u: the mask draw at g (SparseAxpy, random mask).
template <ZoPassKind K, typename T>
__device__ __forceinline__ float element_pass(const ZoPassArgs& a, const PerturbSegment& seg,
                                              const ZoSegmentExtra* extra, uint64_t g, float x, float z, float u) {
  if constexpr (K == ZoPassKind::AdamUpdate) {
    // mezo_adam.cpp, the update's closure.
    float m = a.state0[g], v = a.state1[g];
    const float decay = seg.decay ? a.weight_decay : 0.0f;
    const float one_b1 = sub(1.0f, a.beta1), one_b2 = sub(1.0f, a.beta2);
    if (a.reference) {
      float gr = rd<T>(mul(a.grad_scale, rd<T>(z)));
      if (decay != 0.0f) gr = rd<T>(add(gr, rd<T>(mul(decay, x))));
      m = rd<T>(add(m, mul(one_b1, sub(gr, m))));
      v = rd<T>(add(rd<T>(mul(a.beta2, v)), mul(mul(one_b2, gr), gr)));
      const float denom = rd<T>(add(rd<T>(dvd(rd<T>(sqrt_rn(v)), a.bias2_sqrt)), a.adam_eps));
      x = rd<T>(sub(x, dvd(mul(a.step_size, m), denom)));
    } else {
      const float gr = add(mul(a.grad_scale, z), mul(decay, x));
      m = add(mul(a.beta1, m), mul(one_b1, gr));
      v = add(mul(a.beta2, v), mul(mul(one_b2, gr), gr));
      x = sub(x, dvd(mul(a.step_size, m), add(dvd(sqrt_rn(v), a.bias2_sqrt), a.adam_eps)));
    }
    a.state0[g] = m;
    a.state1[g] = v;
    return x;
  } else if constexpr (K == ZoPassKind::HizooProbe) {
    // hizoo.cpp, the probes' closure: Σ is read only.
    const float zz = a.reference ? rd<T>(z) : z;
    return add(x, dvd(mul(a.coeff, zz), sqrt_rn(a.state0[g])));
  } else if constexpr (K == ZoPassKind::HizooUpdate) {
    // hizoo.cpp, the update's closure.
    float s = a.state0[g];
    if (a.reference) {
      const float zr = rd<T>(z);
      x = rd<T>(add(x, dvd(mul(a.restore, zr), sqrt_rn(s))));  // back from θ − ε z ⊘ √Σ (old Σ)
      s = rd<T>(add(mul(a.keep, s), mul(a.sample, mul(mul(s, zr), zr))));
      x = sub(x, add(dvd(mul(a.step_c, zr), sqrt_rn(s)), mul(a.step_decay, x)));
    } else {
      s = add(mul(a.keep, s), mul(a.sample, mul(mul(s, z), z)));
      x = sub(x, add(dvd(mul(a.step_c, z), sqrt_rn(s)), mul(a.step_decay, x)));
    }
    a.state0[g] = s;
    return x;
  } else if constexpr (K == ZoPassKind::LozoAxpy) {
    // lozo.cpp, lozo_axpy: x += coeff (U Vᵀ)[row, col], the rank-r dot product summed from 0
    // in j order; the plain z where the tensor has no factors.
    if (extra->rows == 0) return add(x, mul(a.coeff, z));
    const int64_t i = int64_t(g - seg.first);
    const int64_t row = i / extra->cols, col = i - row * extra->cols;
    const float* U = a.factors + extra->u_offset + uint64_t(row) * uint64_t(a.rank);
    const float* V = a.factors + extra->v_offset + uint64_t(col) * uint64_t(a.rank);
    float p = 0.0f;
    for (int j = 0; j < a.rank; ++j) p = add(p, mul(U[j], V[j]));
    return add(x, mul(a.coeff, p));
  } else {
    // sparse_mezo.cpp, masked_axpy: the mask reads x before it changes.
    const bool keep = a.random_mask ? u >= a.sparsity : fabsf(x) <= extra->threshold;
    const float scale = seg.decay ? a.decay_scale : 1.0f;
    return add(mul(x, scale), keep ? mul(a.coeff, z) : 0.0f);
  }
}

template <ZoPassKind K, typename T>
__device__ __forceinline__ void update_element(const ZoPassArgs& a, const PerturbSegment& seg,
                                               const ZoSegmentExtra* extra, uint64_t g, float z, float u) {
  T* p = static_cast<T*>(seg.data) + (g - seg.first);
  *p = from_f32<T>(element_pass<K, T>(a, seg, extra, g, to_f32<T>(*p), z, u));
}

// Whether the pass draws z for an element of this segment (LOZO's matrices use their factors).
template <ZoPassKind K>
__device__ __forceinline__ bool needs_z(const ZoSegmentExtra* extra) {
  if constexpr (K == ZoPassKind::LozoAxpy) return extra->rows == 0;
  return true;
}

template <ZoPassKind K>
__global__ void __launch_bounds__(kThreads) zo_pass_kernel(const PerturbSegment* segs, int n_segs, uint64_t first,
                                                           uint64_t total, const ZoPassArgs a) {
  const uint64_t end = first + total;
  const uint64_t block0 = first >> 2, block_end = (end + 3) >> 2;
  const uint64_t stride = uint64_t(gridDim.x) * kThreads;
  for (uint64_t b = block0 + uint64_t(blockIdx.x) * kThreads + threadIdx.x; b < block_end; b += stride) {
    const uint64_t g_lo = max(4 * b, first), g_hi = min(4 * b + 4, end);
    int s = find_segment(segs, 0, n_segs, g_lo);
    PerturbSegment seg = segs[s];
    float z[4], u[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    bool have_z = false;
    if constexpr (K == ZoPassKind::SparseAxpy) {
      if (a.random_mask) uniform_values(a.seed ^ kMaskStream, a.step, 0, b, u);
    }
    for (uint64_t g = g_lo; g < g_hi; ++g) {
      while (g >= segment_end(seg)) seg = segs[++s];
      const ZoSegmentExtra* extra = a.extras != nullptr ? a.extras + s : nullptr;
      const int l = int(g & 3);
      if (!have_z && needs_z<K>(extra)) {
        direction_values(a.seed, a.step, 0, b, a.direction, z);
        have_z = true;
      }
      const float zl = have_z ? z[l] : 0.0f;
      switch (seg.dtype) {
        case DType::F32: update_element<K, float>(a, seg, extra, g, zl, u[l]); break;
        case DType::F16: update_element<K, __half>(a, seg, extra, g, zl, u[l]); break;
        case DType::BF16: update_element<K, __nv_bfloat16>(a, seg, extra, g, zl, u[l]); break;
      }
    }
  }
}

__global__ void lozo_factors_kernel(const LowRankFactorRange* ranges, int n_ranges, uint64_t total, float* out,
                                    uint64_t seed, uint32_t step, uint32_t window, DirectionKind kind) {
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint64_t f = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; f < total; f += stride) {
    // The last range starting at or before f (ranges are contiguous from 0, none empty).
    int lo = 0, hi = n_ranges - 1;
    while (lo < hi) {
      const int mid = lo + (hi - lo + 1) / 2;
      if (ranges[mid].out_offset <= f)
        lo = mid;
      else
        hi = mid - 1;
    }
    const LowRankFactorRange r = ranges[lo];
    const uint64_t g = r.first + (f - r.out_offset);
    float z[4];
    if (r.v)
      direction_values(seed ^ kLowRankVStream, window, 0, g >> 2, kind, z);
    else
      direction_values(seed, step, 0, g >> 2, kind, z);
    out[f] = z[g & 3];
  }
}

__global__ void fill_kernel(float* x, int64_t n, float value) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) x[i] = value;
}

// Enough CTAs to fill an H100/H200 several times over; every kernel here is a grid-stride loop.
int grid_for(uint64_t work) { return static_cast<int>(std::min<uint64_t>((work + kThreads - 1) / kThreads, 132ull * 16)); }

}  // namespace

void zo_pass_segments(const PerturbSegment* segments, int n_segments, uint64_t first, uint64_t total,
                      const ZoPassArgs& args, void* stream) {
  if (total == 0) return;
  check(segments != nullptr && n_segments > 0, "cuda::zo_pass_segments: no segment table for " +
                                                   std::to_string(total) + " elements");
  const bool needs_state0 = args.kind == ZoPassKind::AdamUpdate || args.kind == ZoPassKind::HizooProbe ||
                            args.kind == ZoPassKind::HizooUpdate;
  check(!needs_state0 || args.state0 != nullptr, "cuda::zo_pass_segments: the pass needs its state array");
  check(args.kind != ZoPassKind::AdamUpdate || args.state1 != nullptr, "cuda::zo_pass_segments: Adam needs v");
  check(args.kind != ZoPassKind::LozoAxpy || (args.extras != nullptr && args.rank >= 1),
        "cuda::zo_pass_segments: LOZO needs the segment extras and a rank");
  check(args.kind != ZoPassKind::SparseAxpy || args.random_mask || args.extras != nullptr,
        "cuda::zo_pass_segments: the magnitude mask needs the thresholds");
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const uint64_t blocks = ((first + total + 3) >> 2) - (first >> 2);
  const int grid = grid_for(blocks);
  switch (args.kind) {
    case ZoPassKind::AdamUpdate:
      zo_pass_kernel<ZoPassKind::AdamUpdate><<<grid, kThreads, 0, s>>>(segments, n_segments, first, total, args);
      break;
    case ZoPassKind::HizooProbe:
      zo_pass_kernel<ZoPassKind::HizooProbe><<<grid, kThreads, 0, s>>>(segments, n_segments, first, total, args);
      break;
    case ZoPassKind::HizooUpdate:
      zo_pass_kernel<ZoPassKind::HizooUpdate><<<grid, kThreads, 0, s>>>(segments, n_segments, first, total, args);
      break;
    case ZoPassKind::LozoAxpy:
      zo_pass_kernel<ZoPassKind::LozoAxpy><<<grid, kThreads, 0, s>>>(segments, n_segments, first, total, args);
      break;
    case ZoPassKind::SparseAxpy:
      zo_pass_kernel<ZoPassKind::SparseAxpy><<<grid, kThreads, 0, s>>>(segments, n_segments, first, total, args);
      break;
  }
  check_status(cudaGetLastError(), "zo_pass_kernel launch");
}

void lozo_factors(const LowRankFactorRange* ranges, int n_ranges, uint64_t total, float* out, uint64_t seed,
                  uint32_t step, uint32_t window, DirectionKind kind, void* stream) {
  if (total == 0) return;
  check(ranges != nullptr && n_ranges > 0 && out != nullptr, "cuda::lozo_factors: no factor table");
  lozo_factors_kernel<<<grid_for(total), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(ranges, n_ranges, total, out,
                                                                                           seed, step, window, kind);
  check_status(cudaGetLastError(), "lozo_factors_kernel launch");
}

void fill_f32(float* x, int64_t n, float value, void* stream) {
  if (n <= 0) return;
  fill_kernel<<<grid_for(uint64_t(n)), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, n, value);
  check_status(cudaGetLastError(), "fill_kernel launch");
}

}  // namespace zotune::cuda
