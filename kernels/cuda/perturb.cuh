// The fused perturbation on the device: one launch over a flat parameter range applies
// x[i] += sum_j c_j z_j[first + i], regenerating each z_j from Philox in registers
// (kernels/common/philox.h, the CPU's integer stream), so restore + update + the next
// perturbation are one read and one write of the parameters. Host-callable launchers only.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"
#include "kernels/cpu/perturb.h"

namespace zotune::cuda {

// Terms travel in the kernel's parameter block (no host-device copy, graph-capturable):
// 128 terms are 3 KB of the 32 KB a launch may carry.
inline constexpr int kMaxPerturbTerms = 128;

// Agreement with the CPU (the reference): the integer stream is bit-identical; each normal z
// differs from the CPU's by at most kDeviceZAbsError = 8e-6 absolute (kernels/common/philox.h:
// the device uses the hardware's log2/sqrt/sin/cos; typically ~1e-7), Rademacher signs are
// identical. So an element differs from cpu::perturb's by at most sum_j |c_j| * 8e-6 before
// its final rounding, i.e. a few fp32 ulp or one fp16/bf16 ulp where the sums round apart.
//
// x: device pointer to n values of `dtype`; `first` is the global trainable index of x[0];
// terms: host array of n_terms <= kMaxPerturbTerms (Error otherwise). The sum is formed in
// fp32 and rounded into the storage dtype once per element, as cpu::perturb does. Runs on
// `stream`; aligned ranges (x - first a multiple of 4 elements) take 8/16-byte accesses.
void perturb(void* x, DType dtype, int64_t n, uint64_t first, const cpu::DirectionTerm* terms, int n_terms,
             DirectionKind kind, void* stream = nullptr);

// One trainable tensor for perturb_segments: `n` values of `dtype` at device address `data`,
// whose element 0 has global trainable index `first`. `decay`: weight decay applies to it.
struct PerturbSegment {
  void* data = nullptr;
  uint64_t first = 0;
  int64_t n = 0;
  DType dtype = DType::F32;
  bool decay = false;
};

// The whole trainable space in one launch: for every segment s and i < s.n,
//   x = s.decay ? x * decay_scale : x   (rounded once into the dtype, as the CPU's
//                                        TrainableSpace::apply does, only when decay_scale != 1)
//   x += sum_j c_j z_j[s.first + i]     (formed in fp32, rounded once)
// segments: device array of n_segments entries sorted by `first`, contiguous in the
// trainable index space (segments[s + 1].first == segments[s].first + segments[s].n), as
// TrainableSpace numbers them; total = sum of n. Terms beyond kMaxPerturbTerms run as
// further passes of kMaxPerturbTerms terms each (each pass rounds once; the decay goes with
// the first). One launch per pass, whatever the number of segments: each CTA walks the
// table with a cursor; tiles inside one segment whose data - first is a multiple of 4
// elements take 8/16-byte accesses, the rest (segment boundaries, where a Philox block may
// straddle two segments, and unaligned segments) go element by element.
void perturb_segments(const PerturbSegment* segments, int n_segments, uint64_t total, const cpu::DirectionTerm* terms,
                      int n_terms, DirectionKind kind, float decay_scale = 1.0f, void* stream = nullptr);

// The papers' arithmetic (model.perturbation: reference; cpu::perturb_in_dtype is the
// reference): one term over the whole segment table, one launch,
//   x = round_dtype(fma(c, round_dtype(z), x))     (z drawn in fp32, rounded to the dtype)
// No decay (the reference mode scales in its own pass, perturb_segments with no terms). The
// rounding of z and the fma are the CPU's operation for operation; z itself is the device's
// Box-Muller (|z_gpu - z_cpu| <= kDeviceZAbsError), so an element differs from the CPU's only
// where z lies within kDeviceZAbsError of a rounding boundary of the dtype (then by one ulp of
// z in the dtype), or, for F32, by the fma of that z difference (a few ulp).
void perturb_segments_in_dtype(const PerturbSegment* segments, int n_segments, uint64_t total,
                               const cpu::DirectionTerm& term, DirectionKind kind, void* stream = nullptr);

// The raw Philox4x32-10 outputs of blocks [first_block, first_block + n_blocks) of direction
// (seed, step, query) into out (device, 4 * n_blocks uint32): the integer stream, for tests.
// It is computed as the pass computes it (philox_with_head).
void philox_blocks(uint32_t* out, uint64_t seed, uint32_t step, uint32_t query, uint64_t first_block,
                   int64_t n_blocks, void* stream = nullptr);

// The device Box-Muller's error over every input (kernels/common/philox.h), for the test that
// holds kDeviceZAbsError: max_dr = max over all 2^32 values of a of |r_gpu - r| (r =
// sqrt(-2 ln u1) in fp64 at the CPU's u1); max_dcs = max over all 2^32 values of b of the
// |cos|, |sin| differences from fp64 at the CPU's fp32 angle; max_dz = max over a of
// (dr(a) + r(a) 2^-23) (1 + dcs) + r(a) dcs with dcs = max_dcs + 2^-24, which bounds
// |z_gpu - z_cpu| for every pair (a, b) when the CPU's libm is within 2^-23 relative (r) and
// 2^-24 absolute (cos, sin). Synchronizes.
struct BoxMullerErrors {
  double max_dr = 0, max_dcs = 0, max_dz = 0;
};
BoxMullerErrors box_muller_error_sweep();

}  // namespace zotune::cuda
