// Row-wise softmax cross-entropy over fp32 logits, one block per row, one pass over the row.
// Each thread keeps an online log-sum-exp (running max m in fp32, running sum
// s = sum exp(x - m) in fp64, rescaled when m grows) over a grid-stride share of the row, read
// with 16-byte loads where V and the pointer allow; the block then merges the (m, s) pairs
// with warp shuffles and one shared-memory exchange. x - m and exp are evaluated in fp64, as
// cpu::cross_entropy does, so the two agree to ~1e-12 relative rather than fp32's 1e-7: a ZO
// step's loss difference is that small. On large inputs the fp64 exp, not memory, bounds the
// kernel; see exp_below_max.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/cross_entropy.cuh"
#include "kernels/cuda/device.cuh"

namespace zotune::cuda {
namespace {

constexpr int kMaxThreads = 512;

template <int N>
struct alignas(4 * N) FloatPack {
  float v[N];
};

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// exp(x - m) in fp64 for fp32 x <= m (m a finite running max; md = m as a double), relative
// error < 1e-12: the loss then agrees with the CPU's libm to ~1e-12 relative, and never worse
// than this bound (log S moves by at most the terms' relative error and loss >= log S).
// d = x - m is exact in fp64. Reduction d = k ln2 + r, |r| <= ln2 / 2 (+6e-5): k comes from the
// fp32 difference (it only has to be the nearest integer give or take one), r from two fp64
// FMAs (k * ln2_hi is exact); a degree-10 Taylor polynomial (truncation 2.2e-13); 2^k goes
// straight into the exponent bits. About half the fp64 instructions of libdevice's exp, which
// bounded the kernel (H200, 2048 x 128256 logits: 0.60 ms with exp(), 0.47 ms with this; the
// 1 GB read alone would take 0.25 ms). Terms more than 704 below the max (and -inf, masked
// logits) are evaluated at -704: e^-704 = 1e-306 is nothing beside the max's own term, 1.
// NaN stays NaN, so a diverged model still reports a NaN loss.
__device__ __forceinline__ double exp_below_max(float x, float m, double md) {
  const float df = x - m;
  const bool far = df < -704.0f;  // false for NaN
  const double d = far ? -704.0 : static_cast<double>(x) - md;
  // tf = 1.5 * 2^23 + rint(df / ln2): k sits in the low mantissa bits.
  const float tf = fmaf(far ? -704.0f : df, 1.44269504f, 12582912.0f);
  const int k = __float_as_int(tf) - 0x4B400000;
  const double kd = static_cast<double>(tf - 12582912.0f);
  double r = fma(-kd, 6.93147180369123816490e-01, d);  // ln2 high part
  r = fma(-kd, 1.90821492927058770002e-10, r);         // ln2 low part
  double p = 2.7557319223985890653e-07;                 // 1/10!
  p = fma(p, r, 2.7557319223985890653e-06);             // 1/9!
  p = fma(p, r, 2.4801587301587301587e-05);             // 1/8!
  p = fma(p, r, 1.9841269841269841270e-04);             // 1/7!
  p = fma(p, r, 1.3888888888888888889e-03);             // 1/6!
  p = fma(p, r, 8.3333333333333333333e-03);             // 1/5!
  p = fma(p, r, 4.1666666666666666667e-02);             // 1/4!
  p = fma(p, r, 1.6666666666666666667e-01);             // 1/3!
  p = fma(p, r, 0.5);
  p = fma(p, r, 1.0);
  p = fma(p, r, 1.0);
  // k in [-1016, 0]: 2^k is a normal double with biased exponent k + 1023.
  return p * __hiloint2double((k + 1023) << 20, 0);
}

// Merges partial (m2, s2) into (m, s): both describe sum exp(x - m) over disjoint sets.
// m == -inf marks an empty partial (or one of -inf logits only), whose s is 0.
__device__ __forceinline__ void merge(float& m, double& s, float m2, double s2) {
  if (m2 == -INFINITY) return;
  if (m == -INFINITY) {
    m = m2;
    s = s2;
  } else if (m2 > m) {
    s = s * exp_below_max(m, m2, static_cast<double>(m2)) + s2;
    m = m2;
  } else {
    s += s2 * exp_below_max(m2, m, static_cast<double>(m));
  }
}

// The (m, s) pairs of a warp merged into lane 0's.
__device__ __forceinline__ void warp_merge(float& m, double& s) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float m2 = __shfl_down_sync(0xffffffffu, m, offset);
    const double s2 = __shfl_down_sync(0xffffffffu, s, offset);
    merge(m, s, m2, s2);
  }
}

