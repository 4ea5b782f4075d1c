// Shared by the CUDA engine tests of cached forwards (cuda_generation_test.cpp for the plain
// decoders, cuda_prefix_test.cpp with a prefix in the cache's first slots): the prompts of a
// reference batch, a feeding schedule of prefill then new tokens, the logits of each step through
// one cache, and the comparison of the device cache with the CPU engine's and with one uncached
// device forward over all the tokens.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/cuda/cuda_model.h"
#include "core/model/config.h"
#include "core/model/model.h"
#include "../../unit/parity_test_util.h"

namespace zotune::test {

inline bool is_decoder(const ModelConfig& c) {
  return (c.arch == Architecture::OPT || c.arch == Architecture::Llama) && c.head == HeadKind::CausalLM;
}

// The real tokens of each row of a reference batch (left padding removed): prompts of unequal
// lengths for generate_greedy and Batch::from_sequences to pad again.
inline std::vector<std::vector<int32_t>> prompts_of(const RefBatch& rb) {
  std::vector<std::vector<int32_t>> prompts(rb.batch.batch);
  for (int b = 0; b < rb.batch.batch; ++b)
    for (int t = 0; t < rb.batch.seq_len; ++t) {
      const size_t i = static_cast<size_t>(b) * rb.batch.seq_len + t;
      if (rb.batch.mask[i]) prompts[b].push_back(rb.batch.ids[i]);
    }
  return prompts;
}

// What a cached run feeds: steps[0] the left-padded prompts (the prefill), then batches of new
// tokens of the given lengths with fixed token values (not the argmax: both engines must see the
// same inputs whatever their logits). In new step `masked_step` (0-based, -1 for none), sequence 1
// sends padding (mask 0), as a sequence that has stopped does in generate_greedy.
inline std::vector<Batch> feeding_schedule(const std::vector<std::vector<int32_t>>& prompts, int32_t pad_id, int vocab,
                                           const std::vector<int>& step_lengths, int masked_step) {
  std::vector<Batch> steps{Batch::from_sequences(prompts, pad_id, /*pad_left=*/true)};
  const int B = static_cast<int>(prompts.size());
  for (size_t s = 0; s < step_lengths.size(); ++s) {
    Batch next;
    next.batch = B;
    next.seq_len = step_lengths[s];
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < next.seq_len; ++t) {
        const bool padding = static_cast<int>(s) == masked_step && b == 1;
        next.ids.push_back(padding ? pad_id : static_cast<int32_t>((31 * s + 7 * b + 3 * t + 5) % vocab));
        next.mask.push_back(padding ? 0 : 1);
      }
    steps.push_back(std::move(next));
  }
  return steps;
}

// Flat indices of the real tokens of a batch: the rows whose logits are compared.
inline std::vector<int64_t> real_rows(const Batch& b) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < b.mask.size(); ++i)
    if (b.mask[i]) rows.push_back(static_cast<int64_t>(i));
  return rows;
}

inline int total_length(const std::vector<Batch>& steps) {
  int n = 0;
  for (const Batch& s : steps) n += s.seq_len;
  return n;
}

// The logits of each step's real rows, fed through one cache of `model`'s own make_cache.
inline std::vector<std::vector<float>> cached_logits(Model& model, const std::vector<Batch>& steps) {
  KVCache cache = model.make_cache(steps[0].batch, total_length(steps));
  std::vector<std::vector<float>> out;
  for (const Batch& s : steps) out.push_back(model.forward(s, real_rows(s), &cache));
  EXPECT_EQ(cache.length, total_length(steps));
  return out;
}

// The same tokens as one batch [B, total] (each step's columns side by side, padding where a
// step had it), and each step's real rows as flat indices of that batch.
inline Batch concatenated(const std::vector<Batch>& steps, std::vector<std::vector<int64_t>>* rows_per_step) {
  const int B = steps[0].batch, total = total_length(steps);
  Batch full;
  full.batch = B;
  full.seq_len = total;
  full.ids.assign(static_cast<size_t>(B) * total, 0);
  full.mask.assign(full.ids.size(), 0);
  int offset = 0;
  for (const Batch& s : steps) {
    std::vector<int64_t> rows;
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < s.seq_len; ++t) {
        const size_t from = static_cast<size_t>(b) * s.seq_len + t;
        const size_t to = static_cast<size_t>(b) * total + offset + t;
        full.ids[to] = s.ids[from];
        full.mask[to] = s.mask[from];
        if (s.mask[from]) rows.push_back(static_cast<int64_t>(to));
      }
    rows_per_step->push_back(std::move(rows));
    offset += s.seq_len;
  }
  return full;
}

// Runs the two cached comparisons for one pair of identical models: (a) device cache vs CPU
// cache, step by step; (c) device cached vs one uncached device forward over all the tokens.
// The cached forwards must not be captured as graphs (checked before the uncached ones run).
inline void expect_cached_forwards_agree(Model& cpu, cuda::CudaModel& gpu, const std::vector<Batch>& steps,
                                         double tolerance, const std::string& what) {
  const int captured = gpu.graphs_captured();
  const std::vector<std::vector<float>> want = cached_logits(cpu, steps);
  const std::vector<std::vector<float>> got = cached_logits(gpu, steps);
  EXPECT_EQ(gpu.graphs_captured(), captured) << what << ": a cached forward was captured as a graph";
  std::vector<std::vector<int64_t>> rows;
  const Batch full = concatenated(steps, &rows);
  ASSERT_EQ(got.size(), want.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    const std::string step =
        what + ", step " + std::to_string(s) + " (" + std::to_string(steps[s].seq_len) + " tokens)";
    ASSERT_EQ(got[s].size(), want[s].size()) << step;
    ASSERT_EQ(got[s].size(), rows[s].size() * static_cast<size_t>(gpu.output_width())) << step;
    EXPECT_LE(rel_error(got[s], want[s]), tolerance) << step << ": device cache vs the CPU engine's";
    const std::vector<float> uncached = gpu.forward(full, rows[s]);
    EXPECT_LE(rel_error(got[s], uncached), tolerance) << step << ": device cache vs the uncached device forward";
  }
}

}  // namespace zotune::test
