// zotune show RUN.h5: what a run log holds (provenance, config, loss and timing summaries, last
// eval, summary), or with --series NAME one series as two columns (step, value), or the log
// exported: --csv (the /steps series as a table; with --eval the /eval table) and --json
// (provenance, config, summary and every scalar series with its description and unit).
// docs/LOGS.md documents the layout and these exports.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/cli/commands.h"
#include "core/log/run_log_reader.h"
#include "core/log/series_catalog.h"
#include "core/util/error.h"

namespace zotune::cli {
namespace {

std::string joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// The shortest text that reads back as the same double ("0.1", "2", "1e-06"); "" for NaN
// (a missing value), "inf" / "-inf".
std::string number_text(double value) {
  if (std::isnan(value)) return "";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char text[32];
  const auto [end, error] = std::to_chars(text, text + sizeof text, value);
  return error == std::errc() ? std::string(text, end) : std::to_string(value);
}

// A CSV field (RFC 4180): quoted where it holds a comma, quote or line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// One table: a `step` column and one column per series, rows in log order.
void print_csv(const std::vector<int64_t>& steps, const std::vector<std::string>& names,
               const std::vector<std::vector<double>>& columns) {
  std::string line = "step";
  for (const std::string& name : names) line += ',', line += csv_field(name);
  std::printf("%s\n", line.c_str());
  for (size_t i = 0; i < steps.size(); ++i) {
    line = std::to_string(steps[i]);
    for (const std::vector<double>& column : columns) line += ',', line += number_text(column[i]);
    std::printf("%s\n", line.c_str());
  }
}

void export_csv(const RunLogReader& log, bool eval) {
  const std::vector<std::string> names = eval ? log.eval_metric_names() : log.series_names();
  std::vector<std::vector<double>> columns;
  for (const std::string& name : names) columns.push_back(eval ? log.eval_series(name) : log.series(name));
  print_csv(eval ? log.eval_steps() : log.steps(), names, columns);
}

// A series as JSON: null for missing values, integers for integer datasets (counts).
nlohmann::ordered_json json_values(const std::vector<double>& values, bool integer) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (double v : values) {
    if (std::isnan(v))
      out.push_back(nullptr);
    else if (integer && std::fabs(v) <= 9007199254740992.0)
      out.push_back(static_cast<int64_t>(v));
    else
      out.push_back(v);
  }
  return out;
}

// /steps or /eval as {"rows": n, "step": [...], "series": {name: [...]}, "attributes": {name:
// {"description", "unit"}}}.
nlohmann::ordered_json json_table(const RunLogReader& log, const std::string& group, const std::vector<int64_t>& steps,
                                  const std::vector<std::string>& names, bool eval) {
  nlohmann::ordered_json table;
  table["rows"] = steps.size();
  table["step"] = steps;
  nlohmann::ordered_json series = nlohmann::ordered_json::object(), attributes = nlohmann::ordered_json::object();
  const DatasetInfo step_info = log.dataset_info("/" + group + "/step");
  attributes["step"] = {{"description", step_info.description}, {"unit", step_info.unit}};
  for (const std::string& name : names) {
    const DatasetInfo info = log.dataset_info("/" + group + "/" + name);
    series[name] = json_values(eval ? log.eval_series(name) : log.series(name), info.integer);
    attributes[name] = {{"description", info.description}, {"unit", info.unit}};
  }
  table["series"] = std::move(series);
  table["attributes"] = std::move(attributes);
  return table;
}

void export_json(const RunLogReader& log) {
  nlohmann::ordered_json out;
  out["path"] = log.path();
  out["format"] = "zotune-run-log";
  out["format_version"] = log.format_version();
  const RunProvenance p = log.provenance();
  out["provenance"] = {{"zotune_version", p.zotune_version}, {"git_revision", p.git_revision},
                       {"hostnames", p.hostnames},           {"devices", p.devices},
                       {"ranks", p.ranks},                   {"started_utc", p.started_utc},
                       {"command_line", p.command_line}};
  out["config"] = log.config_text();
  const std::string resolved = log.resolved_config_text();
  out["config_resolved"] = resolved.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(resolved);
  nlohmann::ordered_json summary = nlohmann::ordered_json::object();
  for (const auto& [key, value] : log.summary()) {
    const double* number = std::get_if<double>(&value);
    if (const auto* text = std::get_if<std::string>(&value))
      summary[key] = *text;
    else if (summary_value_is_count(key) && *number == std::floor(*number) && std::fabs(*number) <= 9007199254740992.0)
      summary[key] = static_cast<int64_t>(*number);
    else
      summary[key] = *number;
  }
  out["summary"] = std::move(summary);
  out["steps"] = json_table(log, "steps", log.steps(), log.series_names(), false);
  out["vectors"] = log.vector_series_names();  // per-step vectors stay in the HDF5 file (docs/LOGS.md)
  out["eval"] = json_table(log, "eval", log.eval_steps(), log.eval_metric_names(), true);
  out["updates"] = {{"rows", log.updates().size()}};
  // Non-finite values (a diverged loss) are written as null: JSON has no NaN or infinity.
  std::printf("%s\n", out.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
}

void print_series(const std::vector<int64_t>& steps, const std::vector<double>& values, const std::string& name) {
  std::printf("step\t%s\n", name.c_str());
  for (size_t i = 0; i < steps.size(); ++i) std::printf("%lld\t%.10g\n", static_cast<long long>(steps[i]), values[i]);
}

// First, last and minimum loss (ignoring NaN) with their steps; mean wall time per step.
void print_step_summary(const RunLogReader& log, const std::vector<int64_t>& steps) {
  if (log.has_series("loss")) {
    const std::vector<double> loss = log.series("loss");
    long first = -1, last = -1, best = -1;
    for (size_t i = 0; i < loss.size(); ++i) {
      if (std::isnan(loss[i])) continue;
      if (first < 0) first = static_cast<long>(i);
      last = static_cast<long>(i);
      if (best < 0 || loss[i] < loss[best]) best = static_cast<long>(i);
    }
    if (first >= 0)
      std::printf("loss          first %.6g (step %lld), last %.6g (step %lld), min %.6g (step %lld)\n", loss[first],
                  static_cast<long long>(steps[first]), loss[last], static_cast<long long>(steps[last]), loss[best],
                  static_cast<long long>(steps[best]));
  }
  if (log.has_series("ms")) {
    double total = 0;
    long count = 0;
    for (double ms : log.series("ms"))
      if (!std::isnan(ms)) total += ms, ++count;
    if (count > 0) std::printf("ms/step       mean %.3f over %ld steps\n", total / count, count);
  }
}

void print_overview(const RunLogReader& log) {
  const RunProvenance p = log.provenance();
  std::printf("run log       %s (format version %lld)\n", log.path().c_str(), static_cast<long long>(log.format_version()));
  std::printf("zotune        %s (%s)\n", p.zotune_version.c_str(), p.git_revision.c_str());
  std::printf("started       %s\n", p.started_utc.c_str());
  std::printf("command       %s\n", p.command_line.c_str());
  std::printf("ranks         %lld on %s\n", static_cast<long long>(p.ranks), joined(p.hostnames, ", ").c_str());
  std::printf("devices       %s\n", joined(p.devices, ", ").c_str());

  std::printf("config\n");
  const std::string config = log.config_text();
  size_t begin = 0;
  while (begin < config.size()) {
    size_t end = config.find('\n', begin);
    if (end == std::string::npos) end = config.size();
    std::printf("  %s\n", config.substr(begin, end - begin).c_str());
    begin = end + 1;
  }

  const std::vector<int64_t> steps = log.steps();
  if (steps.empty()) {
    std::printf("steps         none logged\n");
  } else {
    std::printf("steps         %zu logged (step %lld .. %lld)\n", steps.size(), static_cast<long long>(steps.front()),
                static_cast<long long>(steps.back()));
    print_step_summary(log, steps);
  }
  std::vector<std::string> with_units;
  for (const std::string& name : log.series_names()) {
    const std::string unit = log.dataset_info("/steps/" + name).unit;
    with_units.push_back(unit.empty() || unit == "1" ? name : name + " (" + unit + ")");
  }
  std::printf("series        %s\n", joined(with_units, ", ").c_str());
  const std::vector<std::string> vectors = log.vector_series_names();
  if (!vectors.empty()) std::printf("vectors       %s\n", joined(vectors, ", ").c_str());
  std::printf("updates       %zu recorded\n", log.updates().size());

  const std::vector<int64_t> eval_steps = log.eval_steps();
  if (eval_steps.empty()) {
    std::printf("eval          none\n");
  } else {
    std::string metrics;
    for (const std::string& name : log.eval_metric_names()) {
      char value[64];
      std::snprintf(value, sizeof value, "%.6g", log.eval_series(name).back());
      metrics += (metrics.empty() ? "" : ", ") + name + " " + value;
    }
    std::printf("eval          %zu, last at step %lld: %s\n", eval_steps.size(),
                static_cast<long long>(eval_steps.back()), metrics.c_str());
  }

  std::printf("summary\n");
  for (const auto& [key, value] : log.summary()) {
    if (const auto* text = std::get_if<std::string>(&value))
      std::printf("  %-12s %s\n", key.c_str(), text->c_str());
    else
      std::printf("  %-12s %.10g\n", key.c_str(), std::get<double>(value));
  }
}

}  // namespace

void register_show(CLI::App& app) {
  auto* cmd = app.add_subcommand("show", "Summarize a run log (HDF5), print one of its series, or export it (--csv, --json)");
  auto* path = new std::string;
  auto* series = new std::string;
  auto* csv = new bool(false);
  auto* json = new bool(false);
  auto* eval = new bool(false);
  cmd->add_option("run", *path, "run log file (.h5)")->required();
  auto* series_option = cmd->add_option(
      "--series", *series, "print this series as two columns: step and value (a /steps series or an eval metric)");
  auto* csv_flag = cmd->add_flag("--csv", *csv, "print the /steps series as CSV: a step column, then one column per series (empty = missing)");
  auto* json_flag = cmd->add_flag("--json", *json,
                                  "print provenance, config, summary and every /steps and /eval series (with descriptions and units) as JSON");
  auto* eval_flag = cmd->add_flag("--eval", *eval, "with --csv: print the /eval table (step, then one column per metric) instead");
  csv_flag->excludes(json_flag)->excludes(series_option);
  json_flag->excludes(series_option);
  eval_flag->needs(csv_flag);
  cmd->callback([=] {
    const RunLogReader log = RunLogReader::open(*path);
    if (*csv) {
      export_csv(log, *eval);
      return;
    }
    if (*json) {
      export_json(log);
      return;
    }
    if (series->empty()) {
      print_overview(log);
      return;
    }
    if (log.has_series(*series)) {
      print_series(log.steps(), log.series(*series), *series);
      return;
    }
    const std::vector<std::string> metrics = log.eval_metric_names();
    for (const std::string& metric : metrics) {
      if (metric == *series) {
        print_series(log.eval_steps(), log.eval_series(metric), metric);
        return;
      }
    }
    throw Error(*path + ": no series '" + *series + "' (steps: " + joined(log.series_names(), ", ") +
                "; eval: " + joined(metrics, ", ") + ")");
  });
}

}  // namespace zotune::cli
