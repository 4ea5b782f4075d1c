// The scaled add of an fp32 update into a storage-dtype buffer on the device (host reference
// kernels/cpu/scaled_add.h): y[r, c] = round(fma(scale, x[r, c], y[r, c])). The device PEFT
// hooks (core/cuda/device_peft.cpp) add a LoRA delta into a projection's output (possibly a
// column slice of a fused QKV output) and an adapter's s * U(ReLU(D(h))) into h with it.
// Host-only header; device pointers; no allocation, no synchronization (capturable).
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// y: [rows, cols] of `type`, rows `ld` elements apart (ld >= cols); x: [rows, cols] fp32,
// contiguous; both device pointers, on `stream` (a cudaStream_t, null = default). Throws
// zotune::Error naming the shape when it is invalid.
void scaled_add(void* y, DType type, int64_t ld, const float* x, float scale, int rows, int cols,
                void* stream = nullptr);

}  // namespace zotune::cuda
