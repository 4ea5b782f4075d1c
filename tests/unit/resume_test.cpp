// Resume's configuration check and the resume point's broadcast form (core/train/resume.h).
// The end-to-end checks (a run stopped by a signal and resumed ends on the uninterrupted
// checksum) are train.kill_resume_* in tests/train/check_train_runs.py.
#include <gtest/gtest.h>

#include <string>

#include "core/config/run_config.h"
#include "core/train/resume.h"

namespace zotune {
namespace {

const char* kRun = R"(run:
  seed: 3
  steps: 40
model:
  path: /models/tiny
task:
  name: lm
  max_length: 16
  texts:
    - "one two three"
optimizer:
  name: mezo
  lr: 1e-3
  eps: 1e-3
data:
  batch_size: 1
eval:
  every: 0
)";

RunConfig parsed(const std::string& text) { return parse_run_config(text, "run.yaml"); }

// What a run log's /config holds: the resolved run file and the defaults in force.
std::string logged_text(const RunConfig& config) { return config.text + config.defaults_text; }

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ResumeConfig, TheSameConfigurationHasNoDifference) {
  const RunConfig config = parsed(kRun);
  EXPECT_EQ(first_config_difference(logged_text(config), config), "");
}

TEST(ResumeConfig, NamesTheFirstKeyThatDiffersWithBothValues) {
  const RunConfig logged = parsed(kRun);
  const RunConfig now = parsed(replaced(replaced(kRun, "lr: 1e-3", "lr: 2e-3"), "steps: 40", "steps: 50"));
  // run.steps comes before optimizer.lr in schema order.
  EXPECT_EQ(first_config_difference(logged_text(logged), now), "run.steps: the log has 40, the run file gives 50");
  const RunConfig lr_only = parsed(replaced(kRun, "lr: 1e-3", "lr: 2e-3"));
  EXPECT_EQ(first_config_difference(logged_text(logged), lr_only), "optimizer.lr: the log has 1e-3, the run file gives 2e-3");
}

TEST(ResumeConfig, ComparesValuesNotSpellings) {
  const RunConfig logged = parsed(kRun);
  EXPECT_EQ(first_config_difference(logged_text(logged), parsed(replaced(kRun, "lr: 1e-3", "lr: 0.001"))), "");
}

TEST(ResumeConfig, AKeySetOnOneSideOnlyIsADifferenceUnlessItsValueIsTheDefault) {
  const RunConfig logged = parsed(kRun);
  // weight_decay 0.0 is the default in force: writing it changes nothing.
  EXPECT_EQ(first_config_difference(logged_text(logged), parsed(replaced(kRun, "  eps: 1e-3\n", "  eps: 1e-3\n  weight_decay: 0.0\n"))),
            "");
  EXPECT_EQ(first_config_difference(logged_text(logged), parsed(replaced(kRun, "  eps: 1e-3\n", "  eps: 1e-3\n  weight_decay: 0.5\n"))),
            "optimizer.weight_decay: the log has 0.0, the run file gives 0.5");
}

TEST(ResumeConfig, ADefaultThatChangedSinceTheRunIsADifference) {
  const RunConfig config = parsed(kRun);
  const std::string logged = replaced(logged_text(config), "#   weight_decay: 0.0  # default", "#   weight_decay: 0.1  # default");
  EXPECT_EQ(first_config_difference(logged, config), "optimizer.weight_decay: the log has 0.1, the run file gives 0.0");
  // The wording of a default's source is not compared.
  const std::string reworded = replaced(logged_text(config), "#   weight_decay: 0.0  # default", "#   weight_decay: 0.0  # another source");
  EXPECT_EQ(first_config_difference(reworded, config), "");
}

// A log written before a key existed: the key, left at its default now, is the behaviour the
// run had (keys are added with it as their default); set explicitly, it is a difference.
TEST(ResumeConfig, AKeyNewerThanTheLogAtItsDefaultIsNoDifference) {
  const RunConfig config = parsed(kRun);
  const std::string line = "#   weight_decay: 0.0  # default\n";
  const std::string older = replaced(logged_text(config), line, "");
  ASSERT_EQ(older.find("weight_decay"), std::string::npos);
  EXPECT_EQ(first_config_difference(older, config), "");
  EXPECT_EQ(first_config_difference(older, parsed(replaced(kRun, "  eps: 1e-3\n", "  eps: 1e-3\n  weight_decay: 0.5\n"))),
            "optimizer.weight_decay: the log has (not set), the run file gives 0.5");
  // A key the log has and the run file no longer knows is still a difference.
  const std::string newer = logged_text(config) + "#   no_such_key: 1  # default\n";
  EXPECT_NE(first_config_difference(newer, config), "");
}

TEST(ResumeConfig, KeysThatDoNotChangeTheRunMayDiffer) {
  const RunConfig logged = parsed(kRun);
  const RunConfig now = parsed(replaced(kRun, "  steps: 40\n", "  steps: 40\n  progress: off\n  log_every: 7\n  flush_every: 3\n"));
  EXPECT_EQ(first_config_difference(logged_text(logged), now), "");
  EXPECT_TRUE(resume_may_change("distributed.timeout_s"));
  EXPECT_FALSE(resume_may_change("run.seed"));
}

TEST(ResumePoint, SurvivesItsBroadcastForm) {
  ResumePoint point;
  point.steps = 2;
  point.inputs = {{0, 1e-3, {5.25, 5.5}}, {1, 9e-4, {5.0, 4.75, 4.5}}};
  LoggedUpdate first;
  first.step = 0;
  first.decay_scale = 0.999f;
  cpu::DirectionTerm t;
  t.seed = 0x1234567890abcdefULL;
  t.step = 0;
  t.query = 3;
  t.coeff = -0.125f;
  first.terms = {t};
  LoggedUpdate second;
  second.step = 1;
  point.updates = {first, second};
  point.evals = {{0, {{"train_loss", 5.9}, {"dev_loss", 6.1}}}, {2, {{"dev_loss", 6.0}}}};

  const ResumePoint back = deserialize_resume_point(serialize_resume_point(point));
  EXPECT_EQ(back.steps, 2);
  ASSERT_EQ(back.inputs.size(), 2u);
  EXPECT_EQ(back.inputs[1].step, 1u);
  EXPECT_EQ(back.inputs[1].lr, 9e-4);
  EXPECT_EQ(back.inputs[1].probe_losses, (std::vector<double>{5.0, 4.75, 4.5}));
  ASSERT_EQ(back.updates.size(), 2u);
  EXPECT_EQ(back.updates[0].decay_scale, 0.999f);
  ASSERT_EQ(back.updates[0].terms.size(), 1u);
  EXPECT_EQ(back.updates[0].terms[0].seed, t.seed);
  EXPECT_EQ(back.updates[0].terms[0].query, 3u);
  EXPECT_EQ(back.updates[0].terms[0].coeff, -0.125f);
  EXPECT_TRUE(back.updates[1].terms.empty());
  ASSERT_EQ(back.evals.size(), 2u);
  EXPECT_EQ(back.evals[0].metrics.at("dev_loss"), 6.1);
  EXPECT_EQ(back.evals[1].step, 2);
  EXPECT_THROW(deserialize_resume_point(serialize_resume_point(point).substr(0, 20)), Error);
}

}  // namespace
}  // namespace zotune
