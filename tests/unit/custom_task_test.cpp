// Custom tasks (task.name custom, core/tasks/custom_task.h): the prompt template language and
// its errors, records to examples (labels, per-example candidates, answers, file layouts), the
// run-file keys and their errors, and the encoded splits: a custom prompt equal to a
// registered template encodes exactly as the registered task does (decoder and masked-LM),
// a generation task trains on MeZO's " answer\n" target, and the F1 metric scores the chosen
// candidate's text.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/data/records.h"
#include "core/model/pretrained.h"
#include "core/tasks/custom_task.h"
#include "core/tasks/prompt_task.h"
#include "core/tasks/squad_f1.h"
#include "core/tasks/task_registry.h"
#include "core/tasks/templates.h"
#include "core/train/task_setup.h"
#include "io_test_util.h"

namespace zotune::tasks {
namespace {

using nlohmann::json;
using test::error_of;
using test::TempDir;

const std::string kTinyLm = test::fixture_path("train/tiny_lm");
const std::string kReviews = std::string(ZOTUNE_SOURCE_DIR) + "/experiments/data/movie_reviews";
const std::string kCustom = test::fixture_path("tasks/custom");

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// ---- The template language.

TEST(PromptTemplate, FillsSlotsAndKeepsEscapedBraces) {
  const PromptTemplate t("Q: {question} {{literal}} n={n} ok={flag} {a.b}|{mask}", "r.yaml:4: task.prompt");
  EXPECT_EQ(t.slots(), (std::vector<std::string>{"question", "n", "flag", "a.b"}));
  EXPECT_EQ(t.mask_slots(), 1);
  const json row = {{"question", "Why?"}, {"n", 3}, {"flag", true}, {"a", {{"b", "nested"}}}};
  EXPECT_EQ(t.render(row, "<mask>", "d.jsonl:2"), "Q: Why? {literal} n=3 ok=true nested|<mask>");
  // A field named with a dot wins over the nested path.
  EXPECT_EQ(PromptTemplate("{a.b}", "w").render({{"a.b", "flat"}, {"a", {{"b", "nested"}}}}, "", "d:1"), "flat");
  EXPECT_EQ(PromptTemplate("}}{{", "w").render(json::object(), "", "d:1"), "}{");
}

TEST(PromptTemplate, ErrorsNameTheKeyTheRecordAndTheSlot) {
  EXPECT_EQ(error_of([] { PromptTemplate("a } b", "r.yaml:4: task.prompt"); }),
            "r.yaml:4: task.prompt: a lone '}' (character 3 of the template); write '}}' for a literal brace");
  EXPECT_EQ(error_of([] { PromptTemplate("x {text", "r.yaml:4: task.prompt"); }),
            "r.yaml:4: task.prompt: '{' without a closing '}' (character 3 of the template); write '{{' for a literal "
            "brace");
  EXPECT_TRUE(contains(error_of([] { PromptTemplate("{a{b}", "r.yaml:4: task.prompt"); }), "without a closing '}'"));
  EXPECT_TRUE(contains(error_of([] { PromptTemplate("x {}", "r.yaml:4: task.prompt"); }), "an empty slot '{}'"));
  const PromptTemplate t("Review: {foo}", "r.yaml:4: task.prompt");
  EXPECT_EQ(error_of([&] { t.render({{"text", "a"}, {"label", 1}}, "", "data/train.jsonl:7"); }),
            "data/train.jsonl:7: the record has no field 'foo' for the slot {foo} of r.yaml:4: task.prompt (its "
            "fields: label, text)");
  EXPECT_TRUE(contains(error_of([&] { t.render({{"foo", json::array({1})}}, "", "d.jsonl:3"); }),
                       "d.jsonl:3: field 'foo' for the slot {foo} of r.yaml:4: task.prompt is array"));
}

// ---- Records to examples.

CustomTaskDefinition classification(std::vector<std::string> labels = {}) {
  CustomTaskDefinition d;
  d.prompt = "Review: {review}\nSentiment:";
  d.candidates = {" negative", " positive"};
  d.label_field = "sentiment";
  d.labels = std::move(labels);
  d.source = "r.yaml";
  d.origins = {{"task.prompt", "r.yaml:5"}, {"task.label_field", "r.yaml:7"}, {"task.labels", "r.yaml:8"}};
  return d;
}

std::vector<data::Record> records(const std::vector<json>& rows) {
  std::vector<data::Record> out;
  for (size_t i = 0; i < rows.size(); ++i) out.push_back({rows[i], "d.jsonl:" + std::to_string(i + 1)});
  return out;
}

TEST(CustomTask, LabelsAreValuesIndicesOrCandidateTexts) {
  const CustomTask named(classification({"neg", "pos"}));
  const std::vector<Example> a = named.examples(records({{{"review", "Fine."}, {"sentiment", "pos"}}}), "");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].text.at("prompt"), "Review: Fine.\nSentiment:");
  EXPECT_EQ(a[0].label, 1);
  EXPECT_EQ(a[0].correct, std::vector<int>{1});
  EXPECT_EQ(a[0].options, (std::vector<std::string>{" negative", " positive"}));
  EXPECT_EQ(a[0].where, "d.jsonl:1");
  EXPECT_EQ(error_of([&] { named.examples(records({{{"review", "x"}, {"sentiment", "meh"}}}), ""); }),
            "d.jsonl:1: field 'sentiment' (r.yaml:7: task.label_field): label 'meh' is not one of task.labels (neg, "
            "pos, r.yaml:8: task.labels)");

