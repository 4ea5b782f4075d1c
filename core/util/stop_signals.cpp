#include "core/util/stop_signals.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>

namespace zotune {

namespace {

volatile sig_atomic_t g_first_signal = 0;   // the signal that asked to stop, 0 for none
volatile sig_atomic_t g_in_log_write = 0;   // > 0 while rank 0 writes the run log
volatile sig_atomic_t g_deferred_exit = 0;  // a second signal that came during a log write
volatile sig_atomic_t g_announce = 0;
bool g_installed = false;

void write_stderr(const char* text) {
  // write(2) is async-signal-safe; a short write only loses part of a message.
  ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

const char* static_signal_name(int signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGUSR1: return "SIGUSR1";
    default: return nullptr;
  }
}

extern "C" void zotune_train_stop_signal(int signal) {
  if (g_first_signal == 0) {
    g_first_signal = signal;
    if (g_announce) {
      write_stderr("\nzotune: ");
      const char* name = static_signal_name(signal);
      write_stderr(name ? name : "signal");
      write_stderr(": stopping after this step (the log is flushed; resume with zotune train RUN --resume); "
                   "a second signal stops at once\n");
    }
    return;
  }
  if (g_in_log_write > 0) {
    g_deferred_exit = signal;
    return;
  }
  _exit(128 + signal);
}

}  // namespace

void install_stop_signal_handlers(bool announce) {
  g_announce = announce ? 1 : 0;
  if (g_installed) return;
  struct sigaction action {};
  action.sa_handler = zotune_train_stop_signal;
  sigemptyset(&action.sa_mask);
  // A second signal waits until the first one's handler has returned (then it exits at once).
  for (int signal : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&action.sa_mask, signal);
  // SA_RESTART: a read of the model or data interrupted by the first signal carries on (the
  // signal only raises the flag; the loop looks at it at the next step boundary).
  action.sa_flags = SA_RESTART;
  for (int signal : {SIGTERM, SIGINT, SIGUSR1}) sigaction(signal, &action, nullptr);
  g_installed = true;
}

int stop_signal_received() { return g_first_signal; }

std::string signal_name(int signal) {
  const char* name = static_signal_name(signal);
  return name ? name : "signal " + std::to_string(signal);
}

StopSignalLogWrite::StopSignalLogWrite() { g_in_log_write = g_in_log_write + 1; }

StopSignalLogWrite::~StopSignalLogWrite() {
  g_in_log_write = g_in_log_write - 1;
  if (g_in_log_write == 0 && g_deferred_exit != 0) _exit(128 + g_deferred_exit);
}

void reset_stop_signal_for_tests() {
  g_first_signal = 0;
  g_deferred_exit = 0;
}

}  // namespace zotune
