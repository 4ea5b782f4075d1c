// Run log: write -> read round trips of every part of the layout (core/log/run_log.h), ragged
// vectors, NaN back-fill of late series, 5,000 steps across chunk boundaries, a crashed writer
// (a forked child that flushes and _exit()s without closing), and clear errors for bad files;
// the log explaining itself (docs/LOGS.md): descriptions and units on every dataset, counts
// stored as integers, the resolved configuration, no file lock held while the run writes.
#include "core/log/run_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/log/run_log_reader.h"
#include "core/log/series_catalog.h"
#include "core/util/error.h"
#include "io_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::error_of;

const char* const kConfig = "model: opt-125m\noptimizer:\n  name: bszo\n  k: 2\nsteps: 5000\n";

RunProvenance test_provenance() {
  RunProvenance p;
  p.zotune_version = "0.1.0";
  p.git_revision = "abc1234";
  p.hostnames = {"node01", "node02"};
  p.devices = {"NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"};
  p.ranks = 2;
  p.started_utc = "2025-03-01T12:00:00Z";
  p.command_line = "zotune train run.yaml --seed 7";
  return p;
}

// Runs `body` in a forked child that then dies with _exit(1) without closing anything, as a
// killed run would. Returns the child's exit code (2 if body threw).
template <typename F>
int run_in_child_that_crashes(F&& body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    try {
      body();
    } catch (...) {
      _exit(2);
    }
    _exit(1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(RunLog, RoundTripsConfigProvenanceStepsUpdatesEvalAndSummary) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    RunLog log = RunLog::create(path, kConfig, test_provenance());
    for (int64_t s = 0; s < 4; ++s) {
      const std::vector<UpdateRecord> updates = {{0, -0.5 * s, 1000 + static_cast<uint64_t>(s)},
                                                 {1, 0.25 * s, 0xFFFFFFFFFFFFFFF0ull + s}};
      log.log_updates(s, updates);
      log.log_step(s * 10,
                   {{"loss", 2.0 - 0.1 * s}, {"lr", 1e-6}, {"eps", 1e-3}, {"ms", 50.0 + s},
                    {"peak_memory_bytes", 3.5e9}, {"queries", 2.0 + s}},
                   {{"finite_differences", std::vector<double>(static_cast<size_t>(s + 1), 0.5 * s)},
                    {"posterior_mean", {1.0 * s, -1.0 * s}}});
    }
    log.log_eval(20, {{"dev_accuracy", 0.75}});
    log.log_eval(30, {{"dev_accuracy", 0.8}, {"dev_f1", 0.7}});
    log.set_summary("final_loss", 1.7);
    log.set_summary("best_step", 30.0);
    log.set_summary("status", "completed");
    EXPECT_EQ(log.steps_logged(), 4);
    log.close();
    EXPECT_FALSE(log.is_open());
    EXPECT_EQ(log.steps_logged(), 4);
  }

  const RunLogReader r = RunLogReader::open(path);
  EXPECT_EQ(r.format_version(), 1);
  EXPECT_EQ(r.config_text(), kConfig);
  const RunProvenance p = r.provenance();
  EXPECT_EQ(p.zotune_version, "0.1.0");
  EXPECT_EQ(p.git_revision, "abc1234");
  EXPECT_EQ(p.hostnames, (std::vector<std::string>{"node01", "node02"}));
  EXPECT_EQ(p.devices, (std::vector<std::string>{"NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"}));
  EXPECT_EQ(p.ranks, 2);
  EXPECT_EQ(p.started_utc, "2025-03-01T12:00:00Z");
  EXPECT_EQ(p.command_line, "zotune train run.yaml --seed 7");

  ASSERT_EQ(r.steps_logged(), 4);
  EXPECT_EQ(r.steps(), (std::vector<int64_t>{0, 10, 20, 30}));
  EXPECT_EQ(r.series_names(),
            (std::vector<std::string>{"eps", "loss", "lr", "ms", "peak_memory_bytes", "queries"}));
  EXPECT_EQ(r.series("loss"), (std::vector<double>{2.0 - 0.1 * 0, 2.0 - 0.1 * 1, 2.0 - 0.1 * 2, 2.0 - 0.1 * 3}));
  EXPECT_EQ(r.series("queries"), (std::vector<double>{2, 3, 4, 5}));
  EXPECT_EQ(r.series("ms"), (std::vector<double>{50, 51, 52, 53}));
  EXPECT_EQ(r.series("peak_memory_bytes")[3], 3.5e9);
  EXPECT_EQ(r.vector_series_names(), (std::vector<std::string>{"finite_differences", "posterior_mean"}));
  for (int64_t s = 0; s < 4; ++s) {
    EXPECT_EQ(r.vector("finite_differences", s), std::vector<double>(static_cast<size_t>(s + 1), 0.5 * s)) << s;
    EXPECT_EQ(r.vector("posterior_mean", s), (std::vector<double>{1.0 * s, -1.0 * s})) << s;
  }

  const UpdateTable u = r.updates();
  ASSERT_EQ(u.size(), 8u);
  EXPECT_EQ(u.step, (std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3}));
  EXPECT_EQ(u.query, (std::vector<int32_t>{0, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(u.coefficient[6], -1.5);
  EXPECT_EQ(u.coefficient[7], 0.75);
  EXPECT_EQ(u.seed[6], 1003u);
  EXPECT_EQ(u.seed[7], 0xFFFFFFFFFFFFFFF3ull);  // full uint64 range survives (no float detour)

  EXPECT_EQ(r.eval_steps(), (std::vector<int64_t>{20, 30}));
  EXPECT_EQ(r.eval_metric_names(), (std::vector<std::string>{"dev_accuracy", "dev_f1"}));
  EXPECT_EQ(r.eval_series("dev_accuracy"), (std::vector<double>{0.75, 0.8}));
  const std::vector<double> f1 = r.eval_series("dev_f1");
  EXPECT_TRUE(std::isnan(f1[0]));
  EXPECT_EQ(f1[1], 0.7);

  const auto summary = r.summary();
  EXPECT_EQ(std::get<std::string>(summary.at("status")), "completed");
  EXPECT_EQ(std::get<double>(summary.at("final_loss")), 1.7);
  EXPECT_EQ(std::get<double>(summary.at("best_step")), 30.0);
}

// open() reads in a forked child and decodes its answer: the same contents, byte for byte, as
// reading in this process; a damaged part keeps its error through the encoding; an answer cut
// anywhere is refused naming the log.
TEST(RunLogReader, ChildReadEqualsInProcessReadAndTheEncodingRefusesCutAnswers) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  {
    RunLog log = RunLog::create(path, kConfig, test_provenance());
    for (int64_t s = 0; s < 3; ++s) {
      const std::vector<UpdateRecord> updates = {{0, 0.5 * s, 7u + static_cast<uint64_t>(s)}};
      log.log_updates(s, updates);
      log.log_step(s, {{"loss", 1.0 + s}, {"queries", 2.0}}, {{"probe_losses", {1.0 * s, 2.0 * s}}});
    }
    log.log_eval(2, {{"dev_loss", 0.5}});
    log.set_summary("status", "completed");
  }
  const RunLogContents in_process = read_run_log_contents(path);
  const std::string bytes = encode_run_log_contents(in_process);
  EXPECT_EQ(encode_run_log_contents(RunLogReader::open(path).contents()), bytes);
  EXPECT_EQ(encode_run_log_contents(decode_run_log_contents(bytes, path)), bytes);

  RunLogContents damaged = in_process;
  damaged.provenance.error = path + ": /provenance: missing attribute 'ranks'";
  const RunLogReader r(decode_run_log_contents(encode_run_log_contents(damaged), path));
  EXPECT_EQ(error_of([&] { r.provenance(); }), damaged.provenance.error);
  EXPECT_EQ(r.series("loss"), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(r.vector("probe_losses", 2), (std::vector<double>{2, 4}));

  for (size_t cut = 0; cut < bytes.size(); cut += 1 + cut / 8)
    EXPECT_NE(error_of([&] { decode_run_log_contents(bytes.substr(0, cut), path); })
                  .find(path + ": the process that read the run log sent back a malformed answer"),
              std::string::npos)
        << cut;
  EXPECT_NE(error_of([&] { decode_run_log_contents(bytes + "x", path); }).find("malformed answer"), std::string::npos);
}

TEST(RunLog, LateSeriesAreBackFilledAndMissingValuesReadAsNaN) {
  TempDir dir;
  const std::string path = dir.file("late.h5");
  {
    RunLogOptions options;
    options.flush_every_steps = 4;  // series appear both inside a buffered block and after a flush
    RunLog log = RunLog::create(path, kConfig, test_provenance(), options);
    for (int64_t s = 0; s < 10; ++s) {
      std::map<std::string, double> scalars = {{"loss", 1.0 * s}};
      std::map<std::string, std::vector<double>> vectors;
      if (s >= 2) scalars["noise_sigma"] = 0.1 * s;  // appears mid-block
      if (s >= 6 && s != 8) scalars["queries"] = 3;  // appears after two flushes; missing at 8
      if (s == 1 || s >= 5) vectors["finite_differences"] = std::vector<double>(static_cast<size_t>(s % 3 + 1), s);
      if (s == 9) vectors["posterior_mean"] = {9.0, 9.5};
      if (s == 7) scalars.erase("loss");
      log.log_step(s, scalars, vectors);
    }
  }
  const RunLogReader r = RunLogReader::open(path);
  ASSERT_EQ(r.steps_logged(), 10);
  const std::vector<double> sigma = r.series("noise_sigma");
  const std::vector<double> queries = r.series("queries");
  const std::vector<double> loss = r.series("loss");
  for (int s = 0; s < 10; ++s) {
    if (s < 2) EXPECT_TRUE(std::isnan(sigma[s])) << s;
    else EXPECT_DOUBLE_EQ(sigma[s], 0.1 * s) << s;
    if (s < 6 || s == 8) EXPECT_TRUE(std::isnan(queries[s])) << s;
    else EXPECT_EQ(queries[s], 3.0) << s;
    if (s == 7) EXPECT_TRUE(std::isnan(loss[s]));
    else EXPECT_EQ(loss[s], 1.0 * s);
    const std::vector<double> fd = r.vector("finite_differences", s);
    if (s == 1 || s >= 5) EXPECT_EQ(fd, std::vector<double>(static_cast<size_t>(s % 3 + 1), s)) << s;
    else EXPECT_TRUE(fd.empty()) << s;
    EXPECT_EQ(r.vector("posterior_mean", s), (s == 9 ? std::vector<double>{9.0, 9.5} : std::vector<double>{})) << s;
  }
  EXPECT_NE(error_of([&] { r.vector("finite_differences", 10); }).find("out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { r.series("nope"); }).find("late.h5: /steps/nope: no such series"), std::string::npos);
}

TEST(RunLog, FiveThousandStepsCrossChunkBoundaries) {
  TempDir dir;
  const std::string path = dir.file("long.h5");
  constexpr int64_t kSteps = 5000;
  // Width of step s's finite-difference vector grows like AdaZeta's query count.
  auto width = [](int64_t s) { return static_cast<size_t>(1 + s / 1000 + s % 3); };
  {
    RunLogOptions options;
    options.flush_every_steps = 7;  // flush blocks straddle the 1024-row chunks
    RunLog log = RunLog::create(path, kConfig, test_provenance(), options);
    for (int64_t s = 0; s < kSteps; ++s) {
      std::vector<UpdateRecord> updates;
      for (int32_t q = 0; q < static_cast<int32_t>(width(s)); ++q)
        updates.push_back({q, 1e-3 * s + q, static_cast<uint64_t>(s * 100 + q)});
      log.log_updates(s, updates);
      std::vector<double> fd(width(s));
      for (size_t q = 0; q < fd.size(); ++q) fd[q] = s + 0.01 * q;
      log.log_step(s, {{"loss", 1.0 / (s + 1)}, {"queries", static_cast<double>(width(s))}},
                   {{"finite_differences", fd}});
      if (s % 500 == 0) log.log_eval(s, {{"dev_accuracy", s / 5000.0}});
    }
    log.close();
  }
  const RunLogReader r = RunLogReader::open(path);
  ASSERT_EQ(r.steps_logged(), kSteps);
  const std::vector<int64_t> steps = r.steps();
  const std::vector<double> loss = r.series("loss");
  const std::vector<double> queries = r.series("queries");
  for (int64_t s = 0; s < kSteps; ++s) {
    ASSERT_EQ(steps[s], s);
    ASSERT_EQ(loss[s], 1.0 / (s + 1)) << s;
    ASSERT_EQ(queries[s], static_cast<double>(width(s))) << s;
  }
  for (int64_t s : {0, 1, 1023, 1024, 1025, 2047, 2048, 3999, 4000, 4999}) {
    std::vector<double> expected(width(s));
    for (size_t q = 0; q < expected.size(); ++q) expected[q] = s + 0.01 * q;
    EXPECT_EQ(r.vector("finite_differences", s), expected) << s;
  }
  const UpdateTable u = r.updates();
  size_t row = 0;
  for (int64_t s = 0; s < kSteps; ++s) {
    for (int32_t q = 0; q < static_cast<int32_t>(width(s)); ++q, ++row) {
      ASSERT_LT(row, u.size());
      ASSERT_EQ(u.step[row], s);
      ASSERT_EQ(u.query[row], q);
      ASSERT_EQ(u.coefficient[row], 1e-3 * s + q);
      ASSERT_EQ(u.seed[row], static_cast<uint64_t>(s * 100 + q));
    }
  }
  EXPECT_EQ(row, u.size());
  EXPECT_EQ(r.eval_steps().size(), 10u);
  EXPECT_EQ(r.eval_series("dev_accuracy").back(), 4500 / 5000.0);
}

TEST(RunLog, CrashedRunKeepsEverythingFlushed) {
  TempDir dir;
  const std::string path = dir.file("crashed.h5");
  const int code = run_in_child_that_crashes([&] {
    RunLogOptions options;
    options.flush_every_steps = 10;
    RunLog* log = new RunLog(RunLog::create(path, kConfig, test_provenance(), options));  // never destroyed
    for (int64_t s = 0; s < 25; ++s) {
      const std::vector<UpdateRecord> updates = {{0, 0.5 * s, static_cast<uint64_t>(s)}};
      log->log_updates(s, updates);
      log->log_step(s, {{"loss", 3.0 - 0.1 * s}}, {{"finite_differences", {1.0 * s, 2.0 * s}}});
    }
    // Steps 20..24 are still buffered: the automatic flushes covered steps 0..19.
  });
  ASSERT_EQ(code, 1);
  const RunLogReader r = RunLogReader::open(path);
  ASSERT_EQ(r.steps_logged(), 20);
  const std::vector<double> loss = r.series("loss");
  EXPECT_DOUBLE_EQ(loss[19], 3.0 - 0.1 * 19);
  EXPECT_EQ(r.vector("finite_differences", 19), (std::vector<double>{19.0, 38.0}));
  EXPECT_EQ(r.updates().size(), 20u);
  EXPECT_EQ(std::get<std::string>(r.summary().at("status")), "running");
}

TEST(RunLog, FailedRunRecordsItsStatusFromTheErrorPath) {
  TempDir dir;
  const std::string path = dir.file("failed.h5");
  const int code = run_in_child_that_crashes([&] {
    RunLog* log = new RunLog(RunLog::create(path, kConfig, test_provenance()));  // never destroyed
    for (int64_t s = 0; s < 3; ++s) log->log_step(s, {{"loss", 1.0}});
    try {
      throw Error("loss is NaN at step 3");
    } catch (const Error& e) {
      if (!log->mark_failed(e.what())) _exit(3);
    }
  });
  ASSERT_EQ(code, 1);
  const RunLogReader r = RunLogReader::open(path);
  EXPECT_EQ(r.steps_logged(), 3);
  EXPECT_EQ(std::get<std::string>(r.summary().at("status")), "failed: loss is NaN at step 3");
}

TEST(RunLog, DestructorClosesAndFlushes) {
  TempDir dir;
  const std::string path = dir.file("scoped.h5");
  {
    RunLog log = RunLog::create(path, kConfig, test_provenance());
    log.log_step(0, {{"loss", 1.5}});
    log.set_summary("status", "completed");
  }
  const RunLogReader r = RunLogReader::open(path);
  EXPECT_EQ(r.series("loss"), std::vector<double>{1.5});
  EXPECT_EQ(std::get<std::string>(r.summary().at("status")), "completed");
}

TEST(RunLog, SummaryValueMayChangeType) {
  TempDir dir;
  const std::string path = dir.file("summary.h5");
  {
    RunLog log = RunLog::create(path, kConfig, test_provenance());
    log.set_summary("best_step", "unknown");
    log.flush();
    log.set_summary("best_step", 42.0);
  }
  EXPECT_EQ(std::get<double>(RunLogReader::open(path).summary().at("best_step")), 42.0);
}

TEST(RunLog, CreateRefusesAnExistingFileUnlessOverwrite) {
  TempDir dir;
  const std::string path = dir.file("exists.h5");
  RunLog::create(path, kConfig, test_provenance()).close();
  EXPECT_NE(error_of([&] { RunLog::create(path, kConfig, test_provenance()); })
                .find(path + ": run log already exists"),
            std::string::npos);
  RunLogOptions options;
  options.overwrite = true;
  RunLog log = RunLog::create(path, "steps: 1\n", test_provenance(), options);
  log.close();
  EXPECT_EQ(RunLogReader::open(path).config_text(), "steps: 1\n");
}

// HDF5's lock is off for readers, so zotune keeps one writer per log with <log>.lock: a second
// writer (even with overwrite) is refused without touching the first one's file; the lock file
// goes when the log is closed, and the log can then be written again.
TEST(RunLog, ASecondWriterIsRefusedWhileTheFirstWrites) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  RunLog first = RunLog::create(path, kConfig, test_provenance());
  first.log_step(0, {{"loss", 1.5}});
  first.flush();
  EXPECT_TRUE(fs::exists(path + ".lock"));
  RunLogOptions overwrite;
  overwrite.overwrite = true;
  EXPECT_EQ(error_of([&] { RunLog::create(path, kConfig, test_provenance(), overwrite); }),
            path + ": another process is writing this run log (" + path + ".lock is locked); wait for it to end or stop it");
  first.log_step(1, {{"loss", 1.25}});
  first.close();
  EXPECT_FALSE(fs::exists(path + ".lock"));
  EXPECT_EQ(RunLogReader::open(path).series("loss"), (std::vector<double>{1.5, 1.25}));
  RunLog second = RunLog::create(path, kConfig, test_provenance(), overwrite);
  second.close();
  EXPECT_EQ(RunLogReader::open(path).steps_logged(), 0);
}

TEST(RunLog, CreateMakesParentDirectories) {
  TempDir dir;
  const std::string path = dir.file("grid/lr_1e-6/seed_0/run.h5");
  RunLog::create(path, kConfig, test_provenance()).close();
  EXPECT_TRUE(fs::exists(path));
}

TEST(RunLog, RejectsBadNamesAndValuesWithoutLoggingAPartialRow) {
  TempDir dir;
  const std::string path = dir.file("bad.h5");
  RunLog log = RunLog::create(path, kConfig, test_provenance());
  log.log_step(0, {{"loss", 1.0}}, {{"finite_differences", {1.0}}});
  EXPECT_NE(error_of([&] { log.log_step(1, {{"a/b", 1.0}}); }).find("invalid series name 'a/b'"), std::string::npos);
  EXPECT_NE(error_of([&] { log.log_step(1, {{"step", 1.0}}); }).find("invalid series name 'step'"), std::string::npos);
  EXPECT_NE(error_of([&] { log.log_step(1, {{"x.values", 1.0}}); }).find("invalid"), std::string::npos);
  EXPECT_NE(error_of([&] { log.log_step(1, {{"finite_differences", 1.0}}); }).find("already a vector series"),
            std::string::npos);
  EXPECT_NE(error_of([&] { log.log_step(1, {}, {{"loss", {1.0}}}); }).find("already a scalar series"),
            std::string::npos);
  EXPECT_NE(error_of([&] { log.log_step(1, {{"loss", 2.0}, {"queries", 2.5}}); })
                .find("bad.h5: /steps/queries: expected a whole number"),
            std::string::npos);
  EXPECT_EQ(log.steps_logged(), 1);
  log.close();
  EXPECT_NE(error_of([&] { log.log_step(1, {{"loss", 1.0}}); }).find("bad.h5: run log is closed"), std::string::npos);
  const RunLogReader r = RunLogReader::open(path);
  EXPECT_EQ(r.steps_logged(), 1);
  EXPECT_FALSE(r.has_series("queries"));
}

TEST(RunLogReader, MissingGarbageAndTruncatedFilesFailNamingTheFile) {
  TempDir dir;
  const std::string missing = dir.file("missing.h5");
  EXPECT_NE(error_of([&] { RunLogReader::open(missing); }).find(missing + ": no such run log"), std::string::npos);

  const std::string garbage = dir.file("garbage.h5");
  {
    std::ofstream out(garbage, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 7919) % 251));
  }
  const std::string garbage_error = error_of([&] { RunLogReader::open(garbage); });
  EXPECT_NE(garbage_error.find(garbage + ": not a readable HDF5 run log"), std::string::npos) << garbage_error;

  const std::string full = dir.file("full.h5");
  {
    RunLog log = RunLog::create(full, kConfig, test_provenance());
    for (int64_t s = 0; s < 3000; ++s) log.log_step(s, {{"loss", 1.0}, {"lr", 1e-6}});
  }
  const std::vector<uint8_t> bytes = test::read_bytes(full);
  const std::string truncated = dir.file("truncated.h5");
  {
    std::ofstream out(truncated, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size() / 2));
  }
  const std::string truncated_error = error_of([&] { RunLogReader::open(truncated); });
  EXPECT_NE(truncated_error.find(truncated + ": not a readable HDF5 run log"), std::string::npos) << truncated_error;
  EXPECT_NE(truncated_error.find("truncated"), std::string::npos) << truncated_error;
}

