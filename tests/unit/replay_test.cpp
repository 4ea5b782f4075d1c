// Replay (core/train/replay.h): a few real training steps on the tiny Llama fixture, then the
// weights rebuilt from the base model and the run log must equal the trained ones byte for
// byte (every parameter, not only the checksum), for MeZO (two-sided, n-SPSA, weight decay,
// linear schedule) and BSZO; `--steps N` equals the trainer's weights after N steps; logs
// with tampered updates or a wrong checksum are errors naming the log; a failed run replays
// without a checksum to compare. Also the plain save (core/train/save_weights.h): run.save
// and save_weights write safetensors that load back to identical bytes.
#include "core/train/replay.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "core/io/safetensors.h"
#include "core/log/run_log.h"
#include "core/log/run_log_reader.h"
#include "core/model/pretrained.h"
#include "core/optim/trainable_space.h"
#include "core/train/run_setup.h"
#include "core/train/task_setup.h"
#include "core/train/run_training.h"
#include "core/train/save_weights.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "distributed/communicator.h"
#include "io_test_util.h"
#include "train_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::error_of;

const std::string kTinyLm = test::fixture_path("train/tiny_lm");

// A run file for the tiny fixture; `optimizer` is the indented body of the optimizer section.
std::string run_yaml(const std::string& optimizer, int steps, const std::string& output, const std::string& save = "",
                     const std::string& dtype = "f32") {
  std::string y = "run:\n  seed: 7\n  steps: " + std::to_string(steps) + "\n  progress: off\n  output: " + output + "\n";
  if (!save.empty()) y += "  save: " + save + "\n";
  y += "model:\n  path: " + kTinyLm + "\n  dtype: " + dtype + "\n";
  y += "task:\n  name: lm\n  max_length: 24\n  texts:\n"
       "    - \"The capital of France is Paris.\"\n"
       "    - \"Zeroth-order methods estimate gradients from forward passes only.\"\n"
       "    - \"A seed and a step number are all it takes to regenerate a direction.\"\n";
  y += "optimizer:\n" + optimizer;
  y += "data:\n  batch_size: 2\neval:\n  every: 0\n";
  return y;
}

const char* const kMezo =
    "  name: mezo\n  lr: 1e-2\n  eps: 1e-3\n  queries: 2\n  weight_decay: 0.5\n  schedule: linear\n";
const char* const kBszo = "  name: bszo\n  lr: 1e-1\n  eps: 1e-4\n  k: 2\n  m: 3\n  weight_decay: 0.1\n";

TrainOutcome train(const std::string& yaml, const fs::path& dir) { return test::train_quietly(yaml, dir); }

std::unique_ptr<Model> load_base(DType dtype = DType::F32) {
  LoadOptions load;
  load.dtype = dtype;
  return load_model(kTinyLm, load);
}

// Every parameter of `a` and `b` byte for byte; names the first tensor that differs.
void expect_same_bytes(const Model& a, const Model& b) {
  const std::vector<ParamView>& va = a.params().views();
  ASSERT_EQ(va.size(), b.params().views().size());
  for (const ParamView& v : va) {
    const ParamView& w = b.params().at(v.name);
    ASSERT_EQ(v.dtype, w.dtype) << v.name;
    ASSERT_EQ(v.shape, w.shape) << v.name;
    const size_t bytes = static_cast<size_t>(v.numel) * dtype_size(v.dtype);
    EXPECT_EQ(std::memcmp(a.params().data(v), b.params().data(w), bytes), 0) << "tensor " << v.name << " differs";
  }
}

bool same_bytes(const Model& a, const Model& b) {
  for (const ParamView& v : a.params().views())
    if (std::memcmp(a.params().data(v), b.params().data(b.params().at(v.name)),
                    static_cast<size_t>(v.numel) * dtype_size(v.dtype)) != 0)
      return false;
  return true;
}

