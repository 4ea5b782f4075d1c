// Grid files: expansion (axes crossed in order, zipped groups, seeds, per-value rules,
// exclusions, names) and every class of error with its file and line; run files with a base
// and command-line overrides; the resolved run file and its path convention.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/config/run_config.h"
#include "core/grid/grid_executor.h"
#include "core/grid/grid_spec.h"
#include "core/train/task_setup.h"
#include "core/grid/slurm_script.h"
#include "core/util/error.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;

// A scratch folder per test with a base run file in it.
class GridTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zotune_grid_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "runs");
    write("runs/base.yaml",
          "run:\n  steps: 10\nmodel:\n  path: ../models/tiny\ntask:\n  name: lm\n  texts: [\"a b c\"]\n"
          "optimizer:\n  name: mezo\n  lr: 1e-3\n  eps: 1e-3\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }
  Grid grid(const std::string& text) { return load_grid(write("g.yaml", text).string()); }
  std::string grid_error(const std::string& text) {
    try {
      grid(text);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  }
  std::string g() const { return (dir_ / "g.yaml").string(); }

  fs::path dir_;
};

std::vector<std::string> names(const Grid& grid) {
  std::vector<std::string> out;
  for (const GridRun& r : grid.runs) out.push_back(r.name);
  return out;
}

TEST_F(GridTest, AxesAreCrossedInOrderLastFastest) {
  const Grid gr = grid("base: runs/base.yaml\naxes:\n  optimizer.lr: [1e-3, 1e-4]\n  optimizer.eps: [1e-2, 1e-3, 1e-4]\n"
                       "name: \"lr{optimizer.lr}-eps{optimizer.eps}\"\n");
  ASSERT_EQ(gr.runs.size(), 6u);
  EXPECT_EQ(names(gr), (std::vector<std::string>{"lr1e-3-eps1e-2", "lr1e-3-eps1e-3", "lr1e-3-eps1e-4", "lr1e-4-eps1e-2",
                                                 "lr1e-4-eps1e-3", "lr1e-4-eps1e-4"}));
  EXPECT_EQ(gr.varying_keys, (std::vector<std::string>{"optimizer.lr", "optimizer.eps"}));
  EXPECT_DOUBLE_EQ(gr.runs[4].config.optimizer.lr, 1e-4);
  EXPECT_DOUBLE_EQ(gr.runs[4].config.optimizer.eps, 1e-3);
  EXPECT_EQ(gr.runs[4].config.run.steps, 10) << "the base's keys";
  EXPECT_EQ(gr.runs[4].config.run.name, "lr1e-4-eps1e-3");
  EXPECT_EQ(gr.output_dir, (fs::current_path() / "runs" / "g").string()) << "default output: runs/<grid> here";
  EXPECT_EQ(gr.runs[4].config.run.output, gr.output_dir + "/lr1e-4-eps1e-3.h5");
  EXPECT_EQ(gr.runs[4].log_path, gr.runs[4].config.run.output);
  EXPECT_EQ(gr.runs[0].config.model.path, (dir_ / "models/tiny").string()) << "relative to the base run file";
}

TEST_F(GridTest, ZippedGroupsSeedsSetAndOutput) {
  const Grid gr = grid(
      "base: runs/base.yaml\n"
      "set:\n  run.steps: 7\n  data:\n    batch_size: 1\n"
      "zip:\n  - optimizer.name: [mezo, bszo]\n    optimizer.eps: [1e-3, 1e-4]\n"
      "seeds: [1, 2]\n"
      "output: out/here\n");
  ASSERT_EQ(gr.runs.size(), 4u);
  EXPECT_EQ(names(gr), (std::vector<std::string>{"name=mezo_eps=1e-3_seed=1", "name=mezo_eps=1e-3_seed=2",
                                                 "name=bszo_eps=1e-4_seed=1", "name=bszo_eps=1e-4_seed=2"}))
      << "the default name: every varying key's name and value";
  EXPECT_EQ(gr.runs[2].config.optimizer.name, OptimizerKind::BSZO);
  EXPECT_DOUBLE_EQ(gr.runs[2].config.optimizer.eps, 1e-4);
  EXPECT_EQ(gr.runs[3].config.run.seed, 2u);
  EXPECT_EQ(gr.runs[3].config.run.steps, 7);
  EXPECT_EQ(gr.runs[3].config.data.batch_size, 1);
  EXPECT_EQ(gr.output_dir, (dir_ / "out/here").string()) << "relative to the grid file";
}

// Command-line overrides (`zotune grid GRID VERB key=value`) set a key in every run after
// everything the grid file sets; a key the grid varies, run.name and run.output are refused,
// and the Slurm script passes the overrides on to its tasks.
TEST_F(GridTest, CommandLineOverridesSetEveryRunAndMayNotTouchTheVaryingKeys) {
  const std::string text =
      "base: runs/base.yaml\nset:\n  run.steps: 7\naxes:\n  optimizer.lr: [1e-3, 1e-4]\nseeds: [1, 2]\n";
  write("g.yaml", text);
  const Grid gr = load_grid(g(), {"run.steps=3", "model.path=/elsewhere/model"});
  ASSERT_EQ(gr.runs.size(), 4u);
  for (const GridRun& r : gr.runs) {
    EXPECT_EQ(r.config.run.steps, 3) << r.name << ": the override comes after the grid's set";
    EXPECT_EQ(r.config.model.path, "/elsewhere/model") << r.name;
  }
  EXPECT_DOUBLE_EQ(gr.runs[2].config.optimizer.lr, 1e-4);
  EXPECT_EQ(gr.overrides, (std::vector<std::string>{"run.steps=3", "model.path=/elsewhere/model"}));
  auto error_of = [&](const std::string& o) {
    try {
      load_grid(g(), {o});
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of("optimizer.lr=1e-2"), "override optimizer.lr=1e-2: optimizer.lr varies in " + g() +
                                               " (an axis, zip or seed list); setting it in every run would make runs the same");
  EXPECT_NE(error_of("run.seed=4").find("run.seed varies in"), std::string::npos);
  EXPECT_NE(error_of("run.output=x.h5").find("the grid names its runs"), std::string::npos);
  EXPECT_NE(error_of("run.stpes=3").find("did you mean 'run.steps'"), std::string::npos);
  SlurmOptions so;
  so.zotune = "/bin/zotune";
  EXPECT_NE(slurm_script(gr, so).find("run --index \"$index\" --ranks 1 'run.steps=3' 'model.path=/elsewhere/model' &"),
            std::string::npos)
      << slurm_script(gr, so);
}

TEST_F(GridTest, WhenRulesSetKeysAndReplaceAxes) {
  const Grid gr = grid(
      "base: runs/base.yaml\n"
      "axes:\n  optimizer.name: [mezo, bszo]\n  optimizer.lr: [1e-3, 1e-4]\n"
      "when:\n"
      "  - match: {optimizer.name: bszo}\n"
      "    set: {optimizer.eps: 1e-4, optimizer.k: 3}\n"
      "    axes: {optimizer.lr: [1e-2, 1e-3, 1e-4]}\n"
      "name: \"{optimizer.name}-{optimizer.lr}\"\n");
  EXPECT_EQ(names(gr), (std::vector<std::string>{"mezo-1e-3", "mezo-1e-4", "bszo-1e-2", "bszo-1e-3", "bszo-1e-4"}));
  EXPECT_DOUBLE_EQ(gr.runs[0].config.optimizer.eps, 1e-3);
  EXPECT_DOUBLE_EQ(gr.runs[2].config.optimizer.eps, 1e-4) << "the rule's set";
  EXPECT_EQ(gr.runs[2].config.optimizer.k, 3);
  EXPECT_EQ(gr.runs[0].config.optimizer.k, 0) << "not set for mezo (a BSZO key)";
}

// A rule overriding a `set` key must not change that key for the runs after it: yaml-cpp's
// nodes are shared references, and resolving a run once overwrote the `set` layer's node with
// the rule's value (every later run then had patience 5). The key is one the base run file does
// not give, so no earlier layer hides the change.
TEST_F(GridTest, ARuleOverridingASetKeyLeavesTheOtherRunsTheirValue) {
  const Grid gr = grid(
      "base: runs/base.yaml\n"
      "set: {eval.patience: 3}\n"
      "axes:\n  optimizer.lr: [1e-3, 1e-4, 1e-5]\n"
      "when:\n"
      "  - match: {optimizer.lr: 1e-4}\n"
      "    set: {eval.patience: 5}\n"
      "name: \"{optimizer.lr}\"\n");
  ASSERT_EQ(gr.runs.size(), 3u);
  EXPECT_EQ(gr.runs[0].config.eval.patience, 3);
  EXPECT_EQ(gr.runs[1].config.eval.patience, 5) << "the rule's value";
  EXPECT_EQ(gr.runs[2].config.eval.patience, 3) << "the set layer's value, after a run the rule matched";
}

TEST_F(GridTest, ExcludedCombinationsCompareNumbersByValue) {
  const Grid gr = grid(
      "base: runs/base.yaml\n"
      "axes:\n  optimizer.name: [mezo, bszo]\n  optimizer.lr: [1e-3, 1e-4]\n  run.seed: [1, 2]\n"
      "exclude:\n  - {optimizer.name: bszo, optimizer.lr: 0.001}\n  - {run.seed: [2], optimizer.name: mezo}\n"
      "name: \"{optimizer.name}-{optimizer.lr}-{run.seed}-{index}\"\n");
  EXPECT_EQ(names(gr), (std::vector<std::string>{"mezo-1e-3-1-0", "mezo-1e-4-1-1", "bszo-1e-4-1-2", "bszo-1e-4-2-3"}));
}

TEST_F(GridTest, BadValueInOneRunIsAnErrorNamingTheGridLine) {
  const std::string error = grid_error(
      "base: runs/base.yaml\n"
      "axes:\n"
      "  optimizer.lr: [1e-3, 1e-4]\n"
      "  optimizer.eps: [1e-3,\n"
      "                  -1]\n");
  EXPECT_EQ(error, g() + ":5: optimizer.eps: must be > 0, got -1 (run 1 of 4: lr=1e-3_eps=-1)");
}

TEST_F(GridTest, ErrorsNameTheGridFileAndLine) {
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxis:\n  optimizer.lr: [1]\n"),
            g() + ":2: axis: unknown grid key (known: base, set, axes, zip, seeds, when, exclude, name, output)");
  EXPECT_EQ(grid_error("base: runs/nope.yaml\n"), (dir_ / "runs/nope.yaml").string() + ": no such run file");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lr: []\n"),
            g() + ":3: optimizer.lr: expected a non-empty list of values");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lr: [1e-3]\nseeds: [1]\nzip:\n  - run.seed: [1, 2]\n"
                       "    optimizer.eps: [1e-3, 1e-4]\n"),
            g() + ":6: run.seed: varies twice (on two axes, zipped groups or seeds)");
  EXPECT_EQ(grid_error("base: runs/base.yaml\nzip:\n  - optimizer.lr: [1e-3, 1e-4]\n    optimizer.eps: [1e-3]\n"),
            g() + ":4: optimizer.eps: has 1 values, the group's first key optimizer.lr has 2 (zipped keys vary together)");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lr: [1e-3, 1e-4]\nname: \"{optimizer.eps}\"\n"),
            g() + ":4: name: runs 0 and 1 both get the name '1e-3'; put the keys that tell them apart in the template");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lr: [1e-3, 1e-4]\nname: \"{optimizer.k}-{index}\"\n"),
            g() + ":4: name: {optimizer.k} is neither {index}, {grid} nor a key this grid sets or varies");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lr: [1e-3]\nexclude:\n  - {optimizer.eps: 1}\n"),
            g() + ":5: exclude[0]: optimizer.eps: is not a key the grid varies (axes, zip, seeds)");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lr: [1e-3, 1e-4]\n  optimizer.name: [mezo, bszo]\n"
                       "when:\n  - match: {optimizer.name: bszo}\n    axes: {optimizer.lr: [1]}\n"),
            g() + ":6: when[0]: matches on optimizer.name, which varies after (or with) optimizer.lr; write the axis of "
                  "optimizer.name first");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lr: [1e-3]\nwhen:\n  - match: {optimizer.lr: 1e-3}\n"
                       "    set: {optimizer.lr: 1}\n"),
            g() + ":6: when[0].set: optimizer.lr: varies on an axis; give it other values with when[0].axes");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lrr: [1e-3]\n"),
            g() + ":3: optimizer.lrr: unknown key; did you mean 'optimizer.lr'? (run 0 of 1: lrr=1e-3)");
  EXPECT_EQ(grid_error("base: runs/base.yaml\naxes:\n  optimizer.lr: [1e-3]\nexclude:\n  - {optimizer.lr: 1e-3}\n"),
            g() + ": the grid expands to no run (every combination is excluded)");
}

