// The fused perturbation: one pass over a parameter range applies sum_j c_j z_j, so
// restoring the last perturbation, the update and the next perturbation cost one pass.
// Directions are regenerated from Philox (kernels/common/philox.h), never stored.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"
#include "kernels/common/philox.h"

namespace zotune::cpu {

struct DirectionTerm {
  uint64_t seed = 0;
  uint32_t step = 0;
  uint32_t query = 0;
  float coeff = 0.0f;
};

// x[i] += sum_j terms[j].coeff * z(terms[j])[first + i] for i in [0, n): x holds n values of
// `dtype`; `first` is the global trainable index of x[0]. The sum is formed in fp32 and
// rounded into the storage dtype once per element.
void perturb(void* x, DType dtype, int64_t n, uint64_t first, const DirectionTerm* terms, int n_terms,
             DirectionKind kind);

// The papers' arithmetic (model.perturbation: reference; docs/PRECISION.md): one term, one
// pass, as `param.data.add_(z, alpha=c)` with z = torch.normal(..., dtype=param.dtype):
//   x[i] = round_dtype(fma(c, round_dtype(z[first + i]), x[i]))
// z is drawn in fp32 and rounded to the storage dtype (round to nearest even), as torch rounds
// its fp32 normals into a bf16/fp16 tensor; the fma is fp32 (torch's opmath for 16-bit add_);
// the sum is rounded into the dtype once. For F32 both roundings of z are the identity.
// Philox z stands in for torch's generator: the values differ, the arithmetic is the same.
void perturb_in_dtype(void* x, DType dtype, int64_t n, uint64_t first, const DirectionTerm& term, DirectionKind kind);

// z rounded to `dtype` and widened back to fp32 (the identity for F32).
float round_to_dtype(float z, DType dtype);

// z(seed, step, query)[first .. first + n) into out (fp32), for tests and host math.
void direction(float* out, int64_t n, uint64_t first, uint64_t seed, uint32_t step, uint32_t query, DirectionKind kind);

// u(seed, step, query)[first .. first + n) into out: U[0, 1) values of uniform_values, one per
// global index (Sparse-MeZO's random mask passes seed ^ kMaskStream).
void uniform(float* out, int64_t n, uint64_t first, uint64_t seed, uint32_t step, uint32_t query);

}  // namespace zotune::cpu
