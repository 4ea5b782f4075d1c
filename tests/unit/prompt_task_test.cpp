// PromptTask (core/tasks/prompt_task.h): every loss and prediction against a reference
// computed here from full-sequence logits of one unpadded sequence at a time (forward with
// rows empty, log-softmax by hand in double), on the tiny random Llama of
// tests/fixtures/train/tiny_lm and the BERT parity fixtures (whose Hugging Face logits are a
// second, independent reference). SQuAD normalisation and F1 against the official v1.1
// definitions run in Python (tests/fixtures/tasks/make_squad_f1_cases.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <unistd.h>

#include "core/io/safetensors.h"
#include "core/model/generate.h"
#include "core/model/pretrained.h"
#include "core/tasks/prompt_task.h"
#include "core/tasks/prompt_task_forward.h"
#include "core/tasks/squad_f1.h"
#include "core/util/error.h"

namespace zotune::tasks {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(ZOTUNE_FIXTURES_DIR);
constexpr double kTol = 1e-5;

// ---- references -------------------------------------------------------------------------

// log p(token t | tokens < t) for t >= 1 of one unpadded sequence, from all its logits.
std::vector<double> reference_token_logprobs(Model& model, const std::vector<int32_t>& ids) {
  const Batch batch = Batch::from_sequences({ids}, 0);
  const std::vector<float> logits = model.forward(batch);  // [T, V], every position
  const int V = model.config().vocab_size;
  std::vector<double> out(ids.size(), 0.0);
  for (size_t t = 1; t < ids.size(); ++t) {
    const float* row = logits.data() + (t - 1) * static_cast<size_t>(V);
    double m = row[0];
    for (int v = 1; v < V; ++v) m = std::max(m, static_cast<double>(row[v]));
    double z = 0.0;
    for (int v = 0; v < V; ++v) z += std::exp(static_cast<double>(row[v]) - m);
    out[t] = static_cast<double>(row[ids[t]]) - m - std::log(z);
  }
  return out;
}

// Mean log-likelihood of the option tokens (the last option_len) of a sequence.
double reference_score(Model& model, const ScoredSequence& s) {
  const std::vector<double> lp = reference_token_logprobs(model, s.ids);
  double sum = 0.0;
  for (size_t t = s.ids.size() - s.option_len; t < s.ids.size(); ++t) sum += lp[t];
  return sum / s.option_len;
}

double reference_ce(const std::vector<double>& logits, int gold) {
  double m = logits[0];
  for (double x : logits) m = std::max(m, x);
  double z = 0.0;
  for (double x : logits) z += std::exp(x - m);
  return std::log(z) + m - logits[gold];
}

// ---- tiny Llama fixture -----------------------------------------------------------------

class PromptTaskLM : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { lm_ = new Pretrained(load_pretrained((kFixtures / "train" / "tiny_lm").string())); }
  static void TearDownTestSuite() {
    delete lm_;
    lm_ = nullptr;
  }
  static Model& model() { return *lm_->model; }
  static const Tokenizer& tokenizer() { return lm_->tokenizer; }

  // MeZO's encoding: ids = tokens(prompt + option), option_len = the difference in length.
  static ScoredSequence scored(const std::string& prompt, const std::string& option) {
    ScoredSequence s;
    s.ids = tokenizer().encode(prompt + option);
    s.option_len = static_cast<int>(s.ids.size() - tokenizer().encode(prompt).size());
    return s;
  }
  static EncodedExample candidates(const std::string& prompt, const std::vector<std::string>& options,
                                   std::vector<int> correct, const std::string& where) {
    EncodedExample e;
    e.format = Format::CandidateLM;
    for (const auto& o : options) e.candidates.push_back(scored(prompt, o));
    e.correct = std::move(correct);
    e.where = where;
    return e;
  }
  // Examples of different prompt lengths, option lengths and candidate counts.
  static std::vector<EncodedExample> candidate_examples() {
    return {
        candidates("The movie was", {" great", " terrible"}, {1}, "sst2.jsonl:1"),
        candidates("Is the sky blue?\n", {"Yes", "No", "Maybe"}, {0}, "cb.jsonl:7"),
        candidates("Q", {" a long candidate answer", " b"}, {0}, "copa.jsonl:3"),
        candidates("Paris is the capital of", {" France", " Germany", " Spain", " Italy"}, {2, 3}, "record.jsonl:9"),
    };
  }
  static PromptTaskOptions options(int max_batch) {
    PromptTaskOptions o;
    o.max_batch_sequences = max_batch;
    o.pad_id = 256;
    return o;
  }
  static std::vector<int> all(int n) {
    std::vector<int> v(n);
    std::iota(v.begin(), v.end(), 0);
    return v;
  }

