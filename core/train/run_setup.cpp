#include "core/train/run_setup.h"

#include <fstream>
#include <string>

#include "core/optim/bszo.h"
#include "core/optim/mezo.h"
#include "core/util/error.h"

namespace zotune {

TrainableSelection trainable_selection(const TrainableSettings& settings) {
  TrainableSelection s;
  s.mode = settings.mode == TrainableMode::Head ? TrainableSelection::Mode::Head : TrainableSelection::Mode::Full;
  for (FrozenGroup g : settings.freeze) {
    switch (g) {
      case FrozenGroup::Embeddings: s.freeze_embeddings = true; break;
      case FrozenGroup::Norms: s.freeze_norms = true; break;
      case FrozenGroup::Head: s.freeze_head = true; break;
      case FrozenGroup::Biases: s.freeze_biases = true; break;
    }
  }
  return s;
}

DirectionKind direction_kind(DirectionDistribution distribution) {
  return distribution == DirectionDistribution::Rademacher ? DirectionKind::Rademacher : DirectionKind::Gaussian;
}

std::unique_ptr<ZoOptimizer> make_optimizer(const OptimizerSettings& settings, uint64_t seed, uint64_t trainable_params) {
  if (settings.name == OptimizerKind::MeZO) {
    MezoOptions o;
    o.seed = seed;
    o.eps = settings.eps;
    o.queries = static_cast<int>(settings.queries);
    o.one_sided = settings.one_sided;
    o.weight_decay = settings.weight_decay;
    return std::make_unique<Mezo>(o);
  }
  BszoOptions o;
  o.seed = seed;
  o.eps = settings.eps;
  o.k = static_cast<int>(settings.k);
  o.m = static_cast<int>(settings.m);
  o.sigma_p = settings.sigma_p.resolve(trainable_params);
  o.sigma_e = settings.sigma_e.resolve(trainable_params);
  o.alpha = settings.alpha;
  o.noise_floor = settings.noise_floor;
  o.adaptive_noise = settings.adaptive_noise;
  o.adaptive_sampling = settings.adaptive_sampling;
  o.fresh_remeasure = settings.name == OptimizerKind::BSZOB;
  return std::make_unique<Bszo>(o);
}

TrainerOptions trainer_options(const RunConfig& config) {
  TrainerOptions t;
  t.steps = static_cast<uint32_t>(config.run.steps);
  t.batch_size = static_cast<int>(config.data.batch_size);
  t.data_seed = config.run.seed;
  t.lr = config.optimizer.lr;
  t.linear_schedule = config.optimizer.schedule == LrSchedule::Linear;
  t.mode = config.model.perturbation;
  t.direction = direction_kind(config.optimizer.direction);
  t.checksum_every = static_cast<uint32_t>(config.run.checksum_every);
  t.data_parallel = static_cast<int>(config.distributed.data_parallel);
  return t;
}

namespace {

std::vector<int32_t> tokenize_example(const Tokenizer& tokenizer, const std::string& text, int64_t max_length,
                                      int32_t vocab_size, const std::string& where) {
  std::vector<int32_t> ids = tokenizer.encode(text, true);
  if (static_cast<int64_t>(ids.size()) > max_length) ids.resize(static_cast<size_t>(max_length));
  check(ids.size() >= 2, where + ": fewer than two tokens after tokenization (a language-modelling example needs a next token)");
  for (int32_t id : ids)
    check(id >= 0 && id < vocab_size, where + ": token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                                          std::to_string(vocab_size) + " (tokenizer and model disagree)");
  return ids;
}

}  // namespace

std::unique_ptr<Task> make_task(const RunConfig& config, TaskSplit split, const Tokenizer& tokenizer,
                                const ModelConfig& model) {
  const TaskSettings& t = config.task;
  check(t.name == "lm", config.source + ": task.name: unknown task '" + t.name + "' (known: lm)");
  const std::string& file = split == TaskSplit::Train ? t.train : split == TaskSplit::Dev ? t.dev : t.test;
  const int64_t limit = split == TaskSplit::Train ? t.num_train : split == TaskSplit::Dev ? t.num_dev : t.num_test;
  const char* key = split == TaskSplit::Train ? "task.train" : split == TaskSplit::Dev ? "task.dev" : "task.test";
  std::vector<std::vector<int32_t>> sequences;
  if (split == TaskSplit::Train && !t.texts.empty()) {
    check(t.train.empty(), config.source + ": task: give task.texts or task.train, not both");
    for (size_t i = 0; i < t.texts.size(); ++i)
      sequences.push_back(tokenize_example(tokenizer, t.texts[i], t.max_length, model.vocab_size,
                                           config.source + ": task.texts[" + std::to_string(i) + "]"));
  } else {
    if (file.empty()) {
      check(split != TaskSplit::Train, config.source + ": task: the lm task needs task.texts or a task.train text file");
      return nullptr;
    }
    if (limit == 0) return nullptr;
    std::ifstream in(file);
    check(static_cast<bool>(in), config.source + ": " + key + ": cannot open '" + file + "'");
    std::string line;
    for (int lineno = 1; std::getline(in, line) && static_cast<int64_t>(sequences.size()) < limit; ++lineno) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      sequences.push_back(
          tokenize_example(tokenizer, line, t.max_length, model.vocab_size, file + ":" + std::to_string(lineno)));
    }
    check(!sequences.empty(), file + ": no non-blank lines (" + key + ")");
  }
  const int32_t pad = model.pad_token_id >= 0 ? model.pad_token_id : (tokenizer.pad_id() >= 0 ? tokenizer.pad_id() : 0);
  return std::make_unique<LanguageModelingTask>(std::move(sequences), pad);
}

}  // namespace zotune
