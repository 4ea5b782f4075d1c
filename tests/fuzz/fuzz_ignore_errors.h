// For fuzz targets that call every accessor of what they parsed: a zotune::Error (the clean
// refusal of bad input) from one accessor must not keep the target from calling the next;
// anything else (a crash, another exception) still ends the input as a failure.
#pragma once
#include <utility>

#include "core/util/error.h"

namespace zotune::fuzz {

template <typename F>
void ignore_errors(F&& f) {
  try {
    std::forward<F>(f)();
  } catch (const zotune::Error&) {
  }
}

}  // namespace zotune::fuzz
