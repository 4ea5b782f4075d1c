// The real pretrained models that scripts/fetch_models.sh downloads (../shared/models.md):
// SmolLM2-135M-Instruct (GGUF, Q4_1/Q8_0) and all-MiniLM-L6-v2 (safetensors, BERT).
// Skipped when they are absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/model/generate.h"
#include "core/model/pretrained.h"
#include "kernels/cpu/cross_entropy.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;

const std::string kSmolLM2 = std::string(ZOTUNE_MODELS_DIR) + "/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf";
const std::string kMiniLM = std::string(ZOTUNE_MODELS_DIR) + "/minilm-l6";

class SmolLM2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (fs::exists(kSmolLM2)) model_ = new Pretrained(load_pretrained(kSmolLM2));
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    if (model_ == nullptr) GTEST_SKIP() << kSmolLM2 << " absent (run scripts/fetch_models.sh)";
  }
  static Pretrained* model_;
};
Pretrained* SmolLM2::model_ = nullptr;

TEST_F(SmolLM2, ConfigFromGgufMetadata) {
  const ModelConfig& c = model_->model->config();
  EXPECT_EQ(c.arch, Architecture::Llama);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FLOAT_EQ(c.rope_theta, 100000.0f);
  EXPECT_EQ(model_->model->params().total_numel(), 134515008);  // SmolLM2-135M's published count
  EXPECT_TRUE(model_->report.unused.empty());
}

TEST_F(SmolLM2, GreedyContinuationNamesParis) {
  std::vector<int32_t> prompt = model_->tokenizer.encode("The capital of France is");
  GenerateOptions opt;
  opt.max_new_tokens = 8;
  opt.stop_ids = {model_->tokenizer.eos_id()};
  auto out = generate_greedy(*model_->model, {prompt}, 0, opt);
  const std::string text = model_->tokenizer.decode(out[0]);
  EXPECT_NE(text.find("Paris"), std::string::npos) << "continuation: '" << text << "'";
}

TEST_F(SmolLM2, BatchedLeftPaddedGenerationEqualsOneByOne) {
  const std::vector<std::string> prompts = {"The capital of France is", "One, two, three, four,", "Water boils at"};
  std::vector<std::vector<int32_t>> ids;
  for (const auto& p : prompts) ids.push_back(model_->tokenizer.encode(p));
  GenerateOptions opt;
  opt.max_new_tokens = 5;
  auto batched = generate_greedy(*model_->model, ids, 0, opt);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(batched[i], generate_greedy(*model_->model, {ids[i]}, 0, opt)[0]) << prompts[i];
}

TEST_F(SmolLM2, NextTokenLossOnEnglishIsFarBelowUniform) {
  const std::vector<std::string> sentences = {
      "The quick brown fox jumps over the lazy dog.",
      "Paris is the capital and most populous city of France.",
      "Water is made of hydrogen and oxygen atoms.",
      "She opened the door and walked into the garden.",
  };
  double total = 0;
  long count = 0;
  for (const auto& s : sentences) {
    std::vector<int32_t> ids = model_->tokenizer.encode(s);
    Batch b = Batch::from_sequences({ids}, 0);
    std::vector<int64_t> rows;
    for (size_t i = 0; i + 1 < ids.size(); ++i) rows.push_back(static_cast<int64_t>(i));
    std::vector<float> logits = model_->model->forward(b, rows);
    std::vector<double> loss(rows.size());
    cpu::cross_entropy(loss.data(), logits.data(), ids.data() + 1, static_cast<int>(rows.size()), 49152);
    for (double l : loss) total += l;
    count += static_cast<long>(loss.size());
  }
  const double mean = total / count;
  RecordProperty("mean_next_token_loss", std::to_string(mean));
  EXPECT_LT(mean, 4.0) << "uniform baseline is ln 49152 = 10.8";
  EXPECT_GT(mean, 0.5);
}

std::vector<float> mean_pooled_embedding(Model& model, const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids = tok.encode(text);
  Batch b = Batch::from_sequences({ids}, tok.pad_id());
  std::vector<float> h = model.forward(b);
  const int C = model.config().hidden_size;
  std::vector<float> e(C, 0.0f);
  for (size_t t = 0; t < ids.size(); ++t)
    for (int c = 0; c < C; ++c) e[c] += h[t * C + c] / ids.size();
  return e;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

TEST(MiniLM, LoadsAsBertBodyAndEmbedsSimilarSentencesCloser) {
  if (!fs::exists(kMiniLM)) GTEST_SKIP() << kMiniLM << " absent";
  Pretrained p = load_pretrained(kMiniLM);
  EXPECT_EQ(p.model->config().arch, Architecture::BERT);
  EXPECT_EQ(p.model->config().head, HeadKind::Base);
  EXPECT_EQ(p.model->params().total_numel(), 22565376);  // all-MiniLM-L6-v2 without its pooler
  auto a = mean_pooled_embedding(*p.model, p.tokenizer, "A man is eating food.");
  auto b = mean_pooled_embedding(*p.model, p.tokenizer, "A man is eating a piece of bread.");
  auto c = mean_pooled_embedding(*p.model, p.tokenizer, "The girl is carrying a baby.");
  EXPECT_GT(cosine(a, b), cosine(a, c) + 0.2);
}

TEST(MiniLM, ClassificationHeadOnTheBodyIsSeededAndReported) {
  if (!fs::exists(kMiniLM)) GTEST_SKIP() << kMiniLM << " absent";
  LoadOptions opt;
  opt.override_head = true;
  opt.head = HeadKind::SequenceClassification;
  opt.num_labels = 3;
  opt.init_seed = 5;
  LoadReport report;
  std::unique_ptr<Model> m = load_model(kMiniLM, opt, &report);
  // The pooler comes from the checkpoint; only the classifier is new.
  EXPECT_EQ(report.initialized, (std::vector<std::string>{"classifier.weight", "classifier.bias"}));
  Batch b = Batch::from_sequences({{101, 2023, 2003, 1037, 3231, 102}}, 0);
  std::vector<float> logits = m->forward(b);
  ASSERT_EQ(logits.size(), 3u);
  std::unique_ptr<Model> again = load_model(kMiniLM, opt);
  EXPECT_EQ(again->forward(b), logits);
}

}  // namespace
}  // namespace zotune
