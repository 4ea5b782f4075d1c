// The task-data readers (core/data/records.h): every real file in shared/data reads with the
// row count its README lists (skipped when ../shared/data is absent), values stay verbatim,
// and each malformed fixture in tests/fixtures/data is a zotune::Error naming file:line.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/data/records.h"
#include "core/util/error.h"
#include "io_test_util.h"

namespace zotune::data {
namespace {

using test::error_of;
using test::fixture_path;

std::string data_fixture(const std::string& name) { return fixture_path("data/" + name); }

std::string shared_data(const std::string& relative) { return std::string(ZOTUNE_SHARED_DATA_DIR) + "/" + relative; }

#define SKIP_WITHOUT_SHARED_DATA()                                                  \
  if (!std::filesystem::exists(shared_data("README.md"))) {                         \
    GTEST_SKIP() << "no shared data folder at " << ZOTUNE_SHARED_DATA_DIR;          \
  }

std::map<std::string, int> count_values(const std::vector<Record>& rows, const std::string& key) {
  std::map<std::string, int> counts;
  for (const auto& r : rows) {
    const auto& v = r.fields.at(key);
    counts[v.is_string() ? v.get<std::string>() : v.dump()]++;
  }
  return counts;
}

// ---- fixtures: well-formed files ----

TEST(DataRecords, TsvKeepsGlueValuesVerbatimAndReadsCrlf) {
  const auto rows = read_tsv(data_fixture("tsv_glue_crlf.tsv"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].fields.at("sentence"), "it 's a charming journey . ");  // the trailing space stays
  EXPECT_EQ(rows[0].fields.at("label"), "1");
  EXPECT_EQ(rows[0].where, data_fixture("tsv_glue_crlf.tsv") + ":2");
  EXPECT_EQ(rows[1].fields.at("sentence"), "unflinchingly bleak ");
  EXPECT_EQ(rows[1].fields.at("label"), "0");  // last line without '\n'
  EXPECT_EQ(rows[1].where, data_fixture("tsv_glue_crlf.tsv") + ":4");  // line 3 is blank
}

TEST(DataRecords, CsvFollowsRfc4180Quoting) {
  const std::string path = data_fixture("csv_good.csv");
  const auto rows = read_csv(path, {"label", "question"});
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].fields.at("question"), "How did serfdom develop , then leave ?");
  EXPECT_EQ(rows[1].fields.at("question"), "He said \"hi\" twice");
  EXPECT_EQ(rows[2].fields.at("question"), "a question\nover two lines");
  EXPECT_EQ(rows[2].where, path + ":4");
  EXPECT_EQ(rows[3].fields.at("label"), "3");
  EXPECT_EQ(rows[3].fields.at("question"), "plain");
  EXPECT_EQ(rows[3].where, path + ":6");  // after the two-line field
}

TEST(DataRecords, SquadJsonOneRecordPerQuestion) {
  const std::string path = data_fixture("squad_good.json");
  const auto rows = read_squad_json(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields.at("id"), "q1");
  EXPECT_EQ(rows[0].fields.at("title"), "Normans");
  EXPECT_EQ(rows[0].fields.at("question"), "In what country is Normandy located?");
  EXPECT_EQ(rows[0].fields.at("answers"), nlohmann::json::array({"France", "France."}));
  EXPECT_EQ(rows[0].fields.at("is_impossible"), false);
  EXPECT_EQ(rows[0].where, path + ":6");  // the line of the question's '{'
  EXPECT_EQ(rows[1].fields.at("answers"), nlohmann::json::array({"The Normans"}));
  EXPECT_EQ(rows[2].fields.at("context"), "Rollo was a Viking leader.");
  EXPECT_EQ(rows[2].fields.at("answers"), nlohmann::json::array());
  EXPECT_EQ(rows[2].fields.at("is_impossible"), true);
  EXPECT_EQ(rows[2].where, path + ":13");
  EXPECT_EQ(rows[0].fields.size(), 6u);  // no internal bookkeeping key leaks into a record
}

TEST(DataRecords, DropJsonAnswersAreSpansNumberOrDate) {
  const std::string path = data_fixture("drop_good.json");
  const auto rows = read_drop_json(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].fields.at("passage_id"), "nfl_1184");  // file order, not key order
  EXPECT_EQ(rows[0].fields.at("id"), "a1");
  EXPECT_EQ(rows[0].fields.at("answers"), nlohmann::json::array({"The Bears"}));
  EXPECT_EQ(rows[0].fields.at("validated_answers"), nlohmann::json::array({"Bears"}));  // HF: one flat list
  EXPECT_EQ(rows[0].where, path + ":5");
  EXPECT_EQ(rows[1].fields.at("answers"), nlohmann::json::array({"2"}));
  EXPECT_FALSE(rows[1].fields.contains("validated_answers"));
  EXPECT_EQ(rows[2].fields.at("passage_id"), "history_7");
  EXPECT_EQ(rows[2].fields.at("passage"), "The treaty was signed on 4 July 1776.");
  EXPECT_EQ(rows[2].fields.at("answers"), nlohmann::json::array({"4 July 1776"}));
}

