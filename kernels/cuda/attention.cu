// Fused attention, three kernels behind one launcher:
//  - attention_mma_kernel: F16/BF16, head_dim 64 or 128, 16-byte aligned rows, q_len >= 16.
//    FlashAttention-2 layout: 4 warps, 64 queries a block (16 a warp), 64-key tiles of K and V
//    in shared memory (cp.async, V's load overlapping Q K^T, the next K's overlapping P V),
//    S = Q K^T and O += P V on mma.sync m16n8k16 with fp32 accumulators; the S accumulators are
//    re-packed in registers as the A operand of P V, so scores never leave registers.
//  - attention_decode_kernel: q_len <= 4 (generation), head_dim 64/128/256, any dtype, 16-byte
//    aligned K/V rows: one block per query, K/V streamed from global in 16-byte chunks straight
//    into registers, partial softmaxes of the block's lane groups merged at the end.
//  - attention_simt_kernel: every dtype and head_dim 1..256 in fp32 FMAs (the fp32 path and the
//    fallback). A warp owns 4 query rows and 32 keys of a tile, one key a lane for the scores
//    and head_dim split over the lanes for P V. Short query tiles split the keys of a tile over
//    the warps instead (KS > 1) and merge the partial softmaxes at the end.
// All: online softmax in the log2 domain (exp2f of scale * log2(e) * score), keys outside a
// block's causal/window range never loaded, no [q_len, kv_len] buffer anywhere.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "core/util/error.h"
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"