// The weights after `steps` steps of the run file, from a Trainer driven directly (the
// witness replay must match; it shares nothing with the log).
std::unique_ptr<Model> trained_directly(const std::string& yaml, int steps) {
  const RunConfig config = parse_run_config(yaml, "direct.yaml");
  LoadOptions load;
  load.dtype = config.model.dtype;
  Pretrained pretrained = load_pretrained(config.model.path, load);
  Model& model = *pretrained.model;
  std::unique_ptr<Task> task = make_task_splits(config, pretrained.tokenizer, model.config()).train;
  const TrainableSpace space = TrainableSpace::select(model, trainable_selection(config.trainable));
  std::unique_ptr<ZoOptimizer> optimizer = make_optimizer(config.optimizer, config.run.seed, space.size());
  Communicator comm = Communicator::world();
  Trainer trainer(model, space, *optimizer, *task, comm, trainer_options(config));
  for (int s = 0; s < steps; ++s) trainer.step(static_cast<uint32_t>(s));
  return std::move(pretrained.model);
}

// What to change when copying a log.
struct LogEdit {
  double coefficient_delta = 0.0;  // added to /updates/coefficient row 0
  std::string final_checksum;      // replaces it; "-" drops it
  std::string failed;              // non-empty: status "failed: <failed>"
};

// Copies a run log through the public writer with one edit: the tampered logs of the tests.
void copy_log(const std::string& from, const std::string& to, const LogEdit& edit) {
  const RunLogReader in = RunLogReader::open(from);
  RunLogOptions options;
  options.overwrite = true;
  RunLog out = RunLog::create(to, in.config_text(), in.provenance(), options);
  const std::vector<int64_t> steps = in.steps();
  const std::vector<double> decay = in.series("decay_scale"), loss = in.series("loss");
  const UpdateTable u = in.updates();
  size_t row = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    std::vector<UpdateRecord> records;
    for (; row < u.size() && u.step[row] == steps[i]; ++row)
      records.push_back({u.query[row], u.coefficient[row] + (row == 0 ? edit.coefficient_delta : 0.0), u.seed[row]});
    out.log_updates(steps[i], records);
    out.log_step(steps[i], {{"decay_scale", decay[i]}, {"loss", loss[i]}});
  }
  for (const auto& [key, value] : in.summary()) {
    if (key == "final_checksum" && !edit.final_checksum.empty()) continue;
    if (const std::string* text = std::get_if<std::string>(&value))
      out.set_summary(key, *text);
    else
      out.set_summary(key, std::get<double>(value));
  }
  if (!edit.final_checksum.empty() && edit.final_checksum != "-") out.set_summary("final_checksum", edit.final_checksum);
  if (!edit.failed.empty()) out.mark_failed(edit.failed);
  out.close();
}

void expect_replay_reproduces(const std::string& optimizer, int steps) {
  TempDir dir;
  const std::string log = dir.file("run.h5"), saved = dir.file("trained/model.safetensors");
  const TrainOutcome trained = train(run_yaml(optimizer, steps, log, saved), dir.path());
  ASSERT_EQ(trained.steps, steps);

  std::unique_ptr<Model> model = load_base();
  const std::unique_ptr<Model> base = load_base();
  const ReplayResult r = replay_run(*model, RunLogReader::open(log));
  EXPECT_EQ(r.steps_replayed, steps);
  EXPECT_EQ(r.steps_logged, steps);
  EXPECT_EQ(r.status, "completed");
  ASSERT_TRUE(r.logged_checksum.has_value());
  EXPECT_EQ(*r.logged_checksum, trained.checksum);
  EXPECT_EQ(r.checksum, trained.checksum);
  EXPECT_FALSE(same_bytes(*model, *base)) << "training changed nothing: the test would pass vacuously";

  // run.save wrote the trained weights (config.json copied beside, so the folder loads).
  const std::unique_ptr<Model> saved_model = load_model(saved);
  expect_same_bytes(*model, *saved_model);
  // ... and they are the trainer's own weights.
  expect_same_bytes(*model, *trained_directly(run_yaml(optimizer, steps, log), steps));
  const std::map<std::string, SummaryValue> summary = RunLogReader::open(log).summary();
  ASSERT_TRUE(summary.count("saved_weights"));
  EXPECT_EQ(std::get<std::string>(summary.at("saved_weights")), saved);
}

