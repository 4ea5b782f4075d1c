// libFuzzer target: the HDF5 run-log reader (core/log/run_log_reader) on any bytes must read
// the log or throw a zotune::Error naming the path; never crash. Every accessor is called, as
// `zotune show`, `replay` and the grid's collect do. The bytes are written to a private temp
// file (HDF5 opens paths). Seed corpus: tests/fuzz/corpus/fuzz_run_log (small run logs).
// The log is read in this process (read_run_log_contents), not in the forked child that
// RunLogReader::open uses, so that the fuzzer sees what libhdf5 does with the bytes: the
// crashes left inside the library (tests/fuzz/hdf5_library_crashes) end the child, and open()
// turns them into an error (ctest log.corrupted_by_library.*).
// Note: libhdf5 itself is not instrumented (a system library), so coverage guides the fuzzer
// only through zotune's side of the reader; memory errors inside the library still crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/log/run_log_reader.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_ignore_errors.h"
#include "tests/fuzz/fuzz_input_file.h"

// libhdf5 asks malloc for sizes read from the file; on a corrupted size malloc returns null
// and the library fails the call cleanly, so ASan must return null too instead of reporting
// (zotune's own allocations throw std::bad_alloc then, which still ends the run as a crash).
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

using zotune::fuzz::ignore_errors;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace zotune;
  const std::string path = zotune::fuzz::write_input_file(data, size, "run.h5");
  try {
    const RunLogReader log(read_run_log_contents(path));
    ignore_errors([&] { log.config_text(); });
    ignore_errors([&] { log.provenance(); });
    ignore_errors([&] { log.steps(); });
    ignore_errors([&] {
      const int64_t rows = log.steps_logged();
      for (const std::string& name : log.series_names()) ignore_errors([&] { log.series(name); });
      for (const std::string& name : log.vector_series_names())
        for (int64_t row = 0; row < rows && row < 64; ++row) ignore_errors([&] { log.vector(name, row); });
    });
    ignore_errors([&] { log.updates(); });
    ignore_errors([&] { log.eval_steps(); });
    ignore_errors([&] {
      for (const std::string& name : log.eval_metric_names()) ignore_errors([&] { log.eval_series(name); });
    });
    ignore_errors([&] { log.summary(); });
  } catch (const Error&) {
  }
  return 0;
}