  const CustomTask plain(classification());
  // Integers, decimal strings (TSV / CSV cells) and the candidates' text, stripped or not.
  const std::vector<Example> b = plain.examples(records({{{"review", "a"}, {"sentiment", 1}},
                                                         {{"review", "b"}, {"sentiment", "0"}},
                                                         {{"review", "c"}, {"sentiment", "positive"}},
                                                         {{"review", "d"}, {"sentiment", " negative"}}}),
                                                "");
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0].label, 1);
  EXPECT_EQ(b[1].label, 0);
  EXPECT_EQ(b[2].label, 1);
  EXPECT_EQ(b[3].label, 0);
  EXPECT_TRUE(contains(error_of([&] { plain.examples(records({{{"review", "a"}, {"sentiment", 2}}}), ""); }),
                       "d.jsonl:1: field 'sentiment' (r.yaml:7: task.label_field): label 2 is not an index of the 2 "
                       "task.candidates"));
  EXPECT_TRUE(contains(error_of([&] { plain.examples(records({{{"review", "a"}, {"sentiment", "meh"}}}), ""); }),
                       "label 'meh' is neither an index nor one of the candidates (\" negative\", \" positive\")"));
  EXPECT_EQ(error_of([&] { plain.examples(records({{{"review", "a"}, {"label", 0}}}), ""); }),
            "d.jsonl:1: the record has no field 'sentiment' for the gold candidate (r.yaml:7: task.label_field; its "
            "fields: label, review)");
}

