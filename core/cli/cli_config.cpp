// zotune config: the run-file reference (--defaults), or a check of one run file.
#include <cstdio>

#include "core/cli/commands.h"
#include "core/config/run_config.h"
#include "core/util/error.h"

namespace zotune::cli {

void register_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Print the run-file reference (--defaults) or check a run file");
  auto* run_file = new std::string;
  auto* defaults = new bool(false);
  auto* defaults_flag =
      cmd->add_flag("--defaults", *defaults, "print every key with its type, default and allowed values (Markdown)");
  auto* file_option = cmd->add_option("run_file", *run_file, "run file (.yaml) to check");
  defaults_flag->excludes(file_option);
  cmd->callback([=] {
    if (*defaults) {
      std::fputs(run_config_reference().c_str(), stdout);
      return;
    }
    if (run_file->empty()) throw Error("config: give --defaults or a run file to check");
    const RunConfig c = load_run_config(*run_file);
    std::printf("%s: ok: run '%s', %lld steps, optimizer %s, model %s, task %s\n", run_file->c_str(), c.run.name.c_str(),
                static_cast<long long>(c.run.steps), std::string(choice_name(c.optimizer.name)).c_str(),
                c.model.path.c_str(), c.task.name.c_str());
  });
}

}  // namespace zotune::cli
