// Elementwise activations on fp32 activations, in place over n elements.
#pragma once
#include <cstddef>

namespace zotune::cpu {

void relu(float* x, size_t n);
void gelu_erf(float* x, size_t n);   // exact GELU: x * Phi(x) (BERT, RoBERTa "gelu")
void gelu_tanh(float* x, size_t n);  // tanh approximation ("gelu_new", "gelu_pytorch_tanh")
void silu(float* x, size_t n);
void tanh_inplace(float* x, size_t n);
// gate[i] = act(gate[i]) * up[i]: the gated MLP of Llama (SwiGLU, act = silu).
void silu_mul(float* gate, const float* up, size_t n);
// x[i] += y[i] (residual connections).
void add_inplace(float* x, const float* y, size_t n);

}  // namespace zotune::cpu
