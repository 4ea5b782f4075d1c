// A pretrained model with its tokenizer, from a Hugging Face directory or a GGUF file.
#pragma once
#include <memory>
#include <string>

#include "core/model/model.h"
#include "core/tokenizer/tokenizer.h"

namespace zotune {

struct Pretrained {
  std::unique_ptr<Model> model;
  Tokenizer tokenizer;
  LoadReport report;
};

// Tokenizer of a model path: tokenizer.json in a directory, or the GGUF vocabulary.
Tokenizer load_tokenizer(const std::string& model_path);
Pretrained load_pretrained(const std::string& model_path, const LoadOptions& options = {});
// `model`, loaded from model_path by any engine's loader, with the tokenizer of model_path
// (load_tokenizer), checked to fit the model's vocabulary.
Pretrained with_tokenizer(const std::string& model_path, std::unique_ptr<Model> model, LoadReport report);

}  // namespace zotune
