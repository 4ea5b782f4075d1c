// A registered task end to end on the tiny Llama fixture: the run file's task section to
// sampled, encoded splits (task_setup), and `zotune train`'s dev selection: the selected
// weights are the initial weights plus the first best_step logged updates (replayed, not a
// kept copy), chosen among the evaluated checkpoints as the Hugging Face trainer chooses (dev
// loss by default, step 0 no candidate), the test score is theirs, and early stopping ends the
// run after `patience` evaluations without a new best.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "core/config/run_config.h"
#include "core/log/run_log_reader.h"
#include "core/model/pretrained.h"
#include "core/train/evaluation.h"
#include "core/train/replay.h"
#include "core/train/run_training.h"
#include "core/train/task_setup.h"
#include "core/tasks/prompt_task.h"
#include "io_test_util.h"
#include "train_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::TempDir;

const std::string kTinyLm = test::fixture_path("train/tiny_lm");
const std::string kReviews = std::string(ZOTUNE_SOURCE_DIR) + "/experiments/data/movie_reviews";

// An sst2-format run on the shipped movie reviews: 48 train / 24 dev sampled from train.tsv,
// 40 test from test.tsv; `extra` is appended (more sections or keys).
std::string reviews_yaml(const std::string& output, const std::string& extra) {
  return "run:\n  seed: 3\n  steps: 12\n  progress: off\n  checksum_every: 0\n  output: " + output + "\n" +
         "model:\n  path: " + kTinyLm + "\n" +
         "task:\n  name: sst2\n  train: " + kReviews + "/train.tsv\n  test: " + kReviews + "/test.tsv\n" +
         "  num_train: 48\n  num_dev: 24\n  num_test: 40\n  max_length: 48\n" +
         "optimizer:\n  name: mezo\n  lr: 3e-2\n  eps: 1e-3\n" + "data:\n  batch_size: 8\n" + extra;
}

TrainOutcome train(const std::string& yaml, const fs::path& dir) { return test::train_quietly(yaml, dir); }

TEST(TaskSetup, SamplesDisjointSplitsOfTheDocumentedSizes) {
  TempDir dir;
  const RunConfig config = parse_run_config(reviews_yaml((dir.path() / "r.h5").string(), ""), "r.yaml");
  const Pretrained p = load_pretrained(kTinyLm);
  const TaskSplits s = make_task_splits(config, p.tokenizer, p.model->config());
  ASSERT_TRUE(s.train && s.dev && s.test);
  EXPECT_EQ(s.train->num_examples(), 48);
  EXPECT_EQ(s.dev->num_examples(), 24);
  EXPECT_EQ(s.test->num_examples(), 40);
  EXPECT_EQ(s.description, "sst2 (mezo template): 48 train / 24 dev / 40 test examples");
  // Train and dev come from one permutation of train.tsv: no example in both.
  auto* train = dynamic_cast<tasks::PromptTask*>(s.train.get());
  auto* dev = dynamic_cast<tasks::PromptTask*>(s.dev.get());
  ASSERT_TRUE(train && dev);
  std::set<std::string> rows;
  for (int i = 0; i < train->num_examples(); ++i) rows.insert(train->example(i).where);
  for (int i = 0; i < dev->num_examples(); ++i) EXPECT_FALSE(rows.count(dev->example(i).where)) << dev->example(i).where;
  EXPECT_EQ(train->example(0).candidates.size(), 2u) << "terrible / great";
  // The same seed gives the same examples; another seed others.
  const TaskSplits again = make_task_splits(config, p.tokenizer, p.model->config());
  EXPECT_EQ(dynamic_cast<tasks::PromptTask*>(again.train.get())->example(5).where, train->example(5).where);
  RunConfig other = config;
  other.task.data_seed = 1;
  const TaskSplits reseeded = make_task_splits(other, p.tokenizer, p.model->config());
  int same = 0;
  for (int i = 0; i < 48; ++i)
    same += dynamic_cast<tasks::PromptTask*>(reseeded.train.get())->example(i).where == train->example(i).where;
  EXPECT_LT(same, 10);
}

TEST(TaskSetup, ErrorsNameTheKeyOrTheFile) {
  const Pretrained p = load_pretrained(kTinyLm);
  auto splits_error = [&](const std::string& yaml) {
    return error_of([&] { make_task_splits(parse_run_config(yaml, "r.yaml"), p.tokenizer, p.model->config()); });
  };
  const std::string base = "model:\n  path: " + kTinyLm + "\n";
  EXPECT_NE(splits_error(base + "task:\n  name: sst2\n").find("r.yaml: task.train: sst2 needs a training file"),
            std::string::npos);
  EXPECT_NE(splits_error(base + "task:\n  name: sst-9\n  train: x.tsv\n").find("sst-9"), std::string::npos);
  EXPECT_NE(splits_error(base + "task:\n  name: sst2\n  train: " + kReviews + "/train.tsv\n  template: lm-bff\n")
                .find("r.yaml: task.template: lm-bff needs a masked-LM head"),
            std::string::npos);
  EXPECT_NE(splits_error(base + "task:\n  name: sst2\n  train: " + kReviews + "/train.tsv\n  num_train: 450\n")
                .find("train.tsv"),
            std::string::npos)
      << "400 rows cannot hold 450 + 500";
}

