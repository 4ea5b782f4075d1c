// Row selection and fills on the device. Host-callable launchers only; device pointers.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// out[r, :] = x[rows[r], :] for r < n_rows; x and out fp32 with `width` columns.
void gather_rows(float* out, const float* x, const int64_t* rows, int n_rows, int width, void* stream = nullptr);

// x[i] = value for i < n, x of `type` (unit norm weights and zero biases of random models).
void fill(void* x, DType type, size_t n, float value, void* stream = nullptr);

}  // namespace zotune::cuda
