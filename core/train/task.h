// A training objective over a finite, indexed set of examples. Issue-4 tasks (prompts,
// candidates, label words) implement the same interface; LanguageModelingTask is the
// plain one: the mean next-token cross-entropy of token sequences.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model/model.h"

namespace zotune {

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual int num_examples() const = 0;
  // Mean loss over the examples, fp32 forward, accumulated in fp64.
  virtual double loss(Model& model, const std::vector<int>& examples) = 0;
};

class LanguageModelingTask final : public Task {
 public:
  // Each sequence needs at least two tokens; ids must be in the model's vocabulary.
  LanguageModelingTask(std::vector<std::vector<int32_t>> sequences, int32_t pad_id);
  std::string name() const override { return "language-modeling"; }
  int num_examples() const override { return static_cast<int>(sequences_.size()); }
  // Mean over every predicted token of the batch (not a mean of per-sequence means).
  double loss(Model& model, const std::vector<int>& examples) override;

 private:
  std::vector<std::vector<int32_t>> sequences_;
  int32_t pad_id_;
};

// The examples of step `step`: `batch` distinct indices in [0, n) (all n when batch >= n),
// drawn by a Philox-driven partial Fisher-Yates shuffle keyed by (seed, step), so every
// rank and every platform picks the same minibatch.
std::vector<int> sample_minibatch(uint64_t seed, uint32_t step, int n, int batch);

}  // namespace zotune
