// The first parameter tensor holding a NaN or an infinity: a damaged checkpoint reads as a
// NaN loss at the first step, which the trainer alone would blame on the learning rate.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace zotune {

class Model;

struct NonFiniteWeight {
  std::string tensor;  // Hugging Face name, e.g. "model.layers.0.mlp.up_proj.weight"
  int64_t index = 0;   // flat element index inside the tensor (row-major)
  float value = 0.0f;  // the NaN or +-inf found there
};

// Scans every parameter (trainable and frozen, PEFT modules included) in declaration order.
// A model on a device copies its parameters to the host first (sync_params_to_host).
std::optional<NonFiniteWeight> find_non_finite_weight(Model& model);

// "the model's weights hold NaN/Inf (tensor NAME, element I is nan)", the message a run
// stops with instead of a step's non-finite loss.
std::string non_finite_weight_message(const NonFiniteWeight& found);

}  // namespace zotune
