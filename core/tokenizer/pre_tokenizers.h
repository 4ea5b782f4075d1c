// Pre-tokenizers (Hugging Face `tokenizers` semantics): split normalized pieces into the
// words the model tokenizes one by one.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/split_patterns.h"
#include "core/tokenizer/text_piece.h"

namespace zotune::tok {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their splits; empty pieces are dropped.
  virtual void pre_tokenize(std::vector<TextPiece>& pieces) const = 0;
};
using PreTokenizerPtr = std::unique_ptr<PreTokenizer>;

// GPT-2's byte-level step: optional ' ' prefix, optional split with the GPT-2 pattern, then
// every UTF-8 byte of every piece becomes its printable stand-in character (byte_to_char).
class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex);
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;

 private:
  bool add_prefix_space_, use_regex_;
  SplitPatternPtr pattern_;
};
// GPT-2's reversible byte <-> printable character map.
char32_t byte_to_char(uint8_t byte);
// -1 when c is not one of the 256 stand-ins.
int char_to_byte(char32_t c);

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(SplitPatternPtr pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;

 private:
  SplitPatternPtr pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// Splits digits (Unicode N*) off: one per piece, or runs together.
class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual_digits) : individual_digits_(individual_digits) {}
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;

 private:
  bool individual_digits_;
};

enum class PrependScheme { Always, First, Never };
// SentencePiece-style: ' ' becomes `replacement`, which is prepended per the scheme, and
// (when split) pieces are cut before each replacement character.
class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {}
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;

 private:
  char32_t replacement_;
  PrependScheme scheme_;
  bool split_;
};

// \w+|[^\w\s]+ matches kept, whitespace dropped.
class WhitespacePreTokenizer : public PreTokenizer {
 public:
  WhitespacePreTokenizer();
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;

 private:
  SplitPatternPtr pattern_;
};

// Splits on White_Space, dropping it.
class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;
};

// Splits on whitespace (dropped), then isolates punctuation (ASCII punctuation or P*).
class BertPreTokenizer : public PreTokenizer {
 public:
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;
};

class PunctuationPreTokenizer : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(SplitBehavior behavior) : behavior_(behavior) {}
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;

 private:
  SplitBehavior behavior_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<PreTokenizerPtr> steps) : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<TextPiece>& pieces) const override;

 private:
  std::vector<PreTokenizerPtr> steps_;
};

// ASCII punctuation (Rust's is_ascii_punctuation) or a Unicode punctuation category.
bool is_bert_punctuation(char32_t c);

}  // namespace zotune::tok
