#include "core/train/sequence_length.h"

#include <algorithm>
#include <string>

#include "core/util/error.h"

namespace zotune {

namespace {

// MeZO large_models/run.py `max_length` 2048 (baselines.md 8.2): decoder prompts are
// left-truncated to it.
constexpr int kMezoMaxLength = 2048;
// LM-BFF / MeZO medium_models run_fewshot.sh (baselines.md 9): max_seq_length 128, 256 for
// the sentence-pair tasks with long premises.
constexpr int kLmbffMaxLength = 128;
constexpr int kLmbffLongMaxLength = 256;

bool lmbff_long_task(const std::string& task) {
  return task == "mnli" || task == "snli" || task == "rte" || task == "qnli";
}

}  // namespace

int usable_positions(const ModelConfig& model) {
  if (model.arch == Architecture::RoBERTa) return model.max_position - std::max(model.pad_token_id, 0) - 1;
  return model.max_position;
}

int resolved_max_length(const RunConfig& config, std::optional<tasks::TemplateFamily> family, const ModelConfig& model) {
  const int limit = usable_positions(model);
  const AutoCount& given = config.task.max_length;
  if (!given.automatic) {
    check(given.value <= limit, config.source + ": task.max_length: " + std::to_string(given.value) + " exceeds the " +
                                    std::to_string(limit) + " positions of " + config.model.path +
                                    " (max_position_embeddings); give at most " + std::to_string(limit) +
                                    " or leave it auto");
    return static_cast<int>(given.value);
  }
  int wanted = kMezoMaxLength;
  if (family == tasks::TemplateFamily::LmBffMlm || family == tasks::TemplateFamily::ClassificationHead)
    wanted = lmbff_long_task(config.task.name) ? kLmbffLongMaxLength : kLmbffMaxLength;
  else if (family == tasks::TemplateFamily::BszoMlm)
    wanted = limit;  // BSZO's run.py keeps MeZO's 2048; RoBERTa's 512 positions bind first
  return std::min(wanted, limit);
}

}  // namespace zotune