// HF drop.py build_answers, case by case (synthetic rows: drop_hf_parsing.json).
TEST(DataRecords, DropAnswersAsHuggingFaceBuildsThem) {
  const auto rows = read_drop_json(data_fixture("drop_hf_parsing.json"));
  ASSERT_EQ(rows.size(), 8u);
  auto by_id = [&](const std::string& id) -> const nlohmann::json& {
    for (const auto& r : rows)
      if (r.fields.at("id") == id) return r.fields;
    throw Error("no row " + id);
  };
  const nlohmann::json null;
  EXPECT_EQ(by_id("number_and_spans").at("answers"), null);
  EXPECT_EQ(by_id("number_and_spans").at("answers_error"), "both number and text");
  EXPECT_EQ(by_id("date_and_spans").at("answers_error"), "both date and text");
  EXPECT_EQ(by_id("number_and_date").at("answers_error"), "both number and date");
  EXPECT_EQ(by_id("empty").at("answers_error"), "empty answer");
  EXPECT_EQ(by_id("day_and_year").at("answers"), nlohmann::json::array({"9  2021"}));  // " ".join keeps the empty month
  EXPECT_EQ(by_id("date_without_keys").at("answers"), nlohmann::json::array({"4"}));
  EXPECT_FALSE(by_id("date_without_keys").contains("validated_answers"));
  // An all-empty validated answer adds nothing; the list is flattened in order.
  EXPECT_EQ(by_id("validated").at("validated_answers"), nlohmann::json::array({"March 2021", "five", "5"}));
  EXPECT_EQ(by_id("validated").at("answers"), nlohmann::json::array({"5"}));
  EXPECT_EQ(by_id("validated_bad").at("validated_answers"), null);
  EXPECT_EQ(by_id("validated_bad").at("validated_answers_error"), "both number and text");
  EXPECT_EQ(by_id("validated_bad").at("answers"), nlohmann::json::array({"5"}));
}

// ---- fixtures: malformed files ----

using Reader = std::function<void(const std::string&)>;

struct Malformed {
  const char* file;
  Reader read;
  std::string expected;  // the message after "<path>"
};

void PrintTo(const Malformed& m, std::ostream* os) { *os << m.file; }

class DataRecordsMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(DataRecordsMalformed, ErrorNamesFileAndLine) {
  const Malformed& m = GetParam();
  const std::string path = data_fixture(m.file);
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const std::string message = error_of([&] { m.read(path); });
  EXPECT_EQ(message, path + m.expected);
}

const Reader kTsv = [](const std::string& p) { read_tsv(p); };
const Reader kTsvLabelSentence = [](const std::string& p) { read_tsv(p, {"label", "sentence"}); };
const Reader kCsv = [](const std::string& p) { read_csv(p, {"label", "question"}); };
const Reader kLabelSpace = [](const std::string& p) { read_label_space_text(p); };
const Reader kJsonl = [](const std::string& p) { read_jsonl(p); };
const Reader kSquad = [](const std::string& p) { read_squad_json(p); };
const Reader kDrop = [](const std::string& p) { read_drop_json(p); };
const Reader kTrec = [](const std::string& p) { read_trec_text(p); };

INSTANTIATE_TEST_SUITE_P(
    DataFixtures, DataRecordsMalformed,
    ::testing::Values(
        Malformed{"tsv_wrong_columns.tsv", kTsv, ":3: 3 tab-separated columns, expected 2 (sentence, label)"},
        Malformed{"tsv_headerless_wrong_columns.tsv", kTsvLabelSentence,
                  ":2: 1 tab-separated columns, expected 2 (label, sentence)"},
        Malformed{"tsv_bad_utf8.tsv", kTsv, ":3:10: not valid UTF-8"},
        Malformed{"csv_wrong_columns.csv", kCsv, ":2: 3 comma-separated columns, expected 2 (label, question)"},
        Malformed{"csv_text_after_quote.csv", kCsv,
                  ":1:13: unexpected 'x' after a closing quote (RFC 4180: a quote inside a quoted field is "
                  "written \"\")"},
        Malformed{"csv_unclosed_quote.csv", kCsv, ":2:3: quoted field never closes (end of file inside quotes)"},
        Malformed{"csv_quote_in_unquoted.csv", kCsv,
                  ":2:8: quote inside an unquoted field (RFC 4180: quote the whole field)"},
        Malformed{"label_space_missing_space.txt", kLabelSpace, ":3: no space between label and sentence"},
        Malformed{"jsonl_invalid_line.jsonl", kJsonl,
                  ":3:21: invalid JSON: syntax error while parsing value - unexpected end of input; expected '[', "
                  "'{', or a literal"},
        Malformed{"jsonl_not_object.jsonl", kJsonl, ":2: line is a JSON array, expected an object"},
        Malformed{"squad_missing_question.json", kSquad,
                  ":8: data[0].paragraphs[0].qas[1]: missing key 'question'"},
        Malformed{"squad_truncated.json", kSquad,
                  ":4:26: invalid JSON: syntax error while parsing value - invalid string: missing closing quote; "
                  "last read: '\"cut off'"},
        Malformed{"drop_missing_answer.json", kDrop, ":7: nfl_1184.qa_pairs[1]: missing key 'answer'"},
        Malformed{"trec_bad_label.txt", kTrec, ":3: label 'HUM' is not COARSE:fine"}));

