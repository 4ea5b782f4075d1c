#include "core/model/pretrained.h"

#include <filesystem>

#include "core/io/gguf.h"
#include "core/util/error.h"

namespace zotune {

namespace fs = std::filesystem;

Tokenizer load_tokenizer(const std::string& model_path) {
  if (fs::is_directory(model_path)) {
    const fs::path file = fs::path(model_path) / "tokenizer.json";
    if (!fs::exists(file)) throw Error(model_path + ": no tokenizer.json in the model directory");
    return Tokenizer::from_file(file.string());
  }
  if (model_path.size() >= 5 && model_path.compare(model_path.size() - 5, 5, ".gguf") == 0)
    return Tokenizer::from_gguf(read_gguf_vocabulary(GgufFile::open(model_path)));
  const fs::path beside = fs::path(model_path).parent_path() / "tokenizer.json";
  if (fs::exists(beside)) return Tokenizer::from_file(beside.string());
  throw Error(model_path + ": cannot find a tokenizer (tokenizer.json or GGUF vocabulary)");
}

Pretrained load_pretrained(const std::string& model_path, const LoadOptions& options) {
  LoadReport report;
  std::unique_ptr<Model> model = load_model(model_path, options, &report);
  return with_tokenizer(model_path, std::move(model), std::move(report));
}

Pretrained with_tokenizer(const std::string& model_path, std::unique_ptr<Model> model, LoadReport report) {
  Tokenizer tokenizer = load_tokenizer(model_path);
  if (tokenizer.vocab_size() > model->config().vocab_size)
    throw Error(model_path + ": the tokenizer has " + std::to_string(tokenizer.vocab_size()) +
                " tokens but the model's vocabulary holds " + std::to_string(model->config().vocab_size));
  return Pretrained{std::move(model), std::move(tokenizer), std::move(report)};
}

}  // namespace zotune
