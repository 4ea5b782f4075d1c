// The stateful baselines' parameter passes on the device (MeZO-Adam, HiZOO, LOZO,
// Sparse-MeZO; core/optim/param_pass.h describes each kind), one launch per pass over the
// trainable space's segment table (perturb.cuh's PerturbSegment), on the model's stream.
//
// Each element computes what the optimizer's host closure computes on the tensor widened to
// fp32, operation for operation (every product, quotient, sum and square root rounded once,
// in the closure's order: the __f*_rn intrinsics, which nvcc never contracts into an fma),
// and rounds the result into the storage dtype once, as the host engine does. The one input
// that differs from the host's is the Gaussian z: the device's Box-Muller is within
// kDeviceZAbsError of cpu::direction's (kernels/common/philox.h); Rademacher signs and the
// uniform mask draws are bit-identical, so with them a pass matches the host bit for bit.
// Host-callable launchers only.
#pragma once
#include <cstdint>

#include "kernels/common/philox.h"
#include "kernels/cuda/perturb.cuh"

namespace zotune::cuda {

enum class ZoPassKind : uint8_t { AdamUpdate, HizooProbe, HizooUpdate, LozoAxpy, SparseAxpy };

// What a segment needs beyond PerturbSegment (a device array, one entry per segment).
struct ZoSegmentExtra {
  // LozoAxpy: the tensor as a [rows, cols] matrix (rows = shape[0]) whose direction is U Vᵀ,
  // U [rows, rank] at factors + u_offset, V [cols, rank] at factors + v_offset (both
  // row-major); rows == 0: the plain direction z (vectors, matrices smaller than the rank).
  int64_t rows = 0, cols = 0;
  uint64_t u_offset = 0, v_offset = 0;
  float threshold = 0.0f;  // SparseAxpy, magnitude mask: the tensor's |x| threshold
};

// The scalars and device arrays of one pass (core/optim/param_pass.h, ParamPassSpec).
struct ZoPassArgs {
  ZoPassKind kind = ZoPassKind::HizooProbe;
  bool reference = false;
  DirectionKind direction = DirectionKind::Gaussian;
  uint64_t seed = 0;
  uint32_t step = 0;
  float coeff = 0.0f;
  float grad_scale = 0.0f, beta1 = 0.0f, beta2 = 0.0f, adam_eps = 0.0f, weight_decay = 0.0f, step_size = 0.0f,
        bias2_sqrt = 1.0f;
  float keep = 1.0f, sample = 0.0f, step_c = 0.0f, step_decay = 0.0f, restore = 0.0f;
  int rank = 0;
  float decay_scale = 1.0f, sparsity = 0.0f;
  bool random_mask = false;
  // Device arrays indexed by the global trainable index: AdamUpdate m (state0), v (state1);
  // HizooProbe / HizooUpdate Σ (state0).
  float* state0 = nullptr;
  float* state1 = nullptr;
  const ZoSegmentExtra* extras = nullptr;  // LozoAxpy, SparseAxpy (magnitude): n_segments entries
  const float* factors = nullptr;          // LozoAxpy: the U and V of every matrix (lozo_factors)
};

// One pass over segments[0 .. n_segments) (device array, sorted and contiguous in the global
// index space from `first`, `total` elements, as perturb_segments takes them). One thread per
// Philox block of 4 global indices; the block's z (and mask draw) are drawn once.
void zo_pass_segments(const PerturbSegment* segments, int n_segments, uint64_t first, uint64_t total,
                      const ZoPassArgs& args, void* stream = nullptr);

// One range of LOZO factor values: out[out_offset + i] = z(seed', step', 0)[first + i] for
// i < n, with (seed', step') = (seed, step) for U and (seed ^ kLowRankVStream, window) for V.
struct LowRankFactorRange {
  uint64_t first = 0;
  int64_t n = 0;
  uint64_t out_offset = 0;
  bool v = false;
};

// Fills out[0 .. total) from `ranges` (device array sorted by out_offset, contiguous from 0).
void lozo_factors(const LowRankFactorRange* ranges, int n_ranges, uint64_t total, float* out, uint64_t seed,
                  uint32_t step, uint32_t window, DirectionKind kind, void* stream = nullptr);

// x[i] = value for i < n (device), on `stream`.
void fill_f32(float* x, int64_t n, float value, void* stream = nullptr);

}  // namespace zotune::cuda
