// A training objective over a finite, indexed set of examples. Issue-4 tasks (prompts,
// candidates, label words) implement the same interface; LanguageModelingTask is the
// plain one: the mean next-token cross-entropy of token sequences.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/model/model.h"

namespace zotune {

// A loss as a sum over the units it averages (tokens, examples) and their count, so losses
// of parts (chunks of an eval set, data-parallel slices of a minibatch) combine exactly.
struct LossSum {
  double sum = 0.0;
  double count = 0.0;
  double mean() const { return sum / count; }
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual int num_examples() const = 0;
  // Summed loss over the examples, fp32 forward, accumulated in fp64.
  virtual LossSum loss_sum(Model& model, const std::vector<int>& examples) = 0;
  // The loss of each probe group the model is set to (Model::begin_probe_groups): one entry
  // per group, each the loss_sum that group's modules give, from forwards over every group's
  // copy of the examples at once. The default serves one group only.
  virtual std::vector<LossSum> group_loss_sums(Model& model, const std::vector<int>& examples);
  double loss(Model& model, const std::vector<int>& examples) { return loss_sum(model, examples).mean(); }
  // Real tokens one loss_sum over `examples` runs through the model (every candidate sequence
  // counted), for throughput reports; 0 when a task does not say.
  virtual int64_t token_count(const std::vector<int>& examples) const { return 0; }
  // The task's evaluation metric over the examples (accuracy or F1, in [0, 1]), or nullopt
  // for tasks that only have a loss (language modeling).
  virtual std::optional<double> metric(Model& model, const std::vector<int>& examples) { return std::nullopt; }
};

// The loss over `examples` (or every example of `task`), `chunk` examples per forward pass
// (memory bound).
LossSum chunked_loss(Task& task, Model& model, const std::vector<int>& examples, int chunk);
LossSum full_loss(Task& task, Model& model, int chunk);

class LanguageModelingTask final : public Task {
 public:
  // Each sequence needs at least two tokens; ids must be in the model's vocabulary.
  LanguageModelingTask(std::vector<std::vector<int32_t>> sequences, int32_t pad_id);
  std::string name() const override { return "language-modeling"; }
  int num_examples() const override { return static_cast<int>(sequences_.size()); }
  // Over every predicted token of the batch (the mean is not a mean of per-sequence means).
  LossSum loss_sum(Model& model, const std::vector<int>& examples) override;
  std::vector<LossSum> group_loss_sums(Model& model, const std::vector<int>& examples) override;
  int64_t token_count(const std::vector<int>& examples) const override;

 private:
  std::vector<std::vector<int32_t>> sequences_;
  int32_t pad_id_;
};

// The examples of step `step` under data.sampler independent: `batch` distinct indices in
// [0, n) (all n when batch >= n), drawn by a Philox-driven partial Fisher-Yates shuffle keyed by
// (seed, step), so every rank and every platform picks the same minibatch.
std::vector<int> sample_minibatch(uint64_t seed, uint32_t step, int n, int batch);

// data.sampler epoch, as the Hugging Face trainer's dataloader draws (RandomSampler,
// drop_last false): each epoch one permutation of [0, n), cut into ceil(n / batch) batches
// taken in order, the last one holding the n - (ceil(n / batch) - 1) * batch left over.
// The permutation is a pure function of (seed, epoch) (a Philox-driven Fisher-Yates shuffle,
// its own stream apart from the directions'), so every rank, every platform and a resumed run
// compute the same batches. torch's generator is not reproduced: the order differs from the
// papers' runs, its structure does not.
int64_t steps_per_epoch(int n, int batch);  // ceil(n / batch)
std::vector<int> epoch_permutation(uint64_t seed, uint64_t epoch, int n);
std::vector<int> epoch_minibatch(uint64_t seed, uint32_t step, int n, int batch);

}  // namespace zotune
