// Running a piece of work in a forked child process, so that a crash or a hang inside a
// library the work calls (libhdf5 decoding a corrupted file's metadata: tests/fuzz/
// hdf5_library_crashes) ends the child, not the caller. The child sends its answer back as
// bytes through a pipe; the caller gets the bytes, the child's zotune::Error message, or how
// the child ended.
//
// The child is a fork, not an exec: it starts in ~1 ms (an exec of zotune takes ~100 ms, most
// of it loading the CUDA libraries) and runs only `work`, then _exit: no atexit handlers, no
// MPI or CUDA calls, no flush of the parent's stdio buffers.
#pragma once
#include <functional>
#include <string>

namespace zotune {

struct ChildOutcome {
  enum class Kind {
    Answered,   // `work` returned; `bytes` holds its answer
    Failed,     // `work` threw zotune::Error (or std::exception); `message` holds what()
    Crashed,    // the child ended on a signal (`signal`), or exited without an answer
    TimedOut,   // no answer within the timeout; the child was killed
    NoChild,    // fork or pipe failed (`message` says why): the caller may do the work itself
  };
  Kind kind = Kind::NoChild;
  std::string bytes;
  std::string message;
  int signal = 0;
};

// Runs `work` in a forked child and waits at most `timeout_s` seconds (wall clock) for it.
ChildOutcome run_in_child_process(const std::function<std::string()>& work, double timeout_s);

}  // namespace zotune
