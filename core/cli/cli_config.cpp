// zotune config: the run-file reference (--defaults), or a check of one run file with its
// bases and overrides: every schema problem and every missing model, task or data file at once.
#include <cstdio>

#include "core/cli/commands.h"
#include "core/config/run_config.h"
#include "core/train/run_check.h"
#include "core/util/error.h"

namespace zotune::cli {

std::vector<std::string>* add_overrides_option(CLI::App* cmd) {
  auto* overrides = new std::vector<std::string>;
  cmd->add_option("overrides", *overrides,
                  "run-file keys to set, dotted.key=value with a YAML value (optimizer.lr=1e-5 task.name=rte); they win "
                  "over the file; relative paths in them are relative to the current directory");
  return overrides;
}

void register_config(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Print the run-file reference (--defaults) or check a run file");
  auto* run_file = new std::string;
  auto* defaults = new bool(false);
  auto* resolved = new bool(false);
  auto* defaults_flag =
      cmd->add_flag("--defaults", *defaults, "print every key with its type, default and allowed values (Markdown)");
  auto* file_option = cmd->add_option("run_file", *run_file, "run file (.yaml) to check");
  auto* overrides = add_overrides_option(cmd);
  cmd->add_flag("--resolved", *resolved,
                "print the resolved run file (bases and overrides merged, paths absolute: what the run log stores), "
                "then every default in force, global or per-method, with its source, as YAML comments");
  defaults_flag->excludes(file_option);
  cmd->callback([=] {
    if (*defaults) {
      std::fputs(run_config_reference().c_str(), stdout);
      return;
    }
    if (run_file->empty()) throw Error("config: give --defaults or a run file to check");
    std::vector<RunEntry> entries = run_file_entries(*run_file);
    for (const std::string& o : *overrides) entries.push_back(override_entry(o));
    // --resolved shows what the keys resolve to even where the model or data are not there yet.
    const RunCheck checked = check_run(entries, *run_file, *resolved);
    if (!checked.problems.empty()) {
      std::string all;
      for (const std::string& p : checked.problems) all += "\n  " + p;
      throw Error(*run_file + ": " + std::to_string(checked.problems.size()) +
                  (checked.problems.size() == 1 ? " problem:" : " problems:") + all);
    }
    const RunConfig& c = checked.config;
    if (*resolved) {
      std::fputs(c.text.c_str(), stdout);
      std::fputs(c.defaults_text.c_str(), stdout);  // comments: the text still parses to the same run
      return;
    }
    std::printf("%s: ok: run '%s', %lld steps, optimizer %s, model %s, task %s\n", run_file->c_str(), c.run.name.c_str(),
                static_cast<long long>(c.run.steps), std::string(choice_name(c.optimizer.name)).c_str(),
                c.model.path.c_str(), c.task.name.c_str());
  });
}

}  // namespace zotune::cli
