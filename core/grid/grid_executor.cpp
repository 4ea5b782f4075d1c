#include "core/grid/grid_executor.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "core/grid/grid_state.h"
#include "core/train/run_check.h"
#include "core/train/task_setup.h"
#include "core/util/error.h"

namespace zotune {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

struct Child {
  pid_t pid = 0;
  const GridRun* run = nullptr;
  size_t slot = 0;
  std::chrono::steady_clock::time_point started;
};

std::string clock_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

// The child: its own process group (the executor signals the group: mpirun and its ranks),
// killed with the executor (PR_SET_PDEATHSIG), output to <name>.out, threads and GPUs of its slot.
[[noreturn]] void exec_run(const GridRun& run, const std::vector<std::string>& argv, const std::string& gpus,
                           int threads) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  const int fd = open(run.out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  const int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  if (!gpus.empty()) setenv("CUDA_VISIBLE_DEVICES", gpus.c_str(), 1);
  const std::string t = std::to_string(threads);
  setenv("OMP_NUM_THREADS", t.c_str(), 1);
  setenv("OPENBLAS_NUM_THREADS", t.c_str(), 1);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  std::fprintf(stderr, "zotune grid: cannot start %s: %s\n", args[0], std::strerror(errno));
  _exit(127);
}

class Executor {
 public:
  Executor(const Grid& grid, const GridRunOptions& o) : grid_(grid), o_(o) {}

  int run() {
    select_runs();
    release_selected();  // cells whose search ended in an earlier invocation
    done_before_ = done_;
    if (queue_.empty()) {
      std::fprintf(o_.progress, "grid %s: nothing to run (%zu completed, %zu running elsewhere)\n", grid_.name.c_str(),
                   done_, elsewhere_);
      print_search_summary();
      return 0;
    }
    std::filesystem::create_directories(grid_.output_dir);
    install_signal_handlers();
    std::fprintf(o_.progress, "grid %s: %zu runs to train (%zu completed, %zu running elsewhere), %d at a time; logs in %s\n",
                 grid_.name.c_str(), queue_.size(), done_, elsewhere_, o_.jobs, grid_.output_dir.c_str());
    if (!held_.empty())
      std::fprintf(o_.progress, "grid %s: then, of %zu runs of other seeds, those at the learning rate their cell's search "
                   "selects\n", grid_.name.c_str(), held_.size());
    size_t next = 0;
    while ((next < queue_.size() || !children_.empty()) && !g_stop_signal) {
      while (next < queue_.size() && children_.size() < static_cast<size_t>(o_.jobs) && !g_stop_signal)
        start(*queue_[next++]);
      reap_one();
      release_selected();
    }
    if (g_stop_signal) return stop_all();
    print_progress("");
    print_search_summary();
    return failed_ ? 1 : 0;
  }

