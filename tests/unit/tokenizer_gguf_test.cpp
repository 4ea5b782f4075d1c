// Tokenizer::from_gguf on vocabularies shaped as llama.cpp's converter writes them, built
// from the fixtures: a SentencePiece "llama" vocabulary (tokens, scores, types), a "gpt2"
// byte-level BPE with the llama-bpe pre-tokenizer (from the Llama-3 fixture), and a "bert"
// vocabulary in llama.cpp's phantom-space form (from the BERT fixture). Each must give the
// ids Hugging Face gives for the equivalent tokenizer.json.
#include <gtest/gtest.h>

#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"
#include "tests/unit/tokenizer_test_util.h"

namespace zotune {
namespace {

using testing::expect_matches_hf;
using testing::read_json;
using testing::tokenizer_fixture;

// The model vocabulary of a fixture tokenizer.json, as tokens by id.
std::vector<std::string> tokens_by_id(const nlohmann::json& tokenizer) {
  std::vector<std::string> tokens;
  for (const auto& [token, id] : tokenizer.at("model").at("vocab").items()) {
    const size_t i = id.get<size_t>();
    if (tokens.size() <= i) tokens.resize(i + 1);
    tokens[i] = token;
  }
  return tokens;
}

// Control (3) for the special added tokens, normal (1) otherwise.
std::vector<int32_t> token_types(const nlohmann::json& tokenizer, size_t count) {
  std::vector<int32_t> types(count, 1);
  for (const auto& t : tokenizer.at("added_tokens")) {
    if (t.at("special").get<bool>()) types.at(t.at("id").get<size_t>()) = 3;
  }
  return types;
}

TEST(TokenizerGguf, LlamaSentencePieceByScores) {
  const auto j = read_json(tokenizer_fixture("gguf_llama/vocab.json"));
  GgufVocabulary v;
  v.model = j.at("model").get<std::string>();
  v.tokens = j.at("tokens").get<std::vector<std::string>>();
  v.scores = j.at("scores").get<std::vector<float>>();
  v.token_types = j.at("token_types").get<std::vector<int32_t>>();
  v.bos_id = j.at("bos_id");
  v.eos_id = j.at("eos_id");
  v.unk_id = j.at("unk_id");
  v.add_bos = j.at("add_bos");
  v.add_eos = j.at("add_eos");
  v.add_space_prefix = j.at("add_space_prefix");
  const Tokenizer tok = Tokenizer::from_gguf(v);
  EXPECT_EQ(tok.kind(), "SentencePiece BPE");
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(expect_matches_hf(tok, tokenizer_fixture("gguf_llama/expected.json")), 0);
}

// A "gpt2" GGUF vocabulary from a byte-level fixture: tokens by id, merges, control types.
GgufVocabulary gpt2_vocabulary(const std::string& fixture, const std::string& pre) {
  const auto j = read_json(tokenizer_fixture(fixture + "/tokenizer.json"));
  GgufVocabulary v;
  v.model = "gpt2";
  v.pre = pre;
  v.tokens = tokens_by_id(j);
  v.token_types = token_types(j, v.tokens.size());
  for (const auto& m : j.at("model").at("merges")) {
    v.merges.push_back(m.is_string() ? m.get<std::string>()
                                     : m[0].get<std::string>() + " " + m[1].get<std::string>());
  }
  return v;
}

TEST(TokenizerGguf, Gpt2WithQwen2PreTokenizer) {
  const Tokenizer tok = Tokenizer::from_gguf(gpt2_vocabulary("qwen2", "qwen2"));
  EXPECT_EQ(expect_matches_hf(tok, tokenizer_fixture("qwen2/expected.json")), 0);
}

TEST(TokenizerGguf, Gpt2WithLlamaBpePreTokenizer) {
  GgufVocabulary v = gpt2_vocabulary("llama3", "llama-bpe");
  v.bos_id = *Tokenizer::from_file(tokenizer_fixture("llama3")).token_to_id("<|begin_of_text|>");
  v.eos_id = v.bos_id + 1;
  v.add_bos = true;
  const Tokenizer tok = Tokenizer::from_gguf(v);
  EXPECT_EQ(tok.kind(), "byte-level BPE");
  EXPECT_EQ(expect_matches_hf(tok, tokenizer_fixture("llama3/expected.json")), 0);
}

TEST(TokenizerGguf, BertPhantomSpaceVocabulary) {
  const auto j = read_json(tokenizer_fixture("bert_uncased/tokenizer.json"));
  GgufVocabulary v;
  v.model = "bert";
  // llama.cpp's converter: "##piece" -> "piece", "word" -> U+2581 "word", "[X]" kept.
  for (const std::string& t : tokens_by_id(j)) {
    if (t.size() >= 2 && t.front() == '[' && t.back() == ']') {
      v.tokens.push_back(t);
    } else if (t.rfind("##", 0) == 0) {
      v.tokens.push_back(t.substr(2));
    } else {
      v.tokens.push_back("\xE2\x96\x81" + t);
    }
  }
  v.token_types = token_types(j, v.tokens.size());
  const Tokenizer reference = Tokenizer::from_file(tokenizer_fixture("bert_uncased"));
  v.cls_id = *reference.token_to_id("[CLS]");
  v.sep_id = *reference.token_to_id("[SEP]");
  v.unk_id = *reference.token_to_id("[UNK]");
  v.pad_id = *reference.token_to_id("[PAD]");
  v.mask_id = *reference.token_to_id("[MASK]");
  const Tokenizer tok = Tokenizer::from_gguf(v);
  EXPECT_EQ(tok.kind(), "WordPiece");
  EXPECT_EQ(tok.bos_id(), v.cls_id);
  EXPECT_EQ(tok.eos_id(), v.sep_id);
  EXPECT_EQ(tok.mask_id(), v.mask_id);
  EXPECT_EQ(expect_matches_hf(tok, tokenizer_fixture("bert_uncased/expected.json")), 0);
}

void expect_error(const GgufVocabulary& v, const std::string& fragment) {
  try {
    (void)Tokenizer::from_gguf(v);
    ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(TokenizerGguf, Errors) {
  GgufVocabulary v;
  v.model = "gpt2";
  expect_error(v, "tokenizer.ggml.tokens");
  v.tokens = {"a", "b", "ab"};
  v.merges = {"a b"};
  v.pre = "mystery";
  expect_error(v, "unknown pre-tokenizer 'mystery' (known: default, gpt-2, smollm, llama-bpe, llama3, qwen2)");
  v.pre = "default";
  v.merges = {"a c"};
  expect_error(v, "tokenizer.ggml.merges");
  v.merges = {"nospace"};
  expect_error(v, "tokenizer.ggml.merges[0]");
  v.merges = {"a b"};
  v.token_types = {1, 1};
  expect_error(v, "tokenizer.ggml.token_type");
  v.token_types = {};
  v.model = "t5";
  expect_error(v, "unknown tokenizer model 't5'");
  v.model = "llama";
  expect_error(v, "tokenizer.ggml.scores");
  v.model = "gpt2";
  v.bos_id = 7;
  expect_error(v, "tokenizer.ggml.bos_token_id");
  v.bos_id = -1;
  v.add_bos = true;
  expect_error(v, "tokenizer.ggml.bos_token_id");
}

TEST(TokenizerGguf, TinyByteLevelVocabulary) {
  // Byte-level stand-ins: "Ġ" is the space byte. Merges in rank order.
  GgufVocabulary v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.tokens = {"<|endoftext|>", "h", "i", "Ġ", "hi", "Ġhi", "!"};
  v.token_types = {3, 1, 1, 1, 1, 1, 1};
  v.merges = {"h i", "Ġ hi"};
  v.eos_id = 0;
  v.add_eos = true;
  const Tokenizer tok = Tokenizer::from_gguf(v);
  EXPECT_EQ(tok.encode("hi hi!"), (std::vector<int32_t>{4, 5, 6, 0}));
  EXPECT_EQ(tok.encode("hi<|endoftext|> hi", false), (std::vector<int32_t>{4, 0, 5}));
  EXPECT_EQ(tok.decode({4, 5, 6, 0}), "hi hi!");
  EXPECT_EQ(tok.decode({4, 5, 6, 0}, false), "hi hi!<|endoftext|>");
}

}  // namespace
}  // namespace zotune
