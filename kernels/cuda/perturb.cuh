// The fused perturbation on the device: one launch over a flat parameter range applies
// x[i] += sum_j c_j z_j[first + i], regenerating each z_j from Philox in registers
// (kernels/common/philox.h, the CPU's integer stream), so restore + update + the next
// perturbation are one read and one write of the parameters. Host-callable launchers only.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"
#include "kernels/cpu/perturb.h"

namespace zotune::cuda {

// Terms travel in the kernel's parameter block (no host-device copy, graph-capturable).
inline constexpr int kMaxPerturbTerms = 64;

// x: device pointer to n values of `dtype`; `first` is the global trainable index of x[0];
// terms: host array of n_terms <= kMaxPerturbTerms (Error otherwise). The sum is formed in
// fp32 and rounded into the storage dtype once per element, as cpu::perturb does; values
// agree with the CPU to a few fp32 ulp (logf/sincospif against libm). Runs on `stream`.
void perturb(void* x, DType dtype, int64_t n, uint64_t first, const cpu::DirectionTerm* terms, int n_terms,
             DirectionKind kind, void* stream = nullptr);

// The raw Philox4x32-10 outputs of blocks [first_block, first_block + n_blocks) of direction
// (seed, step, query) into out (device, 4 * n_blocks uint32): the integer stream, for tests.
void philox_blocks(uint32_t* out, uint64_t seed, uint32_t step, uint32_t query, uint64_t first_block,
                   int64_t n_blocks, void* stream = nullptr);

}  // namespace zotune::cuda