namespace zotune::cuda {
namespace {

constexpr int kMaxHeadDim = 256;
constexpr int kThreads = 128;  // 4 warps, every kernel
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegInf = -__builtin_huge_valf();

struct Params {
  void* out;
  const void* q;
  const void* k;
  const void* v;
  const uint8_t* key_valid;
  int q_len, kv_len, n_heads, group, head_dim;
  int64_t q_row, kv_row, out_row, kv_batch_stride, mask_batch_stride;
  int causal, q_start, window;
  int prefix;        // keys [0, prefix) are visible to every query (prefix-tuning): no causal or window mask
  float scale_log2;  // scale * log2(e): scores in the log2 domain
  int q_tiles;       // query tiles per (batch, head)
  int skip_padding_queries;  // PaddingQueries::Unused (the tensor-core kernel acts on it)
};

// Keys [lo, hi) that any query of rows [i_first, i_last] of a tile may see: causal cuts the
// top, the sliding window the bottom; the per-row masks do the rest. Empty when hi <= lo.
// With a visible prefix the range starts at key 0 (the prefix keys; the launcher checks
// prefix <= q_start, so the causal cut never reaches below them).
__device__ __forceinline__ void tile_key_range(const Params& p, int i_first, int i_last, int& lo, int& hi) {
  int64_t l = 0, h = p.kv_len;
  if (p.causal) h = min(h, int64_t(p.q_start) + i_last + 1);
  if (p.window > 0 && p.prefix == 0) l = max(l, int64_t(p.q_start) + i_first - p.window + 1);
  lo = static_cast<int>(min(l, int64_t(p.kv_len)));
  hi = static_cast<int>(max(h, int64_t(lo)));
}

// Causal and window masks of key j for the query at key index qi (key padding is checked apart);
// prefix keys are in reach of every query.
__device__ __forceinline__ bool in_reach(const Params& p, int j, int64_t qi) {
  return j < p.prefix || ((!p.causal || j <= qi) && (p.window <= 0 || qi - j < p.window));
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// ---------------------------------------------------------------------------------------------
// SIMT kernel. KS = key splits (warps sharing one query group); QW = 4 / KS query groups of 4
// rows; BQ = 4 * QW query rows and BK = 32 * KS keys a tile. Shared memory (fp32):
//   sQt [head_dim][BQ]      query tile transposed: a warp reads its 4 rows of dim d as one float4
//   sK  [BK][ldk]           ldk = head_dim | 1 (odd): lane = key reads a column conflict-free
//   sV  [BK][head_dim]
//   sP  [4 warps][32][4]    a warp's probabilities, key-major, broadcast to its lanes in P V
// After the loop (KS > 1) sK/sV hold each warp's partial O [4][head_dim] and (m, l) [4][2].
template <int KS>
constexpr int simt_rows() { return 4 * (4 / KS); }

size_t simt_smem_bytes(int ks, int head_dim) {
  const size_t bq = 4 * (4 / ks), bk = 32 * ks, ldk = head_dim | 1;
  return sizeof(float) * (head_dim * bq + bk * ldk + bk * head_dim + 4 * 32 * 4);
}

template <typename T, int KS>
__global__ void __launch_bounds__(kThreads) attention_simt_kernel(const Params p) {
  constexpr int BQ = simt_rows<KS>(), BK = 32 * KS;
  constexpr int kMaxChunks = kMaxHeadDim / 32;  // head_dim split over lanes in chunks of 32
  extern __shared__ float4 simt_smem[];
  const int hd = p.head_dim, ldk = hd | 1;
  float* sQt = reinterpret_cast<float*>(simt_smem);
  float* sK = sQt + hd * BQ;
  float* sV = sK + BK * ldk;
  float* sP = sV + BK * hd;  // offset is a multiple of 4 floats: BQ and BK are multiples of 4

  const int tile = blockIdx.x % p.q_tiles;
  const int bh = blockIdx.x / p.q_tiles;
  const int h = bh % p.n_heads, b = bh / p.n_heads, g = h / p.group;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int qw = warp / KS, ks = warp % KS, r0 = 4 * qw;  // this warp: rows r0..r0+3, keys ks*32..+31
  const int i0 = tile * BQ;

  const T* q = static_cast<const T*>(p.q) + int64_t(b) * p.q_len * p.q_row + int64_t(h) * hd;
  const T* kb = static_cast<const T*>(p.k) + b * p.kv_batch_stride + int64_t(g) * hd;
  const T* vb = static_cast<const T*>(p.v) + b * p.kv_batch_stride + int64_t(g) * hd;
  const uint8_t* valid = p.key_valid ? p.key_valid + b * p.mask_batch_stride : nullptr;

  for (int r = warp; r < BQ; r += 4) {
    const int i = i0 + r;
    for (int d = lane; d < hd; d += 32) sQt[d * BQ + r] = i < p.q_len ? to_f32(q[int64_t(i) * p.q_row + d]) : 0.0f;
  }
  int lo, hi;
  tile_key_range(p, i0, min(i0 + BQ, p.q_len) - 1, lo, hi);

  int64_t qi[4];
#pragma unroll
  for (int rr = 0; rr < 4; ++rr) qi[rr] = int64_t(p.q_start) + i0 + r0 + rr;
  float m[4], l[4], o[4][kMaxChunks];
#pragma unroll
  for (int rr = 0; rr < 4; ++rr) {
    m[rr] = kNegInf;
    l[rr] = 0.0f;
#pragma unroll
    for (int t = 0; t < kMaxChunks; ++t) o[rr][t] = 0.0f;
  }

  for (int t0 = lo; t0 < hi; t0 += BK) {
    __syncthreads();  // the previous tile is consumed (and sQt written, on the first pass)
    for (int jj = warp; jj < BK; jj += 4) {
      const int j = t0 + jj;
      const bool in_range = j < hi;
      // Padding keys get V = 0: their p is 0, and 0 * garbage must not turn into NaN.
      const bool use_v = in_range && (valid == nullptr || valid[j]);
      const T* kr = kb + int64_t(j) * p.kv_row;
      const T* vr = vb + int64_t(j) * p.kv_row;
      for (int d = lane; d < hd; d += 32) {
        sK[jj * ldk + d] = in_range ? to_f32(kr[d]) : 0.0f;
        sV[jj * hd + d] = use_v ? to_f32(vr[d]) : 0.0f;
      }
    }
    __syncthreads();

    const int jj = ks * 32 + lane, j = t0 + jj;
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const float* kr = sK + jj * ldk;
    for (int d = 0; d < hd; ++d) {
      const float kd = kr[d];
      const float4 qd = *reinterpret_cast<const float4*>(sQt + d * BQ + r0);
      s[0] = fmaf(qd.x, kd, s[0]);
      s[1] = fmaf(qd.y, kd, s[1]);
      s[2] = fmaf(qd.z, kd, s[2]);
      s[3] = fmaf(qd.w, kd, s[3]);
    }
    const bool key_ok = j < hi && (valid == nullptr || valid[j]);
    float tile_max[4];
    bool any = false;
#pragma unroll
    for (int rr = 0; rr < 4; ++rr) {
      s[rr] = key_ok && in_reach(p, j, qi[rr]) ? s[rr] * p.scale_log2 : kNegInf;
      tile_max[rr] = warp_max(s[rr]);
      any |= tile_max[rr] != kNegInf;
    }
    if (!any) continue;  // warp-uniform: nothing of this sub-tile is visible to the warp's rows

    float prob[4], corr[4];
#pragma unroll
    for (int rr = 0; rr < 4; ++rr) {
      const float m_new = fmaxf(m[rr], tile_max[rr]);
      // m_new = -inf: the row has seen no key yet, p = 0 and o, l stay 0.
      corr[rr] = m_new == kNegInf ? 1.0f : exp2f(m[rr] - m_new);
      prob[rr] = m_new == kNegInf ? 0.0f : exp2f(s[rr] - m_new);
      l[rr] = l[rr] * corr[rr] + warp_sum(prob[rr]);
      m[rr] = m_new;
    }
    float* wp = sP + warp * 128;
    *reinterpret_cast<float4*>(wp + lane * 4) = make_float4(prob[0], prob[1], prob[2], prob[3]);
    __syncwarp();
#pragma unroll
    for (int rr = 0; rr < 4; ++rr)
#pragma unroll
      for (int t = 0; t < kMaxChunks; ++t) o[rr][t] *= corr[rr];
    const float* vt = sV + ks * 32 * hd;
    for (int jl = 0; jl < 32; ++jl) {
      const float4 pj = *reinterpret_cast<const float4*>(wp + jl * 4);
      const float* vr = vt + jl * hd;
#pragma unroll
      for (int t = 0; t < kMaxChunks; ++t) {
        const int d = lane + 32 * t;
        if (d < hd) {
          const float vd = vr[d];
          o[0][t] = fmaf(pj.x, vd, o[0][t]);
          o[1][t] = fmaf(pj.y, vd, o[1][t]);
          o[2][t] = fmaf(pj.z, vd, o[2][t]);
          o[3][t] = fmaf(pj.w, vd, o[3][t]);
        }
      }
    }
    __syncwarp();  // sP is rewritten on the next tile
  }

  T* out = static_cast<T*>(p.out) + int64_t(b) * p.q_len * p.out_row + int64_t(h) * hd;
  if constexpr (KS == 1) {
#pragma unroll
    for (int rr = 0; rr < 4; ++rr) {
      const int i = i0 + r0 + rr;
      if (i >= p.q_len) continue;
      const float inv = l[rr] > 0.0f ? 1.0f / l[rr] : 0.0f;
#pragma unroll
      for (int t = 0; t < kMaxChunks; ++t) {
        const int d = lane + 32 * t;
        if (d < hd) out[int64_t(i) * p.out_row + d] = from_f32<T>(o[rr][t] * inv);
      }
    }
  } else {
    // Merge the KS partial softmaxes of each row: O = sum_s 2^(m_s - M) O_s / sum_s 2^(m_s - M) l_s.
    __syncthreads();  // every warp is done with sK / sV
    float* sO = sK;               // [4 warps][4 rows][hd]
    float* sML = sO + 16 * hd;    // [4 warps][4 rows][2]; 16 * hd + 32 <= BK * (ldk + hd) for BK >= 64
#pragma unroll
    for (int rr = 0; rr < 4; ++rr) {
#pragma unroll
      for (int t = 0; t < kMaxChunks; ++t) {
        const int d = lane + 32 * t;
        if (d < hd) sO[(warp * 4 + rr) * hd + d] = o[rr][t];
      }
      if (lane == 0) {
        sML[(warp * 4 + rr) * 2] = m[rr];
        sML[(warp * 4 + rr) * 2 + 1] = l[rr];
      }
    }
    __syncthreads();
    for (int idx = tid; idx < BQ * hd; idx += kThreads) {
      const int r = idx / hd, d = idx - r * hd;
      const int i = i0 + r;
      if (i >= p.q_len) continue;
      const int w0 = (r / 4) * KS, rr = r % 4;  // warps w0 .. w0 + KS - 1 hold row r
      float big = kNegInf;
#pragma unroll
      for (int s2 = 0; s2 < KS; ++s2) big = fmaxf(big, sML[((w0 + s2) * 4 + rr) * 2]);
      float num = 0.0f, den = 0.0f;
      if (big != kNegInf) {
#pragma unroll
        for (int s2 = 0; s2 < KS; ++s2) {
          const float w = exp2f(sML[((w0 + s2) * 4 + rr) * 2] - big);  // 0 for a split that saw nothing
          den += w * sML[((w0 + s2) * 4 + rr) * 2 + 1];
          num += w * sO[((w0 + s2) * 4 + rr) * hd + d];
        }
      }
      out[int64_t(i) * p.out_row + d] = from_f32<T>(den > 0.0f ? num / den : 0.0f);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Tensor-core kernel (sm_80+ instructions: cp.async, ldmatrix, mma.sync m16n8k16), compiled
// empty below sm_80 (the launcher checks the PTX version the device runs before picking it).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define ZOTUNE_ATTENTION_MMA 1

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_addr(smem)), "l"(gmem) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;\n" ::: "memory"); }

// Four 8x8 b16 matrices; lane t gives the address of row t % 8 of matrix t / 8 and receives
// row t / 4, columns 2 (t % 4) and +1 of each (.trans: column t / 4, rows 2 (t % 4) and +1).
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p))
               : "memory");
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p))
               : "memory");
}

