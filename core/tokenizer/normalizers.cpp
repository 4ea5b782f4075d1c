#include "core/tokenizer/normalizers.h"

#include "core/tokenizer/unicode.h"

namespace zotune::tok {
namespace {

// BERT's "Chinese character": the CJK ideograph blocks, exactly as tokenizers lists them
// (its 0x2B920 lower bound, where Google's BERT has 0x2B820, included).
bool is_chinese_char(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Removes the characters for which `drop` holds; a removed first character means the
// piece no longer starts where the caller's text started.
template <typename Drop>
void filter(TextPiece& piece, Drop&& drop) {
  std::u32string kept;
  kept.reserve(piece.text.size());
  for (size_t i = 0; i < piece.text.size(); ++i) {
    if (drop(piece.text[i])) {
      if (kept.empty()) piece.at_input_start = false;
    } else {
      kept.push_back(piece.text[i]);
    }
  }
  piece.text = std::move(kept);
}

void lowercase(std::u32string& text) {
  bool all_ascii_lower = true;
  for (char32_t c : text) {
    if (c >= 0x80 || (c >= 'A' && c <= 'Z')) {
      all_ascii_lower = false;
      break;
    }
  }
  if (all_ascii_lower) return;
  std::u32string out;
  out.reserve(text.size());
  for (char32_t c : text) unicode::append_lowercase(c, out);
  text = std::move(out);
}

}  // namespace

void BertNormalizer::normalize(TextPiece& piece) const {
  if (clean_text_) {
    filter(piece, [](char32_t c) {
      if (c == '\t' || c == '\n' || c == '\r') return false;
      return c == 0 || c == unicode::kReplacementChar || unicode::legacy_is_other(c);
    });
    for (char32_t& c : piece.text) {
      if (c == '\t' || c == '\n' || c == '\r' || unicode::is_whitespace(c)) c = ' ';
    }
  }
  if (handle_chinese_chars_) {
    std::u32string out;
    out.reserve(piece.text.size());
    for (char32_t c : piece.text) {
      if (is_chinese_char(c)) {
        out.push_back(' ');
        out.push_back(c);
        out.push_back(' ');
      } else {
        out.push_back(c);
      }
    }
    piece.text = std::move(out);
  }
  if (strip_accents_) {
    piece.text = unicode::nfd(piece.text);
    filter(piece, [](char32_t c) { return unicode::legacy_is_mark_nonspacing(c); });
  }
  if (lowercase_) lowercase(piece.text);
}

void LowercaseNormalizer::normalize(TextPiece& piece) const { lowercase(piece.text); }

void UnicodeNormalizer::normalize(TextPiece& piece) const {
  switch (form_) {
    case NormalForm::NFD: piece.text = unicode::nfd(piece.text); break;
    case NormalForm::NFC: piece.text = unicode::nfc(piece.text); break;
    case NormalForm::NFKD: piece.text = unicode::nfkd(piece.text); break;
    case NormalForm::NFKC: piece.text = unicode::nfkc(piece.text); break;
  }
}

void StripAccentsNormalizer::normalize(TextPiece& piece) const {
  filter(piece, [](char32_t c) { return unicode::legacy_is_combining_mark(c); });
}

void PrependNormalizer::normalize(TextPiece& piece) const {
  if (!piece.text.empty()) piece.text.insert(0, prefix_);
}

std::u32string replace_all(std::u32string_view text, std::u32string_view pattern,
                           std::u32string_view content) {
  if (pattern.empty()) return std::u32string(text);
  std::u32string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    const size_t found = text.find(pattern, pos);
    if (found == std::u32string_view::npos) break;
    out.append(text.substr(pos, found - pos));
    out.append(content);
    pos = found + pattern.size();
  }
  out.append(text.substr(pos));
  return out;
}

void ReplaceNormalizer::normalize(TextPiece& piece) const {
  if (content_.empty() && !pattern_.empty() && piece.text.starts_with(pattern_)) {
    piece.at_input_start = false;
  }
  piece.text = replace_all(piece.text, pattern_, content_);
}

void StripNormalizer::normalize(TextPiece& piece) const {
  size_t begin = 0, end = piece.text.size();
  if (left_) {
    while (begin < end && unicode::is_whitespace(piece.text[begin])) ++begin;
  }
  if (right_) {
    while (end > begin && unicode::is_whitespace(piece.text[end - 1])) --end;
  }
  if (begin > 0) piece.at_input_start = false;
  piece.text = piece.text.substr(begin, end - begin);
}

void SequenceNormalizer::normalize(TextPiece& piece) const {
  for (const auto& step : steps_) step->normalize(piece);
}

}  // namespace zotune::tok
