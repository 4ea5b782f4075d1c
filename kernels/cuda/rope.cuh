// Rotary position embedding on the device, as Hugging Face's Llama applies it
// (rotate_half: element i of a head pairs with element i + head_dim / 2). Host-callable
// launchers only; device pointers.
#pragma once
#include <cstdint>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

// Rotates in place heads [0, n_heads) of every token: token t's head h starts at
// x + t * row_stride + h * head_dim (row_stride in elements lets q and k sit inside one fused
// QKV row). positions[t] is token t's position; inv_freq: [head_dim / 2] fp32 (device);
// cos and sin are computed in fp32 and multiplied by attention_scaling, as cpu::rope does.
void rope(void* x, DType type, const int32_t* positions, int n_tokens, int n_heads, int head_dim, int64_t row_stride,
          const float* inv_freq, float attention_scaling, void* stream = nullptr);

}  // namespace zotune::cuda
