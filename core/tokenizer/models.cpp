#include "core/tokenizer/models.h"

#include <queue>

#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

namespace zotune::tok {

void Vocabulary::add(const std::string& token, int32_t id) {
  check(id >= 0, "negative id " + std::to_string(id) + " for token '" + token + "'");
  ids_.emplace(token, id);  // a repeated string keeps its first id
  if (static_cast<size_t>(id) >= tokens_.size()) {
    tokens_.resize(id + 1);
    present_.resize(id + 1, false);
  }
  tokens_[id] = token;
  present_[id] = true;
}

std::string byte_token_name(uint8_t byte) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string name = "<0x00>";
  name[3] = kHex[byte >> 4];
  name[4] = kHex[byte & 0xF];
  return name;
}

namespace {

std::array<int32_t, 256> find_byte_ids(const Vocabulary& vocab) {
  std::array<int32_t, 256> ids;
  for (int b = 0; b < 256; ++b) ids[b] = vocab.find(byte_token_name(b)).value_or(-1);
  return ids;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// BPE

BpeModel::BpeModel(Vocabulary vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options)
    : options_(std::move(options)) {
  vocab_ = std::move(vocab);
  const size_t prefix_len = options_.continuing_subword_prefix.size();
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& a = merges[rank].first;
    const std::string& b = merges[rank].second;
    const auto describe = [&] { return "merge " + std::to_string(rank) + " ('" + a + " " + b + "')"; };
    const auto a_id = vocab_.find(a);
    const auto b_id = vocab_.find(b);
    check(a_id.has_value(), describe() + ": token '" + a + "' is not in the vocabulary");
    check(b_id.has_value(), describe() + ": token '" + b + "' is not in the vocabulary");
    // The right part loses its continuing-subword prefix when joined (as tokenizers does,
    // by byte count, whether or not it starts with the prefix).
    const std::string joined = a + b.substr(std::min(prefix_len, b.size()));
    const auto new_id = vocab_.find(joined);
    check(new_id.has_value(), describe() + ": merged token '" + joined + "' is not in the vocabulary");
    // A repeated pair keeps its last rank, like the HashMap tokenizers collects into.
    merges_[pair_key(*a_id, *b_id)] = {static_cast<int32_t>(rank), *new_id};
  }
  if (options_.unk_token) unk_id_ = vocab_.find(*options_.unk_token);
  for (const auto& [token, id] : vocab_.ids()) {
    const std::u32string cps = unicode::decode_utf8(token);
    if (cps.size() == 1 && unicode::encode_utf8(cps) == token) char_ids_[cps[0]] = id;
  }
  byte_ids_ = find_byte_ids(vocab_);
}

void BpeModel::initial_symbols(std::u32string_view word,
                               std::vector<std::pair<int32_t, size_t>>& out) const {
  std::optional<std::pair<int32_t, size_t>> unk;  // pending unknown run: (id, bytes)
  std::string piece;
  for (size_t i = 0; i < word.size(); ++i) {
    const bool is_first = i == 0, is_last = i + 1 == word.size();
    const bool needs_prefix = !is_first && !options_.continuing_subword_prefix.empty();
    const bool needs_suffix = is_last && !options_.end_of_word_suffix.empty();
    piece.clear();
    unicode::append_utf8(word[i], piece);
    const size_t byte_len = piece.size();
    std::optional<int32_t> id;
    if (!needs_prefix && !needs_suffix) {
      const auto it = char_ids_.find(word[i]);
      if (it != char_ids_.end()) id = it->second;
    } else {
      if (needs_prefix) piece.insert(0, options_.continuing_subword_prefix);
      if (needs_suffix) piece += options_.end_of_word_suffix;
      id = vocab_.find(piece);
    }
    if (id) {
      if (unk) {
        out.push_back(*unk);
        unk.reset();
      }
      out.emplace_back(*id, byte_len);
      continue;
    }
    if (options_.byte_fallback) {
      // Every byte of the looked-up string (prefix and suffix included) needs its token.
      bool all_found = true;
      for (char b : piece) all_found = all_found && byte_ids_[static_cast<uint8_t>(b)] >= 0;
      if (all_found) {
        // As tokenizers does, a pending unknown run is not flushed before the bytes.
        for (char b : piece) out.emplace_back(byte_ids_[static_cast<uint8_t>(b)], 1);
        continue;
      }
    }
    if (options_.unk_token) {
      check(unk_id_.has_value(),
            "unk_token '" + *options_.unk_token + "' is not in the vocabulary");
      if (unk && options_.fuse_unk) {
        unk->second += byte_len;
      } else {
        if (unk) out.push_back(*unk);
        unk = std::make_pair(*unk_id_, byte_len);
      }
    }
    // Without an unk token, an unknown character is dropped (as tokenizers does).
  }
  if (unk) out.push_back(*unk);
}

void BpeModel::merge_symbols(std::vector<std::pair<int32_t, size_t>>& symbols) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
  };
  // Lowest rank first, then leftmost.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  const int32_t n = static_cast<int32_t>(symbols.size());
  std::vector<Symbol> sym(n);
  for (int32_t i = 0; i < n; ++i) sym[i] = {symbols[i].first, i - 1, i + 1 < n ? i + 1 : -1, true};
  std::vector<Candidate> heap_storage;
  heap_storage.reserve(n);
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later,
                                                                               std::move(heap_storage));
  const auto find = [&](int32_t a, int32_t b) -> const Merge* {
    const auto it = merges_.find(pair_key(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const Merge* m = find(sym[i].id, sym[i + 1].id)) queue.push({m->rank, i, m->new_id});
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const int32_t right_pos = cur.next;
    const Symbol right = sym[right_pos];
    const Merge* m = find(cur.id, right.id);
    if (m == nullptr || m->new_id != top.new_id) continue;  // stale entry
    cur.id = top.new_id;
    cur.next = right.next;
    sym[right_pos].alive = false;
    if (right.next >= 0) sym[right.next].prev = top.pos;
    if (cur.prev >= 0) {
      if (const Merge* p = find(sym[cur.prev].id, cur.id)) queue.push({p->rank, cur.prev, p->new_id});
    }
    if (cur.next >= 0) {
      if (const Merge* q = find(cur.id, sym[cur.next].id)) queue.push({q->rank, top.pos, q->new_id});
    }
  }
  size_t kept = 0;
  for (int32_t i = 0; i < n; ++i) {
    if (sym[i].alive) symbols[kept++].first = sym[i].id;
  }
  symbols.resize(kept);
}

