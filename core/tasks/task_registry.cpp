// The task table: one row per task. Class names follow the Hugging Face datasets' label ids;
// default files are those /work/shared/data/README.md lists (train = the HF train split, eval =
// the split the papers test on: MeZO/BSZO the HF validation split, LM-BFF the original test
// set where one exists).
#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <string_view>
#include <vector>

#include "core/tasks/task_registry.h"
#include "core/util/error.h"
#include "core/util/suggest.h"

namespace zotune::tasks {
namespace {

using K = TaskKind;

const std::vector<TaskSpec> kTasks = {
    // name, kind, metric, class names, default train, default eval, other shipped files, note
    {"sst2", K::Classification, Metric::Accuracy, {"negative", "positive"},
     "SST-2/train.tsv", "SST-2/dev.tsv", {"SST-2/test.tsv", "SST-2/lm-bff/train.tsv", "SST-2/lm-bff/dev.tsv", "SST-2/lm-bff/test.tsv"},
     "GLUE SST-2 (67,349 phrases); MeZO tests on the GLUE validation set; LM-BFF's sentence-level copy in lm-bff/"},
    {"sst5", K::Classification, Metric::Accuracy, {"very negative", "negative", "neutral", "positive", "very positive"},
     "SST-5/train.tsv", "SST-5/test.tsv", {"SST-5/dev.tsv"},
     "SST fine-grained, LM-BFF's files; LM-BFF tests on the original test set"},
    {"mr", K::Classification, Metric::Accuracy, {"negative", "positive"},
     "", "", {},
     "Movie Reviews (LM-BFF: label,sentence CSV); not in the shared data folder"},
    {"trec", K::Classification, Metric::Accuracy, {"ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"},
     "TREC/train.txt", "TREC/test.txt", {"TREC/train.csv", "TREC/test.csv"},
     "TREC coarse labels in HF order; BSZO tests on the official 500-question test set"},
    {"rte", K::Classification, Metric::Accuracy, {"entailment", "not_entailment"},
     "RTE/train.jsonl", "RTE/val.jsonl", {"RTE/test.jsonl", "RTE/fewglue/train.jsonl", "RTE/fewglue/dev32.jsonl"},
     "SuperGLUE RTE"},
    {"cb", K::Classification, Metric::Accuracy, {"entailment", "contradiction", "neutral"},
     "CB/train.jsonl", "CB/val.jsonl", {"CB/test.jsonl", "CB/fewglue/train.jsonl", "CB/fewglue/dev32.jsonl"},
     "SuperGLUE CommitmentBank"},
    {"boolq", K::Classification, Metric::Accuracy, {"true", "false"},
     "", "BoolQ/val.jsonl", {"BoolQ/fewglue/train.jsonl", "BoolQ/fewglue/dev32.jsonl"},
     "class 0 = a true answer (MeZO's candidates Yes, No); the full train set is not in the shared data"},
    {"wic", K::Classification, Metric::Accuracy, {"false", "true"},
     "", "WiC/val.jsonl", {"WiC/fewglue/train.jsonl", "WiC/fewglue/dev32.jsonl"},
     "SuperGLUE WiC; the full train set is not in the shared data"},
    {"wsc", K::Classification, Metric::Accuracy, {"false", "true"},
     "", "WSC/val.jsonl", {"WSC/fewglue/train.jsonl", "WSC/fewglue/dev32.jsonl"},
     "SuperGLUE WSC (MeZO: wsc.fixed); the full train set is not in the shared data"},
    {"copa", K::MultipleChoice, Metric::Accuracy, {},
     "COPA/train.jsonl", "COPA/val.jsonl", {"COPA/test.jsonl", "COPA/fewglue/train.jsonl", "COPA/fewglue/dev32.jsonl"},
     "SuperGLUE COPA: options choice1, choice2"},
    {"multirc", K::Classification, Metric::Accuracy, {"false", "true"},
     "", "MultiRC/val.jsonl", {"MultiRC/fewglue/train.jsonl", "MultiRC/fewglue/dev32.jsonl"},
     "one example per (paragraph, question, answer); the full train set is not in the shared data"},
    {"record", K::MultipleChoice, Metric::Accuracy, {},
     "", "", {"ReCoRD/fewglue/train.jsonl", "ReCoRD/fewglue/dev32.jsonl"},
     "one example per query, options = the passage's entities; only FewGLUE's 32-passage files are shared"},
    {"squad", K::Generation, Metric::F1, {},
     "", "", {},
     "SQuAD v1.1 JSON; not in the shared data folder"},
    {"drop", K::Generation, Metric::F1, {},
     "", "", {},
     "DROP JSON; not in the shared data folder"},
    {"snli", K::Classification, Metric::Accuracy, {"entailment", "neutral", "contradiction"},
     "", "SNLI/snli_1.0_test.jsonl", {"SNLI/snli_1.0_dev.jsonl"},
     "gold label \"-\" rows dropped; the shared files are prefixes of the official dev/test sets, no train set"},
    {"mnli", K::Classification, Metric::Accuracy, {"entailment", "neutral", "contradiction"},
     "", "", {},
     "MultiNLI (GLUE TSV or jsonl); not in the shared data folder"},
    {"qnli", K::Classification, Metric::Accuracy, {"entailment", "not_entailment"},
     "", "QNLI/dev.tsv", {"QNLI/test.tsv"},
     "GLUE QNLI; only the dev and unlabeled test sets are shared"},
};

std::string canonical(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '-' || c == '_') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const std::vector<TaskSpec>& all_tasks() { return kTasks; }

const TaskSpec& find_task(const std::string& name) {
  const std::string key = canonical(name);
  for (const TaskSpec& t : kTasks) {
    if (t.name == key) return t;
  }
  // The names a run file may give: the registered tasks, the inline toy corpus and the custom
  // task of the run file (core/train/task_setup.cpp builds those two).
  std::vector<std::string_view> names{"lm", "custom"};
  for (const TaskSpec& t : kTasks) names.push_back(t.name);
  std::string known;
  for (std::string_view n : names) known += (known.empty() ? "" : ", ") + std::string(n);
  const std::optional<std::string_view> guess = closest_spelling(key, names);
  throw Error("task '" + name + "': unknown task" + (guess ? "; did you mean '" + std::string(*guess) + "'?" : "") +
              " (known: " + known + ")");
}

Layout detect_layout(const TaskSpec& task, const std::string& path) {
  const std::string& n = task.name;
  auto refuse = [&](const std::string& why) -> Layout {
    throw Error(path + ": task " + n + " reads no " + why + " files");
  };
  if (ends_with(path, ".jsonl")) {
    if (n == "sst2" || n == "sst5" || n == "mr" || n == "trec" || n == "qnli" || n == "squad" || n == "drop") {
      return refuse(".jsonl");
    }
    return Layout::Jsonl;
  }
  if (ends_with(path, ".json")) {
    if (n == "squad") return Layout::SquadJson;
    if (n == "drop") return Layout::DropJson;
    return refuse(".json");
  }
  if (ends_with(path, ".csv")) {
    if (n == "trec" || n == "mr") return Layout::LmBffCsv;
    return refuse(".csv");
  }
  if (ends_with(path, ".txt")) {
    if (n == "trec") return Layout::TrecText;
    return refuse(".txt");
  }
  if (ends_with(path, ".tsv")) {
    if (n == "sst5") return Layout::SstLabelTab;
    if (n == "sst2") {
      // LM-BFF's SST-2 test.tsv is "label<SPACE>sentence" without a header; GLUE's files start
      // with a "sentence<TAB>label" or "index<TAB>sentence" header.
      std::ifstream in(path, std::ios::binary);
      check(in.good(), path + ": cannot open");
      std::string first;
      std::getline(in, first);
      return first.find('\t') == std::string::npos ? Layout::LabelSpaceText : Layout::GlueTsv;
    }
    if (n == "rte" || n == "qnli" || n == "mnli") return Layout::GlueTsv;
    return refuse(".tsv");
  }
  throw Error(path + ": task " + n + ": cannot tell the file layout from the name (expected .jsonl, .json, .csv, .txt or .tsv)");
}

std::vector<Example> load_examples(const TaskSpec& task, const std::string& path) {
  const Layout layout = detect_layout(task, path);
  std::vector<data::Record> rows;
  switch (layout) {
    case Layout::GlueTsv: rows = data::read_tsv(path); break;
    case Layout::SstLabelTab: rows = data::read_tsv(path, {"label", "sentence"}); break;
    case Layout::LabelSpaceText: rows = data::read_label_space_text(path); break;
    case Layout::LmBffCsv: rows = data::read_csv(path, {"label", "text"}); break;
    case Layout::TrecText: rows = data::read_trec_text(path); break;
    case Layout::Jsonl: rows = data::read_jsonl(path); break;
    case Layout::SquadJson: rows = data::read_squad_json(path); break;
    case Layout::DropJson: rows = data::read_drop_json(path); break;
  }
  return examples_from_records(task, layout, rows);
}

std::string data_file(const std::string& data_dir, const std::string& relative) {
  if (data_dir.empty() || data_dir.back() == '/') return data_dir + relative;
  return data_dir + "/" + relative;
}

const char* kind_name(TaskKind kind) {
  switch (kind) {
    case TaskKind::Classification: return "classification";
    case TaskKind::MultipleChoice: return "multiple choice";
    case TaskKind::Generation: return "generation";
  }
  return "?";
}

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::GlueTsv: return "GLUE TSV";
    case Layout::SstLabelTab: return "label<TAB>sentence TSV";
    case Layout::LabelSpaceText: return "label<SPACE>sentence text";
    case Layout::LmBffCsv: return "LM-BFF label,text CSV";
    case Layout::TrecText: return "TREC COARSE:fine text";
    case Layout::Jsonl: return "JSON Lines";
    case Layout::SquadJson: return "SQuAD JSON";
    case Layout::DropJson: return "DROP JSON";
  }
  return "?";
}

}  // namespace zotune::tasks