TEST(CustomTask, PerExampleCandidatesAndGenerationAnswers) {
  CustomTaskDefinition d;
  d.prompt = "{premise} What happened next?";
  d.candidates_field = "options";
  d.label_field = "answer";
  d.source = "r.yaml";
  const CustomTask choice(d);
  // A JSON list, or a TSV / CSV cell holding one; the gold by index or by its text.
  const std::vector<Example> e = choice.examples(
      records({{{"premise", "It rained."}, {"options", {"We got wet.", "We got dry."}}, {"answer", 0}},
               {{"premise", "It rained."}, {"options", "[\"A\", \"B\", \"C\"]"}, {"answer", "C"}}}),
      "");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].options, (std::vector<std::string>{"We got wet.", "We got dry."}));
  EXPECT_EQ(e[0].correct, std::vector<int>{0});
  EXPECT_EQ(e[1].options, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(e[1].correct, std::vector<int>{2});
  EXPECT_TRUE(contains(error_of([&] { choice.examples(records({{{"premise", "p"}, {"options", "A|B"}, {"answer", 0}}}), ""); }),
                       "d.jsonl:1: field 'options' is the text 'A|B', expected a JSON list of strings"));
  EXPECT_TRUE(contains(error_of([&] { choice.examples(records({{{"premise", "p"}, {"options", {"A"}}, {"answer", 0}}}), ""); }),
                       "holds 1 candidates; a choice needs at least two"));

  CustomTaskDefinition g;
  g.prompt = "Q: {q}\nA:";
  g.answer_field = "gold";
  g.source = "r.yaml";
  const CustomTask gen(g);
  const std::vector<Example> a =
      gen.examples(records({{{"q", "2+2?"}, {"gold", "4"}}, {{"q", "Color?"}, {"gold", {"red", "crimson"}}}}), "");
  EXPECT_EQ(a[0].answers, std::vector<std::string>{"4"});
  EXPECT_EQ(a[1].answers, (std::vector<std::string>{"red", "crimson"}));
  EXPECT_EQ(gen.render(a[0], CustomFormat::Decoder), (std::vector<std::string>{"Q: 2+2?\nA:", "Q: 2+2?\nA: 4\n"}));
}

TEST(CustomTask, ReadsJsonlTsvAndCsvWithAHeader) {
  TempDir dir;
  const CustomTask task(classification({"negative", "positive"}));
  write(dir.file("a.tsv"), "review\tsentiment\nGood.\tpositive\nBad.\tnegative\n");
  write(dir.file("a.csv"), "review,sentiment\n\"Good, really.\",positive\nBad.,negative\n");
  const std::vector<Example> tsv = task.load(dir.file("a.tsv"), "task.train", "");
  const std::vector<Example> csv = task.load(dir.file("a.csv"), "task.train", "");
  ASSERT_EQ(tsv.size(), 2u);
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_EQ(csv[0].text.at("prompt"), "Review: Good, really.\nSentiment:");
  EXPECT_EQ(csv[1].label, 0);
  EXPECT_EQ(csv[1].where, dir.file("a.csv") + ":3");
  EXPECT_EQ(tsv[0].label, 1);
  // The shipped fixture: the same rows as JSON Lines and as CSV.
  const std::vector<Example> jl = task.load(kCustom + "/reviews_test.jsonl", "task.test", "");
  const std::vector<Example> cs = task.load(kCustom + "/reviews_test.csv", "task.test", "");
  ASSERT_EQ(jl.size(), 40u);
  ASSERT_EQ(cs.size(), 40u);
  for (size_t i = 0; i < jl.size(); ++i) {
    EXPECT_EQ(jl[i].text.at("prompt"), cs[i].text.at("prompt")) << i;
    EXPECT_EQ(jl[i].label, cs[i].label) << i;
  }
  write(dir.file("a.txt"), "x\n");
  EXPECT_EQ(error_of([&] { task.load(dir.file("a.txt"), "task.train", ""); }),
            "r.yaml: task.train: '" + dir.file("a.txt") +
                "': a custom task reads .jsonl (JSON Lines), .tsv or .csv (with a header row) files");
}

// ---- Run-file keys.

const std::string kModel = "model:\n  path: " + kTinyLm + "\n";

std::string config_error(const std::string& yaml) { return error_of([&] { parse_run_config(yaml, "r.yaml"); }); }