 private:
  void select_runs() {
    if (o_.search_seed) check_search_grid();
    std::vector<std::string> changed;
    for (const GridRun& run : grid_.runs) {
      if (o_.index && run.index != *o_.index) continue;
      const RunStatus status = read_run_status(run);
      // With a search seed, another seed's run waits for its cell's search (release_selected).
      std::vector<const GridRun*>& to = o_.search_seed && run.config.run.seed != *o_.search_seed ? held_ : queue_;
      switch (status.state) {
        case RunState::Completed: ++done_; break;
        case RunState::Running: ++elsewhere_; break;
        case RunState::Changed:
          if (!o_.rerun_changed) {
            changed.push_back(run.name);
            break;
          }
          to.push_back(&run);
          break;
        case RunState::Interrupted:
          // Resumed from its log (zotune train --resume); an unreadable log starts over.
          if (status.resumable) resume_.push_back(&run);
          to.push_back(&run);
          break;
        default: to.push_back(&run);
      }
    }
    std::vector<const GridRun*> checked = queue_;  // what the checks below read: every run this may train
    checked.insert(checked.end(), held_.begin(), held_.end());
    // Every problem at once, before any run starts.
    std::vector<std::string> problems;
    const auto refuse_if_any = [&](const std::string& what) {
      if (problems.empty()) return;
      std::string all;
      for (const std::string& p : problems) all += "\n  " + p;
      throw Error(grid_.path + ": " + what + ":" + all);
    };
    // What the runs to train name must exist.
    for (const GridRun* run : checked) {
      std::vector<std::string> mine;
      check_run_inputs(run->config, mine);
      for (const std::string& p : mine)
        if (std::find(problems.begin(), problems.end(), p) == problems.end()) problems.push_back(p);
    }
    refuse_if_any("the runs to train name what does not exist");
    // Their data as each run samples it (a split larger than its file, an unlabeled example):
    // refused here, not minutes into a GPU session. Once per distinct task setting.
    std::map<std::string, std::string> sampled;  // task setting -> its error, "" when it samples
    for (const GridRun* run : checked) {
      const TaskSettings& t = run->config.task;
      const std::string key = t.name + "|" + t.train + "|" + t.dev + "|" + t.test + "|" + t.data_dir + "|" +
                              std::to_string(static_cast<int>(t.sampling)) + "|" + std::to_string(t.num_train) + "|" +
                              std::to_string(t.num_dev) + "|" + std::to_string(t.num_test) + "|" +
                              std::to_string(t.k) + "|" + std::to_string(t.data_seed);
      auto [it, inserted] = sampled.emplace(key, "");
      if (inserted) {
        try {
          sampled_task_summary(run->config);
        } catch (const Error& e) {
          it->second = std::string(e.what()) + " (run " + std::to_string(run->index) + " " + run->name +
                       " and the runs sharing its task settings)";
        }
      }
      if (!it->second.empty() && std::find(problems.begin(), problems.end(), it->second) == problems.end())
        problems.push_back(it->second);
    }
    refuse_if_any("the data of the runs to train does not fit their task settings");
    if (!changed.empty()) {
      std::string names;
      for (size_t i = 0; i < changed.size() && i < 5; ++i) names += (i ? ", " : "") + changed[i];
      if (changed.size() > 5) names += ", ...";
      throw Error(grid_.path + ": " + std::to_string(changed.size()) +
                  " run(s) were trained, completed or in part, with another configuration than the grid gives now (" +
                  names + "; zotune grid ... status says what differs); pass --rerun-changed to train them again "
                  "from step 0, or give the grid another output folder");
    }
  }

  // --search-seed needs a grid that varies the learning rate and the seed, and a dev value to
  // select by; not with --index (a Slurm array task trains one run: run the stages as two arrays).
  void check_search_grid() const {
    const auto varies = [&](const char* key) {
      return std::find(grid_.varying_keys.begin(), grid_.varying_keys.end(), key) != grid_.varying_keys.end();
    };
    check(!o_.index, grid_.path + ": --search-seed selects among a cell's runs; it does not go with --index");
    check(varies("optimizer.lr") && varies("run.seed"),
          grid_.path + ": --search-seed needs a grid that varies optimizer.lr and run.seed (its seeds)");
    check(std::any_of(grid_.runs.begin(), grid_.runs.end(),
                      [&](const GridRun& r) { return r.config.run.seed == *o_.search_seed; }),
          grid_.path + ": --search-seed " + std::to_string(*o_.search_seed) + " is not one of the grid's seeds");
    for (const GridRun& r : grid_.runs)
      check(r.config.eval.every > 0, grid_.path + ": --search-seed selects by the dev value, but run " + r.name +
                                         " has no dev evaluation (eval.every 0)");
  }

  void print_search_summary() const {
    if (!o_.search_seed) return;
    std::string waiting;
    if (!held_.empty())
      waiting = ", " + std::to_string(held_.size()) + " wait for their cell's search runs (running elsewhere): run the grid again";
    std::fprintf(o_.progress, "grid %s: search seed %llu: %zu runs of other seeds not selected%s\n", grid_.name.c_str(),
                 static_cast<unsigned long long>(*o_.search_seed), not_selected_, waiting.c_str());
  }

