// Unicode helpers for the tokenizers: UTF-8 coding, character properties and the four
// normalization forms, over the tables of unicode_tables.cpp (Unicode version in
// unicode_tables::kUnicodeVersion). Private to core/tokenizer.
//
// Property definitions follow what Hugging Face `tokenizers` uses, since token ids must
// match it: Rust's char predicates (is_whitespace = White_Space, is_numeric = N*), the
// `regex` crate's \w and \s, and Oniguruma's \p{L}, \p{N}, \s for the Split patterns.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace zotune::unicode {

// General categories; the numbering is the generator's CATEGORIES list.
enum class Category : uint8_t {
  Cn, Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe, Pi, Pf, Po,
  Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co
};

Category category(char32_t c);
inline bool is_letter(char32_t c) {  // \p{L}
  const auto k = category(c);
  return k >= Category::Lu && k <= Category::Lo;
}
inline bool is_number(char32_t c) {  // \p{N}, Rust char::is_numeric
  const auto k = category(c);
  return k >= Category::Nd && k <= Category::No;
}
inline bool is_mark(char32_t c) {
  const auto k = category(c);
  return k >= Category::Mn && k <= Category::Me;
}
inline bool is_mark_nonspacing(char32_t c) { return category(c) == Category::Mn; }
inline bool is_punctuation(char32_t c) {  // P* (unicode_categories' is_punctuation)
  const auto k = category(c);
  return k >= Category::Pc && k <= Category::Po;
}
inline bool is_other(char32_t c) {  // C*: Cc, Cf, Cn, Co, Cs
  const auto k = category(c);
  return k == Category::Cn || k >= Category::Cc;
}
// White_Space: also Oniguruma's \s and Rust regex's \s.
inline bool is_whitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  if (c == 0x85 || c == 0x2028 || c == 0x2029) return true;
  return category(c) == Category::Zs;
}
// Rust regex \w: Alphabetic, marks, Nd, Pc, Join_Control.
bool is_word_char(char32_t c);

// The older Unicode data tokenizers decides these with (see the generator's LEGACY_*):
// Mn, Cc/Cf/Co (no unassigned code points) and P* as the unicode_categories crate has them
// (BertNormalizer, BertPreTokenizer, Punctuation), and M* as unicode-normalization's
// is_combining_mark has it (StripAccents).
bool legacy_is_mark_nonspacing(char32_t c);
bool legacy_is_combining_mark(char32_t c);
bool legacy_is_other(char32_t c);
bool legacy_is_punctuation(char32_t c);
uint8_t combining_class(char32_t c);

// Appends char::to_lowercase(c) (one or more code points) to out.
void append_lowercase(char32_t c, std::u32string& out);

std::u32string nfd(std::u32string_view s);
std::u32string nfkd(std::u32string_view s);
std::u32string nfc(std::u32string_view s);
std::u32string nfkc(std::u32string_view s);

// UTF-8. Invalid input is decoded as Python's bytes.decode("utf-8", "replace") and Rust's
// String::from_utf8_lossy do: each maximal ill-formed subsequence becomes one U+FFFD.
constexpr char32_t kReplacementChar = 0xFFFD;
std::u32string decode_utf8(std::string_view bytes);
void append_utf8(char32_t c, std::string& out);
std::string encode_utf8(std::u32string_view s);
// The bytes with ill-formed subsequences replaced by U+FFFD, as from_utf8_lossy.
std::string utf8_lossy(std::string_view bytes);
// Length of the valid UTF-8 sequence at the start of s, 0 if ill-formed.
size_t valid_utf8_prefix_length(std::string_view s);

const char* version();  // Unicode version of the tables

}  // namespace zotune::unicode