  static Pretrained* lm_;
};
Pretrained* PromptTaskLM::lm_ = nullptr;

TEST_F(PromptTaskLM, CandidateClassificationLossMatchesReference) {
  const std::vector<EncodedExample> ex = candidate_examples();
  double want = 0.0;
  for (const auto& e : ex) {
    std::vector<double> s;
    for (const auto& c : e.candidates) s.push_back(reference_score(model(), c));
    want += reference_ce(s, e.correct[0]);
  }
  // One batch of all 11 sequences, and chunks of 3 that split examples' candidates.
  for (int max_batch : {64, 3, 1}) {
    PromptTask task("mixed", ex, options(max_batch));
    const LossSum got = task.loss_sum(model(), all(task.num_examples()));
    EXPECT_NEAR(got.sum, want, kTol) << "max_batch " << max_batch;
    EXPECT_EQ(got.count, 4.0);
  }
  // Parts combine exactly: examples {0, 2} plus {1, 3} is the whole.
  PromptTask task("mixed", ex, options(64));
  const LossSum a = task.loss_sum(model(), {0, 2}), b = task.loss_sum(model(), {3, 1});
  EXPECT_NEAR(a.sum + b.sum, want, kTol);
}

TEST_F(PromptTaskLM, OptionScoresDoNotDependOnLeftPadding) {
  const ScoredSequence short_one = scored("Hi", " there");
  const ScoredSequence long_one = scored("A much longer prompt than the other one,", " and its option");
  const ScoredSequence longer = scored("An even longer prompt, so the short one gets padded a lot more:", " x");
  const auto alone = option_token_nll(model(), {&short_one}, 256, 8);
  const auto batched = option_token_nll(model(), {&long_one, &short_one, &longer}, 256, 8);
  ASSERT_EQ(alone[0].size(), static_cast<size_t>(short_one.option_len));
  ASSERT_EQ(batched[1].size(), alone[0].size());
  const std::vector<double> ref = reference_token_logprobs(model(), short_one.ids);
  for (size_t j = 0; j < alone[0].size(); ++j) {
    EXPECT_NEAR(batched[1][j], alone[0][j], kTol) << "token " << j;
    EXPECT_NEAR(alone[0][j], -ref[short_one.ids.size() - short_one.option_len + j], kTol) << "token " << j;
  }
  EXPECT_NEAR(-std::accumulate(batched[2].begin(), batched[2].end(), 0.0) / longer.option_len,
              reference_score(model(), longer), kTol);
}

