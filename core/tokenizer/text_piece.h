// The unit of text that moves through the tokenizer pipeline (Hugging Face's "split" of a
// PreTokenizedString), and the delimiter behaviours that pre-tokenizers split with.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace zotune::tok {

struct TextPiece {
  std::u32string text;  // code points, normalized as far as the pipeline has got
  // Whether the piece still begins at offset 0 of the caller's text: Metaspace's
  // prepend_scheme "first" prefixes only such a piece. Pieces after an added token, later
  // pieces of a split, and pieces whose leading characters a normalizer removed are not.
  bool at_input_start = false;
};

// One span of a piece: [begin, end) code points, and whether the pattern matched it.
struct MatchSpan {
  size_t begin;
  size_t end;
  bool is_match;
};

// Hugging Face SplitDelimiterBehavior: what happens to matched spans when splitting.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Splits `piece` along `spans` (which cover it, in order) as NormalizedString::split does;
// appends the non-empty results to `out`.
void split_piece(const TextPiece& piece, const std::vector<MatchSpan>& spans,
                 SplitBehavior behavior, std::vector<TextPiece>& out);

// Spans for a per-character predicate: every matching character is its own match.
template <typename Predicate>
std::vector<MatchSpan> char_matches(std::u32string_view s, Predicate&& matches) {
  std::vector<MatchSpan> spans;
  size_t last = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (matches(s[i])) {
      if (last < i) spans.push_back({last, i, false});
      spans.push_back({i, i + 1, true});
      last = i + 1;
    }
  }
  if (last < s.size()) spans.push_back({last, s.size(), false});
  return spans;
}

}  // namespace zotune::tok
