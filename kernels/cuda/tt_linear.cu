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
// Batched (tt_linear_batched): the same kernel with grid dimension y over probe groups, each
// group reading its own cores / bias and writing its own L^T / R^T / rows of u, then the two
// GEMMs as strided-batched cuBLAS calls. tt_linear is the batched path with one group (whose
// strided-batched GEMMs are plain cublasGemmEx calls: matmul_strided_batched).
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

// Grid: x over work items, y over groups. Group g's cores, bias, L^T and R^T sit at their
// pointer + g * stride; its rows of u are rows [g M, (g + 1) M) of u [groups M, r + 1].
__global__ void tt_groups_kernel(TtGroups g, const float* __restrict__ cores, int64_t cores_stride,
                                 const float* __restrict__ bias, int64_t bias_stride, float* __restrict__ lt,
                                 int64_t lt_stride, float* __restrict__ rt, int64_t rt_stride, float* __restrict__ u) {
  const int64_t group = blockIdx.y;
  tt_group_item(g, cores + group * cores_stride, bias != nullptr ? bias + group * bias_stride : nullptr,
                lt + group * lt_stride, rt + group * rt_stride, u + group * g.M * (g.rank + 1),
                blockIdx.x * blockDim.x + threadIdx.x);
}

std::string describe(const cpu::TtShape& s) {
  std::string modes;
  for (size_t i = 0; i < s.modes.size(); ++i) modes += (i ? "," : "") + std::to_string(s.modes[i]);
  return "TT shape [" + modes + "], o " + std::to_string(s.in_modes) + ", rank " + std::to_string(s.rank);
}

// Workspace layout, floats: L^T of group g at g * lt_stride, R^T of group g at
// groups * lt_stride + g * rt_stride, then u [groups * M, r + 1]; every piece 256-byte aligned.
struct TtWorkspace {
  int64_t lt_stride, rt_stride, u_floats;
  int64_t total(int groups) const { return groups * (lt_stride + rt_stride) + u_floats; }
};

TtWorkspace tt_workspace(const cpu::TtShape& shape, int M, int groups) {
  const int64_t r = shape.rank;
  return {round_up64(r * shape.in()), round_up64((r + 1) * shape.out()),
          round_up64((r + 1) * static_cast<int64_t>(M) * groups)};
}

}  // namespace

int64_t tt_linear_workspace_floats(const cpu::TtShape& shape, int M) {
  cpu::tt_check_shape(shape, "cuda::tt_linear_workspace_floats");
  return tt_workspace(shape, M, 1).total(1);
}

int64_t tt_linear_batched_workspace_floats(const cpu::TtShape& shape, int M, int groups) {
  cpu::tt_check_shape(shape, "cuda::tt_linear_batched_workspace_floats");
  check(M >= 0 && groups >= 1, "cuda::tt_linear_batched_workspace_floats: bad rows " + std::to_string(M) +
                                   " / groups " + std::to_string(groups) + " for " + describe(shape));
  return tt_workspace(shape, M, groups).total(groups);
}

void tt_linear(const Blas& blas, float* y, const float* x, const cpu::TtShape& shape, const float* cores,
               const float* bias, int M, float* workspace) {
  tt_linear_batched(blas, y, x, shape, cores, 0, bias, 0, M, 1, workspace);
}

void tt_linear_batched(const Blas& blas, float* y, const float* x, const cpu::TtShape& shape, const float* cores,
                       int64_t cores_stride, const float* bias, int64_t bias_stride, int M, int groups,
                       float* workspace) {
  cpu::tt_check_shape(shape, "cuda::tt_linear");
  const int p = static_cast<int>(shape.modes.size());
  check(p <= kTtMaxModes && shape.rank <= kTtMaxRank,
        "cuda::tt_linear: " + describe(shape) + " exceeds the device limits (" + std::to_string(kTtMaxModes) +
            " modes, rank " + std::to_string(kTtMaxRank) + ")");
  check(shape.cores_numel() <= INT32_MAX, "cuda::tt_linear: " + describe(shape) + " has too many core entries");
  check(M >= 0 && static_cast<int64_t>(shape.in()) + shape.out() + M <= INT32_MAX,
        "cuda::tt_linear: bad row count M " + std::to_string(M) + " for " + describe(shape));
  // Grid dimension y is the group (at most 65535); the batch's groups * M rows stay within int
  // like M itself (the strides between groups are int64).
  check(groups >= 1 && groups <= 65535 && static_cast<int64_t>(M) * groups <= INT32_MAX,
        "cuda::tt_linear_batched: " + std::to_string(groups) + " groups of " + std::to_string(M) +
            " rows (at most 65535 groups) for " + describe(shape));
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
  const TtWorkspace w = tt_workspace(shape, M, groups);
  float* lt = workspace;
  float* rt = lt + groups * w.lt_stride;
  float* u = rt + groups * w.rt_stride;

  const int threads = 128, work = g.in + g.out + (bias != nullptr ? M : 0);
  const dim3 grid(static_cast<unsigned>((work + threads - 1) / threads), static_cast<unsigned>(groups));
  tt_groups_kernel<<<grid, threads, 0, static_cast<cudaStream_t>(blas.stream())>>>(
      g, cores, cores_stride, bias, bias_stride, lt, w.lt_stride, rt, w.rt_stride, u);
  check_status(cudaGetLastError(), "cuda::tt_linear group kernel launch");
  const int64_t rows_u = static_cast<int64_t>(M) * ld_u;  // u's floats per group
  // u_g[M, r] (leading dimension ld_u, column r = 1 left alone) = x_g[M, in] @ (L_g^T [r, in])^T.
  matmul_strided_batched(blas, u, DType::F32, rows_u, x, static_cast<int64_t>(M) * g.in, lt, w.lt_stride, DType::F32,
                         M, g.in, r, groups, ld_u);
  // y_g[M, out] = u_g[M, ld_u] @ (R_g^T [out, ld_u])^T: u_g @ R_g, plus 1 * bias_g when ld_u = r + 1.
  matmul_strided_batched(blas, y, DType::F32, static_cast<int64_t>(M) * g.out, u, rows_u, rt, w.rt_stride, DType::F32,
                         M, ld_u, g.out, groups);
}

}  // namespace zotune::cuda