TEST_F(GridTest, ExampleGridsExpand) {
  const fs::path grids = fs::path(ZOTUNE_SOURCE_DIR) / "experiments" / "grids";
  int n = 0;
  for (const auto& entry : fs::recursive_directory_iterator(grids)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(load_grid(entry.path().string()));
    ++n;
  }
  EXPECT_GE(n, 1);
  const Grid tiny = load_grid((grids / "tiny.yaml").string());
  EXPECT_EQ(tiny.runs.size(), 8u) << "2 methods x 2 learning rates x 2 seeds";
}

// The at-our-scale paper grids give WiC FewGLUE's splits (sampling sizes) by a rule written last
// and MeZO BSZO's sampling by another: each run must get its own task's rule and no other's.
// Where the shared data folder is present, every distinct task setting also samples as
// training will (the sizes fit the files) before any GPU time goes to the grid.
TEST_F(GridTest, PaperGridRulesApplyToTheirRunsOnly) {
  const fs::path papers = fs::path(ZOTUNE_SOURCE_DIR) / "experiments" / "grids" / "papers";
  for (const char* file : {"bszo-3-smollm2.yaml", "bszo-1-minilm.yaml"}) {
    SCOPED_TRACE(file);
    const Grid gr = load_grid((papers / file).string());
    std::set<std::string> sampled;
    for (const GridRun& run : gr.runs) {
      SCOPED_TRACE(run.name);
      const TaskSettings& task = run.config.task;
      if (fs::is_directory(task.data_dir) &&
          sampled.insert(task.name + "|" + std::to_string(static_cast<int>(task.sampling)) + "|" + task.train).second)
        EXPECT_NO_THROW(sampled_task_summary(run.config));
      if (task.name == "wic") {
        EXPECT_EQ(task.sampling, TaskSampling::Sizes);
        EXPECT_EQ(task.num_train, 32);
      } else {
        EXPECT_EQ(task.sampling, TaskSampling::BSZO) << "every other run: BSZO's Table 6 splits";
        EXPECT_TRUE(task.train.empty());
      }
    }
  }
}