// engine.shared_prompts: one-token candidates after the same prompt run as one sequence, the
// prompt, and score as their own sequences do (here the CPU engine's numbers agree to rounding);
// longer candidates keep their sequences.
TEST_F(PromptTaskLM, SharedPromptsScoreOneTokenCandidatesFromOneForward) {
  const std::vector<EncodedExample> ex = {
      candidates("Is the sky blue? ", {"Y", "N", "M"}, {0}, "cb.jsonl:1"),
      candidates("The movie was ", {"g", "b"}, {1}, "sst2.jsonl:2"),
      candidates("Q", {" a long candidate answer", " b"}, {0}, "copa.jsonl:3"),
  };
  std::vector<const ScoredSequence*> seqs;
  for (const auto& e : ex)
    for (const auto& c : e.candidates) seqs.push_back(&c);
  for (size_t i = 0; i < 5; ++i) ASSERT_EQ(seqs[i]->option_len, 1) << "sequence " << i;
  ASSERT_GT(seqs[6]->option_len, 1);

  const OptionScoringPlan unshared = plan_option_scoring(seqs, false);
  ASSERT_EQ(unshared.runs.size(), seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(unshared.run_of[i], i);
  const OptionScoringPlan shared = plan_option_scoring(seqs, true);
  ASSERT_EQ(shared.runs.size(), 4u);  // one prompt per one-token example, the two long candidates alone
  EXPECT_EQ(shared.run_of, (std::vector<size_t>{0, 0, 0, 1, 1, 2, 3}));
  EXPECT_EQ(shared.runs[0], std::vector<int32_t>(seqs[0]->ids.begin(), seqs[0]->ids.end() - 1));
  EXPECT_EQ(shared.runs[2], seqs[5]->ids);

  for (int max_batch : {8, 3, 1}) {
    const auto a = option_token_nll(model(), seqs, 256, max_batch, false);
    const auto b = option_token_nll(model(), seqs, 256, max_batch, true);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(a[i].size(), b[i].size()) << "sequence " << i;
      for (size_t j = 0; j < a[i].size(); ++j) EXPECT_NEAR(b[i][j], a[i][j], kTol) << "sequence " << i << " token " << j;
      EXPECT_NEAR(-std::accumulate(b[i].begin(), b[i].end(), 0.0) / seqs[i]->option_len, reference_score(model(), *seqs[i]),
                  kTol) << "sequence " << i;
    }
  }
  // The one-token options of one example differ: the shared row is read with each target.
  const auto b = option_token_nll(model(), seqs, 256, 8, true);
  EXPECT_NE(b[0][0], b[1][0]);

  double want = 0.0;
  for (const auto& e : ex) {
    std::vector<double> s;
    for (const auto& c : e.candidates) s.push_back(reference_score(model(), c));
    want += reference_ce(s, e.correct[0]);
  }
  PromptTaskOptions o = options(3);
  o.shared_prompts = true;
  PromptTask task("shared", ex, o);
  EXPECT_NEAR(task.loss_sum(model(), all(task.num_examples())).sum, want, kTol);
}

TEST_F(PromptTaskLM, TeacherForcedLossIsTokenCrossEntropyOfTheGoldOption) {
  const std::vector<EncodedExample> ex = candidate_examples();
  double want = 0.0, tokens = 0.0;
  for (const auto& e : ex) {
    const ScoredSequence& gold = e.candidates[e.correct[0]];
    want -= reference_score(model(), gold) * gold.option_len;
    tokens += gold.option_len;
  }
  PromptTaskOptions o = options(2);
  o.candidate_objective = CandidateObjective::TeacherForced;
  PromptTask task("copa", ex, o);
  const LossSum got = task.loss_sum(model(), all(task.num_examples()));
  EXPECT_NEAR(got.sum, want, kTol);
  EXPECT_EQ(got.count, tokens);  // MeZO: the mean over the batch's unmasked label tokens
}

TEST_F(PromptTaskLM, CandidateAccuracyIsArgmaxOfMeanLogLikelihood) {
  std::vector<EncodedExample> ex = candidate_examples();
  // Every candidate correct: a ReCoRD-like example that any argmax gets right.
  ex.push_back(candidates("Name a colour:", {" red", " green", " blue"}, {0, 1, 2}, "record.jsonl:12"));
  PromptTask task("mixed", ex, options(3));
  const Evaluation ev = task.evaluate(model(), all(task.num_examples()));
  ASSERT_EQ(ev.predictions.size(), ex.size());
  EXPECT_EQ(ev.metric, Metric::Accuracy);
  double correct = 0.0;
  for (size_t i = 0; i < ex.size(); ++i) {
    std::vector<double> s;
    for (const auto& c : ex[i].candidates) s.push_back(reference_score(model(), c));
    const int want = static_cast<int>(std::max_element(s.begin(), s.end()) - s.begin());
    EXPECT_EQ(ev.predictions[i].predicted, want) << ex[i].where;
    EXPECT_EQ(ev.predictions[i].example, static_cast<int>(i));
    const bool ok = std::count(ex[i].correct.begin(), ex[i].correct.end(), want) > 0;
    EXPECT_EQ(ev.predictions[i].score, ok ? 1.0 : 0.0);
    correct += ok;
  }
  EXPECT_EQ(ev.predictions.back().score, 1.0);
  EXPECT_DOUBLE_EQ(ev.value, correct / ex.size());
  EXPECT_DOUBLE_EQ(*task.metric(model(), all(task.num_examples())), ev.value);
}

