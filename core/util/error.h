// zotune::Error: the one exception type for bad input and failed invariants.
// Messages always name the file, key or tensor involved so a user can act on them.
#pragma once
#include <stdexcept>
#include <string>

namespace zotune {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws zotune::Error(message) when cond is false.
inline void check(bool cond, const std::string& message) {
  if (!cond) throw Error(message);
}

}  // namespace zotune
