#include "core/grid/grid_state.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/log/run_log_reader.h"
#include "core/train/resume.h"

namespace zotune {

namespace {

std::string this_host() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// A pid file's process still trains the run: alive, and its command line names the run file
// (a stale pid file whose number was reused by another process does not count).
bool process_trains(long pid, const GridRun& run) {
  if (pid <= 0 || (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmdline.find(run.run_file) != std::string::npos;
}

// "running" when a live process trains the run, with "host pid" in message.
bool running(const GridRun& run, std::string& message) {
  std::ifstream in(pid_file_of(run));
  std::string host;
  long pid = 0;
  if (!(in >> host >> pid)) return false;
  message = host + " " + std::to_string(pid);
  if (host != this_host()) return true;  // another node: its process cannot be asked from here
  return process_trains(pid, run);
}

}  // namespace

const char* run_state_name(RunState state) {
  switch (state) {
    case RunState::Pending: return "pending";
    case RunState::Running: return "running";
    case RunState::Completed: return "completed";
    case RunState::Changed: return "changed";
    case RunState::Failed: return "failed";
    case RunState::Interrupted: return "interrupted";
  }
  return "?";
}

std::string pid_file_of(const GridRun& run) { return std::filesystem::path(run.log_path).replace_extension(".pid").string(); }

void write_pid_file(const GridRun& run, long pid) {
  std::ofstream(pid_file_of(run)) << this_host() << " " << pid << "\n";
}

void remove_pid_file(const GridRun& run) {
  std::error_code ec;
  std::filesystem::remove(pid_file_of(run), ec);
}

RunStatus read_run_status(const GridRun& run) {
  RunStatus out;
  std::string live;
  const bool is_running = running(run, live);
  std::error_code ec;
  if (!std::filesystem::exists(run.log_path, ec)) {
    out.state = is_running ? RunState::Running : RunState::Pending;
    out.message = live;
    return out;
  }
  try {
    const RunLogReader log = RunLogReader::open(run.log_path);
    out.summary = log.summary();
    out.steps = log.steps_logged();
    if (log.has_series("queries"))
      for (double q : log.series("queries"))
        if (!std::isnan(q)) out.forward_passes += q;
    auto status = out.summary.find("status");
    const std::string text = status != out.summary.end() && std::holds_alternative<std::string>(status->second)
                                 ? std::get<std::string>(status->second)
                                 : "";
    // The log holds the resolved run file and the defaults it took: new defaults change a run too
    // (values compared as --resume compares them: a key newer than the log, left at its default, agrees).
    const std::string difference = first_config_difference(log.config_text(), run.config);
    const bool same_config = difference.empty();
    if (text == "completed") {
      out.state = same_config ? RunState::Completed : RunState::Changed;
      if (!same_config) out.message = "completed with another configuration (" + difference + ")";
    } else if (text.rfind("failed: ", 0) == 0) {
      out.state = RunState::Failed;
      out.message = text.substr(8);
    } else if (is_running) {
      out.state = RunState::Running;
      out.message = live;
    } else if (same_config) {
      out.state = RunState::Interrupted;
      out.message = "the log says '" + text + "' and no process trains the run; grid run resumes it from step " +
                    std::to_string(out.steps);
      out.resumable = true;
    } else {
      // Its logged steps belong to another configuration: like a completed run's, they are not
      // overwritten unless asked (grid run --rerun-changed).
      out.state = RunState::Changed;
      out.message = "interrupted at step " + std::to_string(out.steps) + " with another configuration (" + difference + ")";
    }
  } catch (const std::exception& e) {
    out.state = is_running ? RunState::Running : RunState::Interrupted;
    out.message = is_running ? live : e.what();
  }
  return out;
}

std::vector<std::pair<std::string, double>> summary_metrics(const std::map<std::string, SummaryValue>& summary) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [key, value] : summary)
    if ((key.rfind("best_dev_", 0) == 0 || key.rfind("test_", 0) == 0) && std::holds_alternative<double>(value))
      out.emplace_back(key, std::get<double>(value));
  return out;
}

}  // namespace zotune
