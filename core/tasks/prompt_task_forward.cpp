#include "core/tasks/prompt_task_forward.h"

#include <algorithm>

#include "core/util/error.h"

namespace zotune::tasks {

std::vector<std::vector<double>> option_token_nll(Model& model, const std::vector<const ScoredSequence*>& sequences,
                                                  int32_t pad_id, int max_batch) {
  check(max_batch >= 1, "option_token_nll: max_batch must be at least 1");
  std::vector<std::vector<double>> out(sequences.size());
  for (size_t first = 0; first < sequences.size(); first += static_cast<size_t>(max_batch)) {
    const size_t end = std::min(sequences.size(), first + static_cast<size_t>(max_batch));
    std::vector<std::vector<int32_t>> ids;
    for (size_t i = first; i < end; ++i) ids.push_back(sequences[i]->ids);
    const Batch batch = Batch::from_sequences(ids, pad_id, /*pad_left=*/true);
    // Row of position t-1 predicts token t; the option is the last option_len tokens.
    std::vector<int64_t> rows;
    std::vector<int32_t> targets;
    for (size_t i = first; i < end; ++i) {
      const auto& s = *sequences[i];
      const int n = static_cast<int>(s.ids.size());
      const int64_t row0 = static_cast<int64_t>(i - first) * batch.seq_len + (batch.seq_len - n);
      for (int t = n - s.option_len; t < n; ++t) {
        rows.push_back(row0 + t - 1);
        targets.push_back(s.ids[t]);
      }
    }
    const std::vector<double> nll = model.row_losses(batch, rows, targets);
    size_t r = 0;
    for (size_t i = first; i < end; ++i) {
      const int L = sequences[i]->option_len;
      out[i].assign(nll.begin() + static_cast<std::ptrdiff_t>(r), nll.begin() + static_cast<std::ptrdiff_t>(r + L));
      r += static_cast<size_t>(L);
    }
  }
  return out;
}

std::vector<std::vector<double>> class_logits(Model& model, const std::vector<const EncodedExample*>& examples,
                                              int32_t pad_id, int max_batch) {
  check(max_batch >= 1, "class_logits: max_batch must be at least 1");
  const bool mlm = model.config().head == HeadKind::MaskedLM;
  const int width = model.output_width();
  std::vector<std::vector<double>> out(examples.size());
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
    const std::vector<float> logits = model.forward(batch, rows);  // [end - first, width]
    for (size_t i = first; i < end; ++i) {
      const float* row = logits.data() + (i - first) * static_cast<size_t>(width);
      if (mlm) {
        for (int32_t w : examples[i]->label_words) out[i].push_back(row[w]);
      } else {
        out[i].assign(row, row + width);
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