void BpeModel::tokenize(std::u32string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const auto id = vocab_.find(unicode::encode_utf8(word))) {
      ids.push_back(*id);
      return;
    }
  }
  std::vector<std::pair<int32_t, size_t>> symbols;
  symbols.reserve(word.size());
  initial_symbols(word, symbols);
  merge_symbols(symbols);
  for (const auto& s : symbols) ids.push_back(s.first);
}

// ---------------------------------------------------------------------------------------
// SentencePiece BPE by scores

ScoredBpeModel::ScoredBpeModel(Vocabulary vocab, std::vector<float> scores,
                               std::optional<int32_t> unk_id)
    : scores_(std::move(scores)), unk_id_(unk_id) {
  vocab_ = std::move(vocab);
  check(scores_.size() >= static_cast<size_t>(vocab_.id_bound()),
        "scores hold " + std::to_string(scores_.size()) + " values for " +
            std::to_string(vocab_.id_bound()) + " tokens");
  byte_ids_ = find_byte_ids(vocab_);
}

void ScoredBpeModel::tokenize(std::u32string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  const std::string text = unicode::encode_utf8(word);
  struct Symbol {
    int32_t prev, next;
    size_t begin, bytes;  // bytes == 0: merged into its left neighbour
  };
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  for (size_t begin = 0; begin < text.size();) {
    const size_t len = unicode::valid_utf8_prefix_length(std::string_view(text).substr(begin));
    const int32_t i = static_cast<int32_t>(sym.size());
    sym.push_back({i - 1, -1, begin, len});
    if (i > 0) sym[i - 1].next = i;
    begin += len;
  }
  struct Bigram {
    float score;
    int32_t left, right;
    size_t bytes;
  };
  // Highest score first, then leftmost (llama.cpp's order).
  const auto lower = [](const Bigram& a, const Bigram& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower)> queue(lower);
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const size_t bytes = sym[left].bytes + sym[right].bytes;
    const auto id = vocab_.find(std::string_view(text).substr(sym[left].begin, bytes));
    if (!id) return;
    queue.push({scores_[*id], left, right, bytes});
  };
  for (size_t i = 1; i < sym.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!queue.empty()) {
    const Bigram top = queue.top();
    queue.pop();
    Symbol& left = sym[top.left];
    Symbol& right = sym[top.right];
    if (left.bytes == 0 || right.bytes == 0 || left.bytes + right.bytes != top.bytes) continue;
    left.bytes += right.bytes;
    right.bytes = 0;
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = top.left;
    try_add(left.prev, top.left);
    try_add(top.left, left.next);
  }
  for (const Symbol& s : sym) {
    if (s.bytes == 0) continue;
    const std::string_view piece = std::string_view(text).substr(s.begin, s.bytes);
    if (const auto id = vocab_.find(piece)) {
      ids.push_back(*id);
      continue;
    }
    for (char b : piece) {
      const int32_t byte_id = byte_ids_[static_cast<uint8_t>(b)];
      if (byte_id >= 0) {
        ids.push_back(byte_id);
      } else if (unk_id_) {
        ids.push_back(*unk_id_);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// WordPiece

WordPieceModel::WordPieceModel(Vocabulary vocab, std::string unk_token,
                               std::string continuing_subword_prefix, size_t max_input_chars_per_word)
    : prefix_(std::move(continuing_subword_prefix)),
      max_input_chars_per_word_(max_input_chars_per_word) {
  vocab_ = std::move(vocab);
  const auto unk = vocab_.find(unk_token);
  check(unk.has_value(), "unk_token '" + unk_token + "' is not in the vocabulary");
  unk_id_ = *unk;
  for (const auto& [token, id] : vocab_.ids()) {
    longest_token_bytes_ = std::max(longest_token_bytes_, token.size());
  }
}

void WordPieceModel::tokenize(std::u32string_view word, std::vector<int32_t>& ids) const {
  if (word.size() > max_input_chars_per_word_) {
    ids.push_back(unk_id_);
    return;
  }
  std::string utf8;
  std::vector<size_t> offset(word.size() + 1);  // byte offset of each character
  for (size_t i = 0; i < word.size(); ++i) {
    offset[i] = utf8.size();
    unicode::append_utf8(word[i], utf8);
  }
  offset[word.size()] = utf8.size();
  const size_t first = ids.size();
  std::string candidate;
  size_t start = 0;
  while (start < word.size()) {
    size_t end = word.size();
    std::optional<int32_t> found;
    const size_t extra = start > 0 ? prefix_.size() : 0;
    while (start < end) {
      const size_t bytes = offset[end] - offset[start];
      if (bytes + extra <= longest_token_bytes_) {
        candidate.assign(start > 0 ? prefix_ : std::string());
        candidate.append(utf8, offset[start], bytes);
        found = vocab_.find(candidate);
        if (found) break;
      }
      --end;
    }
    if (!found) {
      ids.resize(first);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(*found);
    start = end;
  }
}

}  // namespace zotune::tok
