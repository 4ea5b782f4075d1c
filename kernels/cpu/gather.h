// Row moves between a packed and a padded layout: the host reference of
// kernels/cuda/gather.cuh's gather_rows_or_zero, which the CUDA engine's unpadded forward
// (engine.unpadded, core/model/packed_tokens.h) uses around attention.
#pragma once
#include <cstddef>
#include <cstdint>

namespace zotune::cpu {

// `mats` matrices of `row_bytes`-byte rows lie back to back in x (x_rows rows each) and in out
// (out_rows rows each): out row r of matrix m = x row index[r] of matrix m, or zero bytes where
// index[r] < 0. Any dtype (rows are bytes); index[r] < x_rows is the caller's to keep.
void gather_rows_or_zero(void* out, const void* x, const int32_t* index, int out_rows, int64_t x_rows,
                         size_t row_bytes, int mats = 1);

}  // namespace zotune::cpu
