// The TT linear layer on the device (docs/papers/adazeta.md a.1; host reference
// kernels/cpu/tt_linear.h): y[M, out] = x[M, in] @ W + bias with W given by its TT cores, by the
// code's two-group contraction. One kernel builds both groups, L^T [r, in] and R^T [out, r]
// (each entry a chain of tiny slice products: under a million flops for the papers' shapes),
// then two cuBLAS GEMMs: u = x @ L, y = u @ R + bias. fp32 throughout; the GEMMs run as TF32 when the
// Blas handle allows it. Host-only header; device pointers; everything on blas.stream(), no
// allocation (capturable in a CUDA graph).
#pragma once
#include <cstdint>

#include "kernels/cpu/tt_linear.h"
#include "kernels/cuda/matmul.cuh"

namespace zotune::cuda {

// The largest TT rank and number of modes the group kernel takes (each thread keeps a chain
// vector of `rank` floats).
inline constexpr int kTtMaxRank = 32, kTtMaxModes = 16;

// Workspace of tt_linear in floats, for M rows: L^T [r, in], R^T [out, r + 1] and u [M, r + 1]
// (the extra column carries the bias through the second GEMM: u[:, r] = 1, R^T[:, r] = bias),
// each rounded up to 64 floats so every piece starts 256-byte aligned.
int64_t tt_linear_workspace_floats(const cpu::TtShape& shape, int M);

// y[M, out] = x[M, in] @ W + bias (bias may be null); cores concatenated as cpu::tt_dense reads
// them, workspace of tt_linear_workspace_floats(shape, M) floats, 256-byte aligned. Under TF32
// the bias enters the GEMM as an operand and is rounded like x and the cores. Throws
// zotune::Error naming the shape when it is invalid or beyond kTtMaxRank / kTtMaxModes.
void tt_linear(const Blas& blas, float* y, const float* x, const cpu::TtShape& shape, const float* cores,
               const float* bias, int M, float* workspace);

}  // namespace zotune::cuda
