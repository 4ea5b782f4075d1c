// Lookups over the generated tables and the normalization algorithms of UAX #15.
#include "core/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <map>
#include <vector>

#include "core/tokenizer/unicode_tables.h"

namespace zotune::unicode {
namespace {

namespace t = unicode_tables;
constexpr char32_t kMaxCodePoint = 0x10FFFF;

// Two-stage table: per 256-code-point block an index into deduplicated blocks of bytes.
// Built once from run-length tables; a lookup is two loads. Shape: 0x1100 blocks.
class ByteTable {
 public:
  // runs[i] = (first << shift) | value; a run lasts until the next one.
  ByteTable(const uint32_t* runs, size_t count, int shift) {
    std::vector<uint8_t> flat(kMaxCodePoint + 1);
    for (size_t i = 0; i < count; ++i) {
      const uint32_t first = runs[i] >> shift;
      const uint32_t end = i + 1 < count ? runs[i + 1] >> shift : kMaxCodePoint + 1;
      std::fill(flat.begin() + first, flat.begin() + end,
                static_cast<uint8_t>(runs[i] & ((1u << shift) - 1)));
    }
    std::map<std::string, uint16_t> seen;  // block bytes -> block number
    for (size_t block = 0; block < index_.size(); ++block) {
      const char* src = reinterpret_cast<const char*>(flat.data() + block * 256);
      const auto [it, inserted] =
          seen.emplace(std::string(src, 256), static_cast<uint16_t>(seen.size()));
      if (inserted) blocks_.insert(blocks_.end(), src, src + 256);
      index_[block] = it->second;
    }
  }
  uint8_t operator[](char32_t c) const {
    if (c > kMaxCodePoint) return 0;
    return blocks_[(size_t{index_[c >> 8]} << 8) | (c & 0xFF)];
  }

 private:
  std::array<uint16_t, (kMaxCodePoint + 1) / 256> index_{};
  std::vector<uint8_t> blocks_;
};

const ByteTable& category_table() {
  static const ByteTable table(t::kCategoryRuns, t::kCategoryRunCount, 5);
  return table;
}
const ByteTable& combining_class_table() {
  static const ByteTable table(t::kCombiningClassRuns, t::kCombiningClassRunCount, 8);
  return table;
}

// Finds c in runs / multi tables; appends its mapping to out and returns true when found.
bool append_mapping(char32_t c, const t::MappingRun* runs, size_t run_count,
                    const t::MultiMapping* multi, size_t multi_count, std::u32string& out) {
  const auto* run_end = runs + run_count;
  const auto* run = std::upper_bound(runs, run_end, c, [](char32_t v, const t::MappingRun& r) {
    return v < r.first;
  });
  if (run != runs) {
    --run;
    const uint32_t offset = c - run->first;
    if (offset % run->stride == 0 && offset / run->stride < run->count) {
      out.push_back(static_cast<char32_t>(static_cast<int64_t>(c) + run->delta));
      return true;
    }
  }
  const auto* multi_end = multi + multi_count;
  const auto* m = std::lower_bound(multi, multi_end, c, [](const t::MultiMapping& e, char32_t v) {
    return e.code_point < v;
  });
  if (m != multi_end && m->code_point == c) {
    out.append(reinterpret_cast<const char32_t*>(t::kMappingPool + m->offset), m->length);
    return true;
  }
  return false;
}

// Hangul syllables decompose and compose algorithmically (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

void decompose_one(char32_t c, bool compatibility, std::u32string& out) {
  if (c < 0xA0) {
    out.push_back(c);
    return;
  }
  if (c >= kSBase && c < kSBase + kSCount) {
    const char32_t s = c - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (compatibility && append_mapping(c, t::kCompatibilityRuns, t::kCompatibilityRunCount,
                                      t::kCompatibilityMulti, t::kCompatibilityMultiCount, out)) {
    return;
  }
  if (append_mapping(c, t::kCanonicalRuns, t::kCanonicalRunCount, t::kCanonicalMulti,
                     t::kCanonicalMultiCount, out)) {
    return;
  }
  out.push_back(c);
}

std::u32string decompose(std::u32string_view s, bool compatibility) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) decompose_one(c, compatibility, out);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  size_t i = 0;
  while (i < out.size()) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(out.begin() + i, out.begin() + j, [](char32_t a, char32_t b) {
        return combining_class(a) < combining_class(b);
      });
    }
    i = j;
  }
  return out;
}

char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const auto* end = t::kCompositions + t::kCompositionCount;
  const auto* it = std::lower_bound(t::kCompositions, end, std::pair<char32_t, char32_t>(a, b),
                                    [](const t::Composition& e, std::pair<char32_t, char32_t> v) {
                                      return e.first < v.first ||
                                             (e.first == v.first && e.second < v.second);
                                    });
  if (it != end && it->first == a && it->second == b) return it->composite;
  return 0;
}