  // A run's cell: its varying values but the learning rate and the seed.
  static std::string cell_of(const GridRun& run) {
    std::string key;
    for (const auto& [k, v] : run.varying)
      if (k != "optimizer.lr" && k != "run.seed") key += k + "=" + v + " ";
    return key;
  }

  // Moves the held runs of every cell whose search runs have all ended (completed or failed)
  // into the queue when they are at the selected learning rate; the others are dropped.
  void release_selected() {
    if (!o_.search_seed || held_.empty()) return;
    std::map<std::string, std::optional<double>> selected;  // cell -> its lr; nullopt: none (no dev value)
    std::vector<const GridRun*> still;
    for (const GridRun* run : held_) {
      const std::string cell = cell_of(*run);
      auto it = selected.find(cell);
      if (it == selected.end()) {
        const std::optional<std::optional<double>> choice = search_choice(cell);
        if (!choice) {  // the search goes on
          still.push_back(run);
          continue;
        }
        it = selected.emplace(cell, *choice).first;
      }
      if (it->second && run->config.optimizer.lr == *it->second) {
        queue_.push_back(run);
      } else {
        ++not_selected_;
      }
    }
    held_ = still;
  }

  // The learning rate a cell's search selected; nullopt while one of its search runs has not
  // ended (here or elsewhere); an empty value when none completed with a dev value.
  std::optional<std::optional<double>> search_choice(const std::string& cell) const {
    std::optional<double> best_lr;
    double best = 0.0;
    for (const GridRun& run : grid_.runs) {
      if (run.config.run.seed != *o_.search_seed || cell_of(run) != cell) continue;
      const RunStatus status = read_run_status(run);
      if (status.state == RunState::Failed) continue;
      if (status.state != RunState::Completed) return std::nullopt;
      for (const auto& [name, value] : summary_metrics(status.summary)) {
        if (name.rfind("best_dev_", 0) != 0) continue;
        const double score = name.ends_with("loss") ? -value : value;
        const double lr = run.config.optimizer.lr;
        if (!best_lr || score > best || (score == best && lr < *best_lr)) best_lr = lr, best = score;
        break;
      }
    }
    return best_lr;
  }

