#include "core/tokenizer/decoders.h"

#include <optional>

#include "core/tokenizer/pre_tokenizers.h"
#include "core/tokenizer/unicode.h"

namespace zotune::tok {
namespace {

std::string replace_all_bytes(const std::string& text, const std::string& pattern,
                              const std::string& content) {
  if (pattern.empty()) return text;
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    const size_t found = text.find(pattern, pos);
    if (found == std::string::npos) break;
    out.append(text, pos, found - pos);
    out.append(content);
    pos = found + pattern.size();
  }
  out.append(text, pos, std::string::npos);
  return out;
}

// BERT's detokenization cleanup (tokenizers' decoders::wordpiece::cleanup).
std::string cleanup(std::string s) {
  static const std::pair<const char*, const char*> kRules[] = {
      {" .", "."},     {" ?", "?"},     {" !", "!"},         {" ,", ","},
      {" ' ", "'"},    {" n't", "n't"}, {" 'm", "'m"},       {" do not", " don't"},
      {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) s = replace_all_bytes(s, from, to);
  return s;
}

// Parses "<0xXX>" as Rust's u8::from_str_radix(&token[3..5], 16) would.
std::optional<uint8_t> parse_byte_token(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return std::nullopt;
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (token[3] == '+') {  // from_str_radix accepts a leading '+'
    const int d = digit(token[4]);
    if (d < 0) return std::nullopt;
    return static_cast<uint8_t>(d);
  }
  const int hi = digit(token[3]), lo = digit(token[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return static_cast<uint8_t>(hi * 16 + lo);
}

}  // namespace

void ByteLevelDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::string bytes;
  std::string token_bytes;
  for (const auto& token : tokens) {
    token_bytes.clear();
    bool all_mapped = true;
    for (char32_t c : unicode::decode_utf8(token)) {
      const int b = char_to_byte(c);
      if (b < 0) {
        all_mapped = false;
        break;
      }
      token_bytes.push_back(static_cast<char>(b));
    }
    bytes += all_mapped ? token_bytes : token;
  }
  tokens.assign(1, unicode::utf8_lossy(bytes));
}

void MetaspaceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string out;
    for (char32_t c : unicode::decode_utf8(tokens[i])) {
      if (c == replacement_) {
        if (i == 0 && prepends_) continue;
        out.push_back(' ');
      } else {
        unicode::append_utf8(c, out);
      }
    }
    tokens[i] = std::move(out);
  }
}

void WordPieceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string& token = tokens[i];
    if (i != 0) {
      if (!prefix_.empty() && token.compare(0, prefix_.size(), prefix_) == 0) {
        token.erase(0, prefix_.size());
      } else if (prefix_.empty()) {
        // "".starts_with("") holds in Rust, and replacen("", "", 1) leaves the token.
      } else {
        token.insert(0, 1, ' ');
      }
    }
    if (cleanup_) token = cleanup(std::move(token));
  }
}

void ByteFallbackDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  std::string pending;  // consecutive byte tokens
  const auto flush = [&] {
    if (pending.empty()) return;
    if (unicode::utf8_lossy(pending) == pending) {
      out.push_back(pending);
    } else {
      for (size_t i = 0; i < pending.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
    }
    pending.clear();
  };
  for (auto& token : tokens) {
    if (const auto byte = parse_byte_token(token)) {
      pending.push_back(static_cast<char>(*byte));
    } else {
      flush();
      out.push_back(std::move(token));
    }
  }
  flush();
  tokens = std::move(out);
}

void FuseDecoder::decode_chain(std::vector<std::string>& tokens) const {
  std::string joined;
  for (const auto& t : tokens) joined += t;
  tokens.assign(1, std::move(joined));
}

void StripDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (auto& token : tokens) {
    const std::u32string chars = unicode::decode_utf8(token);
    size_t begin = 0;
    while (begin < start_ && begin < chars.size() && chars[begin] == content_) ++begin;
    size_t end = chars.size();
    for (size_t i = 0; i < stop_ && end > begin && chars[end - 1] == content_; ++i) --end;
    token = unicode::encode_utf8(std::u32string_view(chars).substr(begin, end - begin));
  }
}

void ReplaceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (auto& token : tokens) token = replace_all_bytes(token, pattern_, content_);
}

void BpeDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = replace_all_bytes(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
  }
}

void SequenceDecoder::decode_chain(std::vector<std::string>& tokens) const {
  for (const auto& step : steps_) step->decode_chain(tokens);
}

}  // namespace zotune::tok
