// Stopping a run on a signal (SIGTERM, SIGINT, SIGUSR1: a preemption, Ctrl-C, Slurm's warning
// signal): the first signal only raises a flag, which the training loop reads at a step
// boundary (every rank votes in the step's all-reduce, so all ranks stop after the same step),
// flushes the log, records status "interrupted: <SIGNAME> at step N" and exits with
// kExitInterrupted. A second signal ends the process at once (_exit(128 + signal)), unless it
// lands inside a log write, which it lets finish first (StopSignalLogWrite): the log then holds
// every step up to its last flush, as after kill -9, and `zotune train --resume` continues it.
#pragma once
#include <string>

#include "core/util/error.h"

namespace zotune {

// Exit codes of `zotune train` (README "Exit codes"): 0 done, 1 zotune::Error (bad input, a
// failed step), 2 an internal error; these two are distinct so that a scheduler can tell a
// run to resume from a run that failed.
inline constexpr int kExitInterrupted = 75;        // stopped by a signal at a step boundary: resume it
inline constexpr int kExitCollectiveTimeout = 76;  // a rank did not answer within distributed.timeout_s

// Installs the handlers for SIGTERM, SIGINT and SIGUSR1 (idempotent). `announce`: print one
// line to stderr on the first signal (rank 0; the other ranks stay quiet).
void install_stop_signal_handlers(bool announce);

// The signal number received first, 0 for none. Async-signal-safe to set, cheap to read.
int stop_signal_received();

// "SIGTERM", "SIGINT", "SIGUSR1", else "signal N".
std::string signal_name(int signal);

// Marks a write to the run log: a second signal that arrives meanwhile takes effect when the
// write is done, so that an immediate exit never lands inside an HDF5 flush.
class StopSignalLogWrite {
 public:
  StopSignalLogWrite();
  ~StopSignalLogWrite();
  StopSignalLogWrite(const StopSignalLogWrite&) = delete;
  StopSignalLogWrite& operator=(const StopSignalLogWrite&) = delete;
};

// For tests: forget a received signal (the handlers stay installed).
void reset_stop_signal_for_tests();

// What run_training throws when every rank agreed to stop on a signal: status and log are
// written; main exits with exit_code().
class RunStopped : public Error {
 public:
  RunStopped(const std::string& what, int exit_code) : Error(what), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace zotune
