// Shared by the tokenizer tests: reading the expected.json files that
// tests/fixtures/tokenizer/make_tokenizer_fixtures.py writes from Hugging Face `tokenizers`,
// and comparing a zotune::Tokenizer against them.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/tokenizer/tokenizer.h"

namespace zotune::testing {

inline std::string tokenizer_fixture(const std::string& name) {
  return std::string(ZOTUNE_FIXTURES_DIR) + "/tokenizer/" + name;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return nlohmann::json::parse(buffer.str());
}

inline std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

// Compares every case and pair of an expected.json; returns the number of cases that
// differ (each difference is also reported as a test failure naming the input).
inline int expect_matches_hf(const Tokenizer& tok, const std::string& expected_path,
                             bool check_pairs = true) {
  const nlohmann::json expected = read_json(expected_path);
  int mismatched = 0;
  const auto& cases = expected.at("cases");
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::string text = c.contains("text") ? c.at("text").get<std::string>()
                                                : from_hex(c.at("text_hex").get<std::string>());
    const std::string label = c.contains("text") ? text.substr(0, 80) : "hex " + c.at("text_hex").get<std::string>();
    const auto ids = c.at("ids").get<std::vector<int32_t>>();
    const auto got = tok.encode(text, true);
    const auto got_plain = tok.encode(text, false);
    const auto want_plain = c.at("ids_no_special").get<std::vector<int32_t>>();
    const std::string got_skip = tok.decode(ids, true);
    const std::string got_keep = tok.decode(ids, false);
    bool ok = true;
    if (got != ids) {
      ok = false;
      ADD_FAILURE() << "case " << i << " [" << label << "] ids\n  want " << ids_to_string(ids)
                    << "\n  got  " << ids_to_string(got);
    }
    if (got_plain != want_plain) {
      ok = false;
      ADD_FAILURE() << "case " << i << " [" << label << "] ids without special tokens\n  want "
                    << ids_to_string(want_plain) << "\n  got  " << ids_to_string(got_plain);
    }
    if (got_skip != c.at("decode_skip_special").get<std::string>()) {
      ok = false;
      ADD_FAILURE() << "case " << i << " [" << label << "] decode(skip_special_tokens)\n  want '"
                    << c.at("decode_skip_special").get<std::string>() << "'\n  got  '" << got_skip << "'";
    }
    if (got_keep != c.at("decode_keep_special").get<std::string>()) {
      ok = false;
      ADD_FAILURE() << "case " << i << " [" << label << "] decode(keep special)\n  want '"
                    << c.at("decode_keep_special").get<std::string>() << "'\n  got  '" << got_keep << "'";
    }
    if (!ok) ++mismatched;
  }
  if (check_pairs && expected.contains("pairs")) {
    for (const auto& p : expected.at("pairs")) {
      std::vector<int32_t> type_ids;
      const auto ids = tok.encode_pair(p.at("a").get<std::string>(), p.at("b").get<std::string>(), &type_ids);
      EXPECT_EQ(ids_to_string(ids), ids_to_string(p.at("ids").get<std::vector<int32_t>>()))
          << "pair [" << p.at("a").get<std::string>() << "] [" << p.at("b").get<std::string>() << "]";
      EXPECT_EQ(ids_to_string(type_ids), ids_to_string(p.at("type_ids").get<std::vector<int32_t>>()))
          << "pair type ids [" << p.at("a").get<std::string>() << "]";
    }
  }
  EXPECT_GE(cases.size(), 60u) << expected_path;
  return mismatched;
}

}  // namespace zotune::testing