TEST(Replay, MezoTwoSidedWeightDecayLinearScheduleIsBitExact) { expect_replay_reproduces(kMezo, 6); }

TEST(Replay, BszoIsBitExact) { expect_replay_reproduces(kBszo, 5); }

TEST(Replay, FirstStepsEqualTheTrainerAfterThoseSteps) {
  TempDir dir;
  const std::string log = dir.file("run.h5");
  const std::string yaml = run_yaml(kMezo, 6, log);
  train(yaml, dir.path());
  for (int n : {0, 1, 3}) {
    SCOPED_TRACE("--steps " + std::to_string(n));
    std::unique_ptr<Model> model = load_base();
    ReplayOptions options;
    options.steps = n;
    const ReplayResult r = replay_run(*model, RunLogReader::open(log), options);
    EXPECT_EQ(r.steps_replayed, n);
    EXPECT_FALSE(r.logged_checksum.has_value()) << "final_checksum is of the weights after all steps";
    expect_same_bytes(*model, *trained_directly(yaml, n));
  }
  std::unique_ptr<Model> model = load_base();
  ReplayOptions too_many;
  too_many.steps = 7;
  const std::string err = error_of([&] { replay_run(*model, RunLogReader::open(log), too_many); });
  EXPECT_NE(err.find(log), std::string::npos) << err;
  EXPECT_NE(err.find("cannot replay 7 steps: the log holds 6"), std::string::npos) << err;
}

TEST(Replay, TamperedUpdatesAndWrongChecksumAreErrorsNamingTheLog) {
  TempDir dir;
  const std::string log = dir.file("run.h5");
  train(run_yaml(kMezo, 4, log), dir.path());

  const std::string copied = dir.file("copied.h5");
  copy_log(log, copied, {});
  std::unique_ptr<Model> model = load_base();
  EXPECT_TRUE(replay_run(*model, RunLogReader::open(copied)).logged_checksum.has_value()) << "the copy itself replays";

  const std::string tampered = dir.file("tampered.h5");
  LogEdit nudge;
  nudge.coefficient_delta = 1e-3;
  copy_log(log, tampered, nudge);
  model = load_base();
  std::string err = error_of([&] { replay_run(*model, RunLogReader::open(tampered)); });
  EXPECT_NE(err.find(tampered + ": replayed weights have checksum"), std::string::npos) << err;
  EXPECT_NE(err.find("final_checksum"), std::string::npos) << err;

  const std::string wrong = dir.file("wrong_checksum.h5");
  LogEdit other_checksum;
  other_checksum.final_checksum = "0123456789abcdef";
  copy_log(log, wrong, other_checksum);
  model = load_base();
  err = error_of([&] { replay_run(*model, RunLogReader::open(wrong)); });
  EXPECT_NE(err.find(wrong + ": replayed weights have checksum"), std::string::npos) << err;
  EXPECT_NE(err.find("0123456789abcdef"), std::string::npos) << err;

  const std::string garbled = dir.file("garbled_checksum.h5");
  LogEdit not_hex;
  not_hex.final_checksum = "not hex";
  copy_log(log, garbled, not_hex);
  model = load_base();
  err = error_of([&] { replay_run(*model, RunLogReader::open(garbled)); });
  EXPECT_NE(err.find(garbled + ": /summary final_checksum 'not hex' is not 16 hex digits"), std::string::npos) << err;

  // A base model in another dtype than the run's.
  LoadOptions bf16;
  bf16.dtype = DType::BF16;
  model = load_model(kTinyLm, bf16);
  err = error_of([&] { replay_run(*model, RunLogReader::open(log)); });
  EXPECT_NE(err.find(log + ": the run trained in f32"), std::string::npos) << err;
}

