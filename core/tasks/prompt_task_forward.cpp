#include "core/tasks/prompt_task_forward.h"

#include <algorithm>
#include <map>

#include "core/util/error.h"

namespace zotune::tasks {

OptionScoringPlan plan_option_scoring(const std::vector<const ScoredSequence*>& sequences, bool share_prompts) {
  OptionScoringPlan plan;
  plan.run_of.resize(sequences.size());
  std::map<std::vector<int32_t>, size_t> prompt_run;  // a shared prompt's tokens -> its run
  for (size_t i = 0; i < sequences.size(); ++i) {
    const ScoredSequence& s = *sequences[i];
    if (share_prompts && s.option_len == 1 && s.ids.size() >= 2) {
      std::vector<int32_t> prompt(s.ids.begin(), s.ids.end() - 1);
      auto [it, added] = prompt_run.try_emplace(prompt, plan.runs.size());
      if (added) plan.runs.push_back(std::move(prompt));
      plan.run_of[i] = it->second;
    } else {
      plan.run_of[i] = plan.runs.size();
      plan.runs.push_back(s.ids);
    }
  }
  return plan;
}

std::vector<std::vector<double>> option_token_nll(Model& model, const std::vector<const ScoredSequence*>& sequences,
                                                  int32_t pad_id, int max_batch, bool share_prompts) {
  check(max_batch >= 1, "option_token_nll: max_batch must be at least 1");
  const int G = model.probe_groups();
  const size_t n = sequences.size();
  const OptionScoringPlan plan = plan_option_scoring(sequences, share_prompts);
  const std::vector<std::vector<int32_t>>& runs = plan.runs;
  const std::vector<size_t>& run_of = plan.run_of;
  std::vector<std::vector<double>> out(n * static_cast<size_t>(G));
  for (size_t first = 0; first < runs.size(); first += static_cast<size_t>(max_batch)) {
    const size_t end = std::min(runs.size(), first + static_cast<size_t>(max_batch));
    std::vector<std::vector<int32_t>> ids;
    for (size_t r = first; r < end; ++r) ids.push_back(runs[r]);
    const Batch batch = Batch::from_sequences(ids, pad_id, /*pad_left=*/true);
    const int64_t tokens = static_cast<int64_t>(batch.batch) * batch.seq_len;
    // Row of position t-1 predicts token t; the option is the last option_len tokens of the
    // sequence (a shared prompt ends one token before it: its last row predicts the option).
    std::vector<size_t> scored;  // the sequences this chunk scores, in order
    std::vector<int64_t> rows;
    std::vector<int32_t> targets;
    for (size_t i = 0; i < n; ++i) {
      const size_t r = run_of[i];
      if (r < first || r >= end) continue;
      const auto& s = *sequences[i];
      const int n_ids = static_cast<int>(s.ids.size());
      const int64_t row0 = static_cast<int64_t>(r - first) * batch.seq_len +
                           (batch.seq_len - static_cast<int64_t>(runs[r].size()));
      scored.push_back(i);
      for (int t = n_ids - s.option_len; t < n_ids; ++t) {
        rows.push_back(row0 + t - 1);
        targets.push_back(s.ids[t]);
      }
    }
    std::vector<int32_t> all_targets;
    for (int g = 0; g < G; ++g) all_targets.insert(all_targets.end(), targets.begin(), targets.end());
    const std::vector<double> nll = G == 1 ? model.row_losses(batch, rows, targets)
                                           : model.row_losses(batch.repeated(G), repeat_rows(rows, G, tokens), all_targets);
    size_t k = 0;
    for (int g = 0; g < G; ++g)
      for (size_t i : scored) {
        const int L = sequences[i]->option_len;
        out[g * n + i].assign(nll.begin() + static_cast<std::ptrdiff_t>(k), nll.begin() + static_cast<std::ptrdiff_t>(k + L));
        k += static_cast<size_t>(L);
      }
  }
  return out;
}

std::vector<std::vector<double>> class_logits(Model& model, const std::vector<const EncodedExample*>& examples,
                                              int32_t pad_id, int max_batch) {
  check(max_batch >= 1, "class_logits: max_batch must be at least 1");
  const bool mlm = model.config().head == HeadKind::MaskedLM;
  const int width = model.output_width();
  const int G = model.probe_groups();
  const size_t n = examples.size();
  std::vector<std::vector<double>> out(n * static_cast<size_t>(G));
  for (size_t first = 0; first < examples.size(); first += static_cast<size_t>(max_batch)) {
    const size_t end = std::min(examples.size(), first + static_cast<size_t>(max_batch));
    std::vector<std::vector<int32_t>> ids;
    bool any_types = false;
    for (size_t i = first; i < end; ++i) {
      ids.push_back(examples[i]->ids);
      any_types = any_types || !examples[i]->token_types.empty();
    }
    Batch batch = Batch::from_sequences(ids, pad_id, /*pad_left=*/false);
    if (any_types) {
      batch.token_types.assign(batch.ids.size(), 0);
      for (size_t i = first; i < end; ++i) {
        const auto& tt = examples[i]->token_types;
        std::copy(tt.begin(), tt.end(), batch.token_types.begin() + static_cast<std::ptrdiff_t>((i - first) * batch.seq_len));
      }
    }
    std::vector<int64_t> rows;  // MaskedLM: the mask position of each sequence
    if (mlm)
      for (size_t i = first; i < end; ++i)
        rows.push_back(static_cast<int64_t>(i - first) * batch.seq_len + examples[i]->mask_position);
    const int64_t tokens = static_cast<int64_t>(batch.batch) * batch.seq_len;
    // [G (end - first), width]: group g's rows after group g - 1's.
    const std::vector<float> logits =
        G == 1 ? model.forward(batch, rows) : model.forward(batch.repeated(G), repeat_rows(rows, G, tokens));
    for (int g = 0; g < G; ++g)
      for (size_t i = first; i < end; ++i) {
        const float* row = logits.data() + (g * (end - first) + (i - first)) * static_cast<size_t>(width);
        std::vector<double>& o = out[g * n + i];
        if (mlm) {
          for (int32_t w : examples[i]->label_words) o.push_back(row[w]);
        } else {
          o.assign(row, row + width);
        }
      }
  }
  return out;
}

std::vector<std::vector<int32_t>> greedy_continuations(Model& model, const std::vector<const std::vector<int32_t>*>& prompts,
                                                       int32_t pad_id, int max_batch, const GenerateOptions& options) {
  check(max_batch >= 1, "greedy_continuations: max_batch must be at least 1");
  std::vector<std::vector<int32_t>> out;
  for (size_t first = 0; first < prompts.size(); first += static_cast<size_t>(max_batch)) {
    const size_t end = std::min(prompts.size(), first + static_cast<size_t>(max_batch));
    std::vector<std::vector<int32_t>> chunk;
    for (size_t i = first; i < end; ++i) chunk.push_back(*prompts[i]);
    for (auto& c : generate_greedy(model, chunk, pad_id, options)) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace zotune::tasks