// The grid executor's data check before any run starts: the splits as training samples them,
// without a model; the same refusal as training for a split larger than its file.
TEST(TaskSetup, SampledSummaryNeedsNoModelAndRefusesWhatTrainingRefuses) {
  TempDir dir;
  const RunConfig config = parse_run_config(reviews_yaml((dir.path() / "r.h5").string(), ""), "r.yaml");
  EXPECT_EQ(sampled_task_summary(config), "sst2: 48 train / 24 dev / 40 test examples");
  RunConfig too_many = config;
  too_many.task.num_train = 450;  // train.tsv has 400 rows for 450 + 24
  const Pretrained p = load_pretrained(kTinyLm);
  const std::string training = error_of([&] { make_task_splits(too_many, p.tokenizer, p.model->config()); });
  EXPECT_NE(training.find("train.tsv"), std::string::npos) << training;
  EXPECT_EQ(error_of([&] { sampled_task_summary(too_many); }), training);
  RunConfig lm = config;
  lm.task.name = "lm";
  EXPECT_EQ(sampled_task_summary(lm), "") << "the lm task needs the tokenizer to read its texts";
}

// task.num_* beside a sampling that takes its sizes from a protocol would be ignored: refused,
// naming the key, the sampling and what it samples instead; the key's default (every complete
// configuration writes it) passes.
TEST(TaskSetup, SplitSizesASamplingWouldIgnoreAreRefused) {
  TempDir dir;
  const std::string output = (dir.path() / "r.h5").string();
  const std::string mezo = error_of([&] { sampled_task_summary(parse_run_config(reviews_yaml(output, ""), "r.yaml")); });
  EXPECT_EQ(mezo, "") << "task.num_* without a sampling imply task.sampling: sizes";
  std::string yaml = reviews_yaml(output, "");
  yaml.replace(yaml.find("  num_train:"), 0, "  sampling: mezo\n");
  const RunConfig explicit_mezo = parse_run_config(yaml, "r.yaml");
  ASSERT_EQ(explicit_mezo.task.sampling, TaskSampling::MeZO);
  const std::string refused = error_of([&] { sampled_task_summary(explicit_mezo); });
  EXPECT_NE(refused.find("r.yaml: task.num_train: 48 would be ignored: task.sampling mezo samples task sst2's mezo "
                         "sizes, 1000 train / 500 dev / 1000 test; give task.sampling: sizes to sample 48"),
            std::string::npos)
      << refused;
  // The defaults beside mezo: no refusal (train.tsv's 400 rows then cannot hold MeZO's 1000 + 500).
  RunConfig defaults = explicit_mezo;
  defaults.task.num_train = 1000, defaults.task.num_dev = 500, defaults.task.num_test = 1000;
  const std::string too_small = error_of([&] { sampled_task_summary(defaults); });
  EXPECT_EQ(too_small.find("would be ignored"), std::string::npos) << too_small;
  EXPECT_NE(too_small.find("train.tsv"), std::string::npos) << too_small;
  // k-shot reads none of them.
  RunConfig k_shot = defaults;
  k_shot.task.sampling = TaskSampling::KShot;
  EXPECT_EQ(error_of([&] { sampled_task_summary(k_shot); }), "");
  k_shot.task.num_dev = 24;
  const std::string k_refused = error_of([&] { sampled_task_summary(k_shot); });
  EXPECT_NE(k_refused.find("task.num_dev: 24 would be ignored: task.sampling k-shot samples task.k (16) examples per "
                           "class"),
            std::string::npos)
      << k_refused;
}

// score_split wanting both the loss and the metric of a prompt task whose loss and metric
// read the same scores (candidate classification) runs one scoring pass: the same loss, to the
// bit, as chunked_loss and the same metric as evaluate over the split; teacher forcing (its
// loss needs its own pass) still equals the separate passes.
TEST(TaskSetup, OneScoringPassGivesTheLossAndTheMetricOfTwo) {
  const Pretrained p = load_pretrained(kTinyLm);
  for (const char* loss : {"candidates", "teacher-forced"}) {
    RunConfig c = parse_run_config(reviews_yaml("unused.h5", ""), "r.yaml");
    c.task.loss = std::string(loss) == "candidates" ? TaskLoss::Candidates : TaskLoss::TeacherForced;
    const TaskSplits splits = make_task_splits(c, p.tokenizer, p.model->config());
    Task& dev = *splits.dev;
    const SplitScore both = score_split(dev, *p.model, 5, true, true);
    const SplitScore loss_only = score_split(dev, *p.model, 5, true, false);
    const SplitScore metric_only = score_split(dev, *p.model, 5, false, true);
    ASSERT_TRUE(both.loss && both.metric && loss_only.loss && metric_only.metric) << loss;
    EXPECT_EQ(*both.loss, *loss_only.loss) << loss;
    EXPECT_EQ(*both.metric, *metric_only.metric) << loss;
    EXPECT_GT(*both.metric, 0.0) << loss;
  }
}

