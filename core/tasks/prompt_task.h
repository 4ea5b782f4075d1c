// The objectives and metrics of prompted tasks (issue 4): a zotune::Task over examples
// that core/tasks/task_registry.h encoded from templates (example.h). MeZO's definitions,
// baselines.md 8.3 (decoders) and 9 (masked LMs):
//
// loss_sum, by format:
//  - CandidateLM, CandidateObjective::Classification: per example, s_c = mean over candidate
//    c's option tokens of log p(token) (length-normalised log-likelihood); loss =
//    -log softmax_c(s)[gold] in fp64, gold = correct[0]. count = examples (the CE is per
//    example, so candidate counts may differ within a batch).
//  - CandidateLM, CandidateObjective::TeacherForced (COPA, ReCoRD without classification)
//    and Generation (SQuAD, DROP; candidates[0] = prompt + target): token-level CE over the
//    gold sequence's option tokens only. count = those tokens, so the mean over a
//    minibatch is Hugging Face's loss over the batch's unmasked labels, as MeZO trains.
//  - MaskedLM: CE over the label words' logits at the mask position; count = examples.
//  - ClassificationHead: CE over the head's logits; count = examples.
//
// evaluate / metric:
//  - CandidateLM: accuracy of argmax_c s_c (first on ties); correct when it is in `correct`
//    (ReCoRD: any of the gold entities).
//  - MaskedLM / ClassificationHead: accuracy of the argmax of the class logits.
//  - Generation: greedy decoding with the KV cache (GenerationConfig), the whole decoded
//    continuation stripped (MeZO keeps text after a merged newline token too); MeZO's
//    metrics.py f1 (squad_f1.h mezo_f1: SQuAD token F1, max over gold answers, with its
//    "no answer" / "CANNOTANSWER" exact-match case).
//  - PromptTaskOptions::metric may choose the other metric (custom tasks, see there).
//
// Forward passes go in chunks of at most max_batch_sequences sequences; only the rows a
// loss reads are projected onto the vocabulary (prompt_task_forward.h).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/model/model.h"
#include "core/tasks/example.h"
#include "core/train/task.h"

namespace zotune {
class Tokenizer;
}

namespace zotune::tasks {

// How CandidateLM examples train (MeZO's --train_as_classification on / off).
enum class CandidateObjective { Classification, TeacherForced };

// What greedy decoding needs from the tokenizer: when to stop and how to read the result.
struct GenerationConfig {
  int max_new_tokens = 50;
  std::vector<int32_t> stop_ids;  // decoding ends after emitting one of these
  std::function<std::string(const std::vector<int32_t>&)> decode;  // new tokens -> UTF-8 text
};

// MeZO's decoding for `tokenizer` (large_models/run.py Framework.forward): stop on EOS or on
// the id of the last token of encode("\n") without special tokens -- that one id only, as
// MeZO does, so tokens such as "\n\n" or ".\n" do not stop it -- and decode skipping special
// tokens. The decode function refers to `tokenizer`, which must outlive the config.
GenerationConfig generation_config(const Tokenizer& tokenizer, int max_new_tokens = 50);

struct PromptTaskOptions {
  CandidateObjective candidate_objective = CandidateObjective::Classification;
  int max_batch_sequences = 32;  // sequences per forward pass (candidates, inputs, prompts)
  // One-token candidates after the same prompt tokens scored from one forward of the prompt
  // (engine.shared_prompts; option_token_nll's share_prompts).
  bool shared_prompts = false;
  int32_t pad_id = 0;            // id in padding slots (masked out; must be in the vocabulary)
  std::optional<GenerationConfig> generation;  // required when the examples are Generation
  // The metric, where it is not the format's own (accuracy for candidates and classes, F1 for
  // generation; custom tasks choose): F1 over candidates = squad_max_f1 of the chosen
  // candidate's text against the gold ones' (EncodedExample::candidate_texts); accuracy of
  // generation = squad_max_exact_match against the answers. Per example, so shards average.
  std::optional<Metric> metric;
};

// One example's outcome, for logs.
struct Prediction {
  int example = -1;       // index into the task's examples
  int predicted = -1;     // chosen candidate / class; -1 for generation
  std::string text;       // generation: the decoded answer
  double score = 0.0;     // 1 or 0 (accuracy), or the example's F1
};

struct Evaluation {
  Metric metric = Metric::Accuracy;
  double value = 0.0;  // mean score over the examples
  std::vector<Prediction> predictions;  // in the order of the examples asked for
  // The examples' loss_sum, where it comes from the same scores as the predictions (candidate
  // classification, label words at the mask, a classification head): one pass gives both.
  // Empty where the loss needs its own pass (teacher forcing, generation).
  std::optional<LossSum> loss;
};

class PromptTask final : public Task {
 public:
  // All examples share one format; their fields are checked here (errors name `where`).
  PromptTask(std::string name, std::vector<EncodedExample> examples, PromptTaskOptions options);

  std::string name() const override { return name_; }
  int num_examples() const override { return static_cast<int>(examples_.size()); }
  LossSum loss_sum(Model& model, const std::vector<int>& examples) override;
  std::vector<LossSum> group_loss_sums(Model& model, const std::vector<int>& examples) override;
  int64_t token_count(const std::vector<int>& examples) const override;
  std::optional<double> metric(Model& model, const std::vector<int>& examples) override;

  // The metric with each example's prediction.
  Evaluation evaluate(Model& model, const std::vector<int>& examples);

  Format format() const { return format_; }
  Metric metric_kind() const {
    return options_.metric.value_or(format_ == Format::Generation ? Metric::F1 : Metric::Accuracy);
  }
  const EncodedExample& example(int i) const { return examples_.at(static_cast<size_t>(i)); }

 private:
  std::vector<const EncodedExample*> select(const std::vector<int>& examples) const;
  // The model's head fits the format; the selected examples' ids fit its vocabulary.
  void check_model(const Model& model, const std::vector<const EncodedExample*>& selected) const;
  // One loss per probe group of the model (Model::probe_groups(); one without).
  std::vector<LossSum> candidate_classification_loss(Model& model, const std::vector<const EncodedExample*>& selected);
  std::vector<LossSum> teacher_forced_loss(Model& model, const std::vector<const EncodedExample*>& selected);
  std::vector<LossSum> class_loss(Model& model, const std::vector<const EncodedExample*>& selected);
  // Per example, the mean log-likelihood of each candidate's option tokens; with G probe
  // groups, group g's scores are entries [g n, (g + 1) n) for n examples.
  std::vector<std::vector<double>> candidate_scores(Model& model, const std::vector<const EncodedExample*>& selected);

  std::string name_;
  std::vector<EncodedExample> examples_;
  PromptTaskOptions options_;
  Format format_;
};

}  // namespace zotune::tasks