// c[16x8] += a[16x16] b[16x8], fp32 accumulators. Fragments (g = lane / 4, c = lane % 4):
// a: {(g, 2c..2c+1), (g+8, 2c..), (g, 2c+8..), (g+8, 2c+8..)}; b: {(k 2c..2c+1, n g), (k 2c+8.., n g)};
// c: {(g, 2c), (g, 2c+1), (g+8, 2c), (g+8, 2c+1)}.
template <typename T>
__device__ __forceinline__ void mma_16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma_16816<__half>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two fp32 values as one b16x2 register, `lo` in the low half (the lower column index).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

#endif  // ZOTUNE_ATTENTION_MMA

constexpr int kMmaRows = 64;  // queries a block: 16 per warp
constexpr int kMmaKeys = 64;  // keys a tile

constexpr size_t mma_smem_bytes(int head_dim) {
  return 2 * size_t(kMmaKeys) * (head_dim + 8) * 2 + kMmaKeys;
}

// Shared memory (storage dtype, rows padded by 8 elements = 16 bytes so the 8 rows of an
// ldmatrix land in 8 distinct 4-bank groups):
//   sK [64 keys][HD + 8]
//   sV [64 keys][HD + 8]    holds the Q tile [64 queries][HD + 8] until Q is in registers
//   sKeyOk [64]             the tile's keys that exist and are not padding
template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) attention_mma_kernel(const Params p) {
#ifdef ZOTUNE_ATTENTION_MMA
  constexpr int LDS = HD + 8, CHUNKS = HD / 8;  // 16-byte chunks a row
  constexpr int KSTEPS = HD / 16, NT_S = kMmaKeys / 8, NT_O = HD / 8;
  extern __shared__ uint4 mma_smem[];
  T* sK = reinterpret_cast<T*>(mma_smem);
  T* sV = sK + kMmaKeys * LDS;
  uint8_t* sKeyOk = reinterpret_cast<uint8_t*>(sV + kMmaKeys * LDS);

  const int tile = blockIdx.x % p.q_tiles;
  const int bh = blockIdx.x / p.q_tiles;
  const int h = bh % p.n_heads, b = bh / p.n_heads, g = h / p.group;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int i0 = tile * kMmaRows;

  const T* q = static_cast<const T*>(p.q) + int64_t(b) * p.q_len * p.q_row + int64_t(h) * HD;
  const T* kb = static_cast<const T*>(p.k) + b * p.kv_batch_stride + int64_t(g) * HD;
  const T* vb = static_cast<const T*>(p.v) + b * p.kv_batch_stride + int64_t(g) * HD;
  const uint8_t* valid = p.key_valid ? p.key_valid + b * p.mask_batch_stride : nullptr;
  const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
  // PaddingQueries::Unused: a tile of padding queries only writes zeros and ends (every thread
  // takes the same branch: __syncthreads_or is block-wide). A query past the key range counts
  // as real.
  if (p.skip_padding_queries && valid != nullptr) {
    const int i = i0 + tid, key = p.q_start + i;
    const bool real = tid < kMmaRows && i < p.q_len && (key >= p.kv_len || valid[key]);
    if (!__syncthreads_or(real)) {
      T* out = static_cast<T*>(p.out) + int64_t(b) * p.q_len * p.out_row + int64_t(h) * HD;
      for (int c = tid; c < kMmaRows * CHUNKS; c += kThreads) {
        const int r = c / CHUNKS, col = (c % CHUNKS) * 8;
        if (i0 + r < p.q_len) *reinterpret_cast<uint4*>(out + int64_t(i0 + r) * p.out_row + col) = zero;
      }
      return;
    }
  }
  int lo, hi;
  tile_key_range(p, i0, min(i0 + kMmaRows, p.q_len) - 1, lo, hi);

  auto load_k = [&](int t0) {
    for (int c = tid; c < kMmaKeys * CHUNKS; c += kThreads) {
      const int r = c / CHUNKS, col = (c % CHUNKS) * 8, j = t0 + r;
      T* dst = sK + r * LDS + col;
      if (j < hi) cp_async16(dst, kb + int64_t(j) * p.kv_row + col);
      else *reinterpret_cast<uint4*>(dst) = zero;
    }
    if (tid < kMmaKeys) {
      const int j = t0 + tid;
      sKeyOk[tid] = j < hi && (valid == nullptr || valid[j]);
    }
    cp_async_commit();
  };
  // Padding keys get V = 0 (p is 0 there, and 0 * garbage must not become NaN).
  auto load_v = [&](int t0) {
    for (int c = tid; c < kMmaKeys * CHUNKS; c += kThreads) {
      const int r = c / CHUNKS, col = (c % CHUNKS) * 8;
      T* dst = sV + r * LDS + col;
      if (sKeyOk[r]) cp_async16(dst, vb + int64_t(t0 + r) * p.kv_row + col);
      else *reinterpret_cast<uint4*>(dst) = zero;
    }
    cp_async_commit();
  };

  for (int c = tid; c < kMmaRows * CHUNKS; c += kThreads) {
    const int r = c / CHUNKS, col = (c % CHUNKS) * 8, i = i0 + r;
    T* dst = sV + r * LDS + col;
    if (i < p.q_len) cp_async16(dst, q + int64_t(i) * p.q_row + col);
    else *reinterpret_cast<uint4*>(dst) = zero;
  }
  cp_async_commit();
  if (lo < hi) load_k(lo);
  cp_async_wait_all();
  __syncthreads();
  uint32_t qf[KSTEPS][4];  // this warp's 16 query rows as A fragments, one per 16 dims
#pragma unroll
  for (int kk = 0; kk < KSTEPS; ++kk)
    ldmatrix_x4(qf[kk], sV + (warp * 16 + (lane % 16)) * LDS + kk * 16 + (lane / 16) * 8);

  const int gr = lane >> 2, tg = lane & 3;
  const int64_t qi0 = int64_t(p.q_start) + i0 + warp * 16 + gr, qi1 = qi0 + 8;  // this thread's two rows
  float o[NT_O][4];
#pragma unroll
  for (int n = 0; n < NT_O; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m0 = kNegInf, m1 = kNegInf, l0 = 0.0f, l1 = 0.0f;  // l: this thread's columns only

  for (int t0 = lo; t0 < hi; t0 += kMmaKeys) {
    cp_async_wait_all();
    __syncthreads();  // K(t0) landed; every warp is done with sV (Q or the previous tile)
    load_v(t0);

    float s[NT_S][4];
#pragma unroll
    for (int n = 0; n < NT_S; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < KSTEPS; ++kk) {
#pragma unroll
      for (int n = 0; n < NT_S; n += 2) {
        uint32_t kf[4];  // b0, b1 of key tile n, then of n + 1
        ldmatrix_x4(kf, sK + (n * 8 + (lane / 16) * 8 + (lane % 8)) * LDS + kk * 16 + ((lane / 8) % 2) * 8);
        mma_16816<T>(s[n], qf[kk], kf[0], kf[1]);
        mma_16816<T>(s[n + 1], qf[kk], kf[2], kf[3]);
      }
    }

    float mx0 = kNegInf, mx1 = kNegInf;
#pragma unroll
    for (int n = 0; n < NT_S; ++n) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int jj = n * 8 + 2 * tg + e, j = t0 + jj;
        const bool ok = sKeyOk[jj];
        s[n][e] = ok && in_reach(p, j, qi0) ? s[n][e] * p.scale_log2 : kNegInf;
        s[n][2 + e] = ok && in_reach(p, j, qi1) ? s[n][2 + e] * p.scale_log2 : kNegInf;
        mx0 = fmaxf(mx0, s[n][e]);
        mx1 = fmaxf(mx1, s[n][2 + e]);
      }
    }
    // A row's 64 scores live in the 4 lanes of a quad.
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    const float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);
    const float c0 = n0 == kNegInf ? 1.0f : exp2f(m0 - n0), c1 = n1 == kNegInf ? 1.0f : exp2f(m1 - n1);
    float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
    for (int n = 0; n < NT_S; ++n) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        s[n][e] = n0 == kNegInf ? 0.0f : exp2f(s[n][e] - n0);
        s[n][2 + e] = n1 == kNegInf ? 0.0f : exp2f(s[n][2 + e] - n1);
        sum0 += s[n][e];
        sum1 += s[n][2 + e];
      }
    }
    l0 = l0 * c0 + sum0;
    l1 = l1 * c1 + sum1;
    m0 = n0;
    m1 = n1;
