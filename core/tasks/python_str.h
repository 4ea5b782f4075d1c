// Python's str semantics where the papers' code relies on them (HF dataset scripts, SQuAD's
// normalisation): the two text helpers both need, on decoded code points.
#pragma once
#include <string>
#include <vector>

namespace zotune::tasks {

// str.isspace() of one character: Unicode White_Space plus the ASCII separators 0x1C-0x1F.
bool is_python_space(char32_t c);

// str.split() with no separator: the runs of non-whitespace.
std::vector<std::u32string> python_split(const std::u32string& s);

}  // namespace zotune::tasks
