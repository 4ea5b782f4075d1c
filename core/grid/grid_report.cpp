#include "core/grid/grid_report.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <variant>

#include "core/grid/grid_state.h"

namespace zotune {

namespace {

using Cell = std::variant<std::monostate, std::string, double>;
using Row = std::map<std::string, Cell>;

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

// The collected rows and their column order: fixed columns, varying keys, then summary values.
struct Collected {
  std::vector<std::string> columns;
  std::vector<Row> rows;
};

Collected collect(const Grid& grid) {
  Collected out;
  out.columns = {"index", "name"};
  out.columns.insert(out.columns.end(), grid.varying_keys.begin(), grid.varying_keys.end());
  for (const char* c : {"status", "message", "steps", "forward_passes", "seconds"}) out.columns.push_back(c);
  std::set<std::string> summary_columns;
  for (const GridRun& run : grid.runs) {
    const RunStatus s = read_run_status(run);
    Row row;
    row["index"] = static_cast<double>(run.index);
    row["name"] = run.name;
    for (const auto& [key, value] : run.varying) row[key] = value;
    row["status"] = std::string(run_state_name(s.state));
    if (!s.message.empty()) row["message"] = s.message;
    if (s.state != RunState::Pending) row["steps"] = static_cast<double>(s.steps), row["forward_passes"] = s.forward_passes;
    for (const auto& [key, value] : s.summary) {
      if (!std::holds_alternative<double>(value) || key == "steps") continue;
      row[key] = std::get<double>(value);
      if (key != "seconds") summary_columns.insert(key);
    }
    row["log"] = run.log_path;
    out.rows.push_back(std::move(row));
  }
  out.columns.insert(out.columns.end(), summary_columns.begin(), summary_columns.end());
  out.columns.push_back("log");
  return out;
}

std::string csv_field(const Cell& cell) {
  if (std::holds_alternative<std::monostate>(cell)) return "";
  if (const double* d = std::get_if<double>(&cell)) return std::isfinite(*d) ? number_text(*d) : "";
  const std::string& s = std::get<std::string>(cell);
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string grid_status_table(const Grid& grid) {
  std::string out;
  char line[512];
  std::map<std::string, size_t> counts;
  size_t width = 4;
  for (const GridRun& run : grid.runs) width = std::max(width, run.name.size());
  std::snprintf(line, sizeof line, "%5s  %-*s  %-11s  %13s  %10s  %-28s  %s\n", "index", static_cast<int>(width), "name",
                "status", "steps", "final loss", "selected dev", "test");
  out += line;
  for (const GridRun& run : grid.runs) {
    const RunStatus s = read_run_status(run);
    ++counts[run_state_name(s.state)];
    std::string dev, test;
    for (const auto& [key, value] : summary_metrics(s.summary)) {
      std::string& cell = key.rfind("test_", 0) == 0 ? test : dev;
      cell = key + " " + number_text(value);
    }
    auto best_step = s.summary.find("best_step");
    if (!dev.empty() && best_step != s.summary.end() && std::holds_alternative<double>(best_step->second))
      dev += " @" + number_text(std::get<double>(best_step->second));
    const std::string steps = s.state == RunState::Pending ? "-" : std::to_string(s.steps) + "/" + std::to_string(run.config.run.steps);
    auto final_loss = s.summary.find("final_loss");
    const std::string loss = final_loss != s.summary.end() && std::holds_alternative<double>(final_loss->second)
                                 ? number_text(std::get<double>(final_loss->second)).substr(0, 10)
                                 : "";
    std::snprintf(line, sizeof line, "%5zu  %-*s  %-11s  %13s  %10s  %-28s  %s\n", run.index, static_cast<int>(width),
                  run.name.c_str(), run_state_name(s.state), steps.c_str(), loss.c_str(), dev.c_str(), test.c_str());
    out += line;
    if (!s.message.empty() && s.state != RunState::Running)
      out += "       " + std::string(s.state == RunState::Failed ? "error: " : "") + s.message.substr(0, 300) + "\n";
  }
  out += std::to_string(grid.runs.size()) + " runs:";
  for (const auto& [state, n] : counts) out += " " + std::to_string(n) + " " + state + ",";
  out.back() = '\n';
  return out;
}

std::string grid_collect_csv(const Grid& grid) {
  const Collected c = collect(grid);
  std::string out;
  for (size_t i = 0; i < c.columns.size(); ++i) out += (i ? "," : "") + csv_field(c.columns[i]);
  out += "\n";
  for (const Row& row : c.rows) {
    for (size_t i = 0; i < c.columns.size(); ++i) {
      auto it = row.find(c.columns[i]);
      out += (i ? "," : "") + (it == row.end() ? std::string() : csv_field(it->second));
    }
    out += "\n";
  }
  return out;
}

std::string grid_collect_json(const Grid& grid) {
  const Collected c = collect(grid);
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const Row& row : c.rows) {
    nlohmann::ordered_json r;
    for (const std::string& column : c.columns) {
      auto it = row.find(column);
      if (it == row.end() || std::holds_alternative<std::monostate>(it->second)) {
        r[column] = nullptr;
      } else if (const double* d = std::get_if<double>(&it->second)) {
        r[column] = std::isfinite(*d) ? nlohmann::ordered_json(*d) : nlohmann::ordered_json(nullptr);
      } else {
        r[column] = std::get<std::string>(it->second);
      }
    }
    rows.push_back(std::move(r));
  }
  return rows.dump(1) + "\n";
}

}  // namespace zotune
