// Added tokens (special or not): matched in the text before the model sees it, as Hugging
// Face's AddedVocabulary does. Tokens with normalized=false are found in the raw text;
// tokens with normalized=true are found, in their normalized form, in the normalized
// pieces between them. Matching is leftmost-longest; lstrip/rstrip absorb the whitespace
// beside a match; single_word matches only between non-word characters.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/tokenizer/normalizers.h"
#include "core/tokenizer/text_piece.h"

namespace zotune::tok {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// A piece of the input: text still to tokenize, or one added token (token_id >= 0).
struct Segment {
  TextPiece piece;
  int32_t token_id = -1;
};

class AddedVocabulary {
 public:
  // `normalizer` (may be null) turns the normalized tokens into their match patterns.
  void build(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // Splits the raw text on the non-normalized tokens.
  std::vector<Segment> split_raw(std::u32string text) const;
  // Splits one normalized piece on the normalized tokens, appending to out.
  void split_normalized(TextPiece piece, std::vector<Segment>& out) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  // The string an id decodes to: the content, normalized for normalized tokens (as
  // tokenizers' id_to_token and decode give it).
  const std::string* content(int32_t id) const;
  const AddedToken* find(std::string_view content) const;
  bool is_special(const std::string& token) const { return special_contents_.count(token) > 0; }
  bool empty() const { return tokens_.empty(); }

 private:
  // Code-point trie; `token` indexes tokens_ (-1: no token ends here).
  struct Trie {
    struct Node {
      std::unordered_map<char32_t, int32_t> next;
      int32_t token = -1;
    };
    std::vector<Node> nodes{1};
    void insert(std::u32string_view pattern, int32_t token);
    bool empty() const { return nodes.size() == 1; }
  };
  std::vector<Segment> split(TextPiece piece, const Trie& trie) const;

  std::vector<AddedToken> tokens_;
  std::vector<std::string> decoded_;  // per token, see content()
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  std::unordered_set<std::string> special_contents_;
  Trie raw_trie_, normalized_trie_;
};

}  // namespace zotune::tok
