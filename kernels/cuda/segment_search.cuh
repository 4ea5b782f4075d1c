// Device-side search over a perturbation segment table (included by .cu files only): the
// passes over the trainable space (perturb.cu, zo_passes.cu) walk global element indices and
// look up the tensor each index falls in.
#pragma once
#include <cstdint>

#include "kernels/cuda/perturb.cuh"

namespace zotune::cuda {

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

}  // namespace zotune::cuda
