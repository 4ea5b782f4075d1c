// The zotune command: one subcommand per job, each in its own file (cli_*.cpp).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cli/commands.h"
#include "core/util/error.h"
#include "core/util/stop_signals.h"
#include "core/util/suggest.h"
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
  CLI::App app{"zotune: zeroth-order fine-tuning of language models", "zotune"};
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
  zotune::cli::register_export(app);
  zotune::cli::register_grid(app);
  zotune::cli::register_prompts(app);
  // Bare `zotune`: the help, not "A subcommand is required".
  if (argc == 1) {
    std::printf("%s", app.help().c_str());
    return 0;
  }
  // A first word that is no subcommand (nor an option): say which one was meant.
  if (argv[1][0] != '-') {
    std::vector<std::string_view> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), std::string_view(argv[1])) == names.end()) {
      const std::optional<std::string_view> guess = zotune::closest_spelling(argv[1], names);
      std::string known;
      for (std::string_view n : names) known += (known.empty() ? "" : ", ") + std::string(n);
      std::fprintf(stderr, "zotune: '%s' is not a zotune command%s (commands: %s; zotune --help)\n", argv[1],
                   guess ? ("; did you mean '" + std::string(*guess) + "'?").c_str() : "", known.c_str());
      return 1;
    }
  }
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
