// LayerNorm and RMSNorm (and RMSNorm fused with the residual add before it): one warp per row
// for short rows (C <= 1024 on the 16-byte path: four rows per block, shuffles only, no
// barriers), one block per row above that. Either way the row is read once into registers
// (16-byte loads where C and the pointers allow), the statistics are reduced in fp32 with warp
// shuffles (plus one shared-memory exchange per reduction in block mode), and the normalized row
// is written in the output dtype. HBM traffic is one read of x and one write of out per element
// (fused: also one read of y and one write of x); weights and bias are re-read by every row but
// stay in L2.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/norm.cuh"

namespace zotune::cuda {
namespace {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32). Every thread gets the same bits: each warp
// reduces the same per-warp partials in the same butterfly order. `partial` holds 32 floats;
// the trailing barrier lets the next reduction reuse it.
__device__ float block_sum(float v, float* partial) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < static_cast<int>(blockDim.x >> 5) ? partial[lane] : 0.0f;
  v = warp_sum(v);
  __syncthreads();
  return v;
}

// Packs of VEC values per access; each thread caches up to kMaxPacks packs of its row in
// registers (pack p of the row belongs to lane p % width, slot p / width, where width is 32
// in warp mode and blockDim.x in block mode), so the launcher keeps C / VEC <= width * kMaxPacks.
template <int VEC>
constexpr int kMaxPacks = VEC == 4 ? 8 : 12;
constexpr int kWarpRowsPerBlock = 4;

template <bool kWarpPerRow>
__device__ __forceinline__ float row_sum(float v, float* partial) {
  if constexpr (kWarpPerRow)
    return warp_sum(v);
  else
    return block_sum(v, partial);
}

// Block mode: grid.x = rows. Warp mode: grid.x = ceil(rows / kWarpRowsPerBlock), blockDim.x =
// 32 * kWarpRowsPerBlock, warp w of block b owns row b * kWarpRowsPerBlock + w.
// kLayerNorm: (x - mean) * rstd * w (+ b), two-pass variance over the cached row; else
// RMSNorm: x * rstd * w with rstd = 1 / sqrt(mean(x^2) + eps).
// kResidual (RMSNorm only): first x += res_y + res_bias (res_bias may be null), written back to
// x_out (= x), with residual_add's arithmetic, then the norm of the sum.
// out may alias x (TOut = float) or res_y: every element is read into registers and written back
// by the thread that read it, and no thread reads an element another one writes.
template <typename TOut, typename TW, int VEC, bool kLayerNorm, bool kWarpPerRow, bool kResidual = false>
__global__ void __launch_bounds__(1024)
    norm_kernel(TOut* out, const float* x, const TW* weight, const TW* bias, int rows, int C, float eps,
                float* x_out = nullptr, const TOut* res_y = nullptr, const TOut* res_bias = nullptr) {
  constexpr int K = kMaxPacks<VEC>;
  __shared__ float partial[32];
  int64_t row;
  int lane, width;
  if constexpr (kWarpPerRow) {
    row = static_cast<int64_t>(blockIdx.x) * kWarpRowsPerBlock + (threadIdx.x >> 5);
    if (row >= rows) return;  // a whole warp: no barrier follows in warp mode
    lane = threadIdx.x & 31;
    width = 32;
  } else {
    row = blockIdx.x;
    lane = threadIdx.x;
    width = blockDim.x;
  }
  const float* xr = x + row * C;
  TOut* yr = out + row * C;
  const int n_packs = C / VEC;

  float v[K][VEC];
  float acc = 0.0f;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int p = lane + k * width;
    if (p < n_packs) {
      Pack<float, VEC> in = *reinterpret_cast<const Pack<float, VEC>*>(xr + static_cast<int64_t>(p) * VEC);
      if constexpr (kResidual) {
        const int64_t c0 = static_cast<int64_t>(p) * VEC;
        const Pack<TOut, VEC> y = *reinterpret_cast<const Pack<TOut, VEC>*>(res_y + row * C + c0);
        Pack<TOut, VEC> b;
        if (res_bias != nullptr) b = *reinterpret_cast<const Pack<TOut, VEC>*>(res_bias + c0);
#pragma unroll
        for (int j = 0; j < VEC; ++j) in.v[j] += to_f32(y.v[j]) + (res_bias != nullptr ? to_f32(b.v[j]) : 0.0f);
        *reinterpret_cast<Pack<float, VEC>*>(x_out + row * C + c0) = in;
      }
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        v[k][j] = in.v[j];
        acc += kLayerNorm ? in.v[j] : in.v[j] * in.v[j];
      }
    } else {
#pragma unroll
      for (int j = 0; j < VEC; ++j) v[k][j] = 0.0f;
    }
  }

  float mean = 0.0f;
  float rstd;
  if constexpr (kLayerNorm) {
    mean = row_sum<kWarpPerRow>(acc, partial) / static_cast<float>(C);
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      if (lane + k * width < n_packs) {
#pragma unroll
        for (int j = 0; j < VEC; ++j) {
          const float d = v[k][j] - mean;
          ss += d * d;
        }
      }
    }
    rstd = rsqrtf(row_sum<kWarpPerRow>(ss, partial) / static_cast<float>(C) + eps);
  } else {
    rstd = rsqrtf(row_sum<kWarpPerRow>(acc, partial) / static_cast<float>(C) + eps);
  }

