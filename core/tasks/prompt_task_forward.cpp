#include "core/tasks/prompt_task_forward.h"

#include <algorithm>

#include "core/util/error.h"

namespace zotune::tasks {

std::vector<std::vector<double>> option_token_nll(Model& model, const std::vector<const ScoredSequence*>& sequences,
                                                  int32_t pad_id, int max_batch) {
  check(max_batch >= 1, "option_token_nll: max_batch must be at least 1");
  const int G = model.probe_groups();
  const size_t n = sequences.size();
  std::vector<std::vector<double>> out(n * static_cast<size_t>(G));
  for (size_t first = 0; first < sequences.size(); first += static_cast<size_t>(max_batch)) {
    const size_t end = std::min(sequences.size(), first + static_cast<size_t>(max_batch));
    std::vector<std::vector<int32_t>> ids;
    for (size_t i = first; i < end; ++i) ids.push_back(sequences[i]->ids);
    const Batch batch = Batch::from_sequences(ids, pad_id, /*pad_left=*/true);
    const int64_t tokens = static_cast<int64_t>(batch.batch) * batch.seq_len;
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
    std::vector<int32_t> all_targets;
    for (int g = 0; g < G; ++g) all_targets.insert(all_targets.end(), targets.begin(), targets.end());
    const std::vector<double> nll = G == 1 ? model.row_losses(batch, rows, targets)
                                           : model.row_losses(batch.repeated(G), repeat_rows(rows, G, tokens), all_targets);
    size_t r = 0;
    for (int g = 0; g < G; ++g)
      for (size_t i = first; i < end; ++i) {
        const int L = sequences[i]->option_len;
        out[g * n + i].assign(nll.begin() + static_cast<std::ptrdiff_t>(r), nll.begin() + static_cast<std::ptrdiff_t>(r + L));
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
