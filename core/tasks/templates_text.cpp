// The placeholder language of the template tables (templates_tables.h) and the Python string
// operations it stands for.
#include <cctype>

#include "core/tasks/templates_tables.h"
#include "core/util/error.h"

namespace zotune::tasks::templates_detail {

// Python's str.isspace() code points: ASCII \t \n \v \f \r, \x1c-\x1f and space, and U+0085,
// U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool is_py_space(const std::string& s, size_t i, size_t* len) {
  const auto b = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = b(0);
  if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) {
    *len = 1;
    return true;
  }
  if (c == 0xC2 && (b(1) == 0x85 || b(1) == 0xA0)) {
    *len = 2;
    return true;
  }
  if (c == 0xE1 && b(1) == 0x9A && b(2) == 0x80) {
    *len = 3;
    return true;
  }
  if (c == 0xE2 && b(1) == 0x80 && ((b(2) >= 0x80 && b(2) <= 0x8A) || b(2) == 0xA8 || b(2) == 0xA9 || b(2) == 0xAF)) {
    *len = 3;
    return true;
  }
  if (c == 0xE2 && b(1) == 0x81 && b(2) == 0x9F) {
    *len = 3;
    return true;
  }
  if (c == 0xE3 && b(1) == 0x80 && b(2) == 0x80) {
    *len = 3;
    return true;
  }
  return false;
}

std::string py_lstrip(const std::string& s) {
  size_t i = 0, len = 0;
  while (i < s.size() && is_py_space(s, i, &len)) i += len;
  return s.substr(i);
}

std::string py_rstrip(const std::string& s) {
  // Walk forward so multi-byte spaces are recognised; remember where the trailing run starts.
  size_t i = 0, end = 0, len = 0;
  while (i < s.size()) {
    if (is_py_space(s, i, &len)) {
      i += len;
    } else {
      ++i;
      while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
      end = i;
    }
  }
  return s.substr(0, end);
}

std::string py_strip(const std::string& s) { return py_rstrip(py_lstrip(s)); }

std::string strip_spaces(const std::string& s) {
  const size_t first = s.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(' ') - first + 1);
}

std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string drop_last_code_point(const std::string& s) {
  if (s.empty()) return s;
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return s.substr(0, i);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

namespace {

std::string apply_filter(const std::string& filter, const std::string& s, const std::map<std::string, std::string>& extra,
                         const std::string& where) {
  if (filter == "strip") return py_strip(s);
  if (filter == "lstrip") return py_lstrip(s);
  if (filter == "rstrip") return py_rstrip(s);
  if (filter == "lower") return ascii_lower(s);
  if (filter == "upper_first") {
    std::string out = s;
    if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return out;
  }
  if (filter == "question_mark") return !s.empty() && s.back() == '?' ? s : s + "?";
  if (filter == "drop_final_period") return !s.empty() && s.back() == '.' ? s.substr(0, s.size() - 1) : s;
  if (filter == "copa_connective") {
    if (s == "effect") return " so ";
    if (s == "cause") return " because ";
    throw Error(where + ": COPA question '" + s + "' is neither 'cause' nor 'effect'");
  }
  if (filter == "lower_first_word_unless_I") {
    const size_t space = s.find(' ');
    const std::string first = s.substr(0, space);
    if (first == "I") return s;
    return ascii_lower(first) + (space == std::string::npos ? "" : s.substr(space));
  }
  if (filter == "highlight_to_dash") return replace_all(s, "@highlight\n", "- ");
  if (filter == "fill_placeholder") {
    auto it = extra.find("candidate");
    check(it != extra.end(), where + ": fill_placeholder without a candidate");
    return replace_all(s, "@placeholder", it->second);
  }
  throw Error(where + ": unknown template filter '" + filter + "'");
}

}  // namespace

std::string fill(const std::string& pattern, const Example& ex, const std::map<std::string, std::string>& extra,
                 const std::string& where) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    const size_t open = pattern.find('{', i);
    if (open == std::string::npos) {
      out += pattern.substr(i);
      break;
    }
    out += pattern.substr(i, open - i);
    const size_t close = pattern.find('}', open);
    check(close != std::string::npos, where + ": unclosed '{' in template '" + pattern + "'");
    const std::string spec = pattern.substr(open + 1, close - open - 1);
    std::vector<std::string> parts;
    size_t start = 0;
    while (true) {
      const size_t bar = spec.find('|', start);
      parts.push_back(spec.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
    std::string value;
    if (auto it = extra.find(parts[0]); it != extra.end()) {
      value = it->second;
    } else if (auto jt = ex.text.find(parts[0]); jt != ex.text.end()) {
      value = jt->second;
    } else {
      throw Error(where + ": the example has no text field '" + parts[0] + "'");
    }
    for (size_t k = 1; k < parts.size(); ++k) value = apply_filter(parts[k], value, extra, where);
    out += value;
    i = close + 1;
  }
  return out;
}

}  // namespace zotune::tasks::templates_detail
