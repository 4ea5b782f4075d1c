// task.max_length as a run uses it: `auto` resolved per template family (MeZO's 2048 for
// decoders, LM-BFF's 128 / 256 for encoder prompts), capped at what the model's position
// embeddings hold; a number given above that limit is an error naming the limit.
#pragma once
#include <optional>

#include "core/config/run_config.h"
#include "core/model/config.h"
#include "core/tasks/templates.h"

namespace zotune {

// The longest sequence the model can embed: max_position_embeddings, less RoBERTa's position
// offset (its positions start at pad_token_id + 1: 514 - 2 = 512 for roberta-large).
int usable_positions(const ModelConfig& model);

// The tokens per example of a run on `model`; family: the task's template family (nullopt for
// the lm task, which is tokenized like a decoder prompt). Errors name config.source.
int resolved_max_length(const RunConfig& config, std::optional<tasks::TemplateFamily> family, const ModelConfig& model);

}  // namespace zotune