// Storage faults (issue 17), through the writer's fault hook ZOTUNE_LOG_FAULT: the failing
// call is an Error naming the file, the file keeps its last good flush, nothing writes again
// on the way out, and the process exits normally (tests/train/check_storage_faults.py fills
// a real filesystem).
class ScopedLogFault {
 public:
  explicit ScopedLogFault(const char* spec) { setenv("ZOTUNE_LOG_FAULT", spec, 1); }
  ~ScopedLogFault() { unsetenv("ZOTUNE_LOG_FAULT"); }
};

TEST(RunLogFaults, TransientFlushErrorNamesTheFileAndTheRetryRecordsTheFailure) {
  TempDir dir;
  const std::string path = dir.file("eio.h5");
  {
    ScopedLogFault fault("flush:3:EIO");  // creation flushes once, step 10 once, step 20 fails
    RunLogOptions options;
    options.flush_every_steps = 10;
    RunLog log = RunLog::create(path, kConfig, test_provenance(), options);
    std::string error;
    for (int64_t s = 0; s < 25 && error.empty(); ++s) {
      const std::vector<UpdateRecord> updates = {{0, 0.5 * s, static_cast<uint64_t>(s)}};
      log.log_updates(s, updates);
      error = error_of([&] { log.log_step(s, {{"loss", 3.0 - 0.1 * s}}, {{"fd", {1.0 * s}}}); });
    }
    EXPECT_NE(error.find(path + ": cannot flush the run log (Input/output error"), std::string::npos) << error;
    EXPECT_EQ(log.steps_logged(), 20);
    EXPECT_TRUE(log.mark_failed(error));  // the error was transient: the retry writes everything
  }
  const RunLogReader r = RunLogReader::open(path);
  EXPECT_EQ(r.steps_logged(), 20);
  EXPECT_DOUBLE_EQ(r.series("loss")[19], 3.0 - 0.1 * 19);
  EXPECT_EQ(r.vector("fd", 19), std::vector<double>{19.0});
  EXPECT_EQ(r.updates().size(), 20u);
  EXPECT_EQ(std::get<std::string>(r.summary().at("status")).rfind("failed: " + path + ": cannot flush", 0), 0u);
}

