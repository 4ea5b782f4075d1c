#include "core/train/task_setup.h"

#include "core/train/run_check.h"

#include <algorithm>
#include <fstream>
#include <functional>
#include <limits>

#include "core/config/run_config_schema.h"
#include "core/data/sampling.h"
#include "core/train/sequence_length.h"
#include "core/tasks/custom_task.h"
#include "core/tasks/prompt_task.h"
#include "core/tasks/task_registry.h"
#include "core/tasks/templates.h"
#include "core/train/run_setup.h"
#include "core/util/error.h"

namespace zotune {

namespace {

// A missing file or an unknown task name, named with its run-file key and line, before any read.
void require_task_inputs(const RunConfig& config) {
  std::vector<std::string> problems;
  check_task_inputs(config, problems);
  if (problems.empty()) return;
  std::string all = problems.front();
  for (size_t i = 1; i < problems.size(); ++i) all += "\n  " + problems[i];
  throw Error(all);
}

int32_t pad_id_of(const Tokenizer& tokenizer, const ModelConfig& model) {
  if (model.pad_token_id >= 0) return model.pad_token_id;
  return tokenizer.pad_id() >= 0 ? tokenizer.pad_id() : 0;
}

// ---- The lm task: next-token loss over inline texts or the lines of a file.

std::vector<int32_t> tokenize_line(const Tokenizer& tokenizer, const std::string& text, int64_t max_length,
                                   int32_t vocab_size, const std::string& where) {
  std::vector<int32_t> ids = tokenizer.encode(text, true);
  if (static_cast<int64_t>(ids.size()) > max_length) ids.resize(static_cast<size_t>(max_length));
  check(ids.size() >= 2, where + ": fewer than two tokens after tokenization (a language-modelling example needs a next token)");
  for (int32_t id : ids)
    check(id >= 0 && id < vocab_size, where + ": token id " + std::to_string(id) + " is outside the model's vocabulary of " +
                                          std::to_string(vocab_size) + " (tokenizer and model disagree)");
  return ids;
}

// One split of the lm task: task.texts (train only) or at most `limit` non-blank lines of `file`.
std::unique_ptr<Task> lm_split(const RunConfig& config, const std::string& file, int64_t limit, const char* key,
                               bool train, const Tokenizer& tokenizer, const ModelConfig& model) {
  const TaskSettings& t = config.task;
  std::vector<std::vector<int32_t>> sequences;
  if (train && !t.texts.empty()) {
    check(t.train.empty(), config.source + ": task: give task.texts or task.train, not both");
    for (size_t i = 0; i < t.texts.size(); ++i)
      sequences.push_back(tokenize_line(tokenizer, t.texts[i], resolved_max_length(config, std::nullopt, model), model.vocab_size,
                                        config.source + ": task.texts[" + std::to_string(i) + "]"));
  } else {
    if (file.empty()) {
      check(!train, config.source + ": task: the lm task needs task.texts or a task.train text file");
      return nullptr;
    }
    if (limit == 0) return nullptr;
    std::ifstream in(file);
    check(static_cast<bool>(in), config.source + ": " + key + ": cannot open '" + file + "'");
    std::string line;
    for (int lineno = 1; std::getline(in, line) && static_cast<int64_t>(sequences.size()) < limit; ++lineno) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      sequences.push_back(
          tokenize_line(tokenizer, line, resolved_max_length(config, std::nullopt, model), model.vocab_size,
                        file + ":" + std::to_string(lineno)));
    }
    check(!sequences.empty(), file + ": no non-blank lines (" + key + ")");
  }
  return std::make_unique<LanguageModelingTask>(std::move(sequences), pad_id_of(tokenizer, model));
}

TaskSplits lm_splits(const RunConfig& config, const Tokenizer& tokenizer, const ModelConfig& model) {
  const TaskSettings& t = config.task;
  TaskSplits s;
  s.train = lm_split(config, t.train, t.num_train, "task.train", true, tokenizer, model);
  s.dev = lm_split(config, t.dev, t.num_dev, "task.dev", false, tokenizer, model);
  s.test = lm_split(config, t.test, t.num_test, "task.test", false, tokenizer, model);
  s.description = "lm: " + std::to_string(s.train->num_examples()) + " training sequences";
  return s;
}

// ---- Registered tasks.

tasks::TemplateFamily family_for(const RunConfig& config, HeadKind head) {
  switch (config.task.template_family) {
    case TemplateChoice::MeZO: return tasks::TemplateFamily::MezoDecoder;
    case TemplateChoice::LmBff: return tasks::TemplateFamily::LmBffMlm;
    case TemplateChoice::BszoMlm: return tasks::TemplateFamily::BszoMlm;
    case TemplateChoice::Head: return tasks::TemplateFamily::ClassificationHead;
    case TemplateChoice::Auto: break;
  }
  if (head == HeadKind::CausalLM) return tasks::TemplateFamily::MezoDecoder;
  if (head == HeadKind::MaskedLM) return tasks::TemplateFamily::LmBffMlm;
  return tasks::TemplateFamily::ClassificationHead;
}

// The family's model head, checked against what the checkpoint has (errors name the key).
void check_head(const RunConfig& config, tasks::TemplateFamily family, HeadKind head) {
  const std::string where = config.source + ": task.template: ";
  // The spelling of the run file (`lm-bff`), or the family auto picked.
  const std::string name = config.task.template_family == TemplateChoice::Auto
                               ? std::string("auto (") + tasks::family_name(family) + ")"
                               : std::string(choice_name(config.task.template_family));
  switch (family) {
    case tasks::TemplateFamily::MezoDecoder:
      check(head == HeadKind::CausalLM, where + name + " prompts a decoder, but " + config.model.path + " has a " +
                                            head_name(head) + " head");
      break;
    case tasks::TemplateFamily::LmBffMlm:
    case tasks::TemplateFamily::BszoMlm:
      check(head == HeadKind::MaskedLM, where + name + " needs a masked-LM head, but " +
                                            config.model.path + " has a " + head_name(head) +
                                            " head (use template: head for a classification head)");
      break;
    case tasks::TemplateFamily::ClassificationHead:
      check(head != HeadKind::CausalLM, where + name + " puts a classification head on an encoder; " + config.model.path +
                                            " is a decoder (use template: mezo)");
      break;
  }
}

// A file of the task: the run file's own, else the shipped default under task.data_dir.
std::string task_file(const std::string& given, const TaskSettings& t, const std::string& relative) {
  if (!given.empty()) return given;
  if (relative.empty() || t.data_dir.empty()) return "";
  return tasks::data_file(t.data_dir, relative);
}

data::SplitSizes split_sizes(const RunConfig& config, const std::string& task) {
  const TaskSettings& t = config.task;
  // A custom task is in neither paper's tables: both protocols' default sizes (mezo.sh 1000 / 500).
  if (task == tasks::kCustomTaskName && (t.sampling == TaskSampling::MeZO || t.sampling == TaskSampling::BSZO))
    return {1000, 500, 1000};
  switch (t.sampling) {
    case TaskSampling::MeZO: return data::mezo_split_sizes(task);
    case TaskSampling::BSZO: return data::bszo_split_sizes(task);
    case TaskSampling::Sizes:
    case TaskSampling::KShot: break;
  }
  return {t.num_train, t.num_dev, t.num_test};
}

// A split size set beside a sampling that does not read it (task.sampling mezo, bszo or k-shot
// take their sizes from the protocol) would be dropped without a word: refuse it, naming what
// the sampling uses instead. A value equal to the key's default passes (a complete
// configuration, /config_resolved, writes every default), as does the size the sampling uses
// anyway. Prompt tasks only: a language-modeling task reads task.num_* whatever the sampling.
void check_sizes_are_used(const RunConfig& config, const std::string& task, const data::SplitSizes& sizes) {
  const TaskSettings& t = config.task;
  if (t.sampling == TaskSampling::Sizes) return;
  const std::string sampling(kTaskSamplingNames[static_cast<size_t>(t.sampling)]);
  struct Size {
    const char* key;
    int64_t value, used;
  };
  const bool k_shot = t.sampling == TaskSampling::KShot;
  for (const Size& size : {Size{"task.num_train", t.num_train, sizes.num_train}, Size{"task.num_dev", t.num_dev, sizes.num_dev},
                           Size{"task.num_test", t.num_test, sizes.num_test}}) {
    const std::string_view default_yaml = run_config_schema::keys()[run_config_schema::key_index(size.key)].default_yaml;
    if (size.value == std::stoll(std::string(default_yaml)) || (!k_shot && size.value == size.used)) continue;
    const std::string uses =
        k_shot ? "task.k (" + std::to_string(t.k) + ") examples per class for train and dev, and up to " +
                     std::to_string(data::kLmbffMaxTest) + " eval rows for test"
               : "task " + task + "'s " + sampling + " sizes, " + std::to_string(sizes.num_train) + " train / " +
                     std::to_string(sizes.num_dev) + " dev / " + std::to_string(sizes.num_test) + " test";
    throw Error(config.source + ": " + size.key + ": " + std::to_string(size.value) + " would be ignored: task.sampling " +
                sampling + " samples " + uses + "; give task.sampling: sizes to sample " + std::to_string(size.value) +
                ", or leave " + size.key + " out");
  }
}

bool labeled(const tasks::Example& e) { return e.label >= 0 || !e.correct.empty() || !e.answers.empty(); }

std::vector<tasks::Example> pick(const std::vector<tasks::Example>& all, const std::vector<int64_t>& indices,
                                 const std::string& split, const std::string& file) {
  std::vector<tasks::Example> out;
  out.reserve(indices.size());
  for (int64_t i : indices) {
    const tasks::Example& e = all.at(static_cast<size_t>(i));
    check(labeled(e), e.where + ": the " + split + " example has no label (" + file +
                          " is unlabeled: GLUE/SuperGLUE test files are; the protocol tests on the validation file)");
    out.push_back(e);
  }
  return out;
}

// The three splits' examples before templating, as the run's sampling picks them from the
// train file (train and, without task.dev, dev) and the eval file (test).
struct SampledExamples {
  std::vector<tasks::Example> train, dev, test;
};

SampledExamples sample_examples(const RunConfig& config, const std::string& task_name,
                                const std::vector<tasks::Example>& train_all, const std::vector<tasks::Example>& eval_all,
                                const std::string& train_file, const std::string& eval_file,
                                const std::function<std::vector<tasks::Example>(const std::string&)>& load_dev) {
  const TaskSettings& t = config.task;
  check(t.data_seed <= std::numeric_limits<uint32_t>::max(),
        config.source + ": task.data_seed: " + std::to_string(t.data_seed) +
            " does not fit numpy's 32-bit seed, which the samplers reproduce");
  const uint32_t seed = static_cast<uint32_t>(t.data_seed);
  const data::SplitSizes sizes = split_sizes(config, task_name);
  check_sizes_are_used(config, task_name, sizes);
  const std::string what = config.source + ": task " + task_name + " (" + train_file + ")";

  data::Splits idx;
  std::vector<tasks::Example> dev_all;
  if (t.sampling == TaskSampling::KShot) {
    check(t.dev.empty(), config.source + ": task.dev: k-shot sampling draws dev from task.train; give no dev file");
    std::vector<std::string> labels;
    for (const tasks::Example& e : train_all) {
      check(e.label >= 0, e.where + ": k-shot sampling needs a class label on every training example");
      labels.push_back(std::to_string(e.label));
    }
    idx = data::lmbff_k_shot(labels, static_cast<int64_t>(eval_all.size()), static_cast<int>(t.k), seed);
  } else if (!t.dev.empty()) {
    // A dev file of its own: train from the train file alone, dev from a permutation of it.
    idx = data::mezo_splits(static_cast<int64_t>(train_all.size()), static_cast<int64_t>(eval_all.size()),
                            sizes.num_train, 0, sizes.num_test, seed, what);
    dev_all = load_dev(t.dev);
    std::vector<int64_t> order = data::NumpyLegacyRandom(seed).permutation(static_cast<int64_t>(dev_all.size()));
    order.resize(static_cast<size_t>(std::min<int64_t>(sizes.num_dev, static_cast<int64_t>(order.size()))));
    idx.dev = order;
  } else {
    idx = data::mezo_splits(static_cast<int64_t>(train_all.size()), static_cast<int64_t>(eval_all.size()),
                            sizes.num_train, sizes.num_dev, sizes.num_test, seed, what);
  }
  SampledExamples out;
  out.train = pick(train_all, idx.train, "training", train_file);
  out.dev = pick(t.dev.empty() ? train_all : dev_all, idx.dev, "dev", t.dev.empty() ? train_file : t.dev);
  out.test = pick(eval_all, idx.test, "test", eval_file);
  check(!out.train.empty(), what + ": no training examples were sampled");
  return out;
}

// The objective of candidate tasks: task.loss, or under auto the task's own default (teacher
// forcing for the tasks whose code trains on the gold continuation).
tasks::CandidateObjective candidate_objective(TaskLoss loss, bool teacher_forced_by_default) {
  return loss == TaskLoss::TeacherForced || (loss == TaskLoss::Auto && teacher_forced_by_default)
             ? tasks::CandidateObjective::TeacherForced
             : tasks::CandidateObjective::Classification;
}

// The splits as PromptTasks "<name>/<split>" of the sampled examples, each encoded by `encode`;
// `what` opens the description ("sst2 (mezo template)"), the split sizes follow.
TaskSplits prompt_splits(SampledExamples sampled, tasks::TemplateFamily family, int max_length, const std::string& name,
                         const tasks::PromptTaskOptions& options,
                         const std::function<tasks::EncodedExample(const tasks::Example&)>& encode,
                         const std::string& what) {
  auto make = [&](const std::vector<tasks::Example>& examples, const std::string& split) -> std::unique_ptr<Task> {
    if (examples.empty()) return nullptr;
    std::vector<tasks::EncodedExample> encoded;
    encoded.reserve(examples.size());
    for (const tasks::Example& e : examples) encoded.push_back(encode(e));
    return std::make_unique<tasks::PromptTask>(name + "/" + split, std::move(encoded), options);
  };
  TaskSplits s;
  s.train_examples = std::move(sampled.train);
  s.dev_examples = std::move(sampled.dev);
  s.test_examples = std::move(sampled.test);
  s.family = family;
  s.encode_max_length = max_length;
  s.train = make(s.train_examples, "train");
  s.dev = make(s.dev_examples, "dev");
  s.test = make(s.test_examples, "test");
  s.description = what + ": " + std::to_string(s.train->num_examples()) + " train / " +
                  std::to_string(s.dev ? s.dev->num_examples() : 0) + " dev / " +
                  std::to_string(s.test ? s.test->num_examples() : 0) + " test examples";
  return s;
}

// The tokens a prompt may take: task.max_length resolved for the family and model, less the
// tokens a generation task decodes (whose settings it puts in `options`).
int prompt_max_length(const RunConfig& config, tasks::TemplateFamily family, const ModelConfig& model,
                      const Tokenizer& tokenizer, bool generation, tasks::PromptTaskOptions& options) {
  int max_length = resolved_max_length(config, family, model);
  if (!generation) return max_length;
  options.generation = tasks::generation_config(tokenizer);
  max_length -= options.generation->max_new_tokens;  // MeZO leaves room for the answer
  check(max_length >= 8, config.source + ": task.max_length: " + config.task.max_length.text() +
                             " leaves no room for a prompt before the 50 generated tokens");
  return max_length;
}

// A registered task's examples read from its files and sampled into the run's three splits.
SampledExamples registered_examples(const RunConfig& config, const tasks::TaskSpec& spec) {
  const TaskSettings& t = config.task;
  check(t.texts.empty(), config.source + ": task.texts: only the lm task takes inline texts");
  const std::string train_file = task_file(t.train, t, spec.default_train);
  const std::string eval_file = task_file(t.test, t, spec.default_eval);
  check(!train_file.empty(), config.source + ": task.train: " + spec.name + " needs a training file" +
                                 (spec.default_train.empty() ? " (none ships in shared/data: " + spec.note + ")"
                                                             : " (or task.data_dir, holding " + spec.default_train + ")"));
  const std::vector<tasks::Example> train_all = tasks::load_examples(spec, train_file);
  const std::vector<tasks::Example> eval_all = eval_file.empty() ? std::vector<tasks::Example>{}
                                                                 : tasks::load_examples(spec, eval_file);
  return sample_examples(config, spec.name, train_all, eval_all, train_file, eval_file,
                         [&](const std::string& path) { return tasks::load_examples(spec, path); });
}

TaskSplits registered_splits(const RunConfig& config, const Tokenizer& tokenizer, const ModelConfig& model) {
  const TaskSettings& t = config.task;
  const tasks::TaskSpec& spec = tasks::find_task(t.name);
  const tasks::TemplateFamily family = family_for(config, model.head);
  check_head(config, family, model.head);
  check(tasks::has_template(spec, family), config.source + ": task.template: the " + tasks::family_name(family) +
                                               " family has no template for " + spec.name);
  SampledExamples sampled = registered_examples(config, spec);

  tasks::PromptTaskOptions options;
  options.pad_id = pad_id_of(tokenizer, model);
  options.shared_prompts = config.engine.shared_prompts;
  const bool teacher_forced_by_default =
      spec.name == "copa" || spec.name == "record" || spec.name == "squad" || spec.name == "drop";
  options.candidate_objective = candidate_objective(t.loss, teacher_forced_by_default);
  const tasks::Format format = tasks::format_of(spec, family);
  const int max_length = prompt_max_length(config, family, model, tokenizer,
                                           format == tasks::Format::Generation, options);
  return prompt_splits(
      std::move(sampled), family, max_length, spec.name, options,
      [&](const tasks::Example& e) { return tasks::encode(spec, family, e, tokenizer, max_length); },
      spec.name + " (" + tasks::family_name(family) + " template)");
}

// ---- A custom task (task.name custom): defined by the run file's task.prompt and the keys
// ---- after it (core/tasks/custom_task.h), sampled and scored as the registered tasks are.

tasks::CustomTaskDefinition custom_definition(const RunConfig& config) {
  const TaskSettings& t = config.task;
  tasks::CustomTaskDefinition d;
  d.prompt = t.prompt;
  d.candidates = t.candidates;
  d.candidates_field = t.candidates_field;
  d.label_field = t.label_field;
  d.labels = t.labels;
  d.answer_field = t.answer_field;
  d.source = config.source;
  d.origins = config.origins;
  return d;
}

// How the model reads the prompt: the template family auto picks for its head (mezo: a
// decoder; lm-bff or bszo-mlm: the mask token at {mask}; head: a classification head).
tasks::CustomFormat custom_format(tasks::TemplateFamily family) {
  switch (family) {
    case tasks::TemplateFamily::MezoDecoder: return tasks::CustomFormat::Decoder;
    case tasks::TemplateFamily::LmBffMlm:
    case tasks::TemplateFamily::BszoMlm: return tasks::CustomFormat::MaskedLM;
    case tasks::TemplateFamily::ClassificationHead: break;
  }
  return tasks::CustomFormat::Head;
}

const char* custom_format_name(tasks::CustomFormat format) {
  switch (format) {
    case tasks::CustomFormat::Decoder: return "decoder prompt";
    case tasks::CustomFormat::MaskedLM: return "masked-LM prompt";
    case tasks::CustomFormat::Head: return "classification head";
  }
  return "?";
}

TaskSplits custom_splits(const RunConfig& config, const Tokenizer& tokenizer, const ModelConfig& model) {
  const TaskSettings& t = config.task;
  auto custom = std::make_shared<const tasks::CustomTask>(custom_definition(config));
  const tasks::CustomTaskDefinition& def = custom->definition();
  tasks::TemplateFamily family = family_for(config, model.head);
  check_head(config, family, model.head);
  const tasks::CustomFormat format = custom_format(family);
  // The mask-based encoding is BSZO's (one string, tokenized whole): its max_length rule.
  if (format == tasks::CustomFormat::MaskedLM) family = tasks::TemplateFamily::BszoMlm;
  check(t.texts.empty(), def.where("task.texts") + ": only the lm task takes inline texts");
  const int masks = custom->prompt().mask_slots();
  if (format == tasks::CustomFormat::MaskedLM)
    check(masks == 1, def.where("task.prompt") + ": " + config.model.path + " reads the label word at the mask " +
                          "token: the prompt needs one {mask} slot, it has " + std::to_string(masks));
  else
    check(masks == 0, def.where("task.prompt") + ": {mask} is the mask token of masked-LM encoders; " +
                          config.model.path + " has a " + head_name(model.head) + " head");
  if (def.generation())
    check(format == tasks::CustomFormat::Decoder,
          def.where("task.answer_field") + ": generation needs a decoder; " + config.model.path + " has a " +
              head_name(model.head) + " head");
  if (format == tasks::CustomFormat::Head)
    check(def.candidates_field.empty(), def.where("task.candidates_field") +
                                            ": a classification head has fixed classes: give task.candidates");
  if (format != tasks::CustomFormat::Decoder)
    check(t.loss != TaskLoss::TeacherForced, def.where("task.loss") + ": teacher-forced scores a decoder's tokens; " +
                                                 config.model.path + " has a " + head_name(model.head) + " head");
  check(!t.train.empty(), def.where("task.name") + ": custom needs task.train (a .jsonl, .tsv or .csv file)");
  check(t.data_dir.empty(), def.where("task.data_dir") +
                                ": a custom task reads task.train, task.dev and task.test, not a folder of usual names");

  const std::string mask = format == tasks::CustomFormat::MaskedLM && tokenizer.mask_id() >= 0
                               ? tokenizer.id_to_token(tokenizer.mask_id())
                               : "";
  check(format != tasks::CustomFormat::MaskedLM || !mask.empty(),
        def.where("task.prompt") + ": the tokenizer of " + config.model.path + " has no mask token for {mask}");
  const std::vector<tasks::Example> train_all = custom->load(t.train, "task.train", mask);
  const std::vector<tasks::Example> eval_all =
      t.test.empty() ? std::vector<tasks::Example>{} : custom->load(t.test, "task.test", mask);
  SampledExamples sampled = sample_examples(config, tasks::kCustomTaskName, train_all, eval_all, t.train, t.test,
                                            [&](const std::string& path) { return custom->load(path, "task.dev", mask); });

  tasks::PromptTaskOptions options;
  options.pad_id = pad_id_of(tokenizer, model);
  options.shared_prompts = config.engine.shared_prompts;
  options.candidate_objective = candidate_objective(t.loss, def.generation());
  if (t.metric == TaskMetric::Accuracy) options.metric = tasks::Metric::Accuracy;
  if (t.metric == TaskMetric::F1) options.metric = tasks::Metric::F1;
  const int max_length = prompt_max_length(config, family, model, tokenizer, def.generation(), options);
  TaskSplits s = prompt_splits(
      std::move(sampled), family, max_length, tasks::kCustomTaskName, options,
      [&](const tasks::Example& e) { return custom->encode(e, format, tokenizer, max_length); },
      std::string(tasks::kCustomTaskName) + " (" + custom_format_name(format) + ")");
  s.custom = custom;
  s.custom_format = format;
  return s;
}

}  // namespace

