// The scaled add of an fp32 update into a storage-dtype buffer: y[r, c] += scale * x[r, c],
// rounded once into y's dtype. The host reference of kernels/cuda/scaled_add.cuh, which the
// device PEFT hooks use to add a LoRA delta to a projection's output and an adapter's
// s * U(ReLU(D(h))) to its input or output (core/cuda/device_peft.cpp).
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cpu {

// y: [rows, cols] of `type`, rows `ld` elements apart (ld >= cols: a column slice of a wider
// buffer); x: [rows, cols] fp32, contiguous. Each y = round(fma(scale, x, y)) in fp32, the
// rounding to nearest even as zotune::convert's.
void scaled_add(void* y, DType type, int64_t ld, const float* x, float scale, int rows, int cols);

}  // namespace zotune::cpu
