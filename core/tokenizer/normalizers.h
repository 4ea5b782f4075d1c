// Normalizers (Hugging Face `tokenizers` semantics), applied to each piece of text that is
// not an added token, before pre-tokenization.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/text_piece.h"

namespace zotune::tok {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(TextPiece& piece) const = 0;
};
using NormalizerPtr = std::unique_ptr<Normalizer>;

// BERT's: clean_text drops NUL, U+FFFD and "other" characters (unicode::legacy_is_other) and
// maps whitespace to ' '; handle_chinese_chars surrounds CJK ideographs with spaces;
// strip_accents is NFD followed by dropping non-spacing marks
// (unicode::legacy_is_mark_nonspacing); lowercase is char-wise.
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean_text, bool handle_chinese_chars, bool strip_accents, bool lowercase)
      : clean_text_(clean_text), handle_chinese_chars_(handle_chinese_chars),
        strip_accents_(strip_accents), lowercase_(lowercase) {}
  void normalize(TextPiece& piece) const override;

 private:
  bool clean_text_, handle_chinese_chars_, strip_accents_, lowercase_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(TextPiece& piece) const override;
};

enum class NormalForm { NFD, NFC, NFKD, NFKC };
class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  void normalize(TextPiece& piece) const override;

 private:
  NormalForm form_;
};

// Drops every mark, Mc and Me included, as tokenizers' StripAccents does
// (unicode::legacy_is_combining_mark); no decomposition of its own: it usually follows
// NFD/NFKD.
class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(TextPiece& piece) const override;
};

// Prepends `prefix` to non-empty pieces.
class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::u32string prefix) : prefix_(std::move(prefix)) {}
  void normalize(TextPiece& piece) const override;

 private:
  std::u32string prefix_;
};

// Replaces every non-overlapping occurrence of a literal pattern, left to right.
class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::u32string pattern, std::u32string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(TextPiece& piece) const override;

 private:
  std::u32string pattern_, content_;
};

// Trims White_Space on the chosen sides.
class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(TextPiece& piece) const override;

 private:
  bool left_, right_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<NormalizerPtr> steps) : steps_(std::move(steps)) {}
  void normalize(TextPiece& piece) const override;

 private:
  std::vector<NormalizerPtr> steps_;
};

// Literal replace of every occurrence (shared with the Replace decoder).
std::u32string replace_all(std::u32string_view text, std::u32string_view pattern,
                           std::u32string_view content);

}  // namespace zotune::tok
