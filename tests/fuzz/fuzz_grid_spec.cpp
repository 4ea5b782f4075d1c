// libFuzzer target: grid files (core/grid/grid_spec) must expand or be refused with a
// zotune::Error naming the grid file and key; never crash, hang or allocate without bound.
// The input is written to a private temp folder (fuzz_input_file.h), so a relative `base:`
// names no file. Seed corpus: tests/fuzz/corpus/fuzz_grid_spec.
#include <cstddef>
#include <cstdint>

#include "core/grid/grid_spec.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = zotune::fuzz::write_input_file(data, size, "grid.yaml");
  try {
    zotune::load_grid(path);
  } catch (const zotune::Error&) {
  }
  return 0;
}