TEST_F(PromptTaskLM, GenerationLossIsTeacherForcedOnTheTarget) {
  EncodedExample e;
  e.format = Format::Generation;
  e.candidates = {scored("Question: capital of France?\nAnswer:", " Paris\n")};
  e.ids = tokenizer().encode("Question: capital of France?\nAnswer:");
  e.answers = {"Paris"};
  e.where = "squad.jsonl:1";
  PromptTaskOptions o = options(4);
  o.generation = generation_config(tokenizer());
  PromptTask task("squad", {e}, o);
  const LossSum got = task.loss_sum(model(), {0});
  EXPECT_NEAR(got.sum, -reference_score(model(), e.candidates[0]) * e.candidates[0].option_len, kTol);
  EXPECT_EQ(got.count, 7.0);  // " Paris\n": 7 byte tokens
}

TEST_F(PromptTaskLM, TokenizerStopsAreEosAndNewlineTokens) {
  const GenerationConfig g = generation_config(tokenizer());
  std::vector<int32_t> stops = g.stop_ids;
  std::sort(stops.begin(), stops.end());
  const int32_t newline = tokenizer().encode("\n").back();
  EXPECT_EQ(stops, (std::vector<int32_t>{newline, 256}));  // byte vocabulary: one newline token
  EXPECT_EQ(g.max_new_tokens, 50);
  EXPECT_EQ(g.decode(tokenizer().encode("ab\nc")), "ab\nc");
}

// Greedy decoding with the task's stops: a tiny random model does not emit a newline or EOS
// by itself, so the test first decodes without stops, then makes the model emit one at step
// k by giving the stop token the lm_head row of the token chosen at step k (logits tie; the
// lower id wins argmax, or the stop row is scaled up by 1e-3), which leaves steps < k alone.
TEST_F(PromptTaskLM, GreedyGenerationStopsAtNewlineOrEos) {
  const std::string prompt_text = "Title: x\nQuestion: what?\nAnswer:";
  const std::vector<int32_t> prompt = tokenizer().encode(prompt_text);
  GenerateOptions free_run;
  free_run.max_new_tokens = 50;
  const std::vector<int32_t> g = generate_greedy(model(), {prompt}, 256, free_run)[0];
  ASSERT_EQ(g.size(), 50u);

  EncodedExample e;
  e.format = Format::Generation;
  e.ids = prompt;
  e.answers = {"anything"};
  e.where = "squad.jsonl:4";
  PromptTaskOptions o = options(4);
  o.generation = generation_config(tokenizer());
  ASSERT_EQ(std::count(g.begin(), g.end(), 10) + std::count(g.begin(), g.end(), 256), 0)
      << "the fixture now emits a stop by itself; pick another prompt";
  {
    // No stop within 50 tokens: the whole continuation is the answer.
    PromptTask task("squad", {e}, o);
    const std::string text = task.evaluate(model(), {0}).predictions[0].text;
    std::string want = tokenizer().decode(g);
    want = want.substr(want.find_first_not_of(" \t\n\r\f\v"));
    want = want.substr(0, want.find_last_not_of(" \t\n\r\f\v") + 1);
    EXPECT_EQ(text, want);
  }
  // The first step k >= 2 whose token is new and whose id exceeds the newline's.
  size_t k = 2;
  while (k < g.size() && (g[k] <= 10 || std::find(g.begin(), g.begin() + k, g[k]) != g.begin() + k)) ++k;
  ASSERT_LT(k, g.size());
  ParamStore& params = model().params();
  float* head = params.f32(params.at("lm_head.weight"));
  const int H = model().config().hidden_size;
  for (int32_t stop : {10, 256}) {
    const std::vector<float> saved(head + stop * H, head + (stop + 1) * H);
    for (int h = 0; h < H; ++h) head[stop * H + h] = head[g[k] * H + h] * (stop == 256 ? 1.001f : 1.0f);
    GenerateOptions with_stops = free_run;
    with_stops.stop_ids = o.generation->stop_ids;
    const std::vector<int32_t> stopped = generate_greedy(model(), {prompt}, 256, with_stops)[0];
    PromptTask task("squad", {e}, o);
    const Evaluation ev = task.evaluate(model(), {0});
    std::copy(saved.begin(), saved.end(), head + stop * H);

    ASSERT_EQ(stopped.size(), k + 1) << "stop " << stop;  // without stops it runs on past k
    EXPECT_EQ(stopped[k], stop);
    std::string want = tokenizer().decode(std::vector<int32_t>(g.begin(), g.begin() + k));
    want = want.substr(want.find_first_not_of(" \t\n\r\f\v"));
    want = want.substr(0, want.find_last_not_of(" \t\n\r\f\v") + 1);
    EXPECT_EQ(ev.predictions[0].text, want) << "stop " << stop;
    EXPECT_EQ(ev.predictions[0].text.find('\n'), std::string::npos);
    EXPECT_DOUBLE_EQ(ev.predictions[0].score, squad_max_f1(want, e.answers));
  }
}