// grid.x = rows; blockDim.x a multiple of 32, at most kMaxThreads. VEC = 4 needs V % 4 == 0
// and 16-byte aligned logits, so that every row start is aligned.
template <int VEC>
__global__ void __launch_bounds__(kMaxThreads)
    cross_entropy_kernel(double* loss, const float* logits, const int32_t* target, int V) {
  __shared__ float warp_m[32];
  __shared__ double warp_s[32];
  const int64_t row = blockIdx.x;
  const float* x = logits + row * V;
  const int packs = V / VEC;

  // kUnroll packs per thread and iteration, loaded before any is used: the fp64 work per pack
  // is long enough that one load in flight per thread leaves HBM idle.
  constexpr int kUnroll = 4;
  float m = -INFINITY;
  double s = 0.0;
  for (int p0 = threadIdx.x; p0 < packs; p0 += kUnroll * blockDim.x) {
    FloatPack<VEC> v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int p = p0 + u * static_cast<int>(blockDim.x);
      if (p < packs) v[u] = *reinterpret_cast<const FloatPack<VEC>*>(x + static_cast<int64_t>(p) * VEC);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (p0 + u * static_cast<int>(blockDim.x) >= packs) break;
      float mx = v[u].v[0];
#pragma unroll
      for (int j = 1; j < VEC; ++j) mx = fmaxf(mx, v[u].v[j]);
      if (mx > m) {
        s *= exp_below_max(m, mx, static_cast<double>(mx));  // s = 0 on the first pack
        m = mx;
      }
      if (m != -INFINITY) {
        const double md = m;
#pragma unroll
        for (int j = 0; j < VEC; ++j) s += exp_below_max(v[u].v[j], m, md);
      }
    }
  }

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  warp_merge(m, s);
  if (lane == 0) {
    warp_m[warp] = m;
    warp_s[warp] = s;
  }
  __syncthreads();
  if (warp == 0) {
    const int n_warps = static_cast<int>(blockDim.x >> 5);
    m = lane < n_warps ? warp_m[lane] : -INFINITY;
    s = lane < n_warps ? warp_s[lane] : 0.0;
    warp_merge(m, s);
    if (lane == 0) {
      const int32_t t = target[row];
      // The host validates targets; an out-of-range one gives NaN here rather than a wild read.
      loss[row] = t >= 0 && t < V ? static_cast<double>(m) + log(s) - static_cast<double>(x[t]) : NAN;
    }
  }
}

}  // namespace

void cross_entropy(double* loss, const float* logits, const int32_t* target, int rows, int V, void* stream) {
  check(rows >= 0 && V > 0, "cuda::cross_entropy: bad shape rows " + std::to_string(rows) + ", V " + std::to_string(V));
  if (rows == 0) return;
  const bool vec = V % 4 == 0 && aligned(logits, 16);
  const int packs = vec ? V / 4 : V;
  const int threads = std::min(kMaxThreads, (packs + 31) / 32 * 32);
  const auto s = static_cast<cudaStream_t>(stream);
  if (vec)
    cross_entropy_kernel<4><<<rows, threads, 0, s>>>(loss, logits, target, V);
  else
    cross_entropy_kernel<1><<<rows, threads, 0, s>>>(loss, logits, target, V);
  check_status(cudaGetLastError(), "cross_entropy kernel launch");
}

}  // namespace zotune::cuda
