#include "core/tokenizer/pre_tokenizers.h"

#include <array>

#include "core/tokenizer/unicode.h"

namespace zotune::tok {
namespace {

// Applies f(piece, out) to every piece, collecting the results.
template <typename F>
void split_each(std::vector<TextPiece>& pieces, F&& f) {
  std::vector<TextPiece> out;
  out.reserve(pieces.size() * 2);
  for (const auto& piece : pieces) f(piece, out);
  pieces = std::move(out);
}

// Bytes that are printable Latin-1 stand for themselves; the other 68 get 256, 257, ...
// in byte order. Shapes: to_char[256], to_byte[324] (-1 where no byte maps).
struct ByteMap {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 324> to_byte{};
  ByteMap() {
    to_byte.fill(-1);
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      to_char[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

char32_t byte_to_char(uint8_t byte) { return byte_map().to_char[byte]; }

int char_to_byte(char32_t c) { return c < 324 ? byte_map().to_byte[c] : -1; }

ByteLevelPreTokenizer::ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
    : add_prefix_space_(add_prefix_space), use_regex_(use_regex),
      pattern_(make_regex_pattern(kGpt2Pattern)) {}

void ByteLevelPreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    TextPiece p = piece;
    if (add_prefix_space_ && (p.text.empty() || p.text[0] != ' ')) p.text.insert(0, 1, U' ');
    if (use_regex_) {
      split_piece(p, pattern_->find_matches(p.text), SplitBehavior::Isolated, out);
    } else if (!p.text.empty()) {
      out.push_back(std::move(p));
    }
  });
  const auto& map = byte_map();
  std::string utf8;
  for (auto& piece : pieces) {
    utf8.clear();
    for (char32_t c : piece.text) unicode::append_utf8(c, utf8);
    piece.text.resize(utf8.size());
    for (size_t i = 0; i < utf8.size(); ++i) {
      piece.text[i] = map.to_char[static_cast<uint8_t>(utf8[i])];
    }
  }
}

void SplitPreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    auto spans = pattern_->find_matches(piece.text);
    if (invert_) {
      for (auto& s : spans) s.is_match = !s.is_match;
    }
    split_piece(piece, spans, behavior_, out);
  });
}

void DigitsPreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  const auto behavior = individual_digits_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous;
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    split_piece(piece, char_matches(piece.text, unicode::is_number), behavior, out);
  });
}

void MetaspacePreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    TextPiece p = piece;
    for (char32_t& c : p.text) {
      if (c == ' ') c = replacement_;
    }
    const bool starts_with_replacement = !p.text.empty() && p.text[0] == replacement_;
    if (!starts_with_replacement && (scheme_ == PrependScheme::Always ||
                                     (scheme_ == PrependScheme::First && p.at_input_start))) {
      p.text.insert(0, 1, replacement_);
    }
    if (split_) {
      split_piece(p, char_matches(p.text, [&](char32_t c) { return c == replacement_; }),
                  SplitBehavior::MergedWithNext, out);
    } else {
      out.push_back(std::move(p));
    }
  });
}

WhitespacePreTokenizer::WhitespacePreTokenizer() : pattern_(make_word_or_symbol_pattern()) {}

void WhitespacePreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    auto spans = pattern_->find_matches(piece.text);
    for (auto& s : spans) s.is_match = !s.is_match;  // keep the words, remove the gaps
    split_piece(piece, spans, SplitBehavior::Removed, out);
  });
}

void WhitespaceSplitPreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    split_piece(piece, char_matches(piece.text, unicode::is_whitespace), SplitBehavior::Removed,
                out);
  });
}

bool is_bert_punctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
  }
  return unicode::legacy_is_punctuation(c);
}

void BertPreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    split_piece(piece, char_matches(piece.text, unicode::is_whitespace), SplitBehavior::Removed,
                out);
  });
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    split_piece(piece, char_matches(piece.text, is_bert_punctuation), SplitBehavior::Isolated,
                out);
  });
}

void PunctuationPreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  split_each(pieces, [&](const TextPiece& piece, std::vector<TextPiece>& out) {
    split_piece(piece, char_matches(piece.text, is_bert_punctuation), behavior_, out);
  });
}

void SequencePreTokenizer::pre_tokenize(std::vector<TextPiece>& pieces) const {
  for (const auto& step : steps_) step->pre_tokenize(pieces);
}

}  // namespace zotune::tok