TEST(Replay, FailedRunReplaysWithoutAChecksumToCompare) {
  TempDir dir;
  const std::string log = dir.file("run.h5");
  train(run_yaml(kMezo, 3, log), dir.path());
  const std::string failed = dir.file("failed.h5");
  LogEdit killed;
  killed.final_checksum = "-";
  killed.failed = "killed at step 3";
  copy_log(log, failed, killed);
  std::unique_ptr<Model> model = load_base();
  const ReplayResult r = replay_run(*model, RunLogReader::open(failed));
  EXPECT_EQ(r.steps_replayed, 3);
  EXPECT_FALSE(r.logged_checksum.has_value());
  EXPECT_EQ(r.status, "failed: killed at step 3");
  std::unique_ptr<Model> reference = load_base();
  replay_run(*reference, RunLogReader::open(log));
  expect_same_bytes(*model, *reference);
}

TEST(Replay, LoggedRunConfigIsTheRunFile) {
  TempDir dir;
  const std::string log = dir.file("run.h5");
  train(run_yaml(kBszo, 1, log, "", "f32"), dir.path());
  const RunConfig c = logged_run_config(RunLogReader::open(log));
  EXPECT_EQ(c.optimizer.name, OptimizerKind::BSZO);
  EXPECT_EQ(c.model.path, kTinyLm);
  EXPECT_EQ(c.source, log + ":/config");
}

TEST(SaveWeights, RoundTripIsBitExactInTheRunDtype) {
  TempDir dir;
  for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
    SCOPED_TRACE(std::string(choice_name(dtype)));
    const std::unique_ptr<Model> model = load_base(dtype);
    // Perturb so the file is not merely the fixture's bytes converted back.
    const TrainableSpace space = TrainableSpace::select(*model, {});
    space.apply(model->params(), {{.seed = 3, .step = 0, .query = 0, .coeff = 0.01f}}, DirectionKind::Gaussian);
    // model.safetensors, so that its folder (config.json copied in) is a model directory.
    const std::string path = dir.file(std::string(choice_name(dtype)) + "/model.safetensors");
    SaveWeightsOptions options;
    options.model_path = kTinyLm;
    options.metadata = {{"zotune_steps", "0"}};
    save_weights(path, *model, options);

    const SafetensorsArchive archive = SafetensorsArchive::open(path);
    EXPECT_EQ(archive.names().size(), model->params().views().size());
    EXPECT_EQ(archive.metadata().at("format"), "pt");
    EXPECT_EQ(archive.metadata().at("zotune_steps"), "0");
    for (const ParamView& v : model->params().views())
      EXPECT_EQ(archive.at(v.name).dtype, safetensors_dtype_name(dtype)) << v.name;
    EXPECT_TRUE(fs::exists(fs::path(path).parent_path() / "config.json"));
    EXPECT_TRUE(fs::exists(fs::path(path).parent_path() / "tokenizer.json"));

    LoadOptions load;
    load.dtype = dtype;
    expect_same_bytes(*model, *load_model(path, load));
    expect_same_bytes(*model, *load_model(fs::path(path).parent_path().string(), load));
  }
}

TEST(SaveWeights, TrainableOnlyWritesTheTrainedTensors) {
  TempDir dir;
  const std::unique_ptr<Model> model = load_base();
  TrainableSelection head;
  head.mode = TrainableSelection::Mode::Head;
  const TrainableSpace space = TrainableSpace::select(*model, head);
  SaveWeightsOptions options;
  options.trainable_only = &space;
  const std::string path = dir.file("head.safetensors");
  save_weights(path, *model, options);
  const SafetensorsArchive archive = SafetensorsArchive::open(path);
  ASSERT_EQ(archive.names().size(), space.tensors().size());
  for (const TrainableTensor& t : space.tensors()) EXPECT_NE(archive.find(t.view->name), nullptr) << t.view->name;
  EXPECT_FALSE(fs::exists(dir.path() / "config.json")) << "no model_path given: nothing copied";
}

TEST(SaveWeights, RunSaveKeyDefaultsToNotSaving) {
  EXPECT_EQ(parse_run_config(run_yaml(kMezo, 1, "x.h5"), "a.yaml").run.save, "");
  EXPECT_EQ(parse_run_config(run_yaml(kMezo, 1, "x.h5", "out/w.safetensors"), "a.yaml").run.save, "out/w.safetensors");
}

}  // namespace
}  // namespace zotune
