#include "core/util/suggest.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>

namespace zotune {

namespace {

std::string_view leaf_of(std::string_view path) {
  const size_t dot = path.find('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

}  // namespace

size_t edit_distance(std::string_view a_text, std::string_view b_text) {
  std::string a(a_text), b(b_text);
  for (std::string* s : {&a, &b})
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::optional<std::string_view> closest_spelling(std::string_view word, const std::vector<std::string_view>& candidates) {
  if (word.size() > 64) return std::nullopt;
  std::optional<std::string_view> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view c : candidates) {
    const size_t allowed = std::clamp<size_t>(std::max(leaf_of(word).size(), leaf_of(c).size()) / 3, 1, 3);
    const size_t d = edit_distance(word, c);
    if (d <= allowed && d < best_distance) best = c, best_distance = d;
  }
  return best;
}

}  // namespace zotune
