// Splitting text at a separator, the way lists and lines are stored in zotune's files: the
// pieces between separators, none after a final one ("a,b" and "a,b," give {a, b}; "" gives {}).
#pragma once
#include <string>
#include <vector>

namespace zotune {

inline std::vector<std::string> split_text(const std::string& text, char separator) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find(separator, begin);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

}  // namespace zotune