#pragma unroll
    for (int n = 0; n < NT_O; ++n) {
      o[n][0] *= c0;
      o[n][1] *= c0;
      o[n][2] *= c1;
      o[n][3] *= c1;
    }

    cp_async_wait_all();
    __syncthreads();  // V(t0) landed; every warp is done with sK and sKeyOk
    if (t0 + kMmaKeys < hi) load_k(t0 + kMmaKeys);

    // P (16 x 64 keys) as A fragments: key tiles 2kk and 2kk + 1 of S form k-step kk.
#pragma unroll
    for (int kk = 0; kk < kMmaKeys / 16; ++kk) {
      uint32_t pa[4];
      pa[0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
      pa[1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
      pa[2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int n = 0; n < NT_O; n += 2) {
        uint32_t vf[4];  // b0, b1 of dim tile n, then of n + 1 (transposed: V is [key][dim])
        ldmatrix_x4_trans(vf, sV + (kk * 16 + ((lane / 8) % 2) * 8 + (lane % 8)) * LDS + (n + lane / 16) * 8);
        mma_16816<T>(o[n], pa, vf[0], vf[1]);
        mma_16816<T>(o[n + 1], pa, vf[2], vf[3]);
      }
    }
  }

  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
  T* out = static_cast<T*>(p.out) + int64_t(b) * p.q_len * p.out_row + int64_t(h) * HD + 2 * tg;
  const int i_a = i0 + warp * 16 + gr, i_b = i_a + 8;
#pragma unroll
  for (int n = 0; n < NT_O; ++n) {
    if (i_a < p.q_len)
      *reinterpret_cast<uint32_t*>(out + int64_t(i_a) * p.out_row + n * 8) = pack2<T>(o[n][0] * inv0, o[n][1] * inv0);
    if (i_b < p.q_len)
      *reinterpret_cast<uint32_t*>(out + int64_t(i_b) * p.out_row + n * 8) = pack2<T>(o[n][2] * inv1, o[n][3] * inv1);
  }
#endif
}

