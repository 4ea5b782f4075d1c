// TT linear layer: one group kernel, then two GEMMs (see tt_linear.cuh).
//
// Group kernel, one thread per output entry vector (in + out threads, plus M for the ones
// column of u when there is a bias):
//  - thread a < in: row a of L = G_1[0, a_1, :] G_2[:, a_2, :] ... G_o[:, a_o, :] (a's row-major
//    digits over k_1..k_o), a vector of r floats, written transposed to L^T[:, a] (coalesced);
//  - thread in + b: column b of R = G_{o+1}[:, a_{o+1}, :] ... G_p[:, a_p, 0], folded from the
//    right, written to R^T[b, 0..r) beside R^T[b, r] = bias[b].
// The cores (at most a few thousand floats) stay in L1/L2; the work is negligible next to the
// GEMMs, which read x once and write y once.
#include <cuda_runtime.h>

#include <string>

#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/tt_linear.cuh"

namespace zotune::cuda {
namespace {

struct TtGroups {
  int p, o, rank, in, out, M;
  int modes[kTtMaxModes];
  int offset[kTtMaxModes];  // of core i in the concatenated cores (they are small: checked)
};

int64_t round_up64(int64_t n) { return (n + 63) / 64 * 64; }

// Work item t of the group kernel (host-callable too, so it can be checked without a device).
__host__ __device__ __forceinline__ void tt_group_item(const TtGroups& g, const float* __restrict__ cores,
                                                       const float* __restrict__ bias, float* __restrict__ lt,
                                                       float* __restrict__ rt, float* __restrict__ u, int t) {
  const int r = g.rank;
  float v[kTtMaxRank], next[kTtMaxRank];
  if (t < g.in) {
    // Digits a_0..a_{o-1} of t, the last fastest; fold from the left.
    int digit[kTtMaxModes];
    int rest = t;
    for (int i = g.o - 1; i >= 0; --i) {
      digit[i] = rest % g.modes[i];
      rest /= g.modes[i];
    }
    const float* g0 = cores + g.offset[0] + digit[0] * r;  // G_1[0, a_1, :], r_0 = 1
    for (int c = 0; c < r; ++c) v[c] = g0[c];
    for (int i = 1; i < g.o; ++i) {  // inner cores [r, k_i, r]
      const float* gi = cores + g.offset[i] + digit[i] * r;
      const int row_stride = g.modes[i] * r;
      for (int c = 0; c < r; ++c) {
        float acc = 0.0f;
        for (int b = 0; b < r; ++b) acc = fmaf(v[b], gi[b * row_stride + c], acc);
        next[c] = acc;
      }
      for (int c = 0; c < r; ++c) v[c] = next[c];
    }
    for (int c = 0; c < r; ++c) lt[static_cast<int64_t>(c) * g.in + t] = v[c];
  } else if (t < g.in + g.out) {
    const int col = t - g.in;
    int digit[kTtMaxModes];
    int rest = col;
    for (int i = g.p - 1; i >= g.o; --i) {
      digit[i] = rest % g.modes[i];
      rest /= g.modes[i];
    }
    const float* gl = cores + g.offset[g.p - 1];  // G_p [r, k_p, 1]
    for (int b = 0; b < r; ++b) v[b] = gl[b * g.modes[g.p - 1] + digit[g.p - 1]];
    for (int i = g.p - 2; i >= g.o; --i) {  // inner cores [r, k_i, r]: next = G_i[:, a_i, :] v
      const float* gi = cores + g.offset[i] + digit[i] * r;
      const int row_stride = g.modes[i] * r;
      for (int b = 0; b < r; ++b) {
        float acc = 0.0f;
        for (int c = 0; c < r; ++c) acc = fmaf(gi[b * row_stride + c], v[c], acc);
        next[b] = acc;
      }
      for (int b = 0; b < r; ++b) v[b] = next[b];
    }
    const int ld = bias != nullptr ? r + 1 : r;
    float* row = rt + static_cast<int64_t>(col) * ld;
    for (int b = 0; b < r; ++b) row[b] = v[b];
    if (bias != nullptr) row[r] = bias[col];
  } else if (bias != nullptr && t < g.in + g.out + g.M) {
    u[static_cast<int64_t>(t - g.in - g.out) * (r + 1) + r] = 1.0f;
  }
}

__global__ void tt_groups_kernel(TtGroups g, const float* __restrict__ cores, const float* __restrict__ bias,
                                 float* __restrict__ lt, float* __restrict__ rt, float* __restrict__ u) {
  tt_group_item(g, cores, bias, lt, rt, u, blockIdx.x * blockDim.x + threadIdx.x);
}

std::string describe(const cpu::TtShape& s) {
  std::string modes;
  for (size_t i = 0; i < s.modes.size(); ++i) modes += (i ? "," : "") + std::to_string(s.modes[i]);
  return "TT shape [" + modes + "], o " + std::to_string(s.in_modes) + ", rank " + std::to_string(s.rank);
}

}  // namespace

int64_t tt_linear_workspace_floats(const cpu::TtShape& shape, int M) {
  cpu::tt_check_shape(shape, "cuda::tt_linear_workspace_floats");
  const int64_t r = shape.rank;
  return round_up64(r * shape.in()) + round_up64((r + 1) * shape.out()) + round_up64((r + 1) * M);
}

void tt_linear(const Blas& blas, float* y, const float* x, const cpu::TtShape& shape, const float* cores,
               const float* bias, int M, float* workspace) {
  cpu::tt_check_shape(shape, "cuda::tt_linear");
  const int p = static_cast<int>(shape.modes.size());
  check(p <= kTtMaxModes && shape.rank <= kTtMaxRank,
        "cuda::tt_linear: " + describe(shape) + " exceeds the device limits (" + std::to_string(kTtMaxModes) +
            " modes, rank " + std::to_string(kTtMaxRank) + ")");
  check(shape.cores_numel() <= INT32_MAX, "cuda::tt_linear: " + describe(shape) + " has too many core entries");
  check(M >= 0 && static_cast<int64_t>(shape.in()) + shape.out() + M <= INT32_MAX,
        "cuda::tt_linear: bad row count M " + std::to_string(M) + " for " + describe(shape));
  if (M == 0) return;
  TtGroups g{};
  g.p = p;
  g.o = shape.in_modes;
  g.rank = shape.rank;
  g.in = shape.in();
  g.out = shape.out();
  g.M = M;
  for (int i = 0; i < p; ++i) {
    g.modes[i] = shape.modes[i];
    g.offset[i] = static_cast<int>(shape.core_offset(i));
  }
  const int r = shape.rank, ld_u = bias != nullptr ? r + 1 : r;
  float* lt = workspace;
  float* rt = lt + round_up64(static_cast<int64_t>(r) * g.in);
  float* u = rt + round_up64(static_cast<int64_t>(r + 1) * g.out);

  const int threads = 128, work = g.in + g.out + (bias != nullptr ? M : 0);
  tt_groups_kernel<<<(work + threads - 1) / threads, threads, 0, static_cast<cudaStream_t>(blas.stream())>>>(
      g, cores, bias, lt, rt, u);
  check_status(cudaGetLastError(), "cuda::tt_linear group kernel launch");
  // u[M, r] (leading dimension ld_u, column r = 1 left alone) = x[M, in] @ (L^T [r, in])^T.
  matmul(blas, u, DType::F32, x, lt, DType::F32, M, g.in, r, ld_u);
  // y[M, out] = u[M, ld_u] @ (R^T [out, ld_u])^T: u @ R, plus 1 * bias when ld_u = r + 1.
  matmul(blas, y, DType::F32, u, rt, DType::F32, M, ld_u, g.out);
}

}  // namespace zotune::cuda
