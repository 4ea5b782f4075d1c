// zotune::Tokenizer: the encode / decode pipeline over TokenizerImpl.
#include "core/tokenizer/tokenizer.h"

#include "core/tokenizer/tokenizer_impl.h"
#include "core/tokenizer/unicode.h"

namespace zotune {

tok::Encoding TokenizerImpl::encode_sequence(std::string_view text, int32_t type_id) const {
  // Invalid UTF-8 is read as bytes.decode("utf-8", "replace") would read it.
  std::vector<tok::Segment> raw = added.split_raw(unicode::decode_utf8(text));
  std::vector<tok::Segment> segments;
  segments.reserve(raw.size());
  for (auto& segment : raw) {
    if (segment.token_id >= 0) {
      segments.push_back(std::move(segment));
      continue;
    }
    if (normalizer) normalizer->normalize(segment.piece);
    added.split_normalized(std::move(segment.piece), segments);
  }
  tok::Encoding encoding;
  std::vector<tok::TextPiece> words;
  for (auto& segment : segments) {
    if (segment.token_id >= 0) {
      encoding.ids.push_back(segment.token_id);
      continue;
    }
    if (segment.piece.text.empty()) continue;
    words.clear();
    words.push_back(std::move(segment.piece));
    if (pre_tokenizer) pre_tokenizer->pre_tokenize(words);
    for (const auto& word : words) model->tokenize(word.text, encoding.ids);
  }
  encoding.type_ids.assign(encoding.ids.size(), type_id);
  return encoding;
}

std::vector<int32_t> TokenizerImpl::encode(std::string_view a, const std::string_view* b,
                                           bool add_special_tokens,
                                           std::vector<int32_t>* type_ids) const {
  std::vector<tok::Encoding> parts;
  parts.push_back(encode_sequence(a, 0));
  if (b != nullptr) parts.push_back(encode_sequence(*b, 1));
  if (post_processor) {
    post_processor->process(parts, add_special_tokens);
  } else {
    tok::default_process(parts);
  }
  std::vector<int32_t> ids;
  if (type_ids != nullptr) type_ids->clear();
  for (const auto& part : parts) {
    ids.insert(ids.end(), part.ids.begin(), part.ids.end());
    if (type_ids != nullptr) type_ids->insert(type_ids->end(), part.type_ids.begin(), part.type_ids.end());
  }
  return ids;
}

const std::string* TokenizerImpl::token_of(int32_t id) const {
  if (const std::string* content = added.content(id)) return content;
  return model->vocabulary().token(id);
}

std::optional<int32_t> TokenizerImpl::id_of(std::string_view token) const {
  if (const tok::AddedToken* t = added.find(token)) return t->id;
  return model->vocabulary().find(token);
}

int32_t TokenizerImpl::id_bound() const {
  int32_t bound = model->vocabulary().id_bound();
  for (const auto& t : added.tokens()) bound = std::max(bound, t.id + 1);
  return bound;
}

std::string TokenizerImpl::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    const std::string* token = token_of(id);
    if (token == nullptr) continue;  // unknown ids are skipped, as tokenizers does
    if (skip_special_tokens && added.is_special(*token)) continue;
    tokens.push_back(*token);
  }
  std::string text;
  if (decoder) {
    decoder->decode_chain(tokens);
    for (const auto& t : tokens) text += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) text += ' ';
      text += tokens[i];
    }
  }
  return text;
}

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  return impl_->encode(text, nullptr, add_special_tokens, nullptr);
}

std::vector<int32_t> Tokenizer::encode_pair(std::string_view a, std::string_view b,
                                            std::vector<int32_t>* type_ids) const {
  return impl_->encode(a, &b, true, type_ids);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  return impl_->decode(ids, skip_special_tokens);
}

int32_t Tokenizer::vocab_size() const { return impl_->id_bound(); }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  return impl_->id_of(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  const std::string* token = impl_->token_of(id);
  return token != nullptr ? *token : std::string();
}

int32_t Tokenizer::bos_id() const { return impl_->bos_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }
int32_t Tokenizer::pad_id() const { return impl_->pad_id; }
int32_t Tokenizer::unk_id() const { return impl_->unk_id; }
int32_t Tokenizer::mask_id() const { return impl_->mask_id; }
std::string Tokenizer::kind() const { return impl_->kind; }

}  // namespace zotune
