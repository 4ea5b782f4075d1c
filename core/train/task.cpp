#include "core/train/task.h"

#include <algorithm>
#include <numeric>

#include "core/util/error.h"
#include "kernels/common/philox.h"

namespace zotune {

LanguageModelingTask::LanguageModelingTask(std::vector<std::vector<int32_t>> sequences, int32_t pad_id)
    : sequences_(std::move(sequences)), pad_id_(pad_id) {
  check(!sequences_.empty(), "language-modeling task: no sequences");
  for (size_t i = 0; i < sequences_.size(); ++i)
    check(sequences_[i].size() >= 2, "language-modeling task: sequence " + std::to_string(i) + " has fewer than two tokens");
}

LossSum LanguageModelingTask::loss_sum(Model& model, const std::vector<int>& examples) {
  std::vector<std::vector<int32_t>> seqs;
  for (int e : examples) {
    check(e >= 0 && e < num_examples(), "language-modeling task: example " + std::to_string(e) + " out of range");
    seqs.push_back(sequences_[e]);
  }
  Batch batch = Batch::from_sequences(seqs, pad_id_);
  // Rows: every position whose next token is real (right padding keeps them contiguous).
  std::vector<int64_t> rows;
  std::vector<int32_t> targets;
  for (int b = 0; b < batch.batch; ++b)
    for (size_t t = 0; t + 1 < seqs[b].size(); ++t) {
      rows.push_back(static_cast<int64_t>(b) * batch.seq_len + static_cast<int64_t>(t));
      targets.push_back(seqs[b][t + 1]);
    }
  const std::vector<double> per_token = model.row_losses(batch, rows, targets);
  return {std::accumulate(per_token.begin(), per_token.end(), 0.0), static_cast<double>(per_token.size())};
}

LossSum chunked_loss(Task& task, Model& model, const std::vector<int>& examples, int chunk) {
  check(chunk >= 1, "chunked_loss: chunk must be at least 1");
  LossSum total;
  for (size_t first = 0; first < examples.size(); first += static_cast<size_t>(chunk)) {
    const std::vector<int> part(examples.begin() + first,
                                examples.begin() + std::min(examples.size(), first + static_cast<size_t>(chunk)));
    const LossSum l = task.loss_sum(model, part);
    total.sum += l.sum;
    total.count += l.count;
  }
  return total;
}

LossSum full_loss(Task& task, Model& model, int chunk) {
  std::vector<int> all(static_cast<size_t>(task.num_examples()));
  std::iota(all.begin(), all.end(), 0);
  return chunked_loss(task, model, all, chunk);
}

std::vector<int> sample_minibatch(uint64_t seed, uint32_t step, int n, int batch) {
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  if (batch >= n) return idx;
  // Query slot 0xFFFFFFFF keeps these draws apart from every direction's stream.
  for (int i = 0; i < batch; ++i) {
    const Philox4 r = direction_block(seed, step, 0xFFFFFFFFu, static_cast<uint64_t>(i));
    const uint64_t wide = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    const int j = i + static_cast<int>(wide % static_cast<uint64_t>(n - i));
    std::swap(idx[i], idx[j]);
  }
  idx.resize(batch);
  return idx;
}

}  // namespace zotune
