#include "core/tokenizer/split_patterns.h"

#include <algorithm>

#include "core/tokenizer/unicode.h"

namespace zotune::tok {

const char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char kLlama3Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char kQwen2Pattern[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

using unicode::is_letter;
using unicode::is_number;
using unicode::is_whitespace;

bool is_newline(char32_t c) { return c == '\r' || c == '\n'; }
// [^\s\p{L}\p{N}]
bool is_symbol(char32_t c) { return !is_whitespace(c) && !is_letter(c) && !is_number(c); }

// A regex whose alternatives never match the empty string: matches are found by trying
// the pattern at each position, left to right (what find_iter does).
class AnchoredPattern : public SplitPattern {
 public:
  std::vector<MatchSpan> find_matches(std::u32string_view s) const override {
    std::vector<MatchSpan> spans;
    if (s.empty()) {
      spans.push_back({0, 0, false});
      return spans;
    }
    size_t gap_begin = 0, pos = 0;
    while (pos < s.size()) {
      const size_t len = match_at(s, pos);
      if (len == 0) {
        ++pos;
        continue;
      }
      if (gap_begin < pos) spans.push_back({gap_begin, pos, false});
      spans.push_back({pos, pos + len, true});
      pos += len;
      gap_begin = pos;
    }
    if (gap_begin < s.size()) spans.push_back({gap_begin, s.size(), false});
    return spans;
  }

 protected:
  // Length of the match starting exactly at pos, 0 when there is none.
  virtual size_t match_at(std::u32string_view s, size_t pos) const = 0;
};

size_t run_end(std::u32string_view s, size_t pos, bool (*pred)(char32_t)) {
  while (pos < s.size() && pred(s[pos])) ++pos;
  return pos;
}

// \s+(?!\S)|\s+ at a whitespace character: the run, less its last character when a
// non-space follows (that one goes with the next word), but never less than one.
size_t whitespace_tail(std::u32string_view s, size_t pos) {
  const size_t end = run_end(s, pos, is_whitespace);
  if (end == s.size()) return end - pos;
  return std::max<size_t>(end - pos - 1, 1);
}

// 's|'t|'re|'ve|'m|'ll|'d, optionally case-insensitive (Unicode folding: 'ſ' is an s).
size_t contraction(std::u32string_view s, size_t pos, bool ignore_case) {
  if (s[pos] != '\'' || pos + 1 >= s.size()) return 0;
  const auto fold = [&](char32_t c) -> char32_t {
    if (!ignore_case) return c;
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c == 0x17F) return 's';
    return c;
  };
  const char32_t a = fold(s[pos + 1]);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (pos + 2 >= s.size()) return 0;
  const char32_t b = fold(s[pos + 2]);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

class Gpt2Pattern : public AnchoredPattern {
 protected:
  size_t match_at(std::u32string_view s, size_t pos) const override {
    if (const size_t n = contraction(s, pos, false)) return n;
    const size_t after_space = s[pos] == ' ' ? pos + 1 : pos;
    if (after_space < s.size()) {
      const char32_t c = s[after_space];
      if (is_letter(c)) return run_end(s, after_space, is_letter) - pos;
      if (is_number(c)) return run_end(s, after_space, is_number) - pos;
      if (is_symbol(c)) return run_end(s, after_space, is_symbol) - pos;
    }
    if (is_whitespace(s[pos])) return whitespace_tail(s, pos);
    return 0;
  }
};

class Llama3Pattern : public AnchoredPattern {
 public:
  explicit Llama3Pattern(size_t max_digits) : max_digits_(max_digits) {}

 protected:
  size_t match_at(std::u32string_view s, size_t pos) const override {
    if (const size_t n = contraction(s, pos, true)) return n;
    const char32_t c = s[pos];
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (is_letter(c)) return run_end(s, pos, is_letter) - pos;
    if (!is_newline(c) && !is_number(c) && pos + 1 < s.size() && is_letter(s[pos + 1])) {
      return run_end(s, pos + 1, is_letter) - pos;
    }
    // \p{N}{1,max}
    if (is_number(c)) {
      size_t end = pos;
      while (end < s.size() && end - pos < max_digits_ && is_number(s[end])) ++end;
      return end - pos;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    const size_t after_space = c == ' ' ? pos + 1 : pos;
    if (after_space < s.size() && is_symbol(s[after_space])) {
      const size_t end = run_end(s, after_space, is_symbol);
      return run_end(s, end, is_newline) - pos;
    }
    if (!is_whitespace(c)) return 0;
    // \s*[\r\n]+: up to and including the last newline of the whitespace run.
    const size_t end = run_end(s, pos, is_whitespace);
    for (size_t k = end; k > pos; --k) {
      if (is_newline(s[k - 1])) return k - pos;
    }
    return whitespace_tail(s, pos);
  }

 private:
  size_t max_digits_;
};

// \w+|[^\w\s]+ with Oniguruma's \w (= Rust regex's: Alphabetic, marks, Nd, Pc, Join_Control).
class WordOrSymbolPattern : public AnchoredPattern {
 protected:
  size_t match_at(std::u32string_view s, size_t pos) const override {
    if (unicode::is_word_char(s[pos])) return run_end(s, pos, unicode::is_word_char) - pos;
    if (!is_whitespace(s[pos])) {
      return run_end(s, pos, [](char32_t c) {
               return !unicode::is_word_char(c) && !is_whitespace(c);
             }) - pos;
    }
    return 0;
  }
};

class LiteralPattern : public SplitPattern {
 public:
  explicit LiteralPattern(std::u32string literal) : literal_(std::move(literal)) {}
  std::vector<MatchSpan> find_matches(std::u32string_view s) const override {
    std::vector<MatchSpan> spans;
    if (s.empty() || literal_.empty()) {
      spans.push_back({0, s.size(), false});
      return spans;
    }
    size_t prev = 0;
    while (true) {
      const size_t found = s.find(literal_, prev);
      if (found == std::u32string_view::npos) break;
      if (prev < found) spans.push_back({prev, found, false});
      spans.push_back({found, found + literal_.size(), true});
      prev = found + literal_.size();
    }
    if (prev < s.size()) spans.push_back({prev, s.size(), false});
    return spans;
  }

 private:
  std::u32string literal_;
};

}  // namespace

SplitPatternPtr make_regex_pattern(const std::string& regex) {
  if (regex == kGpt2Pattern) return std::make_unique<Gpt2Pattern>();
  if (regex == kLlama3Pattern) return std::make_unique<Llama3Pattern>(3);
  if (regex == kQwen2Pattern) return std::make_unique<Llama3Pattern>(1);
  return nullptr;
}

SplitPatternPtr make_literal_pattern(std::u32string literal) {
  return std::make_unique<LiteralPattern>(std::move(literal));
}

SplitPatternPtr make_word_or_symbol_pattern() { return std::make_unique<WordOrSymbolPattern>(); }

std::string known_split_regexes() {
  return std::string("GPT-2 `") + kGpt2Pattern + "`, Llama-3 `" + kLlama3Pattern +
         "`, Qwen2 `" + kQwen2Pattern + "`";
}

}  // namespace zotune::tok
