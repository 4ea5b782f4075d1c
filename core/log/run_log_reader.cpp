#include "core/log/run_log_reader.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/util/child_process.h"
#include "core/util/error.h"

namespace zotune {
namespace {

// How long the reading child may take: a healthy log reads at well over 100 MB/s, so this
// only ends reads that hang (libhdf5 looping on a corrupted global heap).
double read_timeout_s(const std::string& path) {
  if (const char* text = std::getenv("ZOTUNE_LOG_READ_TIMEOUT_S")) {
    char* end = nullptr;
    const double seconds = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(seconds > 0))
      throw Error("ZOTUNE_LOG_READ_TIMEOUT_S=" + std::string(text) + ": expected a positive number of seconds");
    return seconds;
  }
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(path, ec);
  return 60.0 + (ec ? 0.0 : static_cast<double>(bytes) / 1e7);
}

bool read_in_process() {
  const char* mode = std::getenv("ZOTUNE_LOG_READ");
  if (mode == nullptr || std::string(mode).empty() || std::string(mode) == "child") return false;
  if (std::string(mode) == "in-process") return true;
  throw Error("ZOTUNE_LOG_READ=" + std::string(mode) + ": expected child (the default) or in-process");
}

std::string corrupted(const std::string& path, const std::string& what) {
  return path + ": a corrupted run log: " + what +
         " (the HDF5 library fails on the file's own metadata; the log cannot be read, by zotune or by h5py)";
}

}  // namespace

RunLogReader::RunLogReader(RunLogContents contents) : c_(std::move(contents)) {}

RunLogReader RunLogReader::open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such run log");
  if (read_in_process()) return RunLogReader(read_run_log_contents(path));
  const double timeout_s = read_timeout_s(path);
  const ChildOutcome child =
      run_in_child_process([&] { return encode_run_log_contents(read_run_log_contents(path)); }, timeout_s);
  switch (child.kind) {
    case ChildOutcome::Kind::Answered:
      return RunLogReader(decode_run_log_contents(child.bytes, path));
    case ChildOutcome::Kind::Failed:
      throw Error(child.message);
    case ChildOutcome::Kind::Crashed: {
      const char* name = child.signal > 0 ? strsignal(child.signal) : nullptr;
      throw Error(corrupted(path, child.signal > 0 ? "reading it ended on signal " + std::to_string(child.signal) +
                                                          (name ? " (" + std::string(name) + ")" : "")
                                                    : "the reading process " + child.message));
    }
    case ChildOutcome::Kind::TimedOut:
      throw Error(corrupted(path, "reading it did not finish within " + std::to_string(static_cast<int>(timeout_s)) +
                                      " s (ZOTUNE_LOG_READ_TIMEOUT_S)"));
    case ChildOutcome::Kind::NoChild:
      break;
  }
  // No process to spare (fork failed): read here, without the guard.
  return RunLogReader(read_run_log_contents(path));
}

const std::string& RunLogReader::path() const { return c_.path; }
int64_t RunLogReader::format_version() const { return c_.format_version; }
std::string RunLogReader::config_text() const { return c_.config_text.get(); }
std::string RunLogReader::resolved_config_text() const { return c_.config_resolved_text.get(); }
RunProvenance RunLogReader::provenance() const { return c_.provenance.get(); }
int64_t RunLogReader::steps_logged() const { return c_.step_rows; }
std::vector<int64_t> RunLogReader::steps() const { return c_.steps.get(); }

std::vector<std::string> RunLogReader::series_names() const {
  std::vector<std::string> out;
  for (const auto& [name, part] : c_.series) out.push_back(name);
  return out;
}

bool RunLogReader::has_series(const std::string& name) const { return c_.series.count(name) > 0; }

std::vector<double> RunLogReader::series(const std::string& name) const {
  const auto it = c_.series.find(name);
  if (it == c_.series.end()) throw Error(c_.path + ": /steps/" + name + ": no such series");
  return it->second.get();
}

std::vector<std::string> RunLogReader::vector_series_names() const {
  std::vector<std::string> out;
  for (const auto& [name, ragged] : c_.vectors) out.push_back(name);
  return out;
}

std::vector<double> RunLogReader::vector(const std::string& name, int64_t row) const {
  const std::string where = c_.path + ": /steps/" + name;
  if (row < 0 || row >= c_.step_rows)
    throw Error(where + ": row " + std::to_string(row) + " out of range (" + std::to_string(c_.step_rows) +
                " steps logged)");
  const auto it = c_.vectors.find(name);
  if (it == c_.vectors.end()) throw Error(where + ": no such vector series");
  const std::vector<int64_t>& offsets = it->second.offsets.get();
  if (static_cast<int64_t>(offsets.size()) < row + 2) return {};  // the row's vector is not flushed yet
  const int64_t begin = offsets[static_cast<size_t>(row)], end = offsets[static_cast<size_t>(row) + 1];
  if (begin < 0) throw Error(where + ".offsets: negative offset at row " + std::to_string(row));
  if (end < begin) throw Error(where + ".offsets: offsets decrease at row " + std::to_string(row));
  const std::vector<double>& values = it->second.values.get();
  if (end > static_cast<int64_t>(values.size()))
    throw Error(where + ".values: elements [" + std::to_string(begin) + ", " + std::to_string(end) +
                ") out of range (length " + std::to_string(values.size()) + ")");
  return std::vector<double>(values.begin() + begin, values.begin() + end);
}

UpdateTable RunLogReader::updates() const { return c_.updates.get(); }
std::vector<int64_t> RunLogReader::eval_steps() const { return c_.eval_steps.get(); }

std::vector<std::string> RunLogReader::eval_metric_names() const {
  std::vector<std::string> out;
  for (const auto& [name, part] : c_.eval_series) out.push_back(name);
  return out;
}

std::vector<double> RunLogReader::eval_series(const std::string& name) const {
  const auto it = c_.eval_series.find(name);
  if (it == c_.eval_series.end()) throw Error(c_.path + ": /eval/" + name + ": no such eval metric");
  return it->second.get();
}

std::map<std::string, SummaryValue> RunLogReader::summary() const { return c_.summary.get(); }

DatasetInfo RunLogReader::dataset_info(const std::string& dataset_path) const {
  const auto it = c_.datasets.find(dataset_path);
  return it == c_.datasets.end() ? DatasetInfo{} : it->second;
}

}  // namespace zotune
