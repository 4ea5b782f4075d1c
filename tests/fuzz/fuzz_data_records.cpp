// libFuzzer target: the task data readers (core/data/records) on any bytes must return rows
// or throw a zotune::Error naming file and line; never crash. The first byte picks the reader
// (TSV with a header, headerless TSV, CSV, "label sentence" text, JSON Lines, SQuAD JSON,
// DROP JSON, TREC text); the rest is the file, written to a private temp folder.
// Seed corpus: tests/fuzz/corpus/fuzz_data_records (tests/fixtures/data, one reader byte each).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/data/records.h"
#include "core/util/error.h"
#include "tests/fuzz/fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace zotune::data;
  if (size == 0) return 0;
  const uint8_t reader = data[0] % 8;
  const std::string path = zotune::fuzz::write_input_file(data + 1, size - 1, "data.txt");
  try {
    std::vector<Record> rows;
    switch (reader) {
      case 0: rows = read_tsv(path); break;
      case 1: rows = read_tsv(path, {"label", "sentence"}); break;
      case 2: rows = read_csv(path, {"label", "question"}); break;
      case 3: rows = read_label_space_text(path); break;
      case 4: rows = read_jsonl(path); break;
      case 5: rows = read_squad_json(path); break;
      case 6: rows = read_drop_json(path); break;
      default: rows = read_trec_text(path); break;
    }
    // Every row is an object that serializes (the task code reads fields by key).
    for (const Record& r : rows) {
      if (!r.fields.is_object() || r.where.empty()) __builtin_trap();
      (void)r.fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  } catch (const zotune::Error&) {
  }
  return 0;
}
