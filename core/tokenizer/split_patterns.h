// Hand-written matchers for the regular expressions real tokenizers split with (GPT-2's,
// Llama-3's, Qwen2's), with Oniguruma's leftmost-first alternation and backtracking
// semantics, plus literal-string patterns. There is no general regex engine: any other
// pattern is reported by name (known_split_regexes lists the supported ones).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/text_piece.h"

namespace zotune::tok {

class SplitPattern {
 public:
  virtual ~SplitPattern() = default;
  // Spans covering s in order: the pattern's non-overlapping matches, found left to right,
  // and the gaps between them. An empty s gives one empty non-match span.
  virtual std::vector<MatchSpan> find_matches(std::u32string_view s) const = 0;
};
using SplitPatternPtr = std::unique_ptr<SplitPattern>;

// The GPT-2 / ByteLevel pattern:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
extern const char kGpt2Pattern[];
// Llama-3's: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
extern const char kLlama3Pattern[];
// Qwen2's: Llama-3's with \p{N} (one digit per match) in place of \p{N}{1,3}.
extern const char kQwen2Pattern[];

// nullptr when `regex` is not one of the supported patterns.
SplitPatternPtr make_regex_pattern(const std::string& regex);
SplitPatternPtr make_literal_pattern(std::u32string literal);
// Onig's \w+|[^\w\s]+ (the Whitespace pre-tokenizer).
SplitPatternPtr make_word_or_symbol_pattern();
// Human-readable list of the regexes make_regex_pattern accepts, for error messages.
std::string known_split_regexes();

}  // namespace zotune::tok
