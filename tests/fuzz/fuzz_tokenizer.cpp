// libFuzzer target: arbitrary bytes (invalid UTF-8 included) through encode and decode of
// the fixture tokenizers. Invalid UTF-8 is read as Python's bytes.decode("utf-8",
// "replace") reads it (each maximal ill-formed subsequence becomes U+FFFD), so:
//  - every id is inside the vocabulary and decode always returns valid UTF-8;
//  - a byte-level BPE tokenizer without a normalizer and without added tokens that strip
//    whitespace (the Llama-3 fixture) round-trips: decode(encode(x)) with special tokens
//    kept is x with its ill-formed subsequences replaced by U+FFFD.
// Build: cmake -DZOTUNE_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang ...
// Run:   ./tests/fuzz_tokenizer -max_total_time=60
// Fixtures are found beside this source file, or under $ZOTUNE_FIXTURES_DIR.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace {

std::string fixtures_dir() {
  if (const char* env = std::getenv("ZOTUNE_FIXTURES_DIR")) return env;
  std::string here = __FILE__;  // .../tests/fuzz/fuzz_tokenizer.cpp
  here.resize(here.rfind('/'));
  here.resize(here.rfind('/'));
  return here + "/fixtures";
}

struct Target {
  zotune::Tokenizer tokenizer;
  bool round_trips;
};

std::vector<Target>& targets() {
  static std::vector<Target> all = [] {
    std::vector<Target> t;
    const std::string dir = fixtures_dir() + "/tokenizer/";
    for (const char* name : {"gpt2_opt", "llama3", "roberta", "qwen2", "llama2", "bert_uncased",
                             "misc_wordpiece", "misc_bpe", "metaspace_first", "bytelevel_prefix",
                             "split_variants", "llama2_eos", "bert_cased"}) {
      const std::string n = name;
      t.push_back({zotune::Tokenizer::from_file(dir + n), n == "llama3"});
    }
    return t;
  }();
  return all;
}

// The bytes with ill-formed UTF-8 replaced as Python's errors="replace" does.
std::string lossy(const std::string& s) {
  std::string out;
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  while (i < s.size()) {
    const uint8_t b0 = byte(i);
    size_t need = 0;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b0 < 0x80) {
      out.push_back(s[i++]);
      continue;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      need = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      need = 2;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      need = 3;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    }
    size_t n = 1;
    if (need > 0 && i + 1 < s.size() && byte(i + 1) >= lo && byte(i + 1) <= hi) {
      n = 2;
      while (n <= need && i + n < s.size() && byte(i + n) >= 0x80 && byte(i + n) <= 0xBF) ++n;
    }
    if (need > 0 && n == need + 1) {
      out.append(s, i, n);
    } else {
      out += "\xEF\xBF\xBD";
    }
    i += n;
  }
  return out;
}

bool valid_utf8(const std::string& s) { return lossy(s) == s; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto& all = targets();
  const Target& target = all[data[0] % all.size()];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const zotune::Tokenizer& tok = target.tokenizer;
  for (bool special : {false, true}) {
    const std::vector<int32_t> ids = tok.encode(text, special);
    for (int32_t id : ids) {
      if (id < 0 || id >= tok.vocab_size()) {
        std::fprintf(stderr, "id %d outside the vocabulary (%d)\n", id, tok.vocab_size());
        std::abort();
      }
    }
    for (bool skip : {false, true}) {
      const std::string decoded = tok.decode(ids, skip);
      if (!valid_utf8(decoded)) {
        std::fprintf(stderr, "decode returned invalid UTF-8\n");
        std::abort();
      }
    }
    if (!special && target.round_trips && tok.decode(ids, false) != lossy(text)) {
      std::fprintf(stderr, "byte-level round trip failed\n");
      std::abort();
    }
  }
  std::vector<int32_t> type_ids;
  const size_t half = text.size() / 2;
  const auto pair = tok.encode_pair(text.substr(0, half), text.substr(half), &type_ids);
  if (pair.size() != type_ids.size()) std::abort();
  return 0;
}
