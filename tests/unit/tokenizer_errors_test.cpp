// Malformed tokenizer.json files (tests/fixtures/tokenizer/bad/) are rejected with a
// zotune::Error that names the file and the JSON key at fault.
#include <gtest/gtest.h>

#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"
#include "tests/unit/tokenizer_test_util.h"

namespace zotune {
namespace {

struct BadFile {
  const char* file;
  const char* key;      // the key the message must name
  const char* message;  // and a fragment of the explanation
};
void PrintTo(const BadFile& f, std::ostream* os) { *os << f.file; }

class TokenizerBadFile : public ::testing::TestWithParam<BadFile> {};

TEST_P(TokenizerBadFile, ErrorNamesFileAndKey) {
  std::string path = testing::tokenizer_fixture(std::string("bad/") + GetParam().file);
  // tokenizer_config.json is read beside tokenizer.json: load the directory.
  const std::string config = "/tokenizer_config.json";
  if (path.size() > config.size() && path.compare(path.size() - config.size(), config.size(), config) == 0) {
    path.resize(path.size() - config.size());
  }
  try {
    (void)Tokenizer::from_file(path);
    FAIL() << "no error for " << path;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(GetParam().file), std::string::npos) << what;
    if (*GetParam().key != '\0') {  // unreadable files have no key to name
      EXPECT_NE(what.find(std::string("key '") + GetParam().key + "'"), std::string::npos) << what;
    }
    EXPECT_NE(what.find(GetParam().message), std::string::npos) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tokenizers, TokenizerBadFile,
    ::testing::Values(
        BadFile{"not_json.json", "", "not valid JSON"},
        BadFile{"not_an_object.json", "(root)", "not a JSON object"},
        BadFile{"missing_model.json", "(root).model", "missing"},
        BadFile{"unknown_model.json", "model.type", "unknown model type 'Unigram' (known: BPE, WordPiece)"},
        BadFile{"unknown_pre_tokenizer.json", "pre_tokenizer.type", "unknown pre-tokenizer 'CharDelimiterSplit'"},
        BadFile{"unsupported_split_regex.json", "pre_tokenizer.pretokenizers[1].pattern.Regex",
                "unsupported split regex `\\d+|[a-z]+`"},
        BadFile{"merge_token_missing.json", "model.merges", "token 'c' is not in the vocabulary"},
        BadFile{"merged_token_missing.json", "model.merges", "merged token 'ab' is not in the vocabulary"},
        BadFile{"merge_malformed.json", "model.merges[0]", "expected \"left right\""},
        BadFile{"unknown_normalizer.json", "normalizer.type", "unknown normalizer 'Precompiled'"},
        BadFile{"unknown_decoder.json", "decoder.type", "unknown decoder 'CTC'"},
        BadFile{"bpe_dropout.json", "model.dropout", "dropout is not supported"},
        BadFile{"template_special_missing.json", "post_processor.single[0].SpecialToken.id",
                "'<s>' is not in special_tokens"},
        BadFile{"wordpiece_unk_missing.json", "model.vocab", "unk_token '[UNK]' is not in the vocabulary"},
        BadFile{"added_token_without_content.json", "added_tokens[0].content", "missing or empty"},
        BadFile{"config_without_bos/tokenizer_config.json", "bos_token", "missing while add_bos_token is true"},
        BadFile{"no_such_file.json", "", "cannot open"}),
    [](const auto& info) {
      std::string name = info.param.file;
      for (char& c : name) {
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace zotune