// A vocabulary with several newline-holding tokens: tiny_lm's 256 byte tokens plus "\n\n"
// (257) and " \n" (258) as BPE merges, EOS 259; a seeded random Llama of tiny_lm's shape over
// those 260 ids. MeZO stops only on encode("\n")[-1] (byte 10) and EOS, so emitting "\n\n"
// or " \n" must not stop decoding, and the text after them stays in the answer.
class PromptTaskNewlines : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const fs::path dir = fs::temp_directory_path() / ("zotune_newline_vocab_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ifstream in(kFixtures / "train" / "tiny_lm" / "tokenizer.json");
    nlohmann::json tok = nlohmann::json::parse(in);
    tok["model"]["vocab"]["\u010a\u010a"] = 257;  // "\n\n" in the byte-level alphabet
    tok["model"]["vocab"]["\u0120\u010a"] = 258;  // " \n"
    tok["model"]["merges"] = nlohmann::json::array({"\u010a \u010a", "\u0120 \u010a"});
    tok["added_tokens"][0]["id"] = 259;
    std::ofstream(dir / "tokenizer.json") << tok.dump();
    tokenizer_ = new Tokenizer(Tokenizer::from_file((dir / "tokenizer.json").string()));
    fs::remove_all(dir);
    ModelConfig config = load_model_config((kFixtures / "train" / "tiny_lm").string());
    config.vocab_size = 260;
    model_ = create_model(config, DType::F32).release();
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    float* w = static_cast<float*>(model_->params().buffer(DType::F32));
    for (int64_t i = 0; i < model_->params().numel(DType::F32); ++i) w[i] = normal(rng);
  }
  static void TearDownTestSuite() {
    delete model_;
    delete tokenizer_;
  }
  static Tokenizer* tokenizer_;
  static Model* model_;
};
Tokenizer* PromptTaskNewlines::tokenizer_ = nullptr;
Model* PromptTaskNewlines::model_ = nullptr;

TEST_F(PromptTaskNewlines, OnlyTheLastTokenOfEncodedNewlineStops) {
  const Tokenizer& tok = *tokenizer_;
  ASSERT_EQ(tok.encode("\n", false), std::vector<int32_t>{10});
  // The merges apply where GPT-2's pre-tokenizer keeps the whitespace run whole (at the end).
  ASSERT_EQ(tok.encode("a\n\n", false), (std::vector<int32_t>{'a', 257}));
  ASSERT_EQ(tok.encode("a \n", false), (std::vector<int32_t>{'a', 258}));
  ASSERT_EQ(tok.eos_id(), 259);
  const GenerationConfig g = generation_config(tok);
  EXPECT_EQ(g.stop_ids, (std::vector<int32_t>{10, 259}));  // not 257 ("\n\n") nor 258 (" \n")

  const std::vector<int32_t> prompt = tok.encode("Question: what?\nAnswer:");
  GenerateOptions free_run;
  free_run.max_new_tokens = 50;
  const std::vector<int32_t> free_tokens = generate_greedy(*model_, {prompt}, 259, free_run)[0];
  ASSERT_EQ(free_tokens.size(), 50u);
  for (int32_t stop : {10, 257, 258, 259})
    ASSERT_EQ(std::count(free_tokens.begin(), free_tokens.end(), stop), 0) << "the fixture emits " << stop << " by itself";
  // Step k >= 3 with a token not seen before: give a newline token that token's lm_head row
  // (scaled by 1.001, so it wins where that token would) and decode with MeZO's stops.
  size_t k = 3;
  while (k < free_tokens.size() &&
         std::find(free_tokens.begin(), free_tokens.begin() + k, free_tokens[k]) != free_tokens.begin() + k)
    ++k;
  ASSERT_LT(k, 40u);
  EncodedExample e;
  e.format = Format::Generation;
  e.ids = prompt;
  e.answers = {"anything"};
  e.where = "drop.json:1";
  PromptTaskOptions o;
  o.pad_id = 259;
  o.generation = g;
  ParamStore& params = model_->params();
  float* head = params.f32(params.at("lm_head.weight"));
  const int H = model_->config().hidden_size;
  for (int32_t newline : {257, 258, 10}) {
    SCOPED_TRACE("newline token " + std::to_string(newline));
    const std::vector<float> saved(head + newline * H, head + (newline + 1) * H);
    for (int h = 0; h < H; ++h) head[newline * H + h] = head[free_tokens[k] * H + h] * 1.001f;
    GenerateOptions with_stops = free_run;
    with_stops.stop_ids = g.stop_ids;
    const std::vector<int32_t> tokens = generate_greedy(*model_, {prompt}, 259, with_stops)[0];
    PromptTask task("drop", {e}, o);
    const std::string text = task.evaluate(*model_, {0}).predictions[0].text;
    std::copy(saved.begin(), saved.end(), head + newline * H);

    ASSERT_GT(tokens.size(), k);
    EXPECT_EQ(tokens[k], newline);
    std::string want = tok.decode(tokens);
    want = want.substr(want.find_first_not_of(" \t\n\r\f\v"));
    want = want.substr(0, want.find_last_not_of(" \t\n\r\f\v") + 1);
    EXPECT_EQ(text, want);  // the whole continuation, stripped
    if (newline == 10) {
      EXPECT_EQ(tokens.size(), k + 1);  // stopped right after the newline
      EXPECT_EQ(text.find('\n'), std::string::npos);
    } else {
      EXPECT_GT(tokens.size(), k + 1);  // "\n\n" / " \n" do not stop it ...
      EXPECT_NE(text.find('\n'), std::string::npos);  // ... and the text after them is kept
    }
  }
}