TEST(DataRecords, MissingFileIsAnError) {
  const std::string path = data_fixture("no_such_file.tsv");
  EXPECT_EQ(error_of([&] { read_tsv(path); }), path + ": cannot open data file");
  EXPECT_EQ(error_of([&] { read_jsonl(path); }), path + ": cannot open data file");
}

// ---- the real files in shared/data (README.md counts) ----

void expect_where_lines(const std::vector<Record>& rows, const std::string& path) {
  for (const auto& r : rows) ASSERT_EQ(r.where.rfind(path + ":", 0), 0u) << r.where;
}

TEST(ReadRealData, GlueTsvFiles) {
  SKIP_WITHOUT_SHARED_DATA();
  const auto train = read_tsv(shared_data("SST-2/train.tsv"));
  ASSERT_EQ(train.size(), 67349u);
  EXPECT_EQ(train[0].fields.at("sentence"), "hide new secretions from the parental units ");  // GLUE's trailing space
  EXPECT_EQ(train[0].where, shared_data("SST-2/train.tsv") + ":2");
  EXPECT_EQ(count_values(train, "label"), (std::map<std::string, int>{{"0", 29780}, {"1", 37569}}));
  expect_where_lines(train, shared_data("SST-2/train.tsv"));
  EXPECT_EQ(count_values(read_tsv(shared_data("SST-2/dev.tsv")), "label"),
            (std::map<std::string, int>{{"0", 428}, {"1", 444}}));
  const auto test = read_tsv(shared_data("SST-2/test.tsv"));
  ASSERT_EQ(test.size(), 1821u);
  EXPECT_EQ(test[0].fields.at("index"), "0");
  EXPECT_EQ(read_tsv(shared_data("QNLI/dev.tsv")).size(), 5463u);
  EXPECT_EQ(count_values(read_tsv(shared_data("QNLI/dev.tsv")), "label"),
            (std::map<std::string, int>{{"entailment", 2702}, {"not_entailment", 2761}}));
  EXPECT_EQ(read_tsv(shared_data("QNLI/test.tsv")).size(), 5463u);
}

TEST(ReadRealData, LmBffSst2AndSst5) {
  SKIP_WITHOUT_SHARED_DATA();
  EXPECT_EQ(count_values(read_tsv(shared_data("SST-2/lm-bff/train.tsv")), "label"),
            (std::map<std::string, int>{{"0", 3310}, {"1", 3610}}));
  EXPECT_EQ(read_tsv(shared_data("SST-2/lm-bff/dev.tsv")).size(), 872u);
  const auto test = read_label_space_text(shared_data("SST-2/lm-bff/test.tsv"));
  EXPECT_EQ(count_values(test, "label"), (std::map<std::string, int>{{"0", 912}, {"1", 909}}));
  EXPECT_EQ(test[0].fields.at("sentence"), "no movement , no yuks , not much of anything .");
  const std::vector<std::string> cols = {"label", "sentence"};
  EXPECT_EQ(count_values(read_tsv(shared_data("SST-5/train.tsv"), cols), "label"),
            (std::map<std::string, int>{{"0", 1092}, {"1", 2218}, {"2", 1624}, {"3", 2322}, {"4", 1288}}));
  EXPECT_EQ(count_values(read_tsv(shared_data("SST-5/dev.tsv"), cols), "label"),
            (std::map<std::string, int>{{"0", 139}, {"1", 289}, {"2", 229}, {"3", 279}, {"4", 165}}));
  EXPECT_EQ(count_values(read_tsv(shared_data("SST-5/test.tsv"), cols), "label"),
            (std::map<std::string, int>{{"0", 279}, {"1", 633}, {"2", 389}, {"3", 510}, {"4", 399}}));
}