// ---------------------------------------------------------------------------------------------
// Decode kernel: one block per (batch, head, query) for q_len <= 4 and head_dim 64/128/256
// with 16-byte aligned K/V rows. Memory-bound: a group of L lanes reads one key's K and V row
// in 16-byte chunks (E elements a chunk, CPL chunks a lane); each warp runs KPW = 32 / L such
// groups, each group U keys at a time (all U loads in flight before the first use), with its
// own online softmax. The 4 * KPW partial softmaxes of the block merge in shared memory.

template <typename T>
__device__ __forceinline__ void unpack16(const uint4& raw, float* f);
template <>
__device__ __forceinline__ void unpack16<float>(const uint4& raw, float* f) {
  f[0] = __uint_as_float(raw.x);
  f[1] = __uint_as_float(raw.y);
  f[2] = __uint_as_float(raw.z);
  f[3] = __uint_as_float(raw.w);
}
template <>
__device__ __forceinline__ void unpack16<__half>(const uint4& raw, float* f) {
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = __half2float(__ushort_as_half(static_cast<unsigned short>(w[i] & 0xffffu)));
    f[2 * i + 1] = __half2float(__ushort_as_half(static_cast<unsigned short>(w[i] >> 16)));
  }
}
template <>
__device__ __forceinline__ void unpack16<__nv_bfloat16>(const uint4& raw, float* f) {
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {  // a bf16 is the top half of its fp32
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

constexpr int kDecodeMaxRows = 4;

template <typename T, int HD>
__global__ void __launch_bounds__(kThreads) attention_decode_kernel(const Params p) {
  constexpr int E = 16 / int(sizeof(T)), C = HD / E;  // elements a chunk, chunks a row
  constexpr int L = C < 32 ? C : 32, CPL = C / L, KPW = 32 / L, U = 4;
  static_assert(C % L == 0 && (L & (L - 1)) == 0, "lanes a key must be a power of two dividing the chunks");
  constexpr int STATES = 4 * KPW;  // (warp, lane group) partial softmaxes
  __shared__ float sO[STATES][HD];
  __shared__ float sM[STATES], sL[STATES];

  const int i = blockIdx.x % p.q_len;
  const int bh = blockIdx.x / p.q_len;
  const int h = bh % p.n_heads, b = bh / p.n_heads, g = h / p.group;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int kg = lane / L, sl = lane % L;  // lane group (one key at a time) and lane within it

  const T* qr = static_cast<const T*>(p.q) + (int64_t(b) * p.q_len + i) * p.q_row + int64_t(h) * HD;
  const T* kb = static_cast<const T*>(p.k) + b * p.kv_batch_stride + int64_t(g) * HD;
  const T* vb = static_cast<const T*>(p.v) + b * p.kv_batch_stride + int64_t(g) * HD;
  const uint8_t* valid = p.key_valid ? p.key_valid + b * p.mask_batch_stride : nullptr;

  float qv[CPL][E];  // this lane's dims (chunks sl + L t), pre-multiplied by scale * log2(e)
#pragma unroll
  for (int t = 0; t < CPL; ++t)
#pragma unroll
    for (int e = 0; e < E; ++e) qv[t][e] = to_f32(qr[(sl + L * t) * E + e]) * p.scale_log2;
  int lo, hi;
  tile_key_range(p, i, i, lo, hi);
  const int64_t qi = int64_t(p.q_start) + i;

  float m = kNegInf, l = 0.0f, o[CPL][E];
#pragma unroll
  for (int t = 0; t < CPL; ++t)
#pragma unroll
    for (int e = 0; e < E; ++e) o[t][e] = 0.0f;

  const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
  // Warp w takes keys [base, base + KPW U) of every 4 KPW U; group kg the keys base + u KPW + kg.
  for (int base = lo + warp * KPW * U; base < hi; base += 4 * KPW * U) {
    uint4 kraw[U][CPL], vraw[U][CPL];
    bool ok[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int j = base + u * KPW + kg;
      ok[u] = j < hi && (valid == nullptr || valid[j]) && in_reach(p, j, qi);
      const T* kr = kb + int64_t(j) * p.kv_row;
      const T* vr = vb + int64_t(j) * p.kv_row;
#pragma unroll
      for (int t = 0; t < CPL; ++t) {
        kraw[u][t] = ok[u] ? *reinterpret_cast<const uint4*>(kr + (sl + L * t) * E) : zero;
        vraw[u][t] = ok[u] ? *reinterpret_cast<const uint4*>(vr + (sl + L * t) * E) : zero;
      }
    }
    float s[U];
    float mx = kNegInf;
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float acc = 0.0f;
#pragma unroll
      for (int t = 0; t < CPL; ++t) {
        float kf[E];
        unpack16<T>(kraw[u][t], kf);
#pragma unroll
        for (int e = 0; e < E; ++e) acc = fmaf(qv[t][e], kf[e], acc);
      }
#pragma unroll
      for (int off = L / 2; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);  // within the group
      s[u] = ok[u] ? acc : kNegInf;
      mx = fmaxf(mx, s[u]);
    }
    const float m_new = fmaxf(m, mx);
    if (m_new == kNegInf) continue;  // the group has seen no key yet (uniform in the group; no shuffles follow)
    const float corr = exp2f(m - m_new);
    l *= corr;
#pragma unroll
    for (int t = 0; t < CPL; ++t)
#pragma unroll
      for (int e = 0; e < E; ++e) o[t][e] *= corr;
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const float pu = exp2f(s[u] - m_new);  // 0 for a masked key, whose V chunk is zero
      l += pu;
#pragma unroll
      for (int t = 0; t < CPL; ++t) {
        float vf[E];
        unpack16<T>(vraw[u][t], vf);
#pragma unroll
        for (int e = 0; e < E; ++e) o[t][e] = fmaf(pu, vf[e], o[t][e]);
      }
    }
    m = m_new;
  }

  const int state = warp * KPW + kg;
#pragma unroll
  for (int t = 0; t < CPL; ++t)
#pragma unroll
    for (int e = 0; e < E; ++e) sO[state][(sl + L * t) * E + e] = o[t][e];
  if (sl == 0) {
    sM[state] = m;
    sL[state] = l;
  }
  __syncthreads();
  T* out = static_cast<T*>(p.out) + (int64_t(b) * p.q_len + i) * p.out_row + int64_t(h) * HD;
  for (int d = tid; d < HD; d += kThreads) {
    float big = kNegInf;
#pragma unroll
    for (int st = 0; st < STATES; ++st) big = fmaxf(big, sM[st]);
    float num = 0.0f, den = 0.0f;
    if (big != kNegInf) {
#pragma unroll
      for (int st = 0; st < STATES; ++st) {
        const float w = exp2f(sM[st] - big);  // 0 for a state that saw nothing
        den += w * sL[st];
        num += w * sO[st][d];
      }
    }
    out[d] = from_f32<T>(den > 0.0f ? num / den : 0.0f);
  }
}

