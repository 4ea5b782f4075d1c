// run_in_child_process (core/util/child_process.h): every way a child can end reaches the
// caller as what happened, never as a crash or a hang of the caller.
#include "core/util/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "core/util/error.h"

namespace zotune {
namespace {

using Kind = ChildOutcome::Kind;

TEST(ChildProcess, AnswerLargerThanAPipeBufferArrivesWhole) {
  std::string expected(3 << 20, '\0');  // 3 MB: many pipe buffers, read while the child writes
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<char>(i * 131 + (i >> 12));
  const ChildOutcome out = run_in_child_process([&] { return expected; }, 30);
  ASSERT_EQ(out.kind, Kind::Answered) << out.message;
  EXPECT_EQ(out.bytes, expected);
  const ChildOutcome empty = run_in_child_process([] { return std::string(); }, 30);
  ASSERT_EQ(empty.kind, Kind::Answered);
  EXPECT_EQ(empty.bytes, "");
}

TEST(ChildProcess, ErrorsComeBackAsTheirMessage) {
  const ChildOutcome out = run_in_child_process([]() -> std::string { throw Error("run.h5: /steps/loss: bad"); }, 30);
  EXPECT_EQ(out.kind, Kind::Failed);
  EXPECT_EQ(out.message, "run.h5: /steps/loss: bad");
}

TEST(ChildProcess, ASignalOrAnExitWithoutAnswerIsACrash) {
  const ChildOutcome segv = run_in_child_process([]() -> std::string {
    raise(SIGSEGV);
    return "unreachable";
  }, 30);
  EXPECT_EQ(segv.kind, Kind::Crashed);
  EXPECT_EQ(segv.signal, SIGSEGV);
  const ChildOutcome abort = run_in_child_process([]() -> std::string { std::abort(); }, 30);
  EXPECT_EQ(abort.kind, Kind::Crashed);
  EXPECT_EQ(abort.signal, SIGABRT);
  const ChildOutcome exited = run_in_child_process([]() -> std::string { _exit(3); }, 30);
  EXPECT_EQ(exited.kind, Kind::Crashed);
  EXPECT_EQ(exited.signal, 0);
  EXPECT_EQ(exited.message, "exited with code 3 and no answer");
}

TEST(ChildProcess, AHangIsKilledAtTheTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const ChildOutcome out = run_in_child_process([]() -> std::string {
    sleep(60);
    return "late";
  }, 0.3);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(out.kind, Kind::TimedOut);
  EXPECT_LT(seconds, 10.0);  // killed at 0.3 s, not left to sleep out its minute
}

}  // namespace
}  // namespace zotune
