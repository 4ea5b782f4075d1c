// Batched probes (engine.probe_batch, Model::begin_probe_groups): one forward over G copies of a
// batch, copy g with probe g's PEFT modules, gives each probe the outputs of its own forward
// (every architecture, LoRA, TT adapters and prefixes, fp32 and bf16 backbones); the tasks'
// grouped losses equal their one-probe losses; the chunks of a round are whole probe groups
// fixed by the round alone; a run with batched probes trains like one without and is refused
// outside the PEFT modes.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/log/run_log_reader.h"
#include "core/model/model.h"
#include "core/optim/zo_optimizer.h"
#include "core/tasks/prompt_task.h"
#include "core/train/run_setup.h"
#include "core/train/task.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "io_test_util.h"
#include "parity_test_util.h"
#include "train_test_util.h"
#include "kernels/common/philox.h"

namespace zotune {
namespace {

using test::error_of;
using test::rel_error;

PeftSettings peft_of(PeftKind kind) {
  PeftSettings p;
  p.kind = kind;
  p.adapter_bottleneck = 8;
  p.adapter_rank = 3;
  p.lora_rank = 4;
  p.prefix_tokens = 3;
  p.prefix_init = PrefixInit::Random;
  p.seed = 11;
  return p;
}

const char* kind_name(PeftKind kind) {
  switch (kind) {
    case PeftKind::Lora: return "lora";
    case PeftKind::Adapter: return "adapter";
    case PeftKind::Prefix: return "prefix";
    default: return "none";
  }
}

// The PEFT region (fp32) of `m`, writable.
float* peft_region(Model& m) {
  return static_cast<float*>(m.params().buffer(DType::F32)) + m.peft().region_offset();
}

// Probe g's modules: the initial ones plus 0.05 z_g (z_g standard normal from Philox), so LoRA's
// zero B and every module differ between probes.
std::vector<float> probe_point(const std::vector<float>& base, int g) {
  std::vector<float> out = base;
  for (size_t i = 0; i < out.size(); ++i) {
    const Philox4 r = direction_block(97, 0, static_cast<uint32_t>(g), i / 4);
    const double u = (r.v[i % 4] + 0.5) * 0x1p-32;
    out[i] += static_cast<float>(0.05 * (2.0 * u - 1.0) * std::sqrt(3.0));  // uniform with unit variance
  }
  return out;
}

// Puts probe g's modules in place.
void set_probe(Model& m, const std::vector<float>& base, int g) {
  const std::vector<float> point = probe_point(base, g);
  std::copy(point.begin(), point.end(), peft_region(m));
}

// Probe groups on, group g holding probe g's modules, g < G.
void store_probe_groups(Model& m, const std::vector<float>& base, int G) {
  m.begin_probe_groups(G);
  for (int g = 0; g < G; ++g) {
    set_probe(m, base, g);
    m.store_probe_group(g);
  }
}

struct Case {
  std::string fixture;
  PeftKind kind;
  DType dtype;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.fixture + "_" + kind_name(info.param.kind) + "_" + dtype_name(info.param.dtype);
}

class BatchedProbeForward : public ::testing::TestWithParam<Case> {};

TEST_P(BatchedProbeForward, EachGroupGetsTheOutputsOfItsOwnForward) {
  const Case& c = GetParam();
  const std::string dir = (test::parity_dir() / c.fixture).string();
  LoadOptions load;
  load.dtype = c.dtype;
  load.peft = peft_of(c.kind);
  std::unique_ptr<Model> m = load_model(dir, load);
  const SafetensorsArchive ref = SafetensorsArchive::open(dir + "/reference.safetensors");
  const int G = 3;
  const float* region = peft_region(*m);
  const std::vector<float> base(region, region + m->peft().region_numel());
  for (const char* name : {"unpadded", "right"}) {
    const test::RefBatch rb = test::read_batch(ref, name);
    const int64_t tokens = static_cast<int64_t>(rb.batch.batch) * rb.batch.seq_len;
    std::vector<std::vector<float>> one_by_one;
    for (int g = 0; g < G; ++g) {
      set_probe(*m, base, g);
      one_by_one.push_back(m->forward(rb.batch, rb.valid_rows));
    }
    EXPECT_GT(rel_error(one_by_one[0], one_by_one[1]), 1e-4) << name << ": the probes give the same outputs";
    store_probe_groups(*m, base, G);
    EXPECT_EQ(m->probe_groups(), G);
    const std::vector<float> all = m->forward(rb.batch.repeated(G), repeat_rows(rb.valid_rows, G, tokens));
    m->end_probe_groups();
    EXPECT_EQ(m->probe_groups(), 1);
    ASSERT_EQ(all.size(), one_by_one[0].size() * G);
    for (int g = 0; g < G; ++g) {
      const std::vector<float> block(all.begin() + static_cast<ptrdiff_t>(g * one_by_one[0].size()),
                                     all.begin() + static_cast<ptrdiff_t>((g + 1) * one_by_one[0].size()));
      // fp32 activations either way; only the backbone GEMMs see more rows.
      EXPECT_LE(rel_error(block, one_by_one[g]), 1e-5) << name << " group " << g;
    }
  }
}

std::vector<Case> forward_cases() {
  std::vector<Case> cases;
  for (const char* fixture : {"llama_gqa", "opt_pre_ln", "bert_mlm", "roberta_cls", "mistral_sliding"})
    for (PeftKind kind : {PeftKind::Lora, PeftKind::Adapter, PeftKind::Prefix})
      cases.push_back({fixture, kind, DType::F32});
  for (PeftKind kind : {PeftKind::Lora, PeftKind::Adapter, PeftKind::Prefix})
    cases.push_back({"llama_gqa", kind, DType::BF16});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BatchedProbeForward, ::testing::ValuesIn(forward_cases()), case_name);

TEST(BatchedProbes, GroupsNeedModulesAndRowsThatSplit) {
  const std::string dir = (test::parity_dir() / "llama_gqa").string();
  std::unique_ptr<Model> plain = load_model(dir);
  EXPECT_NE(error_of([&] { plain->begin_probe_groups(2); }).find("need PEFT modules"), std::string::npos);
  LoadOptions load;
  load.peft = peft_of(PeftKind::Lora);
  std::unique_ptr<Model> m = load_model(dir, load);
  m->begin_probe_groups(2);
  m->store_probe_group(0);
  m->store_probe_group(1);
  EXPECT_NE(error_of([&] { m->store_probe_group(2); }).find("group 2 of 2"), std::string::npos);
  const Batch three = Batch::from_sequences({{1, 2}, {3, 4}, {5, 6}}, 0);  // 3 sequences in 2 groups
  EXPECT_NE(error_of([&] { m->forward(three); }).find("3 sequences do not split into 2 probe groups"), std::string::npos);
  m->end_probe_groups();
  EXPECT_EQ(m->forward(three).size(), static_cast<size_t>(6 * m->output_width()));
}

// Group g's loss from `grouped` (G probe groups in one forward) against `one`'s loss_sum with
// probe g's modules in place: the same counts, sums to 1e-5, and the probes' losses differ by more
// than min_spread (the check could fail).
void expect_group_losses_equal_one_per_probe(Model& m, Task& one, Task& grouped, const std::vector<int>& examples,
                                             int G, double min_spread) {
  const float* region = peft_region(m);
  const std::vector<float> base(region, region + m.peft().region_numel());
  std::vector<LossSum> want;
  for (int g = 0; g < G; ++g) {
    set_probe(m, base, g);
    want.push_back(one.loss_sum(m, examples));
  }
  store_probe_groups(m, base, G);
  const std::vector<LossSum> got = grouped.group_loss_sums(m, examples);
  EXPECT_NE(error_of([&] { grouped.loss_sum(m, examples); }).find("probe groups on"), std::string::npos);
  m.end_probe_groups();
  ASSERT_EQ(got.size(), static_cast<size_t>(G));
  for (int g = 0; g < G; ++g) {
    EXPECT_EQ(got[g].count, want[g].count);
    EXPECT_NEAR(got[g].sum, want[g].sum, 1e-5 * std::abs(want[g].sum)) << g;
  }
  EXPECT_GT(std::abs(want[0].sum - want[1].sum), min_spread);
}

// The language-modeling task: group g's loss is the loss_sum of probe g's modules.
TEST(BatchedProbes, TaskGroupLossesEqualOneLossPerProbe) {
  LoadOptions load;
  load.peft = peft_of(PeftKind::Adapter);
  std::unique_ptr<Model> m = load_model(test::fixture_path("train/tiny_lm"), load);
  LanguageModelingTask task({{1, 5, 9, 2, 7}, {3, 4, 8}, {6, 6, 1, 2}}, 0);
  expect_group_losses_equal_one_per_probe(*m, task, task, {0, 2, 1}, 4, 1e-4);
}

// engine.shared_prompts with probe groups: a classification task whose candidates are one token
// each (one prompt run per example, G copies) gives each probe its unshared one-probe loss.
TEST(BatchedProbes, SharedPromptGroupLossesEqualOneLossPerProbe) {
  LoadOptions load;
  load.peft = peft_of(PeftKind::Lora);
  std::unique_ptr<Model> m = load_model(test::fixture_path("train/tiny_lm"), load);
  auto candidates = [](std::vector<int32_t> prompt, std::vector<int32_t> options, int gold) {
    tasks::EncodedExample e;
    e.format = tasks::Format::CandidateLM;
    for (int32_t o : options) {
      tasks::ScoredSequence s;
      s.ids = prompt;
      s.ids.push_back(o);
      s.option_len = 1;
      e.candidates.push_back(s);
    }
    e.correct = {gold};
    e.where = "test";
    return e;
  };
  const std::vector<tasks::EncodedExample> ex = {candidates({1, 5, 9, 2, 7}, {40, 41}, 1),
                                                 candidates({3, 4, 8}, {40, 41, 42}, 2),
                                                 candidates({6, 6, 1, 2, 9, 9}, {40, 41}, 0)};
  tasks::PromptTaskOptions unshared, shared;
  unshared.pad_id = shared.pad_id = 0;
  shared.shared_prompts = true;
  tasks::PromptTask one("sst2", ex, unshared), grouped("sst2", ex, shared);
  expect_group_losses_equal_one_per_probe(*m, one, grouped, {0, 2, 1}, 3, 1e-6);
}

std::vector<Probe> probes_of_groups(const std::vector<int>& groups) {
  std::vector<Probe> out;
  for (int g : groups) out.push_back(Probe{{}, g});
  return out;
}

TEST(BatchedProbes, ChunksAreWholeGroupsOfAtMostTheBatch) {
  using Chunks = std::vector<std::pair<size_t, size_t>>;
  const std::vector<Probe> pairs = probes_of_groups({0, 0, 1, 1, 2, 2, 3, 3, 4, 4});  // MeZO / AdaZeta: +- per query
  EXPECT_EQ(probe_chunks(pairs, 1), (Chunks{{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}, {7, 8}, {8, 9}, {9, 10}}));
  EXPECT_EQ(probe_chunks(pairs, 2), (Chunks{{0, 2}, {2, 4}, {4, 6}, {6, 8}, {8, 10}}));
  EXPECT_EQ(probe_chunks(pairs, 3), (Chunks{{0, 2}, {2, 4}, {4, 6}, {6, 8}, {8, 10}}));
  EXPECT_EQ(probe_chunks(pairs, 4), (Chunks{{0, 4}, {4, 8}, {8, 10}}));
  EXPECT_EQ(probe_chunks(pairs, 30), (Chunks{{0, 10}}));
  // BSZO: the unperturbed probe alone, then one per axis.
  EXPECT_EQ(probe_chunks(probes_of_groups({0, 1, 2}), 2), (Chunks{{0, 2}, {2, 3}}));
  // A group larger than the batch is cut into batches; its last piece takes the next group in.
  EXPECT_EQ(probe_chunks(probes_of_groups({0, 0, 0, 0, 0, 1}), 2), (Chunks{{0, 2}, {2, 4}, {4, 6}}));
  EXPECT_EQ(probe_chunks(probes_of_groups({0, 0, 0, 1, 1}), 2), (Chunks{{0, 2}, {2, 3}, {3, 5}}));
  EXPECT_TRUE(probe_chunks({}, 4).empty());
}

// AdaZeta with TT adapters (Q = 3, six probes a step): 4 probes per forward trains as one
// probe per forward does, to GEMM rounding (the losses agree to 1e-5), and the batched run's
// log replays to its own checksum.
std::string adazeta_adapter_yaml(const std::string& log, const std::string& probe_batch,
                                 const std::string& mode = "adapter") {
  return "run:\n  seed: 2\n  steps: 40\n  progress: off\n  output: " + log + "\n"
         "model:\n  path: " + test::fixture_path("train/tiny_lm") + "\n"
         "task:\n  name: lm\n  max_length: 24\n  texts:\n"
         "    - \"The capital of France is Paris.\"\n"
         "    - \"Zeroth-order methods estimate gradients from forward passes only.\"\n"
         "    - \"Every rank holds a full replica of the model.\"\n"
         "trainable:\n  mode: " + mode + "\n"
         "peft:\n  adapter_bottleneck: 8\n  adapter_rank: 3\n"
         "optimizer:\n  name: adazeta\n  lr: 1e-2\n  eps: 1e-3\n  weight_decay: 0.01\n"
         "  queries_fixed: true\n  queries_target: 3\n"
         "data:\n  batch_size: 2\neval:\n  every: 0\n"
         "engine:\n  probe_batch: " + probe_batch + "\n";
}

TEST(BatchedProbes, TrainingWithBatchedProbesMatchesOneProbePerForwardAndReplays) {
  test::TempDir dir;
  const std::string one = (dir.path() / "one.h5").string(), batched = (dir.path() / "batched.h5").string();
  const TrainOutcome a = test::train_quietly(adazeta_adapter_yaml(one, "1"), dir.path());
  const TrainOutcome b = test::train_quietly(adazeta_adapter_yaml(batched, "4"), dir.path());
  const RunLogReader la = RunLogReader::open(one), lb = RunLogReader::open(batched);
  const std::vector<double> loss_a = la.series("loss"), loss_b = lb.series("loss");
  ASSERT_EQ(loss_a.size(), 40u);
  ASSERT_EQ(loss_b.size(), 40u);
  for (size_t s = 0; s < loss_a.size(); ++s) EXPECT_NEAR(loss_b[s], loss_a[s], 1e-5 * std::abs(loss_a[s])) << s;
  EXPECT_EQ(lb.vector("probe_losses", 0).size(), 6u);  // Q = 3: six probes, chunks of two queries
  ASSERT_TRUE(a.final_loss && b.final_loss);
  EXPECT_NEAR(*b.final_loss, *a.final_loss, 1e-4 * std::abs(*a.final_loss));
  EXPECT_LT(*b.final_loss, *b.initial_loss);
  LoadOptions load;
  load.peft = peft_settings(parse_run_config(adazeta_adapter_yaml(batched, "4"), "x.yaml"));
  std::unique_ptr<Model> fresh = load_model(test::fixture_path("train/tiny_lm"), load);
  const ReplayResult r = replay_run(*fresh, lb);
  EXPECT_EQ(r.checksum, b.checksum);
  ASSERT_TRUE(r.logged_checksum.has_value());
  EXPECT_EQ(*r.logged_checksum, b.checksum);
}

TEST(BatchedProbes, FullParameterTrainingRefusesBatchedProbes) {
  test::TempDir dir;
  const std::string log = (dir.path() / "full.h5").string();
  const std::string e = error_of([&] { test::train_quietly(adazeta_adapter_yaml(log, "4", "full"), dir.path()); });
  EXPECT_NE(e.find("engine.probe_batch: 4 batches probes that differ only in PEFT modules"), std::string::npos) << e;
}

// engine.probe_batch: auto on the host engine: every probe of AdaZeta's round (2 Q = 6) in one
// forward, the count kept in /summary; the losses are the batched ones (equal to "6" bit for
// bit), and full training resolves auto to one probe per forward instead of refusing.
TEST(BatchedProbes, AutoBatchesAWholeRoundAndFullTrainingRunsOneProbePerForward) {
  test::TempDir dir;
  const std::string six = (dir.path() / "six.h5").string(), autolog = (dir.path() / "auto.h5").string();
  const TrainOutcome a = test::train_quietly(adazeta_adapter_yaml(six, "6"), dir.path());
  const TrainOutcome b = test::train_quietly(adazeta_adapter_yaml(autolog, "auto"), dir.path());
  EXPECT_EQ(a.checksum, b.checksum);
  const RunLogReader la = RunLogReader::open(six), lb = RunLogReader::open(autolog);
  EXPECT_EQ(la.series("loss"), lb.series("loss"));
  EXPECT_EQ(std::get<double>(lb.summary().at("probe_batch")), 6.0);
  EXPECT_EQ(std::get<double>(la.summary().at("probe_batch")), 6.0);

  const std::string full = (dir.path() / "full_auto.h5").string(), full_one = (dir.path() / "full_one.h5").string();
  const TrainOutcome f = test::train_quietly(adazeta_adapter_yaml(full, "auto", "full"), dir.path());
  const TrainOutcome g = test::train_quietly(adazeta_adapter_yaml(full_one, "1", "full"), dir.path());
  EXPECT_EQ(f.checksum, g.checksum);
  EXPECT_EQ(std::get<double>(RunLogReader::open(full).summary().at("probe_batch")), 1.0);
}

TEST(BatchedProbes, ProbeBatchTakesAutoOrAPositiveCount) {
  const auto parse = [](const std::string& value) {
    return parse_run_config(adazeta_adapter_yaml("x.h5", value), "run.yaml").engine.probe_batch;
  };
  EXPECT_TRUE(parse("auto").automatic);
  EXPECT_FALSE(parse("3").automatic);
  EXPECT_EQ(parse("3").value, 3);
  EXPECT_NE(error_of([&] { parse("0"); }).find("engine.probe_batch"), std::string::npos);
  EXPECT_NE(error_of([&] { parse("many"); }).find("engine.probe_batch"), std::string::npos);
}

}  // namespace
}  // namespace zotune