#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int p = lane + k * width;
    if (p < n_packs) {
      const int64_t c0 = static_cast<int64_t>(p) * VEC;
      const Pack<TW, VEC> w = *reinterpret_cast<const Pack<TW, VEC>*>(weight + c0);
      Pack<TW, VEC> b;
      if (kLayerNorm && bias != nullptr) b = *reinterpret_cast<const Pack<TW, VEC>*>(bias + c0);
      Pack<TOut, VEC> res;
#pragma unroll
      for (int j = 0; j < VEC; ++j) {
        float y;
        if constexpr (kLayerNorm) {
          y = (v[k][j] - mean) * rstd * to_f32(w.v[j]);
          if (bias != nullptr) y += to_f32(b.v[j]);
        } else {
          y = (v[k][j] * rstd) * to_f32(w.v[j]);
        }
        res.v[j] = from_f32<TOut>(y);
      }
      *reinterpret_cast<Pack<TOut, VEC>*>(yr + c0) = res;
    }
  }
}

// Residual: (x_out, res_y, res_bias) of norm_kernel's kResidual, all null without it.
struct Residual {
  float* x = nullptr;
  const void *y = nullptr, *bias = nullptr;
};

template <typename TOut, typename TW, bool kLayerNorm, bool kResidual = false>
void launch_norm(void* out, const float* x, const void* weight, const void* bias, int rows, int C, float eps,
                 cudaStream_t stream, const char* what, Residual res = {}) {
  // The 4-wide path needs every row start aligned: C % 4 == 0 and aligned base pointers.
  const bool vec = C % 4 == 0 && aligned(x, 16) && aligned(out, 4 * sizeof(TOut)) &&
                   aligned(weight, 4 * sizeof(TW)) && (bias == nullptr || aligned(bias, 4 * sizeof(TW))) &&
                   (!kResidual || (aligned(res.y, 4 * sizeof(TOut)) &&
                                   (res.bias == nullptr || aligned(res.bias, 4 * sizeof(TOut)))));
  const int pack_width = vec ? 4 : 1;
  const int max_packs = vec ? kMaxPacks<4> : kMaxPacks<1>;
  const int packs = C / pack_width;
  auto* o = static_cast<TOut*>(out);
  auto* w = static_cast<const TW*>(weight);
  auto* b = static_cast<const TW*>(bias);
  auto* ry = static_cast<const TOut*>(res.y);
  auto* rb = static_cast<const TOut*>(res.bias);
  if (packs <= 32 * max_packs) {
    // Short rows: a warp caches the row; a block per row would idle on its barriers.
    const unsigned blocks =
        static_cast<unsigned>((static_cast<int64_t>(rows) + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock);
    const int threads = 32 * kWarpRowsPerBlock;
    if (vec)
      norm_kernel<TOut, TW, 4, kLayerNorm, true, kResidual>
          <<<blocks, threads, 0, stream>>>(o, x, w, b, rows, C, eps, res.x, ry, rb);
    else
      norm_kernel<TOut, TW, 1, kLayerNorm, true, kResidual>
          <<<blocks, threads, 0, stream>>>(o, x, w, b, rows, C, eps, res.x, ry, rb);
  } else {
    // Enough threads to cache the row, and at least 256 to keep loads in flight.
    const int needed = (packs + max_packs - 1) / max_packs;
    const int threads = std::max((needed + 31) / 32 * 32, 256);
    check(threads <= 1024, std::string(what) + ": C = " + std::to_string(C) + " exceeds the per-row register cache (" +
                               std::to_string(1024 * max_packs * pack_width) + " for this alignment)");
    if (vec)
      norm_kernel<TOut, TW, 4, kLayerNorm, false, kResidual><<<rows, threads, 0, stream>>>(o, x, w, b, rows, C, eps,
                                                                                          res.x, ry, rb);
    else
      norm_kernel<TOut, TW, 1, kLayerNorm, false, kResidual><<<rows, threads, 0, stream>>>(o, x, w, b, rows, C, eps,
                                                                                          res.x, ry, rb);
  }
  check_status(cudaGetLastError(), what);
}

template <bool kLayerNorm>
void norm(void* out, DType out_type, const float* x, const void* weight, const void* bias, DType weight_type,
          int rows, int C, float eps, void* stream, const char* what) {
  check(rows >= 0 && C > 0, std::string(what) + ": bad shape rows " + std::to_string(rows) + ", C " +
                                std::to_string(C));
  if (rows == 0) return;
  with_dtype(out_type, what, [&](auto out_tag) {
    with_dtype(weight_type, what, [&](auto weight_tag) {
      using TOut = typename decltype(out_tag)::type;
      using TW = typename decltype(weight_tag)::type;
      launch_norm<TOut, TW, kLayerNorm>(out, x, weight, bias, rows, C, eps, static_cast<cudaStream_t>(stream), what);
    });
  });
}

}  // namespace

void layernorm(void* out, DType out_type, const float* x, const void* weight, const void* bias, DType weight_type,
               int rows, int C, float eps, void* stream) {
  norm<true>(out, out_type, x, weight, bias, weight_type, rows, C, eps, stream, "cuda::layernorm");
}

void rmsnorm(void* out, DType out_type, const float* x, const void* weight, DType weight_type, int rows, int C,
             float eps, void* stream) {
  norm<false>(out, out_type, x, weight, nullptr, weight_type, rows, C, eps, stream, "cuda::rmsnorm");
}

void residual_add_rmsnorm(float* x, void* out, const void* y, const void* bias, const void* weight, DType type, int rows,
                          int C, float eps, void* stream) {
  const char* what = "cuda::residual_add_rmsnorm";
  check(rows >= 0 && C > 0, std::string(what) + ": bad shape rows " + std::to_string(rows) + ", C " + std::to_string(C));
  if (rows == 0) return;
  with_dtype(type, what, [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_norm<T, T, false, true>(out, x, weight, nullptr, rows, C, eps, static_cast<cudaStream_t>(stream), what,
                                   Residual{x, y, bias});
  });
}

}  // namespace zotune::cuda