  void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);
  }

  // Slot s of jobs gets GPUs round robin, P consecutive ones when there are enough for every slot.
  std::string gpus_of(size_t slot) const {
    if (o_.gpus.empty()) return "";
    const size_t n = o_.gpus.size(), per = static_cast<size_t>(o_.ranks);
    std::string out;
    if (n >= per * static_cast<size_t>(o_.jobs)) {
      for (size_t i = 0; i < per; ++i) out += (i ? "," : "") + o_.gpus[slot * per + i];
    } else {
      out = o_.gpus[slot % n];
    }
    return out;
  }

  size_t free_slot() const {
    for (size_t s = 0;; ++s)
      if (std::none_of(children_.begin(), children_.end(), [&](const Child& c) { return c.slot == s; })) return s;
  }

  void start(const GridRun& run) {
    // The run file is the resolved configuration; zotune train logs that same text.
    { std::ofstream(run.run_file, std::ios::binary) << run.config.text; }
    std::vector<std::string> argv;
    if (o_.ranks > 1) {
      argv = {o_.mpirun, "-np", std::to_string(o_.ranks)};
      if (geteuid() == 0) argv.push_back("--allow-run-as-root");
      argv.push_back("--oversubscribe");
    }
    const bool resume = std::find(resume_.begin(), resume_.end(), &run) != resume_.end();
    argv.insert(argv.end(), {o_.zotune, "train", run.run_file, resume ? "--resume" : "--overwrite"});
    const size_t slot = free_slot();
    const int cores = o_.cores > 0 ? o_.cores : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    const int threads = std::max(1, cores / (o_.jobs * o_.ranks));
    const std::string gpus = gpus_of(slot);
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw Error(grid_.path + ": cannot start run " + run.name + ": fork failed");
    if (pid == 0) exec_run(run, argv, gpus, threads);
    setpgid(pid, pid);  // also here: no window where a signal to the group misses the child
    write_pid_file(run, pid);
    children_.push_back({pid, &run, slot, std::chrono::steady_clock::now()});
    print_progress((resume ? "resumed " : "started ") + std::to_string(run.index) + " " + run.name +
                   (gpus.empty() ? "" : " on GPU " + gpus));
  }

  // The child of `pid`, no longer tracked, its pid file removed.
  Child take_child(pid_t pid) {
    auto it = std::find_if(children_.begin(), children_.end(), [&](const Child& c) { return c.pid == pid; });
    if (it == children_.end()) return {};
    const Child child = *it;
    children_.erase(it);
    remove_pid_file(*child.run);
    return child;
  }

  // Waits for one run to end and reports it; returns early on a signal (the loop looks at it).
  void reap_one() {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid <= 0) return;
    const Child child = take_child(pid);
    if (!child.run || g_stop_signal) return;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - child.started).count();
    const RunStatus run_status = read_run_status(*child.run);
    std::string what;
    if (run_status.state == RunState::Completed) {
      ++done_, ++finished_here_, seconds_here_ += seconds;
      what = "completed";
    } else {
      ++failed_;
      what = std::string(run_state_name(run_status.state)) +
             (run_status.message.empty() ? "" : ": " + run_status.message.substr(0, 200)) + " (exit status " +
             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status)) + "; output in " +
             child.run->out_file + ")";
    }
    print_progress(std::to_string(child.run->index) + " " + child.run->name + " " + what + " in " + clock_text(seconds));
  }

  int stop_all() {
    const int sig = g_stop_signal;
    std::fprintf(o_.progress, "grid %s: signal %d: stopping %zu running run(s)\n", grid_.name.c_str(), sig, children_.size());
    for (const Child& c : children_) kill(-c.pid, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!children_.empty()) {
      int status = 0;
      const pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid > 0) {
        take_child(pid);
        continue;
      }
      if (std::chrono::steady_clock::now() > deadline)
        for (const Child& c : children_) kill(-c.pid, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::fprintf(o_.progress, "grid %s: stopped; run it again to finish the grid\n", grid_.name.c_str());
    return 128 + sig;
  }

  void print_progress(const std::string& event) {
    const size_t total = queue_.size() + done_before_ + elsewhere_;
    const size_t left = queue_.size() - finished_here_ - failed_ - children_.size();
    std::string eta;
    if (finished_here_ > 0 && (left + children_.size()) > 0) {
      const double per_run = seconds_here_ / static_cast<double>(finished_here_);
      eta = ", ETA " + clock_text(per_run * static_cast<double>(left + children_.size()) / o_.jobs);
    }
    std::fprintf(o_.progress, "grid %s: %zu/%zu done, %zu running, %zu failed, %zu left%s%s%s\n", grid_.name.c_str(), done_,
                 total, children_.size(), failed_, left, eta.c_str(), event.empty() ? "" : "  | ", event.c_str());
    std::fflush(o_.progress);
  }

  const Grid& grid_;
  const GridRunOptions& o_;
  std::vector<const GridRun*> queue_;
  std::vector<const GridRun*> held_;    // --search-seed: other seeds' runs whose cell's search goes on
  std::vector<const GridRun*> resume_;  // interrupted runs of this configuration: --resume
  std::vector<Child> children_;
  size_t done_ = 0, done_before_ = 0, elsewhere_ = 0, failed_ = 0, finished_here_ = 0, not_selected_ = 0;
  double seconds_here_ = 0;
};

}  // namespace

int run_grid(const Grid& grid, const GridRunOptions& options) {
  check(options.jobs >= 1, "--jobs: must be >= 1");
  check(options.ranks >= 1, "--ranks: must be >= 1");
  check(!options.index || *options.index < grid.runs.size(),
        grid.path + ": --index " + std::to_string(options.index.value_or(0)) + " is not a run of the grid (0 to " +
            std::to_string(grid.runs.size() - 1) + ")");
  return Executor(grid, options).run();
}

}  // namespace zotune
