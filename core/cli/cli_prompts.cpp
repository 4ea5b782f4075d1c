// zotune prompts RUN.yaml: the first examples of a split exactly as the run's loss and metric
// read them -- the rendered text of every sequence, the candidates and which is gold (or the
// gold answers), and the token ids after truncation with the scored tokens marked. It builds
// the splits with the same code as train and eval (make_task_splits), from the tokenizer and
// config.json alone: the weights are never read.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cli/commands.h"
#include "core/config/run_config.h"
#include "core/model/pretrained.h"
#include "core/tasks/custom_task.h"
#include "core/tasks/prompt_task.h"
#include "core/tasks/task_registry.h"
#include "core/tasks/templates.h"
#include "core/train/task_setup.h"
#include "core/util/error.h"

namespace zotune::cli {

namespace {

// A string as a JSON literal: quotes, "\n" and other control characters visible.
std::string quoted(const std::string& s) {
  return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// "1 2 3 | 4 5": the ids, with " | " before the last `scored` ones (the tokens the loss or
// score reads); `mark` (>= 0) is printed as "[id]" (the mask position).
std::string id_list(const std::vector<int32_t>& ids, int scored = 0, int mark = -1) {
  std::string out;
  const int split = static_cast<int>(ids.size()) - scored;
  for (int i = 0; i < static_cast<int>(ids.size()); ++i) {
    if (i > 0) out += ' ';
    if (scored > 0 && i == split) out += "| ";
    out += i == mark ? "[" + std::to_string(ids[i]) + "]" : std::to_string(ids[i]);
  }
  return out;
}

// "(T tokens)" or "(T tokens, left-truncated from U)" for a decoder sequence whose fed text
// encodes to U tokens.
std::string length_note(const Tokenizer& tok, const std::string& fed_text, size_t kept) {
  const size_t full = tok.encode(fed_text).size();
  std::string note = std::to_string(kept) + " tokens";
  if (full != kept) note += ", left-truncated from " + std::to_string(full);
  return "(" + note + ")";
}

// What an example shows besides its encoding: the rendered strings (templates.h render),
// the name of each candidate or class, for the gold class of a classification head.
struct Shown {
  std::vector<std::string> texts;
  std::vector<std::string> candidate_names;  // CandidateLM: candidates; MaskedLM: label words
  std::vector<std::string> class_names;      // ClassificationHead
};

Shown registered_shown(const tasks::TaskSpec& spec, tasks::TemplateFamily family, const tasks::Example& ex,
                       const Tokenizer& tok) {
  Shown s;
  s.texts = tasks::render(spec, family, ex, &tok);
  if (family == tasks::TemplateFamily::MezoDecoder)
    s.candidate_names = spec.kind == tasks::TaskKind::Classification ? tasks::label_words(spec, family) : ex.options;
  else if (family != tasks::TemplateFamily::ClassificationHead)
    s.candidate_names = tasks::label_words(spec, family);
  s.class_names = spec.class_names;
  return s;
}

Shown custom_shown(const tasks::CustomTask& task, tasks::CustomFormat format, const tasks::Example& ex) {
  return {task.render(ex, format), ex.options, ex.options};
}

void print_example(const Shown& shown, const tasks::EncodedExample& enc, const Tokenizer& tok) {
  const std::vector<std::string>& texts = shown.texts;
  auto is_gold = [&](int c) { return std::find(enc.correct.begin(), enc.correct.end(), c) != enc.correct.end(); };
  switch (enc.format) {
    case tasks::Format::CandidateLM: {
      std::printf("prompt: %s\n", quoted(texts.at(0)).c_str());
      const std::vector<std::string>& names = shown.candidate_names;
      for (size_t c = 0; c < enc.candidates.size(); ++c) {
        const tasks::ScoredSequence& s = enc.candidates[c];
        std::printf("candidate %zu %s%s\n  text: %s\n  ids %s, scored after |: %s\n", c,
                    quoted(c < names.size() ? names[c] : "?").c_str(), is_gold(static_cast<int>(c)) ? "  [gold]" : "",
                    quoted(texts.at(c + 1)).c_str(), length_note(tok, texts.at(c + 1), s.ids.size()).c_str(),
                    id_list(s.ids, s.option_len).c_str());
      }
      break;
    }
    case tasks::Format::Generation: {
      std::printf("prompt: %s\n  ids %s (decoding starts after them): %s\n", quoted(texts.at(0)).c_str(),
                  length_note(tok, texts.at(0), enc.ids.size()).c_str(), id_list(enc.ids).c_str());
      std::string golds;
      for (const std::string& a : enc.answers) golds += (golds.empty() ? "" : ", ") + quoted(a);
      std::printf("gold answers (F1 against each): %s\n", golds.c_str());
      if (!enc.candidates.empty()) {
        const tasks::ScoredSequence& s = enc.candidates[0];
        std::printf("training target (teacher forced)\n  text: %s\n  ids %s, scored after |: %s\n",
                    quoted(texts.at(1)).c_str(), length_note(tok, texts.at(1), s.ids.size()).c_str(),
                    id_list(s.ids, s.option_len).c_str());
      }
      break;
    }
    case tasks::Format::MaskedLM: {
      std::printf("input: %s\n  ids (%zu tokens, mask in []): %s\n", quoted(texts.at(0)).c_str(), enc.ids.size(),
                  id_list(enc.ids, 0, enc.mask_position).c_str());
      const std::vector<std::string>& words = shown.candidate_names;
      for (size_t c = 0; c < enc.label_words.size(); ++c)
        std::printf("class %zu label word %s = id %d%s\n", c, quoted(c < words.size() ? words[c] : "?").c_str(),
                    enc.label_words[c], static_cast<int>(c) == enc.label ? "  [gold]" : "");
      break;
    }
    case tasks::Format::ClassificationHead: {
      for (size_t i = 0; i < texts.size(); ++i) std::printf("sentence %zu: %s\n", i, quoted(texts[i]).c_str());
      std::printf("  ids (%zu tokens): %s\n", enc.ids.size(), id_list(enc.ids).c_str());
      std::string types;
      for (int32_t t : enc.token_types) types += (types.empty() ? "" : " ") + std::to_string(t);
      std::printf("  token types: %s\n", types.c_str());
      std::printf("gold class %d %s\n", enc.label,
                  enc.label >= 0 && enc.label < static_cast<int>(shown.class_names.size())
                      ? quoted(shown.class_names[enc.label]).c_str()
                      : "");
      break;
    }
  }
}

}  // namespace

void register_prompts(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "prompts", "Show a run's first examples as the loss sees them: prompts, candidates, gold, token ids");
  auto* run_file = new std::string;
  auto* split = new std::string("train");
  auto* count = new int(5);
  cmd->add_option("run_file", *run_file, "run file (.yaml)")->required();
  auto* overrides = add_overrides_option(cmd);
  cmd->add_option("--split", *split, "the split to show, as the run samples it")
      ->check(CLI::IsMember({"train", "dev", "test"}))
      ->capture_default_str();
  cmd->add_option("--n", *count, "how many examples (the split's first, in the run's order)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->callback([=] {
    const RunConfig config = load_run_config(*run_file, *overrides);
    check(config.task.name != "lm", *run_file + ": task.name: lm has no prompts (its texts are read as they are)");
    // The head the run would build (a classification head put on an encoder), from config.json only.
    ModelConfig model = load_model_config(config.model.path, task_load_options(config));
    const Tokenizer tokenizer = load_tokenizer(config.model.path);
    const TaskSplits splits = make_task_splits(config, tokenizer, model);
    const Task* task = *split == "train" ? splits.train.get() : *split == "dev" ? splits.dev.get() : splits.test.get();
    const std::vector<tasks::Example>& examples =
        *split == "train" ? splits.train_examples : *split == "dev" ? splits.dev_examples : splits.test_examples;
    std::printf("task %s\n", splits.description.c_str());
    if (task == nullptr) {
      std::printf("the %s split is empty in this run\n", split->c_str());
      return;
    }
    const auto* prompted = dynamic_cast<const tasks::PromptTask*>(task);
    check(prompted != nullptr && splits.family.has_value(), "prompts: the " + *split + " split is not a prompted task");
    if (splits.custom) {
      std::printf("custom prompt %s (%s), max_length %d for encoding (task.max_length %s)\n",
                  quoted(splits.custom->prompt().text()).c_str(), config.origins.count("task.prompt")
                                                                      ? config.origins.at("task.prompt").c_str()
                                                                      : config.source.c_str(),
                  splits.encode_max_length, config.task.max_length.text().c_str());
    } else {
      std::printf("template %s, max_length %d for encoding (task.max_length %s)\n",
                  tasks::family_name(*splits.family), splits.encode_max_length, config.task.max_length.text().c_str());
    }
    const int n = std::min<int>(*count, prompted->num_examples());
    for (int i = 0; i < n; ++i) {
      const tasks::EncodedExample& enc = prompted->example(i);
      std::printf("\n== %s example %d of %d: %s\n", split->c_str(), i, prompted->num_examples(),
                  examples.at(static_cast<size_t>(i)).where.c_str());
      const tasks::Example& ex = examples.at(static_cast<size_t>(i));
      print_example(splits.custom ? custom_shown(*splits.custom, *splits.custom_format, ex)
                                  : registered_shown(tasks::find_task(config.task.name), *splits.family, ex, tokenizer),
                    enc, tokenizer);
    }
  });
}

}  // namespace zotune::cli