TEST_F(PromptTaskLM, GenerationF1IsTheMeanOverExamplesAndBatchingDoesNotMatter) {
  std::vector<EncodedExample> ex;
  for (const char* p : {"Context: a\nAnswer:", "Question: who wrote it, and when?\nAnswer:", "Answer:"}) {
    EncodedExample e;
    e.format = Format::Generation;
    e.ids = tokenizer().encode(p);
    e.where = std::string("drop.jsonl:") + std::to_string(ex.size() + 1);
    ex.push_back(e);
  }
  // Gold answers: the first example's own greedy answer line (F1 1), nonsense for the others.
  const GenerationConfig config = generation_config(tokenizer());
  GenerateOptions run;
  run.max_new_tokens = config.max_new_tokens;
  run.stop_ids = config.stop_ids;
  const std::string line = tokenizer().decode(generate_greedy(model(), {ex[0].ids}, 256, run)[0]);
  ex[0].answers = {line.substr(0, line.find('\n'))};
  ASSERT_NE(squad_normalize(ex[0].answers[0]), "") << "pick a prompt whose answer has a word";
  ex[1].answers = {"zzz qqq"};
  ex[2].answers = {"", "zzz"};
  PromptTaskOptions o = options(3);
  o.generation = generation_config(tokenizer());
  PromptTask batched("drop", ex, o);
  o.max_batch_sequences = 1;
  PromptTask single("drop", ex, o);
  const Evaluation a = batched.evaluate(model(), all(3)), b = single.evaluate(model(), all(3));
  EXPECT_EQ(a.metric, Metric::F1);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.predictions[i].text, b.predictions[i].text) << i;
  double want = 0.0;
  for (int i = 0; i < 3; ++i) want += squad_max_f1(a.predictions[i].text, ex[i].answers);
  EXPECT_DOUBLE_EQ(a.value, want / 3);
  EXPECT_DOUBLE_EQ(a.predictions[0].score, 1.0);
}

TEST_F(PromptTaskLM, ErrorsNameTheExample) {
  std::vector<EncodedExample> ex = candidate_examples();
  ex[2].correct = {5};
  EXPECT_THROW(
      {
        try {
          PromptTask("copa", ex, options(4));
        } catch (const Error& err) {
          EXPECT_NE(std::string(err.what()).find("copa.jsonl:3"), std::string::npos) << err.what();
          throw;
        }
      },
      Error);
  ex = candidate_examples();
  ex[1].candidates[0].option_len = static_cast<int>(ex[1].candidates[0].ids.size());  // nothing to predict from
  EXPECT_THROW(PromptTask("cb", ex, options(4)), Error);
  ex = candidate_examples();
  ex[3].candidates[1].ids[0] = 9999;  // outside the vocabulary
  PromptTask task("record", ex, options(4));
  try {
    task.loss_sum(model(), {3});
    ADD_FAILURE() << "no error for an out-of-vocabulary id";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("record.jsonl:9"), std::string::npos) << err.what();
  }
  EncodedExample gen;
  gen.format = Format::Generation;
  gen.ids = {1, 2};
  gen.answers = {"x"};
  EXPECT_THROW(PromptTask("squad", {gen}, options(4)), Error);  // no GenerationConfig
  EXPECT_FALSE(LanguageModelingTask({{1, 2, 3}}, 256).metric(model(), {0}).has_value());
}