// ---------------------------------------------------------------------------------------------

// Raises a kernel's dynamic shared-memory limit when it needs more than the default 48 KiB.
// Not a stream operation: legal while a stream is being captured into a graph.
template <typename Kernel>
void allow_smem(Kernel kernel, size_t bytes) {
  if (bytes > 48 * 1024)
    check_status(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
                 "attention: raising the shared-memory limit");
}

int64_t grid_blocks(const cpu::AttentionShape& s, int rows_per_block, int& q_tiles) {
  q_tiles = (s.q_len + rows_per_block - 1) / rows_per_block;
  return int64_t(q_tiles) * s.n_heads * s.batch;
}

template <typename T>
void launch_simt(const Params& base, const cpu::AttentionShape& s, cudaStream_t stream) {
  int device = 0, smem_optin = 0;
  check_status(cudaGetDevice(&device), "attention: cudaGetDevice");
  check_status(cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
               "attention: shared-memory limit");
  // Short query tiles (decode, short prompts) split each key tile over the warps.
  int ks = s.q_len <= 4 ? 4 : (s.q_len <= 8 ? 2 : 1);
  while (ks > 1 && simt_smem_bytes(ks, s.head_dim) > size_t(smem_optin)) ks /= 2;
  const size_t smem = simt_smem_bytes(ks, s.head_dim);
  check(smem <= size_t(smem_optin), "cuda::attention: head_dim " + std::to_string(s.head_dim) + " needs " +
                                        std::to_string(smem) + " bytes of shared memory; the device allows " +
                                        std::to_string(smem_optin));
  Params p = base;
  const int64_t blocks = grid_blocks(s, 4 * (4 / ks), p.q_tiles);
  check(blocks <= 0x7fffffff, "cuda::attention: too many (batch, head, query tile) blocks for one launch");
  auto go = [&](auto kernel) {
    allow_smem(kernel, smem);
    kernel<<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(p);
  };
  if (ks == 4) go(attention_simt_kernel<T, 4>);
  else if (ks == 2) go(attention_simt_kernel<T, 2>);
  else go(attention_simt_kernel<T, 1>);
  check_status(cudaGetLastError(), "attention_simt_kernel launch");
}

