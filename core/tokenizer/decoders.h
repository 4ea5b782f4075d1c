// Decoders (Hugging Face `tokenizers` semantics): turn the token strings of decoded ids back
// into text. Each step rewrites the list of token strings (decode_chain); the tokenizer
// concatenates what the last step leaves.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace zotune::tok {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};
using DecoderPtr = std::unique_ptr<Decoder>;

// Byte-level stand-in characters back to bytes, joined into one string; invalid UTF-8 in
// the result becomes U+FFFD (from_utf8_lossy). A token with a character outside the byte
// map contributes its own UTF-8 bytes.
class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override;
};

// `replacement` back to ' '; in the first token it is dropped unless the scheme is never.
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool prepends) : replacement_(replacement), prepends_(prepends) {}
  void decode_chain(std::vector<std::string>& tokens) const override;

 private:
  char32_t replacement_;
  bool prepends_;  // prepend_scheme != never
};

// Removes the continuing-subword prefix (or adds a ' ' before whole words), then applies
// BERT's cleanup of spaces before punctuation and contractions when asked.
class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override;

 private:
  std::string prefix_;
  bool cleanup_;
};

// <0xXX> tokens back to bytes; a run of them that is not valid UTF-8 becomes one U+FFFD
// per byte.
class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override;
};

// All tokens joined into one.
class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override;
};

// Removes up to `start` leading and `stop` trailing `content` characters from every token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override;

 private:
  char32_t content_;
  size_t start_, stop_;
};

// Literal replace in every token.
class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override;

 private:
  std::string pattern_, content_;
};

// BPE's end-of-word suffix back to ' ' (nothing after the last token).
class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  void decode_chain(std::vector<std::string>& tokens) const override;

 private:
  std::string suffix_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<DecoderPtr> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override;

 private:
  std::vector<DecoderPtr> steps_;
};

}  // namespace zotune::tok
