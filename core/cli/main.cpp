// The zotune command: one subcommand per job, each in its own file (cli_*.cpp).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "core/cli/commands.h"
#include "core/util/error.h"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const zotune::Error& e) {
    std::fprintf(stderr, "zotune: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zotune: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