// In process: the writer's side. That the process then exits normally (HDF5's exit handler
// crashed on a log whose close had failed) needs a process of its own: train.fault_disk_full.
TEST(RunLogFaults, FullDiskMidFlushKeepsTheLastGoodFlushAndRecordsTheStatus) {
  TempDir dir;
  const std::string path = dir.file("enospc.h5");
  {
    ScopedLogFault fault("write:3+:ENOSPC");  // step 10's two columns land, then every row write fails
    RunLogOptions options;
    options.flush_every_steps = 10;
    RunLog log = RunLog::create(path, kConfig, test_provenance(), options);
    std::string error;
    for (int64_t s = 0; s < 25 && error.empty(); ++s) error = error_of([&] { log.log_step(s, {{"loss", 1.0 + s}}); });
    EXPECT_NE(error.find(path + ": /steps/loss: cannot write rows (No space left on device"), std::string::npos) << error;
    // The rows still cannot be written; the status alone (an attribute, no new rows) can.
    EXPECT_TRUE(log.mark_failed(error));
    EXPECT_NO_THROW(log.close());  // no second write of the rows
  }
  const RunLogReader r = RunLogReader::open(path);
  EXPECT_EQ(r.steps_logged(), 10);
  EXPECT_EQ(r.series("loss"), (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(std::get<std::string>(r.summary().at("status")).rfind("failed: " + path + ": /steps/loss: cannot write rows", 0), 0u);
}

TEST(RunLogFaults, FullDiskOnEveryFlushKeepsTheLastGoodFlush) {
  TempDir dir;
  const std::string path = dir.file("flush_enospc.h5");
  {
    ScopedLogFault fault("flush:2+:ENOSPC");  // only the creation's flush succeeds
    RunLogOptions options;
    options.flush_every_steps = 4;
    RunLog log = RunLog::create(path, kConfig, test_provenance(), options);
    std::string error;
    for (int64_t s = 0; s < 10 && error.empty(); ++s) error = error_of([&] { log.log_step(s, {{"loss", 1.0}}); });
    EXPECT_NE(error.find(path + ": cannot flush the run log (No space left on device"), std::string::npos) << error;
    EXPECT_FALSE(log.mark_failed(error));  // every flush fails: nothing more reaches the file
  }  // the destructor closes without writing again and without throwing
  const RunLogReader r = RunLogReader::open(path);
  EXPECT_EQ(r.steps_logged(), 0);
  EXPECT_EQ(std::get<std::string>(r.summary().at("status")), "running");
}

TEST(RunLogFaults, MalformedFaultSpecIsRefused) {
  TempDir dir;
  ScopedLogFault fault("flush:often:EIO");
  EXPECT_NE(error_of([&] { RunLog::create(dir.file("x.h5"), kConfig, test_provenance()); }).find("ZOTUNE_LOG_FAULT: expected"),
            std::string::npos);
}

TEST(RunLog, LocalProvenanceDescribesThisProcess) {
  const char* argv[] = {"zotune", "train", "my run.yaml"};
  const RunProvenance p = local_provenance(3, argv);
  EXPECT_EQ(p.zotune_version, ZOTUNE_VERSION);
  EXPECT_EQ(p.command_line, "zotune train 'my run.yaml'");
  EXPECT_EQ(p.hostnames.size(), 1u);
  EXPECT_EQ(p.started_utc.size(), 20u);  // 2025-03-01T12:00:00Z
  EXPECT_EQ(p.started_utc.back(), 'Z');
}

// Every dataset of /steps, /eval and /updates carries a description and a unit: known series
// the catalog's, an unknown series a generic description and unit "" (docs/LOGS.md).
TEST(RunLog, EveryDatasetCarriesADescriptionAndAUnit) {
  TempDir dir;
  const std::string path = dir.file("described.h5");
  {
    RunLog log = RunLog::create(path, kConfig, test_provenance());
    const std::vector<UpdateRecord> updates = {{0, 0.5, 7u}};
    log.log_updates(0, updates);
    log.log_step(0, {{"loss", 2.5}, {"ms", 12.0}, {"queries", 4.0}, {"lr", 1e-3}, {"my_new_scalar", 0.25}},
                 {{"probe_losses", {2.4, 2.6}}, {"my_vector", {1.0}}});
    log.log_eval(1, {{"dev_loss", 0.7}, {"dev_accuracy", 0.5}, {"dev_bleu", 0.1}});
  }
  const RunLogReader r = RunLogReader::open(path);
  const std::map<std::string, DatasetInfo>& datasets = r.contents().datasets;
  ASSERT_EQ(datasets.size(), 18u);  // 5 series + 2 x 2 vector parts + step; 3 metrics + step; 4 update columns
  for (const auto& [dataset, info] : datasets) EXPECT_FALSE(info.description.empty()) << dataset;
  EXPECT_EQ(r.dataset_info("/steps/loss").unit, "nats");
  EXPECT_NE(r.dataset_info("/steps/loss").description.find("training loss"), std::string::npos);
  EXPECT_EQ(r.dataset_info("/steps/ms").unit, "ms");
  EXPECT_EQ(r.dataset_info("/steps/ms").description, "wall time of the step on rank 0 (probes, exchange of losses, update)");
  EXPECT_EQ(r.dataset_info("/steps/queries").unit, "count");
  EXPECT_EQ(r.dataset_info("/steps/step").unit, "step");
  EXPECT_EQ(r.dataset_info("/steps/probe_losses.values").unit, "nats");
  EXPECT_EQ(r.dataset_info("/steps/probe_losses.offsets").unit, "index");
  EXPECT_EQ(r.dataset_info("/eval/dev_loss").unit, "nats");
  EXPECT_EQ(r.dataset_info("/eval/dev_accuracy").unit, "fraction");
  EXPECT_EQ(r.dataset_info("/updates/coefficient").description, "theta <- theta + coefficient * z(seed, step, query)");
  // Not in the catalog: described as such, no unit.
  EXPECT_EQ(r.dataset_info("/steps/my_new_scalar").unit, "");
  EXPECT_NE(r.dataset_info("/steps/my_new_scalar").description.find("no description registered"), std::string::npos);
  EXPECT_NE(r.dataset_info("/steps/my_vector.values").description.find("no description registered"), std::string::npos);
  EXPECT_NE(r.dataset_info("/eval/dev_bleu").description.find("bleu on the dev split"), std::string::npos);
  EXPECT_EQ(r.dataset_info("/steps/nothing").description, "");
}

// Counts (queries, bytes, collective calls) are int64 datasets, missing = -1; the reader gives
// them as float64 with NaN for the missing ones; a fractional count is refused.
TEST(RunLog, CountsAreStoredAsIntegers) {
  TempDir dir;
  const std::string path = dir.file("counts.h5");
  {
    RunLog log = RunLog::create(path, kConfig, test_provenance());
    log.log_step(0, {{"loss", 1.5}, {"queries", 3.0}, {"exchange_calls", 2.0}, {"peak_memory_bytes", 123456789012.0}});
    log.log_step(1, {{"loss", 1.25}, {"exchange_calls", 5.0}, {"allreduce_bytes", 48.0}});
    EXPECT_NE(error_of([&] { log.log_step(2, {{"exchange_calls", 1.5}}); }).find("/steps/exchange_calls: expected a whole number"),
              std::string::npos);
    EXPECT_NE(error_of([&] { log.log_step(2, {{"allreduce_bytes", -8.0}}); }).find("expected a whole number >= 0"),
              std::string::npos);
    log.set_summary("steps", 2.0);
    log.set_summary("best_step", 1.0);
  }
  const RunLogReader r = RunLogReader::open(path);
  for (const char* count : {"queries", "exchange_calls", "peak_memory_bytes", "allreduce_bytes"})
    EXPECT_TRUE(r.dataset_info(std::string("/steps/") + count).integer) << count;
  EXPECT_FALSE(r.dataset_info("/steps/loss").integer);
  EXPECT_TRUE(r.dataset_info("/steps/step").integer);
  const std::vector<double> queries = r.series("queries");
  EXPECT_EQ(queries[0], 3.0);
  EXPECT_TRUE(std::isnan(queries[1]));  // -1, the fill value
  EXPECT_EQ(r.series("exchange_calls"), (std::vector<double>{2.0, 5.0}));
  EXPECT_EQ(r.series("peak_memory_bytes")[0], 123456789012.0);  // past int32
  EXPECT_TRUE(std::isnan(r.series("allreduce_bytes")[0]));
  EXPECT_EQ(std::get<double>(r.summary().at("steps")), 2.0);  // an int64 attribute, read as a number
  EXPECT_EQ(std::get<double>(r.summary().at("best_step")), 1.0);
}

TEST(RunLog, StoresTheResolvedConfigurationBesideTheRunFile) {
  TempDir dir;
  const std::string with = dir.file("with.h5"), without = dir.file("without.h5");
  const std::string resolved = "run:\n  steps: 5000\n  seed: 0  # default\n";
  RunLog::create(with, kConfig, test_provenance(), {}, resolved).close();
  RunLog::create(without, kConfig, test_provenance()).close();
  const RunLogReader r = RunLogReader::open(with);
  EXPECT_EQ(r.config_text(), kConfig);
  EXPECT_EQ(r.resolved_config_text(), resolved);
  EXPECT_EQ(RunLogReader::open(without).resolved_config_text(), "");
  EXPECT_EQ(RunLogReader::open(without).config_text(), kConfig);
}

// The writer holds no file lock while the run lasts, so a reader that locks (h5py's default
// File(path, "r"), which takes a shared flock) opens a live log. Before, HDF5's exclusive lock
// made it fail with "unable to lock file" (tests/train/check_logs.py live-read reads one with h5py).
TEST(RunLog, HoldsNoFileLockWhileOpen) {
  TempDir dir;
  const std::string path = dir.file("live.h5");
  RunLog log = RunLog::create(path, kConfig, test_provenance());
  log.log_step(0, {{"loss", 1.0}});
  log.flush();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(flock(fd, LOCK_SH | LOCK_NB), 0) << std::strerror(errno);
  flock(fd, LOCK_UN);
  ::close(fd);
  // And the log reads as of its last flush while it stays open.
  EXPECT_EQ(RunLogReader::open(path).series("loss"), std::vector<double>{1.0});
  log.close();
}

// A version 1 log written before the attributes, /config_resolved and integer counts (the
// fuzz corpus keeps one: float64 exchange_calls, int32 queries) reads as before.
TEST(RunLogReader, ReadsLogsWrittenBeforeTheyExplainedThemselves) {
  const RunLogReader r =
      RunLogReader::open(std::string(ZOTUNE_SOURCE_DIR) + "/tests/fuzz/corpus/fuzz_run_log/tiny_mezo_3_steps.h5");
  EXPECT_EQ(r.format_version(), 1);
  EXPECT_EQ(r.series("queries"), (std::vector<double>{2, 2, 2}));
  EXPECT_EQ(r.series("exchange_calls"), (std::vector<double>{1, 1, 1}));
  EXPECT_TRUE(r.dataset_info("/steps/queries").integer);
  EXPECT_FALSE(r.dataset_info("/steps/exchange_calls").integer);
  EXPECT_EQ(r.dataset_info("/steps/loss").description, "");
  EXPECT_EQ(r.dataset_info("/steps/loss").unit, "");
  EXPECT_EQ(r.resolved_config_text(), "");
  EXPECT_NE(r.config_text().find("name: mezo"), std::string::npos);
}

// docs/LOGS.md lists every series the catalog describes, with its unit.
TEST(SeriesCatalog, EveryDescribedDatasetIsDocumentedWithItsUnit) {
  std::ifstream in(std::string(ZOTUNE_SOURCE_DIR) + "/docs/LOGS.md");
  ASSERT_TRUE(in) << "docs/LOGS.md";
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  for (const std::string& path : described_dataset_paths()) {
    const size_t slash = path.find('/', 1);
    const SeriesInfo info = series_info(path.substr(1, slash - 1), path.substr(slash + 1));
    bool found = false;
    for (const std::string& line : lines)
      if (line.rfind("| `" + path, 0) == 0 && line.find("| " + (info.unit.empty() ? std::string("-") : info.unit) + " |") != std::string::npos)
        found = true;
    EXPECT_TRUE(found) << path << " (unit '" << info.unit << "') has no row in docs/LOGS.md";
  }
}

}  // namespace
}  // namespace zotune
