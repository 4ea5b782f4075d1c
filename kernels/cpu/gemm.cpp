#include "kernels/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>

namespace zotune::cpu {

namespace {

// Tiles below this many rows (or columns) are not worth their own call: the packing of the
// other operand is repeated per tile.
constexpr int kMinTileRows = 64;
constexpr int kMinTileCols = 256;

int ceil_div(int a, int b) { return (a + b - 1) / b; }

// How many tiles of how many rows/columns: a function of the extent alone (never the threads).
void split(int extent, int min_tile, int* tiles, int* tile) {
  *tiles = std::clamp(extent / min_tile, 1, kMaxGemmTiles);
  *tile = ceil_div(extent, *tiles);
  *tiles = ceil_div(extent, *tile);
}

}  // namespace

void gemm(bool trans_b, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
          float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  // Checked on every call: whatever set OpenBLAS's threads since (OPENBLAS_NUM_THREADS is read
  // at load) must not change the bits.
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  // Rows when there are enough of them (B is packed once per tile), else columns (A per tile).
  const bool by_rows = M >= 2 * kMinTileRows || M >= N;
  const int extent = by_rows ? M : N;
  int tiles, tile;
  split(extent, by_rows ? kMinTileRows : kMinTileCols, &tiles, &tile);
  const CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
#pragma omp parallel for schedule(static) if (tiles > 1)
  for (int t = 0; t < tiles; ++t) {
    const int from = t * tile, count = std::min(tile, extent - from);
    if (by_rows) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, count, N, K, alpha, A + static_cast<int64_t>(from) * lda, lda, B,
                  ldb, beta, C + static_cast<int64_t>(from) * ldc, ldc);
    } else {
      // columns [from, from + count) of op(B): rows of B when transposed, columns otherwise
      const float* b = trans_b ? B + static_cast<int64_t>(from) * ldb : B + from;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, M, count, K, alpha, A, lda, b, ldb, beta, C + from, ldc);
    }
  }
}

}  // namespace zotune::cpu
