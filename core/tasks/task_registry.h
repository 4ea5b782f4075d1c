// The tasks the papers fine-tune on, by name: what kind of task each is, how it is scored, its
// classes, which files /work/shared/data ships for it, and how a data row (data::Record, from
// core/data/records.h) becomes a tasks::Example. Prompt templates live in templates.h.
//
// Labels are numbered as the Hugging Face datasets number them (the papers' code loads those):
// GLUE/SuperGLUE "entailment" = 0, SNLI/MNLI entailment 0 / neutral 1 / contradiction 2, TREC's
// coarse labels ABBR 0, ENTY 1, DESC 2, HUM 3, LOC 4, NUM 5 (LM-BFF's CSV files number them
// differently and are remapped), and BoolQ "true" = 0 because MeZO's candidates are ["Yes", "No"]
// with "Yes" for a true answer (baselines.md 8.2).
//
// The table itself is task_registry.cpp; the row layouts and their field names are
// task_registry_rows.cpp.
#pragma once
#include <string>
#include <vector>

#include "core/data/records.h"
#include "core/tasks/example.h"

namespace zotune::tasks {

enum class TaskKind {
  Classification,  // label = one of class_names
  MultipleChoice,  // options + correct (COPA's two choices, ReCoRD's entities)
  Generation,      // answers, scored by token F1 (SQuAD, DROP)
};

// The file layouts tasks ship in; each names one data:: reader and the fields it yields.
enum class Layout {
  GlueTsv,         // header row; GLUE/SST TSV (data::read_tsv)
  SstLabelTab,     // LM-BFF's SST-5 "label<TAB>sentence", no header (read_tsv with columns)
  LabelSpaceText,  // LM-BFF's SST-2 test "label<SPACE>sentence" (read_label_space_text)
  LmBffCsv,        // LM-BFF's "label,text" CSV, no header: TREC, MR (read_csv)
  TrecText,        // original TREC "COARSE:fine question" (read_trec_text)
  Jsonl,           // SuperGLUE / SNLI JSON Lines (read_jsonl)
  SquadJson,       // SQuAD v1.1 JSON (read_squad_json)
  DropJson,        // DROP JSON (read_drop_json)
};

struct TaskSpec {
  std::string name;  // registry key, lower case: "sst2", "boolq", ...
  TaskKind kind = TaskKind::Classification;
  Metric metric = Metric::Accuracy;
  std::vector<std::string> class_names;  // classification: class index -> name (HF numbering)
  // Default files, relative to the shared data folder (/work/shared/data); "" where the data
  // folder has none (data/README.md "Gaps"): users pass their own files then.
  std::string default_train;
  std::string default_eval;  // the split the papers report on (MeZO: HF validation)
  std::vector<std::string> other_files;  // further shipped files of the task (FewGLUE, LM-BFF)
  std::string note;                      // one line on the data or the protocol, for `zotune` output
};

// Every registered task, in a fixed order.
const std::vector<TaskSpec>& all_tasks();
// The task called `name` (case-insensitive; "sst-2", "SST2" and "sst2" are the same); an
// unknown name is an Error listing the known ones.
const TaskSpec& find_task(const std::string& name);

// The layout of a file of `task`, from its name (.jsonl, .json, .csv, .txt, .tsv) and, for
// SST-2's .tsv files, from whether the first line is a GLUE header. Error when the task has no
// such layout.
Layout detect_layout(const TaskSpec& task, const std::string& path);

// Rows of one file -> the task's examples, in file order. MultiRC yields one example per
// (paragraph, question, answer); ReCoRD one per query; SNLI/MNLI rows with gold label "-" are
// dropped; rows without a label field become unlabeled examples (label -1 / correct empty).
// A row with a missing field or an unknown label value is an Error naming its file:line.
std::vector<Example> examples_from_records(const TaskSpec& task, Layout layout, const std::vector<data::Record>& rows);

// Reads `path` with the layout detect_layout picks and converts its rows.
std::vector<Example> load_examples(const TaskSpec& task, const std::string& path);

// `relative` (a default_train / default_eval / other_files entry) under `data_dir`.
std::string data_file(const std::string& data_dir, const std::string& relative);

const char* kind_name(TaskKind kind);    // "classification", "multiple choice", "generation"
const char* layout_name(Layout layout);  // "GLUE TSV", ...

}  // namespace zotune::tasks
