#include "core/train/run_check.h"

#include <filesystem>

#include "core/log/run_log_reader.h"
#include "core/tasks/custom_task.h"
#include "core/tasks/task_registry.h"
#include "core/util/error.h"

namespace zotune {

bool is_unstarted_failed_log(const std::string& path) {
  try {
    const RunLogReader log = RunLogReader::open(path);
    const std::map<std::string, SummaryValue> summary = log.summary();
    const auto status = summary.find("status");
    return log.steps_logged() == 0 && status != summary.end() && std::holds_alternative<std::string>(status->second) &&
           std::get<std::string>(status->second).rfind("failed: ", 0) == 0;
  } catch (const std::exception&) {
    return false;  // not a log this can judge: only --overwrite replaces it
  }
}

namespace {

namespace fs = std::filesystem;

// "file:line: key: " for a key that was set, else the run's file.
std::string where(const RunConfig& c, const std::string& key) {
  auto it = c.origins.find(key);
  return (it == c.origins.end() ? c.source : it->second) + ": " + key + ": ";
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

void check_model(const RunConfig& c, std::vector<std::string>& problems) {
  const std::string& p = c.model.path;
  std::error_code ec;
  if (p.empty()) return;  // refused by the schema check, already reported
  if (!exists(p))
    problems.push_back(where(c, "model.path") + "no such model file or directory: " + p);
  else if (fs::is_directory(p, ec) && !exists((fs::path(p) / "config.json").string()))
    problems.push_back(where(c, "model.path") + p + " holds no config.json (a Hugging Face model directory has one)");
}

void check_task(const RunConfig& c, std::vector<std::string>& problems) {
  const TaskSettings& t = c.task;
  for (const auto& [key, file] : {std::pair{"task.train", t.train}, {"task.dev", t.dev}, {"task.test", t.test}})
    if (!file.empty() && !exists(file)) problems.push_back(where(c, key) + "no such data file: " + file);
  std::error_code ec;
  if (!t.data_dir.empty() && !fs::is_directory(t.data_dir, ec))
    problems.push_back(where(c, "task.data_dir") + "no such folder: " + t.data_dir);
  if (t.name.empty() || t.name == "lm" || t.name == tasks::kCustomTaskName) return;
  const tasks::TaskSpec* spec = nullptr;
  try {
    spec = &tasks::find_task(t.name);
  } catch (const Error& e) {
    problems.push_back(where(c, "task.name") + e.what());
    return;
  }
  if (t.data_dir.empty() || !fs::is_directory(t.data_dir, ec)) return;
  // The shipped files a registered task reads from task.data_dir where no file of its own is given.
  const std::pair<const char*, const std::string*> defaults[] = {{"train", &spec->default_train},
                                                                 {"test", &spec->default_eval}};
  for (const auto& [split, relative] : defaults) {
    const std::string& given = split == std::string("train") ? t.train : t.test;
    if (!given.empty() || relative->empty()) continue;
    const std::string file = tasks::data_file(t.data_dir, *relative);
    if (!exists(file))
      problems.push_back(where(c, "task.data_dir") + "task " + spec->name + " reads its " + split + " split from " + file +
                         ", which does not exist");
  }
}

}  // namespace

RunCheck check_run(const std::vector<RunEntry>& entries, const std::string& source, bool schema_only) {
  RunCheck out;
  out.config = resolve_run_config(entries, source, &out.problems);
  if (!schema_only) check_run_inputs(out.config, out.problems);
  return out;
}

void check_run_inputs(const RunConfig& config, std::vector<std::string>& problems) {
  check_model(config, problems);
  check_task(config, problems);
}

void check_task_inputs(const RunConfig& config, std::vector<std::string>& problems) { check_task(config, problems); }

}  // namespace zotune
