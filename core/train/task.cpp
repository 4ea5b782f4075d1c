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

std::vector<LossSum> Task::group_loss_sums(Model& model, const std::vector<int>& examples) {
  check(model.probe_groups() == 1, "task " + name() + ": no batched probe forward (engine.probe_batch: 1)");
  return {loss_sum(model, examples)};
}

std::vector<LossSum> LanguageModelingTask::group_loss_sums(Model& model, const std::vector<int>& examples) {
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
  const int G = model.probe_groups();
  std::vector<int32_t> all_targets;
  for (int g = 0; g < G; ++g) all_targets.insert(all_targets.end(), targets.begin(), targets.end());
  const int64_t tokens = static_cast<int64_t>(batch.batch) * batch.seq_len;
  const std::vector<double> per_token = G == 1 ? model.row_losses(batch, rows, targets)
                                               : model.row_losses(batch.repeated(G), repeat_rows(rows, G, tokens), all_targets);
  std::vector<LossSum> out(static_cast<size_t>(G));
  for (int g = 0; g < G; ++g) {
    const auto first = per_token.begin() + static_cast<ptrdiff_t>(g * rows.size());
    out[g] = {std::accumulate(first, first + static_cast<ptrdiff_t>(rows.size()), 0.0), static_cast<double>(rows.size())};
  }
  return out;
}

int64_t LanguageModelingTask::token_count(const std::vector<int>& examples) const {
  int64_t n = 0;
  for (int e : examples)
    if (e >= 0 && e < num_examples()) n += static_cast<int64_t>(sequences_[static_cast<size_t>(e)].size());
  return n;
}

LossSum LanguageModelingTask::loss_sum(Model& model, const std::vector<int>& examples) {
  check(model.probe_groups() == 1, "language-modeling task: loss_sum with probe groups on (use group_loss_sums)");
  return group_loss_sums(model, examples).at(0);
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

int64_t steps_per_epoch(int n, int batch) {
  check(n >= 1 && batch >= 1, "steps_per_epoch: needs n >= 1 and batch >= 1, got n = " + std::to_string(n) +
                                  ", batch = " + std::to_string(batch));
  return (static_cast<int64_t>(n) + batch - 1) / batch;
}

std::vector<int> epoch_permutation(uint64_t seed, uint64_t epoch, int n) {
  check(epoch <= 0xFFFFFFFFull, "epoch_permutation: epoch " + std::to_string(epoch) + " does not fit 32 bits");
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  // Fisher-Yates from the last element down; draw i comes from block i of the stream
  // (seed, epoch, query slot 0xFFFFFFFE), apart from the independent sampler's slot and from
  // every direction's. 64 bits modulo i + 1: the bias is below 2^-32 for any n that fits an int.
  constexpr uint32_t kEpochOrderStream = 0xFFFFFFFEu;
  for (int i = n - 1; i > 0; --i) {
    const Philox4 r = direction_block(seed, static_cast<uint32_t>(epoch), kEpochOrderStream, static_cast<uint64_t>(i));
    const uint64_t wide = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(wide % static_cast<uint64_t>(i + 1))]);
  }
  return idx;
}

std::vector<int> epoch_minibatch(uint64_t seed, uint32_t step, int n, int batch) {
  const int64_t per_epoch = steps_per_epoch(n, batch);
  const uint64_t epoch = static_cast<uint64_t>(step) / static_cast<uint64_t>(per_epoch);
  const int64_t first = (static_cast<int64_t>(step) % per_epoch) * batch;
  const std::vector<int> order = epoch_permutation(seed, epoch, n);
  return std::vector<int>(order.begin() + first, order.begin() + std::min<int64_t>(n, first + batch));
}

}  // namespace zotune
