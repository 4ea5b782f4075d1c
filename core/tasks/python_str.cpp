#include "core/tasks/python_str.h"

#include "core/tokenizer/unicode.h"

namespace zotune::tasks {

bool is_python_space(char32_t c) { return (c >= 0x1C && c <= 0x1F) || unicode::is_whitespace(c); }

std::vector<std::u32string> python_split(const std::u32string& s) {
  std::vector<std::u32string> words;
  std::u32string cur;
  for (char32_t c : s) {
    if (is_python_space(c)) {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

}  // namespace zotune::tasks