// ---- BERT fixtures: masked LM and classification head -----------------------------------

struct RefExamples {
  std::vector<EncodedExample> examples;
  std::vector<float> hf_logits;  // Hugging Face's logits of the right-padded batch
  int seq_len = 0;
};

// The right-padded batch of a parity fixture as examples (lengths 10, 7, 4).
RefExamples parity_examples(const std::string& fixture, Format format) {
  const SafetensorsArchive ref = SafetensorsArchive::open((kFixtures / "parity" / fixture / "reference.safetensors").string());
  const std::vector<int64_t> ids = ref.read_int("right.input_ids");
  const std::vector<int64_t> mask = ref.read_int("right.attention_mask");
  const std::vector<int64_t> types = ref.read_int("right.token_type_ids");
  const SafetensorsTensor& shape = ref.at("right.input_ids");
  RefExamples r;
  r.seq_len = static_cast<int>(shape.shape[1]);
  for (int64_t b = 0; b < shape.shape[0]; ++b) {
    EncodedExample e;
    e.format = format;
    for (int t = 0; t < r.seq_len; ++t)
      if (mask[b * r.seq_len + t]) {
        e.ids.push_back(static_cast<int32_t>(ids[b * r.seq_len + t]));
        e.token_types.push_back(static_cast<int32_t>(types[b * r.seq_len + t]));
      }
    e.where = fixture + ":" + std::to_string(b);
    r.examples.push_back(std::move(e));
  }
  const SafetensorsTensor& logits = ref.at("right.logits");
  int64_t n = 1;
  for (int64_t d : logits.shape) n *= d;
  r.hf_logits.resize(static_cast<size_t>(n));
  ref.read("right.logits", DType::F32, r.hf_logits.data());
  return r;
}

TEST(PromptTaskMaskedLM, LabelWordLossAndPredictionsMatchReference) {
  std::unique_ptr<Model> model = load_model((kFixtures / "parity" / "bert_mlm").string());
  ASSERT_EQ(model->config().head, HeadKind::MaskedLM);
  RefExamples r = parity_examples("bert_mlm", Format::MaskedLM);
  const int V = model->config().vocab_size;
  const std::vector<int> mask_pos = {5, 2, 3}, labels = {0, 2, 1};
  const std::vector<int32_t> words = {7, 42, 90};
  double want = 0.0, want_hf = 0.0, correct = 0.0;
  for (size_t i = 0; i < r.examples.size(); ++i) {
    EncodedExample& e = r.examples[i];
    e.mask_position = mask_pos[i];
    e.label_words = words;
    e.label = labels[i];
    // Own reference: all positions of the example alone.
    Batch alone = Batch::from_sequences({e.ids}, 0);
    alone.token_types = e.token_types;
    const std::vector<float> all = model->forward(alone);
    std::vector<double> own, hf;
    for (int32_t w : words) {
      own.push_back(all[static_cast<size_t>(e.mask_position) * V + w]);
      hf.push_back(r.hf_logits[(i * r.seq_len + e.mask_position) * V + w]);
    }
    want += reference_ce(own, e.label);
    want_hf += reference_ce(hf, e.label);
    correct += (std::max_element(own.begin(), own.end()) - own.begin()) == e.label;
  }
  PromptTaskOptions o;
  o.max_batch_sequences = 2;
  PromptTask task("sst5-mlm", r.examples, o);
  const LossSum got = task.loss_sum(*model, {0, 1, 2});
  EXPECT_NEAR(got.sum, want, kTol);
  EXPECT_NEAR(got.sum, want_hf, 1e-4);
  EXPECT_EQ(got.count, 3.0);
  EXPECT_DOUBLE_EQ(*task.metric(*model, {0, 1, 2}), correct / 3);
}

