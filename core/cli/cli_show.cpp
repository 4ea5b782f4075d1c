// zotune show RUN.h5: what a run log holds (provenance, config, loss and timing summaries, last
// eval, summary), or with --series NAME one series as two columns (step, value).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/cli/commands.h"
#include "core/log/run_log_reader.h"
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
  std::printf("series        %s\n", joined(log.series_names(), ", ").c_str());
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
  auto* cmd = app.add_subcommand("show", "Summarize a run log (HDF5) or print one of its series");
  auto* path = new std::string;
  auto* series = new std::string;
  cmd->add_option("run", *path, "run log file (.h5)")->required();
  cmd->add_option("--series", *series, "print this series as two columns: step and value (a /steps series or an eval metric)");
  cmd->callback([=] {
    const RunLogReader log = RunLogReader::open(*path);
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
