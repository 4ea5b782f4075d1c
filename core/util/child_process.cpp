#include "core/util/child_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

#include "core/util/error.h"

namespace zotune {
namespace {

// The first byte of the child's answer: what follows is the work's bytes, or an error message.
constexpr char kAnswer = 'A';
constexpr char kError = 'E';

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

[[noreturn]] void child_main(const std::function<std::string()>& work, int fd) {
  std::string reply;
  try {
    reply = kAnswer + work();
  } catch (const std::exception& e) {
    reply = kError + std::string(e.what());
  } catch (...) {
    reply = kError + std::string("an unknown exception");
  }
  _exit(write_all(fd, reply.data(), reply.size()) ? 0 : 1);
}

}  // namespace

ChildOutcome run_in_child_process(const std::function<std::string()>& work, double timeout_s) {
  ChildOutcome out;
  int fds[2];
  if (pipe(fds) != 0) {
    out.message = std::string("pipe: ") + std::strerror(errno);
    return out;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    out.message = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return out;
  }
  if (pid == 0) {
    close(fds[0]);
    child_main(work, fds[1]);
  }
  close(fds[1]);

  // Read until the child closes its end (it exits) or the deadline passes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  std::string reply;
  bool timed_out = false;
  char buffer[1 << 16];
  for (;;) {
    const double left_ms =
        std::chrono::duration<double, std::milli>(deadline - std::chrono::steady_clock::now()).count();
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min(left_ms + 1, 1e9)));
    if (ready < 0 && errno == EINTR) continue;  // a stop signal's flag: the caller looks at it later
    if (ready <= 0) continue;                    // the deadline is checked at the top
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child is done (or died)
    reply.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    out.kind = ChildOutcome::Kind::TimedOut;
    return out;
  }
  if (WIFSIGNALED(status)) {
    out.kind = ChildOutcome::Kind::Crashed;
    out.signal = WTERMSIG(status);
    return out;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || reply.empty()) {
    out.kind = ChildOutcome::Kind::Crashed;
    out.message = "exited with code " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                  (reply.empty() ? " and no answer" : "");
    return out;
  }
  if (reply[0] == kError) {
    out.kind = ChildOutcome::Kind::Failed;
    out.message = reply.substr(1);
    return out;
  }
  out.kind = ChildOutcome::Kind::Answered;
  out.bytes = reply.substr(1);
  return out;
}

}  // namespace zotune
