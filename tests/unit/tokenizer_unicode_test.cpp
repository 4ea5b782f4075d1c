// The Unicode layer and the hand-written split patterns, on cases whose answers were taken
// from Python (unicodedata, bytes.decode(errors="replace")) and Hugging Face `tokenizers`
// (pre_tokenize_str with the same patterns).
#include <gtest/gtest.h>

#include "core/tokenizer/split_patterns.h"
#include "core/tokenizer/unicode.h"

namespace zotune {
namespace {

std::u32string u32(std::string_view utf8) { return unicode::decode_utf8(utf8); }

TEST(TokenizerUnicode, InvalidUtf8BecomesReplacementLikePython) {
  const char32_t R = unicode::kReplacementChar;
  EXPECT_EQ(u32("abc\xff" "def"), (std::u32string{'a', 'b', 'c', R, 'd', 'e', 'f'}));
  EXPECT_EQ(u32("\xf0\x9f\x98 x"), (std::u32string{R, ' ', 'x'}));            // truncated 4-byte
  EXPECT_EQ(u32("\xed\xa0\x80"), (std::u32string{R, R, R}));                   // surrogate
  EXPECT_EQ(u32("\xc0\xaf"), (std::u32string{R, R}));                          // overlong
  EXPECT_EQ(u32("\xe0\x80\xaf"), (std::u32string{R, R, R}));                   // overlong
  EXPECT_EQ(u32("\xf4\x90\x80\x80"), (std::u32string{R, R, R, R}));            // > U+10FFFF
  EXPECT_EQ(u32("\xe2\x82"), (std::u32string{R}));                             // cut at the end
  EXPECT_EQ(u32("\xf0\x9f\x98\x80"), (std::u32string{0x1F600}));
  EXPECT_EQ(unicode::utf8_lossy("a\x80" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(unicode::encode_utf8(u32("héllo 東京 🚀")), "héllo 東京 🚀");
}

TEST(TokenizerUnicode, NormalizationForms) {
  EXPECT_EQ(unicode::nfd(U"\u00e9"), U"e\u0301");
  EXPECT_EQ(unicode::nfc(U"e\u0301"), U"\u00e9");
  EXPECT_EQ(unicode::nfc(U"\u212b"), U"\u00c5");                       // Angstrom sign
  EXPECT_EQ(unicode::nfd(U"q\u0307\u0323"), U"q\u0323\u0307");          // canonical order
  EXPECT_EQ(unicode::nfc(U"\u1e0b\u0323"), U"\u1e0d\u0307");
  EXPECT_EQ(unicode::nfd(U"\ud55c"), U"\u1112\u1161\u11ab");            // Hangul
  EXPECT_EQ(unicode::nfc(U"\u1112\u1161\u11ab"), U"\ud55c");
  EXPECT_EQ(unicode::nfkc(U"\ufb01"), U"fi");
  EXPECT_EQ(unicode::nfkd(U"\u2460 \u00bd"), U"1 1\u20442");
  EXPECT_EQ(unicode::nfkc(U"\uff8a\uff9f"), U"\u30d1");                 // halfwidth ﾊﾟ -> パ
  EXPECT_EQ(unicode::nfc(U"\u0041\u030a\u0301"), U"\u01fa");
}

TEST(TokenizerUnicode, PropertiesAndLowercase) {
  std::u32string lower;
  for (char32_t c : std::u32string(U"\u0130\u03a3A\u1e9e")) unicode::append_lowercase(c, lower);
  EXPECT_EQ(lower, U"i\u0307\u03c3a\u00df");  // char-wise: no final sigma
  EXPECT_TRUE(unicode::is_letter(U'ß'));
  EXPECT_TRUE(unicode::is_number(U'½'));
  EXPECT_FALSE(unicode::is_letter(U'½'));
  EXPECT_TRUE(unicode::is_whitespace(0x3000));
  EXPECT_TRUE(unicode::is_whitespace(0x85));
  EXPECT_FALSE(unicode::is_whitespace(0x200B));
  EXPECT_FALSE(unicode::is_whitespace(0x180E));
  EXPECT_TRUE(unicode::is_word_char(0x24B6));   // circled A: Other_Alphabetic
  EXPECT_TRUE(unicode::is_word_char(0x200D));   // Join_Control
  EXPECT_FALSE(unicode::is_word_char(U'²'));
  EXPECT_EQ(unicode::combining_class(0x301), 230);
  // tokenizers' older data: Mc counts as a mark for StripAccents, not for BERT's strip.
  EXPECT_TRUE(unicode::legacy_is_combining_mark(0x93E));
  EXPECT_FALSE(unicode::legacy_is_mark_nonspacing(0x93E));
  EXPECT_FALSE(unicode::legacy_is_other(0xFDD0));  // unassigned: kept by clean_text
  EXPECT_TRUE(unicode::legacy_is_other(0xE000));   // private use: dropped
}

std::vector<std::string> pieces(const std::string& regex, const std::string& text) {
  const auto pattern = tok::make_regex_pattern(regex);
  EXPECT_NE(pattern, nullptr);
  const std::u32string s = u32(text);
  std::vector<std::string> out;
  for (const auto& span : pattern->find_matches(s)) {
    out.push_back(unicode::encode_utf8(std::u32string_view(s).substr(span.begin, span.end - span.begin)));
  }
  return out;
}

using Pieces = std::vector<std::string>;

TEST(TokenizerUnicode, SplitPatternsMatchOniguruma) {
  EXPECT_EQ(pieces(tok::kGpt2Pattern, "Hello  world's 123!!\t x"),
            (Pieces{"Hello", " ", " world", "'s", " 123", "!!", "\t", " x"}));
  EXPECT_EQ(pieces(tok::kGpt2Pattern, "a   "), (Pieces{"a", "   "}));
  EXPECT_EQ(pieces(tok::kLlama3Pattern, "x \n\n y  z"), (Pieces{"x", " \n\n", " y", " ", " z"}));
  EXPECT_EQ(pieces(tok::kLlama3Pattern, "x\u00a0\u00a0y"), (Pieces{"x", "\u00a0", "\u00a0y"}));
  EXPECT_EQ(pieces(tok::kLlama3Pattern, "'\u017fx 'LL"), (Pieces{"'\u017f", "x", " '", "LL"}));
  EXPECT_EQ(pieces(tok::kLlama3Pattern, "12345 !?\n\nok"), (Pieces{"123", "45", " !?\n\n", "ok"}));
  EXPECT_EQ(pieces(tok::kQwen2Pattern, "12345"), (Pieces{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(tok::make_regex_pattern("\\d+"), nullptr);
}

}  // namespace
}  // namespace zotune