TEST(CustomTaskConfig, KeysAndTheirErrorsNameTheLine) {
  // The custom keys belong to task.name custom.
  EXPECT_EQ(config_error(kModel + "task:\n  name: sst2\n  prompt: \"{sentence}\"\n"),
            "r.yaml:5: task.prompt: applies only to task.name custom (a task defined in the run file); sst2 keeps its "
            "registered template, labels and metric");
  EXPECT_EQ(config_error(kModel + "task:\n  name: custom\n  candidates: [a, b]\n"),
            "r.yaml:4: task.name: custom needs task.prompt (the template: text with {field} slots)");
  EXPECT_TRUE(contains(config_error(kModel + "task:\n  name: custom\n  prompt: \"x\"\n"),
                       "r.yaml:4: task.name: custom needs task.candidates (one per class), task.candidates_field"));
  EXPECT_EQ(config_error(kModel + "task:\n  name: custom\n  prompt: x\n  candidates: [a, b]\n  answer_field: y\n"),
            "r.yaml:7: task.answer_field: give one of task.candidates, task.candidates_field and task.answer_field");
  EXPECT_EQ(config_error(kModel + "task:\n  name: custom\n  prompt: x\n  candidates: [a, b]\n  labels: [n, m, o]\n"),
            "r.yaml:7: task.labels: 3 values for 2 task.candidates (one per candidate, in its order)");
  EXPECT_EQ(config_error(kModel + "task:\n  name: custom\n  prompt: x\n  candidates: [a, b]\n  metric: recall\n"),
            "r.yaml:7: task.metric: 'recall' is not one of auto, accuracy, f1");
  EXPECT_TRUE(contains(config_error(kModel + "task:\n  name: custom\n  prompt: x\n  candidates: [a, b]\n  loss: tf\n"),
                       "r.yaml:7: task.loss: 'tf' is not one of auto, candidates, teacher-forced"));
  EXPECT_TRUE(contains(config_error(kModel + "task:\n  name: custom\n  prompt: x\n  candidates: [a]\n"),
                       "r.yaml:6: task.candidates: needs at least 2 items, got 1"));
  const RunConfig c = parse_run_config(
      kModel + "task:\n  name: custom\n  prompt: \"A {x}\\nB:\"\n  candidates: [\" no\", \" yes\"]\n  metric: f1\n",
      "r.yaml");
  EXPECT_EQ(c.task.prompt, "A {x}\nB:");
  EXPECT_EQ(c.task.candidates, (std::vector<std::string>{" no", " yes"}));
  EXPECT_EQ(c.task.metric, TaskMetric::F1);
  // The resolved run file reads back to the same task.
  const RunConfig again = parse_run_config(c.text, "again.yaml");
  EXPECT_EQ(again.task.prompt, c.task.prompt);
  EXPECT_EQ(again.task.candidates, c.task.candidates);
}

// ---- Splits, encodings and metrics on the tiny Llama fixture.

std::string run_yaml(const std::string& task_keys) {
  return kModel + "run:\n  progress: off\ntask:\n" + task_keys +
         "  num_train: 24\n  num_dev: 8\n  num_test: 16\n  max_length: 64\noptimizer:\n  name: mezo\n";
}

TaskSplits splits_of(const std::string& yaml, const Pretrained& p) {
  return make_task_splits(parse_run_config(yaml, "r.yaml"), p.tokenizer, p.model->config());
}

const PromptTask& prompted(const std::unique_ptr<Task>& t) { return dynamic_cast<const PromptTask&>(*t); }

