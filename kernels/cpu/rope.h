// Rotary position embedding as Hugging Face's Llama applies it ("rotate_half": element i
// of a head pairs with element i + head_dim/2, not with its neighbour).
#pragma once
#include <cstdint>

namespace zotune::cpu {

// x: [n_tokens, n_heads * head_dim], rotated in place; positions[t] is token t's position.
// inv_freq: [head_dim / 2] (scaling already folded in); cos/sin are multiplied by
// attention_scaling (1 except for YaRN-style scalings).
void rope(float* x, const int32_t* positions, int n_tokens, int n_heads, int head_dim, const float* inv_freq,
          float attention_scaling);

}  // namespace zotune::cpu