LoadOptions task_load_options(const RunConfig& config) {
  LoadOptions load;
  load.dtype = config.model.dtype;
  load.peft = peft_settings(config);
  if (config.task.name == "lm") return load;
  require_task_inputs(config);
  const bool custom = config.task.name == tasks::kCustomTaskName;
  const tasks::TaskSpec* spec = custom ? nullptr : &tasks::find_task(config.task.name);
  const std::string name = custom ? std::string(tasks::kCustomTaskName) : spec->name;
  const ModelConfig model = load_model_config(config.model.path);
  if (family_for(config, model.head) != tasks::TemplateFamily::ClassificationHead) return load;
  // A custom task's classes are its candidates (a head has fixed classes: no per-example ones).
  const int classes = static_cast<int>(custom ? config.task.candidates.size() : spec->class_names.size());
  check(classes >= 2, config.source + ": task.template: head needs a classification task; " + name + " is " +
                          (custom ? std::string("without task.candidates") : std::string(tasks::kind_name(spec->kind))));
  if (model.head == HeadKind::SequenceClassification) {
    check(model.num_labels == classes, config.model.path + ": the checkpoint's classification head has " +
                                           std::to_string(model.num_labels) + " labels, task " + name + " has " +
                                           std::to_string(classes));
    return load;
  }
  load.override_head = true;
  load.head = HeadKind::SequenceClassification;
  load.num_labels = classes;
  load.init_seed = config.run.seed;
  return load;
}

std::string sampled_task_summary(const RunConfig& config) {
  const std::string& name = config.task.name;
  if (name == "lm" || name == tasks::kCustomTaskName) return "";
  require_task_inputs(config);
  const tasks::TaskSpec& spec = tasks::find_task(name);
  const SampledExamples s = registered_examples(config, spec);
  return spec.name + ": " + std::to_string(s.train.size()) + " train / " + std::to_string(s.dev.size()) + " dev / " +
         std::to_string(s.test.size()) + " test examples";
}

TaskSplits make_task_splits(const RunConfig& config, const Tokenizer& tokenizer, const ModelConfig& model) {
  require_task_inputs(config);
  if (config.task.name == "lm") return lm_splits(config, tokenizer, model);
  if (config.task.name == tasks::kCustomTaskName) return custom_splits(config, tokenizer, model);
  return registered_splits(config, tokenizer, model);
}

}  // namespace zotune
