// The zotune command: one subcommand per job, each in its own file (cli_*.cpp).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "core/cli/commands.h"
#include "core/util/error.h"
#include "core/util/stop_signals.h"
#include "distributed/communicator.h"
#include "distributed/world.h"

#include <chrono>
#include <thread>

namespace {

// Prints the error (once per job when every rank fails alike: rank 0 plainly, other ranks
// only with their rank, so a rank failing alone is still heard) and returns the exit code.
int fail(int code, const char* kind, const char* message) {
  if (!zotune::World::started() || zotune::World::instance().size() == 1) {
    std::fprintf(stderr, "zotune: %s: %s\n", kind, message);
    return code;
  }
  const zotune::World& world = zotune::World::instance();
  if (world.is_root())
    std::fprintf(stderr, "zotune: %s: %s\n", kind, message);
  else
    std::fprintf(stderr, "zotune: rank %d: %s: %s\n", world.rank(), kind, message);
  world.arm_abort_watchdog(code, 30);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zotune: zeroth-order fine-tuning of language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(ZOTUNE_VERSION) + " (" + ZOTUNE_GIT_REVISION + ")");
  zotune::cli::register_inspect(app);
  zotune::cli::register_generate(app);
  zotune::cli::register_score(app);
  zotune::cli::register_bench(app);
  zotune::cli::register_show(app);
  zotune::cli::register_config(app);
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  zotune::cli::register_train(app, command_line);
  zotune::cli::register_eval(app);
  zotune::cli::register_replay(app);
  zotune::cli::register_grid(app);
  zotune::cli::register_prompts(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const zotune::RunStopped& e) {
    // Every rank stopped after the same step; the log says interrupted.
    return fail(e.exit_code(), "stopped", e.what());
  } catch (const zotune::CollectiveTimeout& e) {
    // A collective is left pending: the job cannot finalize. Rank 0 has marked the log failed
    // (unless it is the silent rank); the others give it a few seconds to do so before they end
    // the job themselves.
    const int code = zotune::kExitCollectiveTimeout;
    fail(code, "error", e.what());
    const zotune::World& world = zotune::World::instance();
    if (!world.is_root()) std::this_thread::sleep_for(std::chrono::seconds(5));
    world.abort(code);
  } catch (const zotune::Error& e) {
    return fail(1, "error", e.what());
  } catch (const std::exception& e) {
    return fail(2, "internal error", e.what());
  }
  return 0;
}