TEST(CustomTaskSplits, EncodesAsTheRegisteredTemplateItRestates) {
  // MeZO's SST-2 template ("{sentence|strip} It was" + " {candidate}", words terrible / great)
  // written as a custom prompt over the same file: the same sampled examples, the same ids.
  const Pretrained p = load_pretrained(kTinyLm);
  const std::string files = "  train: " + kReviews + "/train.tsv\n  test: " + kReviews + "/test.tsv\n";
  const TaskSplits sst2 = splits_of(run_yaml("  name: sst2\n" + files), p);
  const TaskSplits custom = splits_of(run_yaml("  name: custom\n" + files +
                                               "  prompt: \"{sentence} It was\"\n  candidates: [\" terrible\", \" great\"]\n"),
                                      p);
  EXPECT_EQ(custom.description, "custom (decoder prompt): 24 train / 8 dev / 16 test examples");
  ASSERT_TRUE(custom.custom && custom.custom_format == CustomFormat::Decoder);
  for (const auto& [a, b] : {std::pair{&sst2.train, &custom.train}, {&sst2.dev, &custom.dev}, {&sst2.test, &custom.test}}) {
    ASSERT_EQ(prompted(*a).num_examples(), prompted(*b).num_examples());
    for (int i = 0; i < prompted(*a).num_examples(); ++i) {
      const EncodedExample &x = prompted(*a).example(i), &y = prompted(*b).example(i);
      EXPECT_EQ(x.where, y.where);
      EXPECT_EQ(x.correct, y.correct);
      ASSERT_EQ(x.candidates.size(), y.candidates.size());
      for (size_t c = 0; c < x.candidates.size(); ++c) {
        EXPECT_EQ(x.candidates[c].ids, y.candidates[c].ids) << x.where;
        EXPECT_EQ(x.candidates[c].option_len, y.candidates[c].option_len) << x.where;
      }
    }
  }
  EXPECT_EQ(prompted(custom.test).example(0).candidate_texts, (std::vector<std::string>{" terrible", " great"}));
  // The same losses and metric: one model, one minibatch.
  std::vector<int> batch{0, 3, 5, 7};
  auto& sst2_train = dynamic_cast<PromptTask&>(*sst2.train);
  auto& custom_train = dynamic_cast<PromptTask&>(*custom.train);
  EXPECT_EQ(sst2_train.loss_sum(*p.model, batch).sum, custom_train.loss_sum(*p.model, batch).sum);
  EXPECT_EQ(sst2_train.metric(*p.model, batch), custom_train.metric(*p.model, batch));
}

TEST(CustomTaskSplits, F1ScoresTheChosenCandidatesText) {
  const Pretrained p = load_pretrained(kTinyLm);
  TempDir dir;
  // Candidates sharing words: F1 gives partial credit where accuracy gives none.
  std::string rows;
  for (int i = 0; i < 40; ++i)
    rows += "{\"q\": \"Item " + std::to_string(i) + "\", \"options\": [\"very good film\", \"good\", \"bad film\"], " +
            "\"gold\": " + std::to_string(i % 3) + "}\n";
  write(dir.file("mc.jsonl"), rows);
  const std::string keys = "  name: custom\n  train: " + dir.file("mc.jsonl") + "\n  test: " + dir.file("mc.jsonl") +
                           "\n  prompt: \"{q}:\"\n  candidates_field: options\n  label_field: gold\n";
  const TaskSplits f1 = splits_of(run_yaml(keys + "  metric: f1\n"), p);
  auto& test = dynamic_cast<PromptTask&>(*f1.test);
  EXPECT_EQ(test.metric_kind(), Metric::F1);
  std::vector<int> all;
  for (int i = 0; i < test.num_examples(); ++i) all.push_back(i);
  const Evaluation ev = test.evaluate(*p.model, all);
  double total = 0.0;
  for (const Prediction& pr : ev.predictions) {
    const EncodedExample& e = test.example(pr.example);
    EXPECT_EQ(pr.text, e.candidate_texts.at(static_cast<size_t>(pr.predicted)));
    EXPECT_DOUBLE_EQ(pr.score, squad_f1(pr.text, e.candidate_texts.at(static_cast<size_t>(e.correct[0]))));
    total += pr.score;
  }
  EXPECT_DOUBLE_EQ(ev.value, total / static_cast<double>(ev.predictions.size()));
  // The same examples scored by accuracy: 1 exactly where F1 is 1.
  const TaskSplits acc = splits_of(run_yaml(keys), p);
  const Evaluation ea = dynamic_cast<PromptTask&>(*acc.test).evaluate(*p.model, all);
  for (size_t i = 0; i < ea.predictions.size(); ++i)
    EXPECT_EQ(ea.predictions[i].score, ev.predictions[i].score == 1.0 ? 1.0 : 0.0) << i;
}