std::u32string compose(std::u32string s) {
  std::u32string out;
  out.reserve(s.size());
  size_t starter = std::u32string::npos;
  uint8_t last_class = 0;
  for (char32_t c : s) {
    const uint8_t cc = combining_class(c);
    if (starter != std::u32string::npos) {
      const bool adjacent = out.size() - 1 == starter;
      // Not blocked: nothing in between, or everything in between has a lower, non-zero class.
      if (adjacent || (last_class != 0 && last_class < cc)) {
        if (const char32_t composite = compose_pair(out[starter], c)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (cc == 0) starter = out.size();
    last_class = cc;
    out.push_back(c);
  }
  return out;
}

}  // namespace

Category category(char32_t c) { return static_cast<Category>(category_table()[c]); }

uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  return combining_class_table()[c];
}


bool is_word_char(char32_t c) {
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (c == 0x200C || c == 0x200D) return true;  // Join_Control
  const auto k = category(c);
  if ((k >= Category::Lu && k <= Category::Nd) || k == Category::Nl || k == Category::Pc) {
    return true;  // letters, marks, Nd, Nl, Pc
  }
  if (k != Category::So) return false;
  // Alphabetic symbols (circled and squared Latin letters): Other_Alphabetic outside marks.
  for (size_t i = 0; i < t::kAlphabeticSymbolRangeCount; ++i) {
    if (c >= t::kAlphabeticSymbolRanges[i].first && c <= t::kAlphabeticSymbolRanges[i].last) {
      return true;
    }
  }
  return false;
}

namespace {
bool in_ranges(char32_t c, const t::CodePointRange* ranges, size_t count) {
  const auto* end = ranges + count;
  const auto* it = std::upper_bound(ranges, end, c, [](char32_t v, const t::CodePointRange& r) {
    return v < r.first;
  });
  return it != ranges && c <= (it - 1)->last;
}
}  // namespace

bool legacy_is_mark_nonspacing(char32_t c) {
  if (c < 0x300) return false;
  return is_mark_nonspacing(c) !=
         in_ranges(c, t::kLegacyNonspacingMarkToggles, t::kLegacyNonspacingMarkToggleCount);
}

bool legacy_is_combining_mark(char32_t c) {
  if (c < 0x300) return false;
  return is_mark(c) != in_ranges(c, t::kLegacyCombiningMarkToggles, t::kLegacyCombiningMarkToggleCount);
}

bool legacy_is_other(char32_t c) {
  const auto k = category(c);
  const bool other = k == Category::Cc || k == Category::Cf || k == Category::Co;
  if (c < 0x600) return other;
  return other != in_ranges(c, t::kLegacyOtherToggles, t::kLegacyOtherToggleCount);
}

bool legacy_is_punctuation(char32_t c) {
  if (c < 0x600) return is_punctuation(c);
  return is_punctuation(c) != in_ranges(c, t::kLegacyPunctuationToggles, t::kLegacyPunctuationToggleCount);
}

void append_lowercase(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return;
  }
  if (!append_mapping(c, t::kLowercaseRuns, t::kLowercaseRunCount, t::kLowercaseMulti,
                      t::kLowercaseMultiCount, out)) {
    out.push_back(c);
  }
}

std::u32string nfd(std::u32string_view s) { return decompose(s, false); }
std::u32string nfkd(std::u32string_view s) { return decompose(s, true); }
std::u32string nfc(std::u32string_view s) { return compose(decompose(s, false)); }
std::u32string nfkc(std::u32string_view s) { return compose(decompose(s, true)); }

size_t valid_utf8_prefix_length(std::string_view s) {
  if (s.empty()) return 0;
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = b(0);
  if (b0 < 0x80) return 1;
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < need + 1) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i <= need; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return need + 1;
}

namespace {
// Bytes of the maximal ill-formed prefix to replace by one U+FFFD (at least 1): the lead
// byte and the continuation bytes that were valid for it before the sequence broke.
size_t ill_formed_length(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = b(0);
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 1;
  }
  size_t n = 1;
  if (n < s.size() && b(n) >= lo && b(n) <= hi) {
    ++n;
    while (n <= need && n < s.size() && b(n) >= 0x80 && b(n) <= 0xBF) ++n;
  }
  return n;
}

char32_t decode_valid(std::string_view s, size_t len) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  switch (len) {
    case 1: return b(0);
    case 2: return (char32_t{b(0)} & 0x1F) << 6 | (b(1) & 0x3F);
    case 3: return (char32_t{b(0)} & 0x0F) << 12 | (char32_t{b(1)} & 0x3F) << 6 | (b(2) & 0x3F);
    default:
      return (char32_t{b(0)} & 0x07) << 18 | (char32_t{b(1)} & 0x3F) << 12 |
             (char32_t{b(2)} & 0x3F) << 6 | (b(3) & 0x3F);
  }
}
}  // namespace

std::u32string decode_utf8(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<uint8_t>(bytes[i]);
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    const std::string_view rest = bytes.substr(i);
    if (const size_t len = valid_utf8_prefix_length(rest)) {
      out.push_back(decode_valid(rest, len));
      i += len;
    } else {
      out.push_back(kReplacementChar);
      i += ill_formed_length(rest);
    }
  }
  return out;
}

void append_utf8(char32_t c, std::string& out) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(c, out);
  return out;
}

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const std::string_view rest = bytes.substr(i);
    if (const size_t len = valid_utf8_prefix_length(rest)) {
      out.append(rest.substr(0, len));
      i += len;
    } else {
      append_utf8(kReplacementChar, out);
      i += ill_formed_length(rest);
    }
  }
  return out;
}

const char* version() { return unicode_tables::kUnicodeVersion; }

}  // namespace zotune::unicode
