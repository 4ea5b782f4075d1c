// Shared by the tests that train through run_training: one run file, quietly, into a log
// under the test's own folder.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/config/run_config.h"
#include "core/log/run_log_reader.h"
#include "core/model/model.h"
#include "core/train/replay.h"
#include "core/train/run_training.h"
#include "distributed/communicator.h"

namespace zotune::test {

inline TrainOutcome train_quietly(const std::string& yaml, const std::filesystem::path& dir) {
  const RunConfig config = parse_run_config(yaml, (dir / "run.yaml").string());
  Communicator comm = Communicator::world();
  TrainInvocation invocation;
  invocation.overwrite = true;
  std::FILE* quiet = std::fopen("/dev/null", "w");
  invocation.progress = quiet;
  TrainOutcome out = run_training(config, comm, invocation);
  std::fclose(quiet);
  return out;
}

// A PEFT run's saved weights (`trained`) against the base model with freshly initialized
// modules (`fresh`, fp32 views): every PEFT tensor moved, every backbone byte unchanged; and
// replaying the run's log onto `fresh` gives the run's checksum, as logged.
inline void expect_peft_run_trained_and_replays(Model& fresh, const Model& trained, const std::string& log,
                                                uint64_t checksum) {
  for (const ParamView& v : fresh.params().views()) {
    const ParamView& t = trained.params().at(v.name);
    const bool same =
        std::memcmp(fresh.params().data(v), trained.params().data(t), static_cast<size_t>(v.numel) * 4) == 0;
    if (v.name.rfind("peft.", 0) == 0)
      EXPECT_FALSE(same) << v.name << " did not train";
    else
      EXPECT_TRUE(same) << v.name << " is backbone and changed";
  }
  const RunLogReader reader = RunLogReader::open(log);
  const ReplayResult r = replay_run(fresh, reader);
  EXPECT_EQ(r.checksum, checksum);
  ASSERT_TRUE(r.logged_checksum.has_value());
  EXPECT_EQ(*r.logged_checksum, checksum);
}

}  // namespace zotune::test