TEST(CustomTaskSplits, GenerationTrainsOnTheAnswerAndDecodes) {
  const Pretrained p = load_pretrained(kTinyLm);
  TempDir dir;
  std::string rows;
  for (int i = 0; i < 10; ++i) rows += "{\"q\": \"What is " + std::to_string(i) + "?\", \"a\": \"" + std::to_string(i) + "\"}\n";
  write(dir.file("qa.jsonl"), rows);
  const std::string keys = "  name: custom\n  train: " + dir.file("qa.jsonl") + "\n  test: " + dir.file("qa.jsonl") +
                           "\n  prompt: \"Q: {q}\\nA:\"\n  answer_field: a\n";
  auto yaml_with = [&](const std::string& more) {
    return kModel + "run:\n  progress: off\ntask:\n" + keys + more +
           "  num_train: 4\n  num_dev: 2\n  num_test: 3\n  max_length: 80\noptimizer:\n  name: mezo\n";
  };
  const std::string yaml = yaml_with("");
  const TaskSplits s = make_task_splits(parse_run_config(yaml, "r.yaml"), p.tokenizer, p.model->config());
  auto& test = dynamic_cast<PromptTask&>(*s.test);
  EXPECT_EQ(test.format(), Format::Generation);
  EXPECT_EQ(test.metric_kind(), Metric::F1);
  const EncodedExample& e = test.example(0);
  // The target is MeZO's " {answer}\n" after the prompt; only its tokens are scored.
  const std::vector<int32_t> target = p.tokenizer.encode(" " + e.answers[0] + "\n");
  ASSERT_EQ(e.candidates.size(), 1u);
  EXPECT_EQ(e.candidates[0].option_len, static_cast<int>(target.size()));
  EXPECT_TRUE(std::equal(target.begin(), target.end(), e.candidates[0].ids.end() - static_cast<long>(target.size())));
  EXPECT_EQ(s.encode_max_length, 30) << "max_length 80 less MeZO's 50 new tokens";
  const Evaluation ev = test.evaluate(*p.model, {0, 1, 2});
  EXPECT_GE(ev.value, 0.0);
  EXPECT_LE(ev.value, 1.0);
  EXPECT_TRUE(std::isfinite(dynamic_cast<PromptTask&>(*s.train).loss_sum(*p.model, {0, 1}).mean()));
  // Exact match instead of F1: per example 1 or 0, 1 exactly where the decoded text is the answer.
  const TaskSplits em = make_task_splits(parse_run_config(yaml_with("  metric: accuracy\n"), "r.yaml"), p.tokenizer,
                                         p.model->config());
  auto& em_test = dynamic_cast<PromptTask&>(*em.test);
  EXPECT_EQ(em_test.metric_kind(), Metric::Accuracy);
  const Evaluation exact = em_test.evaluate(*p.model, {0, 1, 2});
  for (size_t i = 0; i < exact.predictions.size(); ++i) {
    EXPECT_EQ(exact.predictions[i].text, ev.predictions[i].text);
    EXPECT_EQ(exact.predictions[i].score,
              squad_max_exact_match(exact.predictions[i].text, em_test.example(static_cast<int>(i)).answers));
  }
}

