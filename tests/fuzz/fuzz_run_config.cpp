// libFuzzer target: the run-file parser (core/config) on any YAML text must either return a
// RunConfig or throw a zotune::Error naming the key; never crash, hang or allocate without
// bound. parse_run_config reads the text alone (no `base:` files), as replay reads a log's
// /config. Seed corpus: tests/fuzz/corpus/fuzz_run_config (run files from the tests).
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config/run_config.h"
#include "core/util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const zotune::RunConfig config =
        zotune::parse_run_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
    // The resolved text must itself parse: it is what `zotune config --resolved` prints and
    // what a run log stores as /config.
    zotune::parse_run_config(config.text, "fuzz-resolved.yaml");
  } catch (const zotune::Error&) {
  }
  return 0;
}
