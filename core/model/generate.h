// Greedy decoding with a KV cache: one prefill over the prompt, then one token per step.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/model/model.h"

namespace zotune {

struct GenerateOptions {
  int max_new_tokens = 32;
  std::vector<int32_t> stop_ids;  // generation ends after emitting one of these (e.g. EOS)
  // Called with each new token as it is chosen (for streaming); may be empty.
  std::function<void(int32_t)> on_token;
};

// Returns the new tokens (the prompt excluded) for each prompt of the batch; prompts are
// left-padded together so every sequence's last token sits in the last column.
std::vector<std::vector<int32_t>> generate_greedy(Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                  int32_t pad_id, const GenerateOptions& options);

}  // namespace zotune