TEST(CustomTaskSplits, ErrorsNameTheKeyAndItsLine) {
  const Pretrained p = load_pretrained(kTinyLm);
  auto error = [&](const std::string& task_keys) {
    return error_of([&] { splits_of(run_yaml(task_keys), p); });
  };
  const std::string train = "  train: " + kCustom + "/reviews_train.jsonl\n";
  EXPECT_EQ(error("  name: custom\n" + train + "  prompt: \"{review} {mask}\"\n  candidates: [a, b]\n"),
            "r.yaml:8: task.prompt: {mask} is the mask token of masked-LM encoders; " + kTinyLm +
                " has a causal LM head");
  EXPECT_EQ(error("  name: custom\n" + train + "  prompt: \"{text} was\"\n  candidates: [\" bad\", \" good\"]\n"),
            kCustom + "/reviews_train.jsonl:1: the record has no field 'text' for the slot {text} of r.yaml:8: "
                      "task.prompt (its fields: review, sentiment)");
  EXPECT_TRUE(contains(error("  name: custom\n" + train + "  prompt: \"{review} was\"\n  candidates: [\" bad\", \" good\"]\n"),
                       "reviews_train.jsonl:1: the record has no field 'label' for the gold candidate (r.yaml: "
                       "task.label_field; its fields: review, sentiment)"));
  EXPECT_EQ(error("  name: custom\n  prompt: \"{review}\"\n  candidates: [a, b]\n"),
            "r.yaml:6: task.name: custom needs task.train (a .jsonl, .tsv or .csv file)");
}

TEST(CustomTaskSplits, MaskedLmPromptEncodesAsBszosTemplate) {
  // BSZO's SST-2 MLM pattern "{sentence|strip} It was {mask} ." as a custom prompt, tokenized
  // by the WordPiece fixture: the text BSZO's family renders, tokenized whole with the special
  // tokens, the mask found, each label word one token. (The fixture's small vocabulary splits
  // BSZO's own label words, so the words here are two it holds.)
  const Tokenizer tok = Tokenizer::from_file(test::fixture_path("tokenizer/bert_uncased/tokenizer.json"));
  ASSERT_GE(tok.mask_id(), 0);
  Example registered;
  registered.text["sentence"] = "a gripping , funny film";
  registered.label = 1;
  CustomTaskDefinition d;
  d.prompt = "{sentence} It was {mask} .";
  d.candidates = {"it", "was"};
  d.source = "r.yaml";
  const CustomTask custom(d);
  const std::vector<Example> ex = custom.examples(
      {{json{{"sentence", "a gripping , funny film"}, {"label", 1}}, "x:1"}}, tok.id_to_token(tok.mask_id()));
  const std::string text = render(find_task("sst2"), TemplateFamily::BszoMlm, registered, &tok).at(0);
  EXPECT_EQ(custom.render(ex[0], CustomFormat::MaskedLM), std::vector<std::string>{text});
  const EncodedExample b = custom.encode(ex[0], CustomFormat::MaskedLM, tok, 64);
  EXPECT_EQ(b.format, Format::MaskedLM);
  EXPECT_EQ(b.ids, tok.encode(text, true));
  ASSERT_GE(b.mask_position, 0);
  EXPECT_EQ(b.ids.at(static_cast<size_t>(b.mask_position)), tok.mask_id());
  EXPECT_EQ(b.label_words, (std::vector<int32_t>{tok.encode("it", false).at(0), tok.encode("was", false).at(0)}));
  EXPECT_EQ(b.label, 1);
  EXPECT_EQ(b.token_types, std::vector<int32_t>(b.ids.size(), 0));
  // Truncation keeps the start; a mask cut off is an error naming the record.
  EXPECT_TRUE(contains(error_of([&] { custom.encode(ex[0], CustomFormat::MaskedLM, tok, 3); }),
                       "x:1: task custom: the mask token falls beyond max_length 3"));
  CustomTaskDefinition split_word = d;
  split_word.candidates = {"it", "bad"};
  const CustomTask split(split_word);
  const std::vector<Example> split_ex = split.examples(
      {{json{{"sentence", "a gripping , funny film"}, {"label", 1}}, "x:1"}}, tok.id_to_token(tok.mask_id()));
  EXPECT_TRUE(contains(error_of([&] { split.encode(split_ex[0], CustomFormat::MaskedLM, tok, 64); }),
                       "x:1: task custom: candidate \"bad\" is 2 tokens for this tokenizer; a label word at {mask} "
                       "must be one token (r.yaml: task.candidates)"))
      << "a word the fixture's WordPiece vocabulary splits (BSZO's own SST-2 word)";
}

}  // namespace
}  // namespace zotune::tasks
