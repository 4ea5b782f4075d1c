// Row selection and fills on the device. Host-callable launchers only; device pointers.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// out[r, :] = x[rows[r], :] for r < n_rows; x and out fp32 with `width` columns.
void gather_rows(float* out, const float* x, const int64_t* rows, int n_rows, int width, void* stream = nullptr);

// Row moves between a packed and a padded layout (the unpadded forward, core/model/packed_tokens.h),
// in any dtype (host reference: kernels/cpu/gather.h): `mats` matrices of `row_bytes`-byte rows
// lie back to back in x (x_rows rows each) and in out (out_rows rows each); out row r of matrix
// m = x row index[r] of matrix m, or zeros where index[r] < 0 (padding slots: attention must read zeros there, never stale
// values, whose NaNs would survive a zero weight). row_bytes even (2-byte dtypes or wider).
void gather_rows_or_zero(void* out, const void* x, const int32_t* index, int out_rows, int64_t x_rows,
                         size_t row_bytes, int mats = 1, void* stream = nullptr);

// x[i] = value for i < n, x of `type` (unit norm weights and zero biases of random models).
void fill(void* x, DType type, size_t n, float value, void* stream = nullptr);

}  // namespace zotune::cuda
