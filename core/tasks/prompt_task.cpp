#include "core/tasks/prompt_task.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/model/generate.h"
#include "core/tasks/prompt_task_forward.h"
#include "core/tasks/squad_f1.h"
#include "core/tasks/templates_tables.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

namespace zotune::tasks {

namespace {

const char* format_name(Format f) {
  switch (f) {
    case Format::CandidateLM: return "CandidateLM";
    case Format::MaskedLM: return "MaskedLM";
    case Format::ClassificationHead: return "ClassificationHead";
    case Format::Generation: return "Generation";
  }
  return "?";
}

// -log softmax(scores)[gold], fp64 with the max subtracted.
double cross_entropy(const std::vector<double>& scores, int gold) {
  const double m = *std::max_element(scores.begin(), scores.end());
  double z = 0.0;
  for (double s : scores) z += std::exp(s - m);
  return m + std::log(z) - scores[static_cast<size_t>(gold)];
}

int argmax(const std::vector<double>& x) { return static_cast<int>(std::max_element(x.begin(), x.end()) - x.begin()); }

}  // namespace

GenerationConfig generation_config(const Tokenizer& tokenizer, int max_new_tokens) {
  GenerationConfig g;
  g.max_new_tokens = max_new_tokens;
  // MeZO run.py: eos_token_id=[tokenizer.encode("\n", add_special_tokens=False)[-1],
  // tokenizer.eos_token_id]. Only that one newline id stops: a merged token such as "\n\n" or
  // ".\n" does not (SentencePiece vocabularies encode "\n" as ["▁", "<0x0A>"]: the last is kept).
  const std::vector<int32_t> newline = tokenizer.encode("\n", /*add_special_tokens=*/false);
  check(!newline.empty(), "generation: the tokenizer encodes \"\\n\" as no tokens; MeZO's stop token is undefined");
  g.stop_ids.push_back(newline.back());
  if (tokenizer.eos_id() >= 0 && tokenizer.eos_id() != newline.back()) g.stop_ids.push_back(tokenizer.eos_id());
  g.decode = [&tokenizer](const std::vector<int32_t>& ids) { return tokenizer.decode(ids, /*skip_special_tokens=*/true); };
  return g;
}

PromptTask::PromptTask(std::string name, std::vector<EncodedExample> examples, PromptTaskOptions options)
    : name_(std::move(name)), examples_(std::move(examples)), options_(std::move(options)) {
  const std::string task = "task " + name_ + ": ";
  check(!examples_.empty(), task + "no examples");
  check(options_.max_batch_sequences >= 1, task + "max_batch_sequences must be at least 1");
  format_ = examples_.front().format;
  if (format_ == Format::Generation) {
    check(options_.generation.has_value() && options_.generation->decode,
          task + "generation examples need PromptTaskOptions::generation (stop tokens and a decode function)");
    check(options_.generation->max_new_tokens >= 1, task + "generation max_new_tokens must be at least 1");
  }
  for (const EncodedExample& e : examples_) {
    const std::string at = task + e.where + ": ";
    check(e.format == format_, at + "format " + format_name(e.format) + " in a task of " + format_name(format_) +
                                   " examples (one format per task)");
    if (format_ != Format::Generation && metric_kind() == Metric::F1) {
      // F1 compares the chosen candidate's text with the gold one's: every class needs its text.
      const size_t classes = format_ == Format::CandidateLM ? e.candidates.size()
                             : format_ == Format::MaskedLM   ? e.label_words.size()
                                                             : e.candidate_texts.size();
      check(!e.candidate_texts.empty() && e.candidate_texts.size() == classes,
            at + "the F1 metric needs the text of each of the " + std::to_string(classes) + " candidates, got " +
                std::to_string(e.candidate_texts.size()));
    }
    for (size_t c = 0; c < e.candidates.size(); ++c) {
      const ScoredSequence& s = e.candidates[c];
      // The first option token needs a token before it to be predicted from.
      check(s.option_len >= 1 && s.option_len < static_cast<int>(s.ids.size()),
            at + "candidate " + std::to_string(c) + " has option_len " + std::to_string(s.option_len) + " for " +
                std::to_string(s.ids.size()) + " tokens (needs 1 <= option_len < tokens)");
    }
    switch (format_) {
      case Format::CandidateLM:
        check(!e.candidates.empty(), at + "no candidates");
        check(!e.correct.empty(), at + "no correct candidate (unlabeled example)");
        for (int c : e.correct)
          check(c >= 0 && c < static_cast<int>(e.candidates.size()),
                at + "correct candidate " + std::to_string(c) + " of " + std::to_string(e.candidates.size()));
        break;
      case Format::Generation:
        check(!e.ids.empty(), at + "empty prompt");
        check(!e.answers.empty(), at + "no gold answers");
        break;
      case Format::MaskedLM:
        check(!e.label_words.empty(), at + "no label words");
        check(e.mask_position >= 0 && e.mask_position < static_cast<int>(e.ids.size()),
              at + "mask position " + std::to_string(e.mask_position) + " outside the " + std::to_string(e.ids.size()) +
                  " tokens");
        check(e.label >= 0 && e.label < static_cast<int>(e.label_words.size()),
              at + "label " + std::to_string(e.label) + " of " + std::to_string(e.label_words.size()) + " label words");
        [[fallthrough]];
      case Format::ClassificationHead:
        check(!e.ids.empty(), at + "empty input");
        check(e.label >= 0, at + "no label (unlabeled example)");
        check(e.token_types.empty() || e.token_types.size() == e.ids.size(),
              at + std::to_string(e.token_types.size()) + " token types for " + std::to_string(e.ids.size()) + " tokens");
        break;
    }
  }
}

std::vector<const EncodedExample*> PromptTask::select(const std::vector<int>& examples) const {
  check(!examples.empty(), "task " + name_ + ": no examples selected");
  std::vector<const EncodedExample*> out;
  for (int i : examples) {
    check(i >= 0 && i < num_examples(),
          "task " + name_ + ": example " + std::to_string(i) + " outside [0, " + std::to_string(num_examples()) + ")");
    out.push_back(&examples_[static_cast<size_t>(i)]);
  }
  return out;
}

void PromptTask::check_model(const Model& model, const std::vector<const EncodedExample*>& selected) const {
  const HeadKind want = format_ == Format::MaskedLM             ? HeadKind::MaskedLM
                        : format_ == Format::ClassificationHead ? HeadKind::SequenceClassification
                                                                : HeadKind::CausalLM;
  const char* want_name = want == HeadKind::MaskedLM ? "a masked-LM head"
                          : want == HeadKind::SequenceClassification ? "a sequence-classification head"
                                                                     : "a causal-LM head";
  check(model.config().head == want, "task " + name_ + ": " + format_name(format_) + " examples need a model with " +
                                         want_name);
  // Token ids are checked here once so errors name the example, not a flat batch index.
  const int V = model.config().vocab_size;
  auto check_ids = [&](const std::vector<int32_t>& ids, const EncodedExample& e) {
    for (int32_t t : ids)
      check(t >= 0 && t < V, "task " + name_ + ": " + e.where + ": token id " + std::to_string(t) +
                                 " outside the model's vocabulary [0, " + std::to_string(V) + ")");
  };
  check(options_.pad_id >= 0 && options_.pad_id < V, "task " + name_ + ": pad id " + std::to_string(options_.pad_id) +
                                                         " outside the model's vocabulary");
  for (const EncodedExample* selected_example : selected) {
    const EncodedExample& e = *selected_example;
    for (const auto& c : e.candidates) check_ids(c.ids, e);
    check_ids(e.ids, e);
    check_ids(e.label_words, e);
    if (format_ == Format::ClassificationHead)
      check(e.label < model.config().num_labels, "task " + name_ + ": " + e.where + ": label " + std::to_string(e.label) +
                                                     " but the head has " + std::to_string(model.config().num_labels) +
                                                     " labels");
  }
}

std::vector<std::vector<double>> PromptTask::candidate_scores(Model& model,
                                                              const std::vector<const EncodedExample*>& selected) {
  std::vector<const ScoredSequence*> seqs;
  for (const EncodedExample* e : selected)
    for (const auto& c : e->candidates) seqs.push_back(&c);
  const std::vector<std::vector<double>> nll =
      option_token_nll(model, seqs, options_.pad_id, options_.max_batch_sequences, options_.shared_prompts);
  std::vector<std::vector<double>> scores;
  size_t k = 0;  // nll holds every group's sequences, group after group
  for (int g = 0; g < model.probe_groups(); ++g)
    for (const EncodedExample* e : selected) {
      std::vector<double> s;
      for (size_t c = 0; c < e->candidates.size(); ++c, ++k)
        s.push_back(-std::accumulate(nll[k].begin(), nll[k].end(), 0.0) / static_cast<double>(nll[k].size()));
      scores.push_back(std::move(s));
    }
  return scores;
}

std::vector<LossSum> PromptTask::candidate_classification_loss(Model& model,
                                                               const std::vector<const EncodedExample*>& selected) {
  const std::vector<std::vector<double>> scores = candidate_scores(model, selected);
  std::vector<LossSum> loss(static_cast<size_t>(model.probe_groups()));
  for (size_t g = 0; g < loss.size(); ++g)
    for (size_t i = 0; i < selected.size(); ++i) {
      loss[g].sum += cross_entropy(scores[g * selected.size() + i], selected[i]->correct.front());
      loss[g].count += 1.0;
    }
  return loss;
}

std::vector<LossSum> PromptTask::teacher_forced_loss(Model& model, const std::vector<const EncodedExample*>& selected) {
  std::vector<const ScoredSequence*> gold;
  for (const EncodedExample* e : selected) {
    check(!e->candidates.empty(), "task " + name_ + ": " + e->where + ": no target sequence (candidates[0]) to train on");
    gold.push_back(&e->candidates[format_ == Format::Generation ? 0 : static_cast<size_t>(e->correct.front())]);
  }
  const std::vector<std::vector<double>> nll =
      option_token_nll(model, gold, options_.pad_id, options_.max_batch_sequences, options_.shared_prompts);
  std::vector<LossSum> loss(static_cast<size_t>(model.probe_groups()));
  for (size_t k = 0; k < nll.size(); ++k) {
    LossSum& l = loss[k / gold.size()];
    l.sum += std::accumulate(nll[k].begin(), nll[k].end(), 0.0);
    l.count += static_cast<double>(nll[k].size());
  }
  return loss;
}

std::vector<LossSum> PromptTask::class_loss(Model& model, const std::vector<const EncodedExample*>& selected) {
  const std::vector<std::vector<double>> logits = class_logits(model, selected, options_.pad_id, options_.max_batch_sequences);
  std::vector<LossSum> loss(static_cast<size_t>(model.probe_groups()));
  for (size_t k = 0; k < logits.size(); ++k) {
    LossSum& l = loss[k / selected.size()];
    l.sum += cross_entropy(logits[k], selected[k % selected.size()]->label);
    l.count += 1.0;
  }
  return loss;
}

std::vector<LossSum> PromptTask::group_loss_sums(Model& model, const std::vector<int>& examples) {
  const std::vector<const EncodedExample*> selected = select(examples);
  check_model(model, selected);
  switch (format_) {
    case Format::CandidateLM:
      return options_.candidate_objective == CandidateObjective::Classification
                 ? candidate_classification_loss(model, selected)
                 : teacher_forced_loss(model, selected);
    case Format::Generation: return teacher_forced_loss(model, selected);
    case Format::MaskedLM:
    case Format::ClassificationHead: return class_loss(model, selected);
  }
  return {};
}

int64_t PromptTask::token_count(const std::vector<int>& examples) const {
  int64_t n = 0;
  for (int i : examples) {
    if (i < 0 || i >= num_examples()) continue;
    const EncodedExample& e = examples_[static_cast<size_t>(i)];
    switch (format_) {
      case Format::CandidateLM:
        if (options_.candidate_objective == CandidateObjective::Classification) {
          for (const ScoredSequence& c : e.candidates) n += static_cast<int64_t>(c.ids.size());
        } else if (!e.correct.empty() && static_cast<size_t>(e.correct.front()) < e.candidates.size()) {
          n += static_cast<int64_t>(e.candidates[static_cast<size_t>(e.correct.front())].ids.size());
        }
        break;
      case Format::Generation:
        if (!e.candidates.empty()) n += static_cast<int64_t>(e.candidates.front().ids.size());
        break;
      case Format::MaskedLM:
      case Format::ClassificationHead: n += static_cast<int64_t>(e.ids.size()); break;
    }
  }
  return n;
}

LossSum PromptTask::loss_sum(Model& model, const std::vector<int>& examples) {
  check(model.probe_groups() == 1, "task " + name_ + ": loss_sum with probe groups on (use group_loss_sums)");
  return group_loss_sums(model, examples).at(0);
}

Evaluation PromptTask::evaluate(Model& model, const std::vector<int>& examples) {
  const std::vector<const EncodedExample*> selected = select(examples);
  check_model(model, selected);
  Evaluation ev;
  ev.metric = metric_kind();
  ev.predictions.resize(selected.size());
  for (size_t i = 0; i < selected.size(); ++i) ev.predictions[i].example = examples[i];
  switch (format_) {
    case Format::CandidateLM: {
      const std::vector<std::vector<double>> scores = candidate_scores(model, selected);
      const bool loss_from_scores = options_.candidate_objective == CandidateObjective::Classification;
      if (loss_from_scores) ev.loss = LossSum{};
      for (size_t i = 0; i < selected.size(); ++i) {
        Prediction& p = ev.predictions[i];
        p.predicted = argmax(scores[i]);
        const auto& correct = selected[i]->correct;
        p.score = std::find(correct.begin(), correct.end(), p.predicted) != correct.end() ? 1.0 : 0.0;
        if (loss_from_scores) {  // candidate_classification_loss's terms, from the same scores
          ev.loss->sum += cross_entropy(scores[i], correct.front());
          ev.loss->count += 1.0;
        }
      }
      break;
    }
    case Format::MaskedLM:
    case Format::ClassificationHead: {
      const std::vector<std::vector<double>> logits =
          class_logits(model, selected, options_.pad_id, options_.max_batch_sequences);
      ev.loss = LossSum{};
      for (size_t i = 0; i < selected.size(); ++i) {
        Prediction& p = ev.predictions[i];
        p.predicted = argmax(logits[i]);
        p.score = p.predicted == selected[i]->label ? 1.0 : 0.0;
        ev.loss->sum += cross_entropy(logits[i], selected[i]->label);  // class_loss's terms
        ev.loss->count += 1.0;
      }
      break;
    }
    case Format::Generation: {
      const GenerationConfig& g = *options_.generation;
      GenerateOptions gen;
      gen.max_new_tokens = g.max_new_tokens;
      gen.stop_ids = g.stop_ids;
      std::vector<const std::vector<int32_t>*> prompts;
      for (const EncodedExample* e : selected) prompts.push_back(&e->ids);
      const std::vector<std::vector<int32_t>> tokens =
          greedy_continuations(model, prompts, options_.pad_id, options_.max_batch_sequences, gen);
      for (size_t i = 0; i < selected.size(); ++i) {
        Prediction& p = ev.predictions[i];
        // MeZO: decode(outputs[input_len:], skip_special_tokens=True).strip() -- the whole
        // continuation (stop token included), Python-stripped; then metrics.py's f1.
        p.text = templates_detail::py_strip(g.decode(tokens[i]));
        p.score = metric_kind() == Metric::F1 ? mezo_f1(p.text, selected[i]->answers)
                                              : squad_max_exact_match(p.text, selected[i]->answers);
      }
      break;
    }
  }
  if (format_ != Format::Generation && metric_kind() == Metric::F1) {
    // Token F1 of the chosen candidate's text against the gold candidates' texts.
    for (size_t i = 0; i < selected.size(); ++i) {
      const EncodedExample& e = *selected[i];
      Prediction& p = ev.predictions[i];
      std::vector<std::string> gold;
      if (format_ == Format::CandidateLM) {
        for (int c : e.correct) gold.push_back(e.candidate_texts.at(static_cast<size_t>(c)));
      } else {
        gold.push_back(e.candidate_texts.at(static_cast<size_t>(e.label)));
      }
      p.text = e.candidate_texts.at(static_cast<size_t>(p.predicted));
      p.score = squad_max_f1(p.text, gold);
    }
  }
  double total = 0.0;
  for (const Prediction& p : ev.predictions) total += p.score;
  ev.value = total / static_cast<double>(ev.predictions.size());
  return ev;
}

std::optional<double> PromptTask::metric(Model& model, const std::vector<int>& examples) {
  return evaluate(model, examples).value;
}

}  // namespace zotune::tasks
