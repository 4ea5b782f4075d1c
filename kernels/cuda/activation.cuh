// Elementwise epilogues on the device, fp32 math over storage-dtype buffers: bias + activation
// after a GEMM, the gated MLP product, and the residual add into the fp32 stream. Host-callable
// launchers only; device pointers.
#pragma once
#include <cstdint>
#include <string>

#include "core/tensor/dtype.h"

namespace zotune::cuda {

enum class Activation { Identity, ReLU, GeluErf, GeluTanh, SiLU, Tanh };
// From a config name ("relu", "gelu", "gelu_new", "gelu_pytorch_tanh", "silu", "swish",
// "tanh"); throws Error naming the activation otherwise. Same mapping as the CPU engine.
Activation activation_from_name(const std::string& name);

// y[r, c] = act(y[r, c] + bias[c]) for a [rows, N] buffer of `type`; bias ([N], same type) may be null.
void bias_activation(void* y, DType type, const void* bias, int rows, int N, Activation act, void* stream = nullptr);

// out[r, i] = silu(gate[r * ld + i]) * up[r * ld + i] for i < I: the SwiGLU product of
// Llama's MLP. gate and up may be the two halves of one fused [rows, 2I] GEMM output (ld = 2I,
// up = gate + I); out is [rows, I] of `type` and may not alias the input.
void silu_mul(void* out, const void* gate, const void* up, DType type, int rows, int I, int64_t ld,
              void* stream = nullptr);

// x[r, c] += y[r, c] + bias[c]: the residual connection, x fp32 [rows, N], y of `type`;
// bias ([N], `type`) may be null.
void residual_add(float* x, const void* y, DType type, const void* bias, int rows, int N, void* stream = nullptr);

}  // namespace zotune::cuda
