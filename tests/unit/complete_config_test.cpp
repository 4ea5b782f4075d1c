// complete_config_text (a run log's /config_resolved): every key in force, the defaults the run
// took written as keys with their sources, one YAML document that parses back to the same run.
#include "core/config/complete_config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/train/resume.h"
#include "core/util/error.h"
#include "core/util/split_text.h"

namespace zotune {
namespace {


// Run files of every optimizer, a registered task with a dev set, list-valued keys (task.texts).
const char* const kRunFiles[] = {
    "experiments/runs/tiny_mezo.yaml",     "experiments/runs/tiny_bszo.yaml",  "experiments/runs/tiny_adazeta.yaml",
    "experiments/runs/tiny_hizoo.yaml",    "experiments/runs/tiny_lozo.yaml",  "experiments/runs/tiny_sparse_mezo.yaml",
    "experiments/runs/tiny_mezo_adam.yaml", "tests/train/invariance_task.yaml", "tests/train/invariance_bszo.yaml",
};

TEST(CompleteConfig, EveryDefaultBecomesAKeyAndTheDocumentParsesBackToTheSameRun) {
  for (const char* relative : kRunFiles) {
    const std::string path = std::string(ZOTUNE_SOURCE_DIR) + "/" + relative;
    SCOPED_TRACE(path);
    const RunConfig config = load_run_config(path);
    const std::string complete = complete_config_text(config);
    ASSERT_FALSE(config.defaults_text.empty());
    // Each default ("#   leaf: value  # source") is a key line with its source.
    int defaults = 0;
    for (const std::string& line : split_text(config.defaults_text, '\n'))
      if (line.rfind("#   ", 0) == 0) {
        ++defaults;
        EXPECT_NE(complete.find("\n  " + line.substr(4) + "\n"), std::string::npos) << line;
      }
    EXPECT_GT(defaults, 5);
    // Each line the run file sets, as RunConfig::text writes it.
    for (const std::string& line : split_text(config.text, '\n')) EXPECT_NE(complete.find(line + "\n"), std::string::npos) << line;
    // The same run: every key has the value the run file and its defaults give, both ways.
    const RunConfig back = parse_run_config(complete, path + " (complete)");
    EXPECT_EQ(first_config_difference(complete, config), "");
    EXPECT_EQ(first_config_difference(config.text + config.defaults_text, back), "");
    // Complete already: its own completion adds no default.
    EXPECT_EQ(back.defaults_text, "");
  }
}

TEST(CompleteConfig, ListValuedKeysKeepTheirItems) {
  const RunConfig config = load_run_config(std::string(ZOTUNE_SOURCE_DIR) + "/experiments/runs/tiny_mezo.yaml");
  const std::string complete = complete_config_text(config);
  EXPECT_NE(complete.find("  texts:\n    - \"The capital of France is Paris.\"\n"), std::string::npos) << complete;
  const RunConfig back = parse_run_config(complete, "complete");
  EXPECT_EQ(back.task.texts, config.task.texts);
}

TEST(CompleteConfig, TextNotInTheResolverLayoutIsAnInternalError) {
  RunConfig config;
  config.source = "run.yaml";
  config.text = "run:\nsteps 3\n";
  EXPECT_THROW(complete_config_text(config), Error);
}

}  // namespace
}  // namespace zotune
