// From a run file's `task` section to the run's three splits: the lm task (inline texts or
// one text per line), a registered task (core/tasks) or a custom one (custom_task.h) read from its files, sampled as the
// protocol says (core/data/sampling.h), rendered by its template family and wrapped in the
// objective that trains and scores it (core/tasks/prompt_task.h). One place, so that
// `zotune train`, `zotune eval` and the tests build the same examples from the same file.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/model/model.h"
#include "core/tasks/custom_task.h"
#include "core/tasks/templates.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/task.h"

namespace zotune {

struct TaskSplits {
  std::unique_ptr<Task> train;
  std::unique_ptr<Task> dev;   // nullptr: no dev set (no model selection, no early stopping)
  std::unique_ptr<Task> test;  // nullptr: no test set
  std::string description;     // one line for progress output: task, template, split sizes
  // Registered and custom tasks (empty / nullopt for the lm task): each split's examples before
  // templating, in the order of the split Task's examples, and the template family that
  // encoded them, so `zotune prompts` shows exactly what the loss reads.
  std::vector<tasks::Example> train_examples, dev_examples, test_examples;
  std::optional<tasks::TemplateFamily> family;
  // A custom task (task.name custom): its definition and how the model reads its prompt;
  // `family` is then the family whose truncation rule it follows.
  std::shared_ptr<const tasks::CustomTask> custom;
  std::optional<tasks::CustomFormat> custom_format;
  int encode_max_length = 0;  // the max_length passed to tasks::encode (generation: minus max_new_tokens)
};

// How the model must be loaded for the run's task: a classification head with the task's
// class count when the template family is the classification head and the checkpoint has
// none (a sentence-embedding model such as all-MiniLM-L6-v2). Reads only the model's config.
LoadOptions task_load_options(const RunConfig& config);

// A registered task's splits as the run samples them (its files read, the split sizes applied),
// without the model or its tokenizer: "copa: 300 train / 100 dev / 100 test examples". What
// training would refuse about the data (a split larger than its file, an unlabeled example) is
// the same Error here, before any GPU time is spent. "" for the lm and custom tasks, whose
// examples need the tokenizer to load.
std::string sampled_task_summary(const RunConfig& config);

// Errors name the run file and key, or the data file and line.
TaskSplits make_task_splits(const RunConfig& config, const Tokenizer& tokenizer, const ModelConfig& model);

}  // namespace zotune
