// Inputs the fuzz targets (tests/fuzz) found crashing, hanging or allocating without bound,
// each checked here for the clean error that replaced the failure. The raw inputs are also
// replayed through the fuzz entry points by ctest fuzz.smoke.<target>
// (tests/fuzz/regressions/<target>/); docs/RELIABILITY.md lists them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>

#include "core/config/run_config.h"
#include "core/data/records.h"
#include "core/grid/grid_spec.h"
#include "core/log/run_log_reader.h"
#include "core/model/config.h"
#include "core/util/error.h"
#include "io_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;

using test::error_of;

std::string write_file(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / "zotune_fuzz_regressions";
  fs::create_directories(dir);
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

// fuzz_run_config, fuzz_grid_spec: a lone ',' made yaml-cpp's LoadAll return empty documents
// forever (yaml-cpp issue 1040), allocating until the kernel killed the process.
TEST(FuzzRegressions, YamlLoneCommaIsAnErrorNotAnEndlessLoop) {
  EXPECT_EQ(error_of([] { parse_run_config(",", "run.yaml"); }), "run.yaml:1:1: malformed YAML: ',' starts no value");
  EXPECT_EQ(error_of([] { parse_run_config("  ,\n", "run.yaml"); }), "run.yaml:1:3: malformed YAML: ',' starts no value");
  const std::string grid = write_file("comma_grid.yaml", ",\n");
  EXPECT_EQ(error_of([&] { load_grid(grid); }), grid + ":1:1: malformed YAML: ',' starts no value");
}

// The documents yaml-cpp does return are still told apart: a second one is an error at its
// line, an empty file or a comment alone is an empty run file.
TEST(FuzzRegressions, YamlSecondDocumentStillRefused) {
  EXPECT_EQ(error_of([] { parse_run_config("model: {path: m}\n---\ntask: {name: lm}\n", "run.yaml"); }),
            "run.yaml:3: a run file holds one YAML document; a second one starts here");
  EXPECT_EQ(error_of([] { parse_run_config("model: {path: m}\ntask: {name: lm}\n", "run.yaml"); }), "");
  EXPECT_NE(error_of([] { parse_run_config("# nothing\n", "run.yaml"); }).find("required key is missing"), std::string::npos);
}

// fuzz_grid_spec: a mapping as an axis value (`[{a: b}]`) was iterated as a list to name the
// run: yaml-cpp's invalid-node exception escaped as an internal error (a segfault in the
// sanitized build). Now the run-file check refuses the value, naming the grid line.
TEST(FuzzRegressions, GridAxisValueThatIsAMappingIsRefusedCleanly) {
  const std::string grid = write_file("mapping_axis.yaml", "axes:\n  optimizer.name: [{a: b}]\n");
  EXPECT_EQ(error_of([&] { load_grid(grid); }),
            grid + ":2: optimizer.name: expected one of mezo, bszo, bszo-b, adazeta, mezo-adam, hizoo, lozo, sparse-mezo, "
                   "got a mapping (run 0 of 1: name=_..._)");
}

// fuzz_data_records: a number past a double ("44E400000000") made nlohmann::json throw
// out_of_range (406), which the readers did not catch: the process aborted. config.json had
// the same gap (checked here by the same input, not found by its own fuzzer).
TEST(FuzzRegressions, JsonNumberPastADoubleIsAnError) {
  const std::string jsonl = write_file("overflow.jsonl", "{\"a\": 1}\n{\"b\": 44E400000000}\n");
  EXPECT_EQ(error_of([&] { data::read_jsonl(jsonl); }), jsonl + ":2: invalid JSON: number overflow parsing '44E400000000'");
  const std::string squad = write_file("overflow.json", "{\"data\": [{\"title\": 1e400}]}");
  EXPECT_EQ(error_of([&] { data::read_squad_json(squad); }), squad + ": invalid JSON: number overflow parsing '1e400'");
  EXPECT_EQ(error_of([&] { data::read_drop_json(squad); }), squad + ": invalid JSON: number overflow parsing '1e400'");
  EXPECT_EQ(error_of([] { parse_hf_config_text("{\"hidden_size\": 1e400}", "config.json"); }),
            "config.json: not valid JSON: [json.exception.out_of_range.406] number overflow parsing '1e400'");
}

// fuzz_run_log: HDF5 run logs whose dataspaces lie. Each input is a real log with bytes
// changed by the fuzzer (or, for the attribute arrays, by h5py); every reader call must end
// in a zotune::Error naming the object.
const std::string kRunLogRegressions = std::string(ZOTUNE_SOURCE_DIR) + "/tests/fuzz/regressions/fuzz_run_log/";

// Every vector of every row, as `zotune show` and replay read them: the errors, in order.
std::string vector_errors(const RunLogReader& log) {
  std::string errors;
  for (const std::string& name : log.vector_series_names())
    for (int64_t row = 0; row < log.steps_logged(); ++row) {
      const std::string e = error_of([&] { log.vector(name, row); });
      if (!e.empty()) errors += e + "\n";
    }
  return errors;
}

// A non-scalar attribute was read into one value's buffer: H5Aread wrote 512 string pointers
// (4096 integers) over the stack.
TEST(FuzzRegressions, RunLogAttributeArraysAreRefusedNotReadIntoOneValue) {
  const std::string path = kRunLogRegressions + "provenance_attribute_arrays.h5";
  const RunLogReader log = RunLogReader::open(path);
  EXPECT_EQ(error_of([&] { log.provenance(); }),
            path + ": /provenance attribute 'zotune_version': expected one value, the file holds 512");
}

// A `step` dataset claiming 50331648 rows in a 64 KB file: the reader allocated them (2.3 GB
// before the RSS limit stopped it); a ragged vector's offsets reaching 2^63 and below zero:
// their difference overflowed (UB) and sized an allocation of 2^50 bytes.
TEST(FuzzRegressions, RunLogLengthsAndOffsetsPastTheFileAreRefused) {
  const std::string steps = kRunLogRegressions + "step_extent_past_file_size.h5";
  EXPECT_EQ(error_of([&] { RunLogReader::open(steps); }),
            steps + ": /steps/step: 50331648 rows of 8 bytes cannot fit in the file's 64240 bytes (a corrupted log)");
  // A float type claiming 32776-byte elements (3 rows stored in 24 bytes): libhdf5 read past
  // its buffer converting them.
  const std::string type = kRunLogRegressions + "series_extent_past_stored_data.h5";
  EXPECT_EQ(error_of([&] { RunLogReader::open(type).series("eps"); }),
            type + ": /steps/eps: 3 rows of 32776 bytes cannot fit in the file's 64240 bytes (a corrupted log)");
  const std::string huge = kRunLogRegressions + "vector_offset_huge.h5";
  EXPECT_NE(vector_errors(RunLogReader::open(huge))
                .find(huge + ": /steps/probe_losses.values: elements [0, 271579372060674) out of range (length 6)\n"),
            std::string::npos);
  const std::string overflow = kRunLogRegressions + "vector_offsets_overflow.h5";
  EXPECT_NE(vector_errors(RunLogReader::open(overflow))
                .find(overflow + ": /steps/finite_differences.offsets: negative offset at row 2\n"),
            std::string::npos);
}

// fuzz_run_log: logs that crash or hang libhdf5 itself (tests/fuzz/hdf5_library_crashes,
// README there): read in this process they end the test binary (SIGSEGV) or never return.
// RunLogReader::open reads in a forked child, so each is a zotune::Error naming the file, or
// a log whose damaged parts are errors naming the file when used.
TEST(FuzzRegressions, RunLogsThatCrashOrHangLibhdf5AreErrors) {
  const std::string dir = std::string(ZOTUNE_SOURCE_DIR) + "/tests/fuzz/hdf5_library_crashes/";
  setenv("ZOTUNE_LOG_READ_TIMEOUT_S", "5", 1);  // global_heap_hang.h5 never returns
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".h5") continue;
    ++files;
    const std::string path = entry.path().string();
    std::string errors;
    try {
      const RunLogReader log = RunLogReader::open(path);
      for (const auto& read : std::vector<std::function<void()>>{
               [&] { log.config_text(); }, [&] { log.provenance(); }, [&] { log.steps(); },
               [&] { log.updates(); }, [&] { log.eval_steps(); }, [&] { log.summary(); }})
        errors += error_of(read);
      for (const std::string& name : log.series_names()) errors += error_of([&] { log.series(name); });
      errors += vector_errors(log);
    } catch (const Error& e) {
      errors = e.what();
    }
    EXPECT_EQ(errors.rfind(path + ": ", 0), 0u) << path << ": " << errors;  // at least one error, naming the file
  }
  unsetenv("ZOTUNE_LOG_READ_TIMEOUT_S");
  EXPECT_EQ(files, 6);
}

}  // namespace
}  // namespace zotune
