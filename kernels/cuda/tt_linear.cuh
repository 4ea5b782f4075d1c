// The TT linear layer on the device (docs/papers/adazeta.md a.1; host reference
// kernels/cpu/tt_linear.h): y[M, out] = x[M, in] @ W + bias with W given by its TT cores, by the
// code's two-group contraction. One kernel builds both groups, L^T [r, in] and R^T [out, r]
// (each entry a chain of tiny slice products: under a million flops for the papers' shapes),
// then two cuBLAS GEMMs: u = x @ L, y = u @ R + bias. fp32 throughout; the GEMMs run as TF32 when the
// Blas handle allows it. Host-only header; device pointers; everything on blas.stream(), no
// allocation (capturable in a CUDA graph). tt_linear_batched runs G such layers (one per probe
// group, each with its own cores and bias) over G consecutive row blocks in three launches.
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

// ---- Batched over probe groups (engine.probe_batch: each group's rows through its own cores).
// Workspace of tt_linear_batched in floats, for `groups` groups of M rows each: per group
// L^T [r, in] and R^T [out, r + 1] (each rounded up to 64 floats), then u [groups * M, r + 1]
// (rounded up to 64). groups = 1 is tt_linear_workspace_floats(shape, M).
int64_t tt_linear_batched_workspace_floats(const cpu::TtShape& shape, int M, int groups);

// For every group g < groups: y_g[M, out] = x_g[M, in] @ W_g + bias_g, where x_g = x + g M in
// and y_g = y + g M out are consecutive row blocks, W_g the TT matrix of the cores at
// cores + g * cores_stride (floats; concatenated as cpu::tt_dense reads them) and bias_g the
// [out] vector at bias + g * bias_stride (bias null: no bias). One group-kernel launch builds
// every group's L^T and R^T (grid dimension y over groups), then two strided-batched GEMMs with
// tt_linear's compute type. groups = 1 is tt_linear (the same launches, the same bits); for
// groups > 1 each group's result equals tt_linear's on that group up to cuBLAS's choice of a
// different (batched) kernel, i.e. to the GEMMs' rounding. Workspace of
// tt_linear_batched_workspace_floats(shape, M, groups) floats, 256-byte aligned. Throws
// zotune::Error naming the shape when it is invalid, beyond kTtMaxRank / kTtMaxModes, or the
// group count is beyond the grid (65535).
void tt_linear_batched(const Blas& blas, float* y, const float* x, const cpu::TtShape& shape, const float* cores,
                       int64_t cores_stride, const float* bias, int64_t bias_stride, int M, int groups,
                       float* workspace);

}  // namespace zotune::cuda