// The executor samples each distinct task setting's data before it starts any run: a split larger
// than its file is refused with the file and the run named, and nothing is trained.
TEST_F(GridTest, RunRefusesDataThatDoesNotFitItsSplitsBeforeTraining) {
  const std::string reviews = std::string(ZOTUNE_SOURCE_DIR) + "/experiments/data/movie_reviews";
  const Grid gr = grid("set:\n  model.path: " + std::string(ZOTUNE_FIXTURES_DIR) + "/train/tiny_lm\n" +
                       "  task: {name: sst2, train: " + reviews + "/train.tsv, test: " + reviews +
                       "/test.tsv, num_dev: 24, num_test: 40}\n"
                       "  optimizer: {name: mezo, lr: 1e-3, eps: 1e-3}\n"
                       "axes:\n  task.num_train: [48, 450]\n"
                       "name: \"n{task.num_train}\"\noutput: out\n");
  GridRunOptions options;
  options.zotune = "/nonexistent/zotune";  // never started: the refusal comes first
  std::string error;
  try {
    run_grid(gr, options);
  } catch (const Error& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("the data of the runs to train does not fit their task settings"), std::string::npos) << error;
  EXPECT_NE(error.find("train.tsv"), std::string::npos) << error;
  EXPECT_NE(error.find("(run 1 n450 and the runs sharing its task settings)"), std::string::npos) << error;
  EXPECT_EQ(error.find("n48"), std::string::npos) << "the run whose data fits is not named: " << error;
  EXPECT_FALSE(fs::exists(gr.runs[0].log_path)) << "nothing trained";
}

