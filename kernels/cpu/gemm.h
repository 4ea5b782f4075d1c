// C[M, N] = alpha * A[M, K] op(B) + beta * C, fp32, row-major; op(B) = B^T for B stored [N, K]
// (trans_b, a Linear layer's weight) or B stored [K, N]. Leading dimensions in elements.
//
// The bits do not depend on how many threads run it. OpenBLAS's own threading splits a GEMM
// by the thread count, and its kernels round an element differently depending on where the
// split puts it (measured on the CI machine's AMD EPYC, OpenBLAS 0.3.21: 1 and 2 threads
// disagree in the last bits for most shapes above 64 x 64 x 64), so a rank sharing the cores
// with two others computed other numbers than a rank alone, breaking rank invariance. Here
// OpenBLAS runs single-threaded, and the GEMM is cut into tiles by its shape alone (rows, or
// columns when there are few rows; at most kMaxGemmTiles) that OpenMP spreads over the threads:
// every tile is the same single-threaded call whichever thread runs it.
#pragma once

namespace zotune::cpu {

constexpr int kMaxGemmTiles = 4;

void gemm(bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          float beta, float* C, int ldc);

}  // namespace zotune::cpu