TEST(ReadRealData, TrecCsvAndOriginalText) {
  SKIP_WITHOUT_SHARED_DATA();
  const std::vector<std::string> cols = {"label", "question"};
  const auto train_csv = read_csv(shared_data("TREC/train.csv"), cols);
  EXPECT_EQ(count_values(train_csv, "label"),
            (std::map<std::string, int>{{"0", 1162}, {"1", 1250}, {"2", 86}, {"3", 1223}, {"4", 835}, {"5", 896}}));
  const auto test_csv = read_csv(shared_data("TREC/test.csv"), cols);
  EXPECT_EQ(count_values(test_csv, "label"),
            (std::map<std::string, int>{{"0", 138}, {"1", 94}, {"2", 9}, {"3", 65}, {"4", 81}, {"5", 113}}));
  const auto train_txt = read_trec_text(shared_data("TREC/train.txt"));
  const auto test_txt = read_trec_text(shared_data("TREC/test.txt"));
  ASSERT_EQ(train_txt.size(), 5452u);
  ASSERT_EQ(test_txt.size(), 500u);
  EXPECT_EQ(count_values(train_txt, "coarse").size(), 6u);
  std::set<std::string> fine_train, fine_test;
  for (const auto& r : train_txt) fine_train.insert(r.fields.at("coarse").get<std::string>() + ":" + r.fields.at("fine").get<std::string>());
  for (const auto& r : test_txt) fine_test.insert(r.fields.at("coarse").get<std::string>() + ":" + r.fields.at("fine").get<std::string>());
  EXPECT_EQ(fine_train.size(), 50u);
  EXPECT_EQ(fine_test.size(), 42u);
  // The CSV and the original text hold the same questions in the same order (DESC = 0 ...).
  EXPECT_EQ(train_txt[0].fields.at("question"), train_csv[0].fields.at("question"));
  EXPECT_EQ(train_txt[0].fields.at("coarse"), "DESC");
  EXPECT_EQ(test_txt[0].fields.at("question"), test_csv[0].fields.at("question"));
}

TEST(ReadRealData, SuperGlueAndSnliJsonl) {
  SKIP_WITHOUT_SHARED_DATA();
  const std::map<std::string, size_t> counts = {
      {"RTE/train.jsonl", 2490},       {"RTE/val.jsonl", 277},         {"RTE/test.jsonl", 3000},
      {"CB/train.jsonl", 250},         {"CB/val.jsonl", 56},           {"CB/test.jsonl", 250},
      {"COPA/train.jsonl", 400},       {"COPA/val.jsonl", 100},        {"COPA/test.jsonl", 500},
      {"BoolQ/val.jsonl", 3270},       {"WiC/val.jsonl", 638},         {"WSC/val.jsonl", 104},
      {"MultiRC/val.jsonl", 83},       {"SNLI/snli_1.0_dev.jsonl", 1289}, {"SNLI/snli_1.0_test.jsonl", 1277},
  };
  for (const auto& [file, n] : counts) {
    const auto rows = read_jsonl(shared_data(file));
    EXPECT_EQ(rows.size(), n) << file;
    expect_where_lines(rows, shared_data(file));
  }
  for (const char* task : {"RTE", "CB", "COPA", "BoolQ", "WiC", "WSC", "MultiRC", "ReCoRD"}) {
    for (const char* split : {"train", "dev32"}) {
      const std::string file = std::string(task) + "/fewglue/" + split + ".jsonl";
      EXPECT_EQ(read_jsonl(shared_data(file)).size(), 32u) << file;
    }
  }
  EXPECT_EQ(count_values(read_jsonl(shared_data("RTE/train.jsonl")), "label"),
            (std::map<std::string, int>{{"entailment", 1249}, {"not_entailment", 1241}}));
  EXPECT_EQ(count_values(read_jsonl(shared_data("CB/train.jsonl")), "label"),
            (std::map<std::string, int>{{"contradiction", 119}, {"entailment", 115}, {"neutral", 16}}));
  EXPECT_EQ(count_values(read_jsonl(shared_data("BoolQ/val.jsonl")), "label"),
            (std::map<std::string, int>{{"false", 1237}, {"true", 2033}}));
  size_t questions = 0, answers = 0;
  for (const auto& r : read_jsonl(shared_data("MultiRC/val.jsonl"))) {
    for (const auto& q : r.fields.at("passage").at("questions")) {
      ++questions;
      answers += q.at("answers").size();
    }
  }
  EXPECT_EQ(questions, 953u);
  EXPECT_EQ(answers, 4848u);
  EXPECT_EQ(count_values(read_jsonl(shared_data("SNLI/snli_1.0_dev.jsonl")), "gold_label"),
            (std::map<std::string, int>{{"-", 16}, {"contradiction", 419}, {"entailment", 433}, {"neutral", 421}}));
}

}  // namespace
}  // namespace zotune::data