// Whether the device runs the tensor-core kernel from sm_80+ code: a build for older targets
// only (CMAKE_CUDA_ARCHITECTURES 75, say) carries it compiled empty, also when the driver
// JIT-compiles that PTX for a newer device.
template <typename Kernel>
bool has_mma_code(Kernel kernel) {
  cudaFuncAttributes attr{};
  check_status(cudaFuncGetAttributes(&attr, kernel), "attention: cudaFuncGetAttributes");
  return attr.ptxVersion >= 80;
}

// False (nothing launched) when the tensor-core kernel was not built for this device.
template <typename T>
bool launch_mma(const Params& base, const cpu::AttentionShape& s, cudaStream_t stream) {
  Params p = base;
  const int64_t blocks = grid_blocks(s, kMmaRows, p.q_tiles);
  check(blocks <= 0x7fffffff, "cuda::attention: too many (batch, head, query tile) blocks for one launch");
  auto go = [&](auto kernel, size_t smem) {
    if (!has_mma_code(kernel)) return false;
    allow_smem(kernel, smem);
    kernel<<<static_cast<unsigned>(blocks), kThreads, smem, stream>>>(p);
    check_status(cudaGetLastError(), "attention_mma_kernel launch");
    return true;
  };
  return s.head_dim == 64 ? go(attention_mma_kernel<T, 64>, mma_smem_bytes(64))
                          : go(attention_mma_kernel<T, 128>, mma_smem_bytes(128));
}

template <typename T>
void launch_decode(const Params& base, const cpu::AttentionShape& s, cudaStream_t stream) {
  const int64_t blocks = int64_t(s.q_len) * s.n_heads * s.batch;
  check(blocks <= 0x7fffffff, "cuda::attention: too many (batch, head, query) blocks for one launch");
  const unsigned grid = static_cast<unsigned>(blocks);
  if (s.head_dim == 64) attention_decode_kernel<T, 64><<<grid, kThreads, 0, stream>>>(base);
  else if (s.head_dim == 128) attention_decode_kernel<T, 128><<<grid, kThreads, 0, stream>>>(base);
  else attention_decode_kernel<T, 256><<<grid, kThreads, 0, stream>>>(base);
  check_status(cudaGetLastError(), "attention_decode_kernel launch");
}

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

