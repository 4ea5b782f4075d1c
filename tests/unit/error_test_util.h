// The message of a zotune::Error, for tests that check what an error says: shared by the unit
// tests (through io_test_util.h) and the CUDA tests. Header-only.
#pragma once
#include <string>

#include "core/util/error.h"

namespace zotune::test {

// The message of the zotune::Error that f() throws, or "" when it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace zotune::test
