// The real vocabularies: all-MiniLM-L6-v2's tokenizer.json, and SmolLM2-135M's tokenizer as
// its GGUF file embeds it (read through the GGUF reader). Expected ids come from Hugging Face
// `tokenizers` (make_tokenizer_fixtures.py); the tests skip when the models are not fetched.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/io/gguf.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/unit/tokenizer_test_util.h"

namespace zotune {
namespace {

using testing::expect_matches_hf;
using testing::tokenizer_fixture;

std::string model_path(const std::string& relative) { return std::string(ZOTUNE_MODELS_DIR) + "/" + relative; }

TEST(TokenizerModels, MiniLmMatchesHuggingFace) {
  const std::string path = model_path("minilm-l6/tokenizer.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent (scripts/fetch_models.sh)";
  const Tokenizer tok = Tokenizer::from_file(model_path("minilm-l6"));
  EXPECT_EQ(tok.kind(), "WordPiece");
  EXPECT_EQ(tok.vocab_size(), 30522);
  EXPECT_EQ(tok.bos_id(), 101);  // [CLS]
  EXPECT_EQ(tok.eos_id(), 102);  // [SEP]
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 100);
  EXPECT_EQ(tok.mask_id(), 103);
  EXPECT_EQ(expect_matches_hf(tok, tokenizer_fixture("expected_minilm_l6.json")), 0);
}

TEST(TokenizerModels, SmolLm2FromGgufMatchesHuggingFace) {
  const std::string path = model_path("smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent (scripts/fetch_models.sh)";
  const Tokenizer tok = Tokenizer::from_gguf(read_gguf_vocabulary(GgufFile::open(path)));
  EXPECT_EQ(tok.kind(), "byte-level BPE");
  EXPECT_EQ(tok.vocab_size(), 49152);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.id_to_token(0), "<|endoftext|>");
  EXPECT_EQ(tok.token_to_id("<|im_start|>"), 1);
  EXPECT_EQ(expect_matches_hf(tok, tokenizer_fixture("expected_smollm2.json")), 0);
}

}  // namespace
}  // namespace zotune