TEST(TaskTraining, SelectedWeightsAreTheReplayedBestStepAndCarryTheTestScore) {
  TempDir dir;
  const std::string log_path = (dir.path() / "sel.h5").string();
  // The defaults: select on dev loss (lower is better), no early stopping.
  const TrainOutcome out = train(reviews_yaml(log_path, "eval:\n  every: 3\n"), dir.path());
  EXPECT_EQ(out.steps, 12);
  EXPECT_EQ(out.metric, "loss");
  EXPECT_EQ(out.test_metric, "accuracy") << "the test reports the task's metric whatever selection compares";
  ASSERT_TRUE(out.initial_dev && out.best_dev && out.selected_step && out.test);
  EXPECT_FALSE(out.initial_loss) << "prompted tasks skip the full training-loss pass";

  // Replaying the first selected_step updates onto the initial weights gives the selected checksum.
  const RunLogReader log = RunLogReader::open(log_path);
  std::unique_ptr<Model> model = load_model(kTinyLm);
  ReplayOptions options;
  options.steps = *out.selected_step;
  const ReplayResult replayed = replay_run(*model, log, options);
  EXPECT_EQ(replayed.checksum, out.selected_checksum);
  const auto summary = log.summary();
  EXPECT_EQ(std::get<double>(summary.at("best_step")), static_cast<double>(*out.selected_step));
  EXPECT_EQ(std::get<std::string>(summary.at("selected_checksum")), checksum_hex(out.selected_checksum));
  EXPECT_EQ(std::get<double>(summary.at("test_accuracy")), *out.test);
  EXPECT_EQ(std::get<std::string>(summary.at("status")), "completed");
  EXPECT_EQ(std::get<std::string>(summary.at("selection")), "loss (lower is better)");
  // Four evaluations (steps 3, 6, 9, 12) plus the initial one, which is logged but, as in the
  // Hugging Face trainer, no candidate: the selected step is the evaluated one of lowest loss.
  EXPECT_EQ(log.eval_steps(), (std::vector<int64_t>{0, 3, 6, 9, 12}));
  const std::vector<double> dev = log.eval_series("dev_loss");
  ASSERT_EQ(dev.size(), 5u);
  const auto lowest = std::min_element(dev.begin() + 1, dev.end());  // first of equals wins, as a strict <
  EXPECT_EQ(*out.selected_step, 3 * (lowest - dev.begin()));
  EXPECT_EQ(*out.best_dev, *lowest);
  EXPECT_EQ(*out.initial_dev, dev[0]);
}

TEST(TaskTraining, RunWithoutAnEvaluatedCheckpointKeepsItsFinalWeights) {
  TempDir dir;
  const TrainOutcome out = train(reviews_yaml((dir.path() / "short.h5").string(), "eval:\n  every: 50\n"), dir.path());
  EXPECT_EQ(out.steps, 12);
  ASSERT_TRUE(out.initial_dev) << "step 0 is still evaluated for the log";
  EXPECT_FALSE(out.selected_step) << "12 steps never reach eval.every 50: nothing to select from";
  EXPECT_FALSE(out.best_dev);
  EXPECT_EQ(out.selected_checksum, out.checksum);
  EXPECT_TRUE(out.test);
}

TEST(TaskTraining, EarlyStoppingEndsAfterPatienceEvaluationsWithoutABest) {
  TempDir dir;
  // A learning rate of 1e-30 keeps the weights: after the first evaluated checkpoint (step 2,
  // the first candidate) no evaluation is strictly better. Dev accuracy, as BSZO selects.
  std::string yaml =
      reviews_yaml((dir.path() / "stop.h5").string(), "eval:\n  every: 2\n  patience: 2\n  select: metric\n");
  yaml.replace(yaml.find("lr: 3e-2"), 8, "lr: 1e-30");
  const TrainOutcome out = train(yaml, dir.path());
  EXPECT_EQ(out.metric, "accuracy");
  EXPECT_EQ(out.steps, 6) << "evaluations at steps 4 and 6 bring no new best";
  ASSERT_TRUE(out.selected_step);
  EXPECT_EQ(*out.selected_step, 2) << "the first evaluated checkpoint stays selected, not the untrained step 0";
  EXPECT_EQ(*out.best_dev, *out.initial_dev) << "the same weights";
}

}  // namespace
}  // namespace zotune
