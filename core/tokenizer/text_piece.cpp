#include "core/tokenizer/text_piece.h"

#include <algorithm>
#include <utility>

namespace zotune::tok {

void split_piece(const TextPiece& piece, const std::vector<MatchSpan>& spans,
                 SplitBehavior behavior, std::vector<TextPiece>& out) {
  // (begin, end) ranges to keep, built as Hugging Face folds the match list.
  std::vector<std::pair<size_t, size_t>> ranges;
  ranges.reserve(spans.size());
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (const auto& s : spans) ranges.emplace_back(s.begin, s.end);
      break;
    case SplitBehavior::Removed:
      for (const auto& s : spans) {
        if (!s.is_match) ranges.emplace_back(s.begin, s.end);
      }
      break;
    case SplitBehavior::Contiguous: {
      bool previous_match = false;
      for (const auto& s : spans) {
        if (s.is_match == previous_match && !ranges.empty()) {
          ranges.back().second = s.end;
        } else {
          ranges.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const auto& s : spans) {
        if (s.is_match && !previous_match && !ranges.empty()) {
          ranges.back().second = s.end;
        } else {
          ranges.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous_match = false;  // seen from the right
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !ranges.empty()) {
          ranges.back().first = it->begin;
        } else {
          ranges.emplace_back(it->begin, it->end);
        }
        previous_match = it->is_match;
      }
      std::reverse(ranges.begin(), ranges.end());
      break;
    }
  }
  for (const auto& [begin, end] : ranges) {
    if (begin == end) continue;
    out.push_back({piece.text.substr(begin, end - begin), piece.at_input_start && begin == 0});
  }
}

}  // namespace zotune::tok
