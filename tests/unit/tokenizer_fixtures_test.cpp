// Every fixture tokenizer.json under tests/fixtures/tokenizer/ against the ids and decodes
// Hugging Face `tokenizers` produced for the same awkward strings.
#include <gtest/gtest.h>

#include "core/tokenizer/tokenizer.h"
#include "tests/unit/tokenizer_test_util.h"

namespace zotune {
namespace {

using testing::expect_matches_hf;
using testing::tokenizer_fixture;

class TokenizerFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerFixture, MatchesHuggingFace) {
  const std::string dir = tokenizer_fixture(GetParam());
  const Tokenizer tok = Tokenizer::from_file(dir);
  EXPECT_EQ(expect_matches_hf(tok, dir + "/expected.json"), 0);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenizerFixture,
                         ::testing::Values("gpt2_opt", "roberta", "llama2", "llama2_eos", "llama3", "qwen2",
                                           "bert_uncased", "bert_cased", "misc_wordpiece", "misc_bpe",
                                           "metaspace_first", "bytelevel_prefix", "split_variants"),
                         [](const auto& info) { return std::string(info.param); });

TEST(TokenizerFixtures, FileOrDirectoryAndKinds) {
  const Tokenizer from_dir = Tokenizer::from_file(tokenizer_fixture("gpt2_opt"));
  const Tokenizer from_file = Tokenizer::from_file(tokenizer_fixture("gpt2_opt") + "/tokenizer.json");
  EXPECT_EQ(from_dir.encode("Hello world"), from_file.encode("Hello world"));
  EXPECT_EQ(from_dir.kind(), "byte-level BPE");
  EXPECT_EQ(Tokenizer::from_file(tokenizer_fixture("llama2")).kind(), "SentencePiece BPE");
  EXPECT_EQ(Tokenizer::from_file(tokenizer_fixture("bert_uncased")).kind(), "WordPiece");
  EXPECT_EQ(Tokenizer::from_file(tokenizer_fixture("llama3")).kind(), "byte-level BPE");
}

TEST(TokenizerFixtures, SpecialIds) {
  // OPT: the template's </s> is both BOS and EOS.
  const Tokenizer opt = Tokenizer::from_file(tokenizer_fixture("gpt2_opt"));
  EXPECT_EQ(opt.bos_id(), *opt.token_to_id("</s>"));
  EXPECT_EQ(opt.eos_id(), *opt.token_to_id("</s>"));
  EXPECT_EQ(opt.pad_id(), *opt.token_to_id("<pad>"));
  EXPECT_EQ(opt.unk_id(), *opt.token_to_id("<unk>"));
  EXPECT_EQ(opt.mask_id(), -1);

  const Tokenizer roberta = Tokenizer::from_file(tokenizer_fixture("roberta"));
  EXPECT_EQ(roberta.bos_id(), *roberta.token_to_id("<s>"));
  EXPECT_EQ(roberta.eos_id(), *roberta.token_to_id("</s>"));
  EXPECT_EQ(roberta.mask_id(), *roberta.token_to_id("<mask>"));

  const Tokenizer llama = Tokenizer::from_file(tokenizer_fixture("llama2"));
  EXPECT_EQ(llama.bos_id(), 1);
  EXPECT_EQ(llama.eos_id(), 2);
  EXPECT_EQ(llama.unk_id(), 0);
  EXPECT_EQ(llama.pad_id(), -1);
  EXPECT_EQ(llama.id_to_token(3), "<0x00>");
  EXPECT_EQ(llama.token_to_id("<0xFF>"), 258);
  EXPECT_EQ(llama.vocab_size(), 1159);

  const Tokenizer bert = Tokenizer::from_file(tokenizer_fixture("bert_uncased"));
  EXPECT_EQ(bert.bos_id(), *bert.token_to_id("[CLS]"));
  EXPECT_EQ(bert.eos_id(), *bert.token_to_id("[SEP]"));
  EXPECT_EQ(bert.pad_id(), *bert.token_to_id("[PAD]"));
  EXPECT_EQ(bert.unk_id(), *bert.token_to_id("[UNK]"));
  EXPECT_EQ(bert.mask_id(), *bert.token_to_id("[MASK]"));
  EXPECT_FALSE(bert.token_to_id("no such token").has_value());
  EXPECT_EQ(bert.id_to_token(1 << 30), "");

  const Tokenizer llama3 = Tokenizer::from_file(tokenizer_fixture("llama3"));
  EXPECT_EQ(llama3.bos_id(), *llama3.token_to_id("<|begin_of_text|>"));
  EXPECT_EQ(llama3.eos_id(), *llama3.token_to_id("<|end_of_text|>"));
}

TEST(TokenizerFixtures, DecodeSkipsUnknownIds) {
  const Tokenizer tok = Tokenizer::from_file(tokenizer_fixture("gpt2_opt"));
  const auto ids = tok.encode("Hello world", false);
  std::vector<int32_t> with_junk = ids;
  with_junk.insert(with_junk.begin() + 1, {-5, 1 << 30});
  EXPECT_EQ(tok.decode(with_junk), tok.decode(ids));
}

}  // namespace
}  // namespace zotune
