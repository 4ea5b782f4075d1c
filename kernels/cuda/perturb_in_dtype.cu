// The reference perturbation mode's pass (perturb.cuh, perturb_segments_in_dtype): one term,
// z rounded to the parameter's dtype, one rounding of the sum. Simple by design (one thread
// per Philox block, element by element, a binary search of the segment table per block): the
// mode reproduces the papers' arithmetic, it is not the fast path.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "core/util/error.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/element.cuh"
#include "kernels/cuda/perturb.cuh"

namespace zotune::cuda {
namespace {

template <typename T>
__device__ __forceinline__ void add_term(void* data, int64_t i, float c, float z) {
  T* p = static_cast<T*>(data) + i;
  const float zr = to_f32<T>(from_f32<T>(z));  // torch.normal(..., dtype=param.dtype)
  *p = from_f32<T>(fmaf(c, zr, to_f32<T>(*p)));  // param.add_(z, alpha=c)
}

template <DirectionKind kKind>
__global__ void perturb_in_dtype_kernel(const PerturbSegment* segs, int n_segs, uint64_t total,
                                        const cpu::DirectionTerm term) {
  // Global indices [base, base + total): the Philox blocks that hold them, one per thread.
  const uint64_t base = segs[0].first, end = base + total;
  const uint64_t b0 = base / 4, n_blocks = (end + 3) / 4 - b0;
  for (uint64_t t = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; t < n_blocks;
       t += uint64_t(gridDim.x) * blockDim.x) {
    const uint64_t b = b0 + t;
    float z[4];
    direction_values(term.seed, term.step, term.query, b, kKind, z);
    const uint64_t g0 = 4 * b > base ? 4 * b : base;
    // The segment holding g0: the last one whose first <= g0.
    int lo = 0, hi = n_segs - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (segs[mid].first <= g0) lo = mid; else hi = mid - 1;
    }
    int s = lo;
    for (uint64_t g = g0; g < 4 * b + 4 && g < end; ++g) {
      while (g >= segs[s].first + uint64_t(segs[s].n)) ++s;  // a block may straddle segments
      const PerturbSegment seg = segs[s];
      const int64_t i = int64_t(g - seg.first);
      const float zl = z[g & 3];
      switch (seg.dtype) {
        case DType::F32: add_term<float>(seg.data, i, term.coeff, zl); break;
        case DType::F16: add_term<__half>(seg.data, i, term.coeff, zl); break;
        case DType::BF16: add_term<__nv_bfloat16>(seg.data, i, term.coeff, zl); break;
      }
    }
  }
}

}  // namespace

void perturb_segments_in_dtype(const PerturbSegment* segments, int n_segments, uint64_t total,
                               const cpu::DirectionTerm& term, DirectionKind kind, void* stream) {
  if (total == 0 || term.coeff == 0.0f) return;
  check(segments != nullptr && n_segments > 0, "cuda::perturb_segments_in_dtype: no segment table for " +
                                                   std::to_string(total) + " elements");
  const int threads = 256;
  const uint64_t n_blocks = total / 4 + 2;  // at most; the kernel computes the exact range
  const int grid = static_cast<int>(std::min<uint64_t>((n_blocks + threads - 1) / threads, 132u * 32u));
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (kind == DirectionKind::Rademacher)
    perturb_in_dtype_kernel<DirectionKind::Rademacher><<<grid, threads, 0, s>>>(segments, n_segments, total, term);
  else
    perturb_in_dtype_kernel<DirectionKind::Gaussian><<<grid, threads, 0, s>>>(segments, n_segments, total, term);
  check_status(cudaGetLastError(), "perturb_in_dtype_kernel launch");
}

}  // namespace zotune::cuda