// attention() and prefixed_attention(): the checks, the parameters and the kernel for the shape.
void launch_attention(void* out, const void* q, const void* k, const void* v, DType type, const uint8_t* key_valid,
                      const cpu::AttentionShape& s, const AttentionStrides& strides, int visible_prefix, void* stream,
                      PaddingQueries padding_queries) {
  check(visible_prefix >= 0 && visible_prefix <= s.q_start && visible_prefix <= s.kv_len,
        "cuda::attention: a visible prefix of " + std::to_string(visible_prefix) + " keys needs q_start (" +
            std::to_string(s.q_start) + ") and kv_len (" + std::to_string(s.kv_len) + ") to count it");
  const std::string hd = std::to_string(s.head_dim);
  check(s.head_dim >= 1 && s.head_dim <= kMaxHeadDim, "cuda::attention: head_dim " + hd + " outside 1.." +
                                                          std::to_string(kMaxHeadDim));
  check(s.n_heads >= 1 && s.n_kv_heads >= 1 && s.n_heads % s.n_kv_heads == 0,
        "cuda::attention: n_heads " + std::to_string(s.n_heads) + " is not a multiple of n_kv_heads " +
            std::to_string(s.n_kv_heads));
  check(s.batch >= 0 && s.q_len >= 0 && s.kv_len >= 0, "cuda::attention: negative batch, q_len or kv_len");
  // A zero stride means the dense layout: rows of n_heads (q, out) or n_kv_heads (k, v) heads.
  const int64_t q_row = strides.q_row ? strides.q_row : int64_t(s.n_heads) * s.head_dim;
  const int64_t kv_row = strides.kv_row ? strides.kv_row : int64_t(s.n_kv_heads) * s.head_dim;
  const int64_t out_row = strides.out_row ? strides.out_row : int64_t(s.n_heads) * s.head_dim;
  check(q_row >= int64_t(s.n_heads) * s.head_dim && out_row >= int64_t(s.n_heads) * s.head_dim &&
            kv_row >= int64_t(s.n_kv_heads) * s.head_dim,
        "cuda::attention: a row stride is shorter than its row of heads (q_row " + std::to_string(q_row) +
            ", kv_row " + std::to_string(kv_row) + ", out_row " + std::to_string(out_row) + ", head_dim " + hd + ")");
  if (s.batch == 0 || s.q_len == 0) return;

  Params p{};
  p.out = out;
  p.q = q;
  p.k = k;
  p.v = v;
  p.key_valid = key_valid;
  p.q_len = s.q_len;
  p.kv_len = s.kv_len;
  p.n_heads = s.n_heads;
  p.group = s.n_heads / s.n_kv_heads;
  p.head_dim = s.head_dim;
  p.q_row = q_row;
  p.kv_row = kv_row;
  p.out_row = out_row;
  p.kv_batch_stride = s.kv_batch_stride;
  p.mask_batch_stride = s.mask_batch_stride;
  p.causal = s.causal ? 1 : 0;
  p.q_start = s.q_start;
  p.window = s.sliding_window;
  p.prefix = visible_prefix;
  p.scale_log2 = s.scale * kLog2e;
  p.skip_padding_queries = padding_queries == PaddingQueries::Unused ? 1 : 0;

  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  // The tensor-core kernel moves 16-byte chunks of rows (cp.async): every row start must be
  // 16-byte aligned. Below 16 queries most of its 64-row tile would be idle.
  const bool mma_layout = (s.head_dim == 64 || s.head_dim == 128) && s.q_len >= 16 && aligned16(q) &&
                          aligned16(k) && aligned16(v) && aligned16(out) && q_row % 8 == 0 && kv_row % 8 == 0 &&
                          out_row % 8 == 0 && s.kv_batch_stride % 8 == 0;
  // The decode kernel reads K/V rows in 16-byte chunks (4 f32 or 8 f16/bf16 elements).
  const int64_t chunk = 16 / int64_t(dtype_size(type));
  const bool decode_layout = s.q_len <= kDecodeMaxRows &&
                             (s.head_dim == 64 || s.head_dim == 128 || s.head_dim == 256) && aligned16(k) &&
                             aligned16(v) && kv_row % chunk == 0 && s.kv_batch_stride % chunk == 0;
  switch (type) {
    case DType::F32:
      if (decode_layout) launch_decode<float>(p, s, st);
      else launch_simt<float>(p, s, st);
      break;
    case DType::F16:
      if (decode_layout) launch_decode<__half>(p, s, st);
      else if (!(mma_layout && launch_mma<__half>(p, s, st))) launch_simt<__half>(p, s, st);
      break;
    case DType::BF16:
      if (decode_layout) launch_decode<__nv_bfloat16>(p, s, st);
      else if (!(mma_layout && launch_mma<__nv_bfloat16>(p, s, st))) launch_simt<__nv_bfloat16>(p, s, st);
      break;
  }
}

}  // namespace

void attention(void* out, const void* q, const void* k, const void* v, DType type, const uint8_t* key_valid,
               const cpu::AttentionShape& s, const AttentionStrides& strides, void* stream,
               PaddingQueries padding_queries) {
  launch_attention(out, q, k, v, type, key_valid, s, strides, 0, stream, padding_queries);
}

void prefixed_attention(void* out, const void* q, const void* k, const void* v, DType type, const uint8_t* key_valid,
                        const cpu::AttentionShape& s, const AttentionStrides& strides, int visible_prefix,
                        void* stream) {
  launch_attention(out, q, k, v, type, key_valid, s, strides, visible_prefix, stream, PaddingQueries::Computed);
}

}  // namespace zotune::cuda