TEST(PromptTaskClassificationHead, HeadLossAndPredictionsMatchReference) {
  std::unique_ptr<Model> model = load_model((kFixtures / "parity" / "bert_cls").string());
  ASSERT_EQ(model->config().head, HeadKind::SequenceClassification);
  RefExamples r = parity_examples("bert_cls", Format::ClassificationHead);
  const int C = model->config().num_labels;
  const std::vector<int> labels = {2, 0, 1};
  double want = 0.0, want_hf = 0.0;
  std::vector<int> predicted;
  for (size_t i = 0; i < r.examples.size(); ++i) {
    EncodedExample& e = r.examples[i];
    e.label = labels[i];
    Batch alone = Batch::from_sequences({e.ids}, 0);
    alone.token_types = e.token_types;
    const std::vector<float> logits = model->forward(alone);
    const std::vector<double> own(logits.begin(), logits.end());
    const std::vector<double> hf(r.hf_logits.begin() + i * C, r.hf_logits.begin() + (i + 1) * C);
    want += reference_ce(own, e.label);
    want_hf += reference_ce(hf, e.label);
    predicted.push_back(static_cast<int>(std::max_element(own.begin(), own.end()) - own.begin()));
  }
  PromptTaskOptions o;
  o.max_batch_sequences = 2;
  PromptTask task("rte-head", r.examples, o);
  const LossSum got = task.loss_sum(*model, {0, 1, 2});
  EXPECT_NEAR(got.sum, want, kTol);
  EXPECT_NEAR(got.sum, want_hf, 1e-4);
  EXPECT_EQ(got.count, 3.0);
  const Evaluation ev = task.evaluate(*model, {2, 0, 1});
  for (int k = 0; k < 3; ++k) {
    const int i = ev.predictions[k].example;
    EXPECT_EQ(ev.predictions[k].predicted, predicted[i]);
    EXPECT_EQ(ev.predictions[k].score, predicted[i] == labels[i] ? 1.0 : 0.0);
  }
  // A label the head does not have.
  r.examples[0].label = C;
  PromptTask bad("rte-head", r.examples, o);
  EXPECT_THROW(bad.loss_sum(*model, {0}), Error);
}

// ---- SQuAD F1 -----------------------------------------------------------------------------

TEST(SquadF1, MatchesTheOfficialScriptOnTrickyPairs) {
  std::ifstream in(kFixtures / "tasks" / "squad_f1_cases.json");
  ASSERT_TRUE(in) << "missing tests/fixtures/tasks/squad_f1_cases.json";
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_GE(j["cases"].size(), 40u);
  for (const auto& c : j["cases"]) {
    const std::string pred = c["prediction"];
    const std::vector<std::string> answers = c["answers"];
    EXPECT_EQ(squad_normalize(pred), c["normalized_prediction"].get<std::string>()) << pred;
    for (size_t a = 0; a < answers.size(); ++a) {
      EXPECT_EQ(squad_normalize(answers[a]), c["normalized_answers"][a].get<std::string>()) << answers[a];
      EXPECT_NEAR(squad_f1(pred, answers[a]), c["f1_per_answer"][a].get<double>(), 1e-12) << pred << " vs " << answers[a];
    }
    EXPECT_NEAR(squad_max_f1(pred, answers), c["f1"].get<double>(), 1e-12) << pred;
    EXPECT_EQ(squad_max_exact_match(pred, answers), c["exact_match"].get<double>()) << pred;
  }
}

TEST(SquadF1, EdgeCases) {
  EXPECT_EQ(squad_f1("", ""), 0.0);  // v1.1: no common token
  EXPECT_EQ(squad_exact_match("", ""), 1.0);
  EXPECT_EQ(squad_normalize("  The  Quick, brown fox!  "), "quick brown fox");
  EXPECT_DOUBLE_EQ(squad_f1("w b c d", "b c e"), 2 * (2.0 / 4) * (2.0 / 3) / (2.0 / 4 + 2.0 / 3));
  EXPECT_DOUBLE_EQ(squad_f1("a b c d", "b c e"), 2.0 / 3);  // "a" is an article
  EXPECT_EQ(squad_normalize("\xff" "abc"), "\xef\xbf\xbd" "abc");  // ill-formed UTF-8 reads as U+FFFD
  EXPECT_THROW(squad_max_f1("x", {}), Error);
}

}  // namespace
}  // namespace zotune::tasks
