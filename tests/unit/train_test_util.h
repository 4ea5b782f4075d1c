// Shared by the tests that train through run_training: one run file, quietly, into a log
// under the test's own folder.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/config/run_config.h"
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

}  // namespace zotune::test