// ---- Run files: base, overrides, paths, the resolved text.

std::string load_error(const fs::path& file, const std::vector<std::string>& overrides = {}) {
  try {
    load_run_config(file.string(), overrides);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST_F(GridTest, RunFileBaseLaterKeysWin) {
  const fs::path child = write("exp/child.yaml", "base: ../runs/base.yaml\noptimizer:\n  lr: 5e-4\n");
  const RunConfig c = load_run_config(child.string());
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 5e-4) << "the child's key wins";
  EXPECT_DOUBLE_EQ(c.optimizer.eps, 1e-3) << "the base's key stays";
  EXPECT_EQ(c.run.name, "child") << "named after the file run, not its base";
  EXPECT_EQ(c.model.path, (dir_ / "models/tiny").string()) << "a base's path is relative to the base's folder";
  EXPECT_EQ(c.origins.at("optimizer.lr"), child.string() + ":3");
  EXPECT_EQ(c.origins.at("optimizer.eps"), (dir_ / "runs/base.yaml").string() + ":11");
}

TEST_F(GridTest, RunFileBaseErrors) {
  const fs::path missing = write("a.yaml", "run:\n  steps: 3\nbase: nope.yaml\n");
  EXPECT_EQ(load_error(missing), missing.string() + ":3: base: no such run file: " + (dir_ / "nope.yaml").string());
  const fs::path a = write("cycle_a.yaml", "base: cycle_b.yaml\n");
  write("cycle_b.yaml", "base: cycle_a.yaml\n");
  EXPECT_EQ(load_error(a), (dir_ / "cycle_b.yaml").string() + ":1: base: the bases form a cycle: " +
                               fs::canonical(a).string() + " -> " + fs::canonical(dir_ / "cycle_b.yaml").string() + " -> " +
                               fs::canonical(a).string());
  const fs::path bad_in_base = write("bad_base.yaml", "run:\n  steps: 0\n");
  const fs::path child = write("child_of_bad.yaml", "base: bad_base.yaml\n");
  EXPECT_EQ(load_error(child), bad_in_base.string() + ":2: run.steps: must be >= 1, got 0") << "the base's line";
  EXPECT_EQ(load_error(write("nested.yaml", "run:\n  base: x\n") ),
            (dir_ / "nested.yaml").string() + ":2: run.base: unknown key (zotune config --defaults lists every key)");
}

TEST_F(GridTest, CommandLineOverrides) {
  const fs::path base = dir_ / "runs/base.yaml";
  const RunConfig c = load_run_config(base.string(), {"optimizer.lr=2e-5", "run.steps=50", "task.texts=[x, y]",
                                                      "model.path=local/model"});
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 2e-5);
  EXPECT_EQ(c.run.steps, 50);
  EXPECT_EQ(c.task.texts, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(c.model.path, (fs::current_path() / "local/model").string()) << "relative to the current directory";
  EXPECT_EQ(load_error(base, {"optimizer.lrr=1e-3"}),
            "command line (optimizer.lrr=1e-3): optimizer.lrr: unknown key; did you mean 'optimizer.lr'?");
  EXPECT_EQ(load_error(base, {"optimizer.lr=-1"}), "command line (optimizer.lr=-1): optimizer.lr: must be > 0, got -1");
  EXPECT_EQ(load_error(base, {"optimizer.lr"}),
            "command line (optimizer.lr): expected an override dotted.key=value (e.g. optimizer.lr=1e-5)");
  EXPECT_EQ(load_error(base, {"steps=5"}), "command line (steps=5): steps: expected a dotted key section.key; did you mean 'run.steps'?");
  EXPECT_EQ(load_error(base, {"optimizer.k=2"}),
            "command line (optimizer.k=2): optimizer.k: does not apply to optimizer 'mezo' (only to bszo, bszo-b)");
}

TEST_F(GridTest, ResolvedTextParsesBackToItself) {
  const fs::path child =
      write("exp/child.yaml", "base: ../runs/base.yaml\nrun:\n  name: \"odd: name\"\ntask:\n  texts: [\"quote \\\" and\\ttab\"]\n");
  const RunConfig c = load_run_config(child.string(), {"optimizer.name=bszo", "trainable.freeze=[norms, embeddings]"});
  EXPECT_EQ(c.text.find("base"), std::string::npos) << "self-contained";
  const RunConfig again = parse_run_config(c.text, "again.yaml");
  EXPECT_EQ(again.text, c.text) << "a fixed point: what the grid executor compares with the log";
  EXPECT_EQ(again.run.name, "odd: name");
  EXPECT_EQ(again.task.texts, c.task.texts);
  EXPECT_EQ(again.model.path, c.model.path);
  EXPECT_EQ(again.optimizer.name, OptimizerKind::BSZO);
  EXPECT_EQ(again.trainable.freeze, c.trainable.freeze);
  const fs::path written = write("resolved.yaml", c.text);
  EXPECT_EQ(load_run_config(written.string()).text, c.text) << "loaded from a file elsewhere: absolute paths stay";
}

}  // namespace
}  // namespace zotune
