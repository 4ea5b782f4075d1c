// Tokenization models: turn one pre-tokenized word into vocabulary ids.
//  - BpeModel: Hugging Face BPE (merge ranks, byte_fallback, unk fusing, subword prefix and
//    end-of-word suffix, ignore_merges).
//  - ScoredBpeModel: SentencePiece BPE as llama.cpp runs a GGUF "llama" vocabulary (merge
//    the adjacent pair whose concatenation is the highest-scored token; <0xXX> fallback).
//  - WordPieceModel: greedy longest-match-first with a continuing-subword prefix.
// Constructors throw zotune::Error describing bad vocabularies (the front end adds the file).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace zotune::tok {

// Hash for string keys that string_views can look up without a copy.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Token strings by id, and ids by token string. Ids may have holes (absent ids).
class Vocabulary {
 public:
  // A string given twice (GGUF vocabularies may repeat one) maps to its first id.
  void add(const std::string& token, int32_t id);
  std::optional<int32_t> find(std::string_view token) const {
    const auto it = ids_.find(token);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  // nullptr when the id has no token.
  const std::string* token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !present_[id]) return nullptr;
    return &tokens_[id];
  }
  int32_t id_bound() const { return static_cast<int32_t>(tokens_.size()); }  // max id + 1
  size_t size() const { return ids_.size(); }
  const StringIdMap& ids() const { return ids_; }

 private:
  StringIdMap ids_;
  std::vector<std::string> tokens_;
  std::vector<bool> present_;
};

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of `word` (code points) to `ids`.
  virtual void tokenize(std::u32string_view word, std::vector<int32_t>& ids) const = 0;
  const Vocabulary& vocabulary() const { return vocab_; }

 protected:
  Vocabulary vocab_;
};

struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel : public Model {
 public:
  // merges[i] = (left, right) has rank i; left + right (less the right's subword prefix)
  // must be in the vocabulary.
  BpeModel(Vocabulary vocab, const std::vector<std::pair<std::string, std::string>>& merges,
           BpeOptions options);
  void tokenize(std::u32string_view word, std::vector<int32_t>& ids) const override;

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  // One symbol per character: its id and byte length (0 for a fused unk placeholder).
  void initial_symbols(std::u32string_view word, std::vector<std::pair<int32_t, size_t>>& out) const;
  void merge_symbols(std::vector<std::pair<int32_t, size_t>>& symbols) const;

  BpeOptions options_;
  std::optional<int32_t> unk_id_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::unordered_map<char32_t, int32_t> char_ids_;  // single-character tokens
  std::array<int32_t, 256> byte_ids_;               // <0xXX> tokens, -1 when absent
};

class ScoredBpeModel : public Model {
 public:
  // scores[id] ranks merges (higher first); byte tokens are "<0xXX>".
  ScoredBpeModel(Vocabulary vocab, std::vector<float> scores, std::optional<int32_t> unk_id);
  void tokenize(std::u32string_view word, std::vector<int32_t>& ids) const override;

 private:
  std::vector<float> scores_;
  std::optional<int32_t> unk_id_;
  std::array<int32_t, 256> byte_ids_;
};

class WordPieceModel : public Model {
 public:
  WordPieceModel(Vocabulary vocab, std::string unk_token, std::string continuing_subword_prefix,
                 size_t max_input_chars_per_word);
  void tokenize(std::u32string_view word, std::vector<int32_t>& ids) const override;

 private:
  int32_t unk_id_;
  std::string prefix_;
  size_t max_input_chars_per_word_;
  size_t longest_token_bytes_ = 0;
};

// "<0x0A>": the byte-fallback token name of a byte (uppercase hex, as Rust's {:#04X}).
std::string byte_token_name(uint8_t byte);

}  // namespace zotune::tok
