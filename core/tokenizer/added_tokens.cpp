#include "core/tokenizer/added_tokens.h"

#include <algorithm>

#include "core/tokenizer/unicode.h"

namespace zotune::tok {

void AddedVocabulary::Trie::insert(std::u32string_view pattern, int32_t token) {
  if (pattern.empty()) return;
  int32_t node = 0;
  for (char32_t c : pattern) {
    const auto it = nodes[node].next.find(c);
    if (it != nodes[node].next.end()) {
      node = it->second;
    } else {
      const int32_t child = static_cast<int32_t>(nodes.size());
      nodes[node].next.emplace(c, child);
      nodes.emplace_back();
      node = child;
    }
  }
  // The first token given a pattern keeps it (tokenizers lists special tokens first).
  if (nodes[node].token < 0) nodes[node].token = token;
}

void AddedVocabulary::build(std::vector<AddedToken> tokens, const Normalizer* normalizer) {
  // Special tokens take precedence in matching, then the others, each in the given order.
  std::stable_partition(tokens.begin(), tokens.end(), [](const AddedToken& t) { return t.special; });
  tokens_ = std::move(tokens);
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    by_id_[t.id] = i;
    by_content_.emplace(t.content, i);
    if (t.special) special_contents_.insert(t.content);
    TextPiece pattern{unicode::decode_utf8(t.content), true};
    if (t.normalized) {
      if (normalizer != nullptr) normalizer->normalize(pattern);
      normalized_trie_.insert(pattern.text, static_cast<int32_t>(i));
      decoded_.push_back(unicode::encode_utf8(pattern.text));
    } else {
      raw_trie_.insert(pattern.text, static_cast<int32_t>(i));
      decoded_.push_back(t.content);
    }
  }
}

const std::string* AddedVocabulary::content(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &decoded_[it->second];
}

const AddedToken* AddedVocabulary::find(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  return it == by_content_.end() ? nullptr : &tokens_[it->second];
}

std::vector<Segment> AddedVocabulary::split(TextPiece piece, const Trie& trie) const {
  std::vector<Segment> out;
  const std::u32string& s = piece.text;
  if (trie.empty() || s.empty()) {
    out.push_back({std::move(piece), -1});
    return out;
  }
  // Leftmost-longest, non-overlapping matches: (begin, end, token index).
  struct Match {
    size_t begin, end;
    int32_t token;
  };
  std::vector<Match> matches;
  for (size_t i = 0; i < s.size();) {
    int32_t node = 0, best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < s.size(); ++j) {
      const auto it = trie.nodes[node].next.find(s[j]);
      if (it == trie.nodes[node].next.end()) break;
      node = it->second;
      if (trie.nodes[node].token >= 0) {
        best = trie.nodes[node].token;
        best_end = j + 1;
      }
    }
    if (best >= 0) {
      matches.push_back({i, best_end, best});
      i = best_end;
    } else {
      ++i;
    }
  }
  size_t start_offset = 0;
  const auto push_text = [&](size_t begin, size_t end) {
    out.push_back({{s.substr(begin, end - begin), piece.at_input_start && begin == 0}, -1});
  };
  for (const Match& m : matches) {
    const AddedToken& token = tokens_[m.token];
    size_t begin = m.begin, end = m.end;
    if (token.single_word) {
      const bool space_before = begin == 0 || !unicode::is_word_char(s[begin - 1]);
      const bool space_after = end == s.size() || !unicode::is_word_char(s[end]);
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) {
      size_t new_begin = begin;
      while (new_begin > 0 && unicode::is_whitespace(s[new_begin - 1])) --new_begin;
      begin = std::max(new_begin, start_offset);
    }
    if (token.rstrip) {
      while (end < s.size() && unicode::is_whitespace(s[end])) ++end;
    }
    if (start_offset < begin) push_text(start_offset, begin);
    out.push_back({{s.substr(begin, end - begin), false}, token.id});
    start_offset = end;
  }
  if (start_offset < s.size()) push_text(start_offset, s.size());
  return out;
}

std::vector<Segment> AddedVocabulary::split_raw(std::u32string text) const {
  return split({std::move(text), true}, raw_trie_);
}

void AddedVocabulary::split_normalized(TextPiece piece, std::vector<Segment>& out) const {
  for (auto& segment : split(std::move(piece), normalized_trie_)) out.push_back(std::move(segment));
}

}  // namespace zotune::tok
