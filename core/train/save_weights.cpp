#include "core/train/save_weights.h"

#include <filesystem>
#include <vector>

#include "core/io/safetensors.h"
#include "core/util/error.h"

namespace fs = std::filesystem;

namespace zotune {

namespace {

// The folder holding a model's config.json: the model path itself, or a weights file's folder.
fs::path model_folder(const std::string& model_path) {
  const fs::path p(model_path);
  if (fs::is_directory(p)) return p;
  return p.has_parent_path() ? p.parent_path() : fs::path(".");
}

void copy_companion_files(const std::string& model_path, const fs::path& weights) {
  const fs::path from = model_folder(model_path);
  const fs::path to = weights.has_parent_path() ? weights.parent_path() : fs::path(".");
  std::error_code same_error;
  if (fs::equivalent(from, to, same_error)) return;
  for (const char* name : {"config.json", "tokenizer.json"}) {
    if (!fs::exists(from / name) || fs::exists(to / name)) continue;
    std::error_code ec;
    fs::copy_file(from / name, to / name, ec);
    check(!ec, (to / name).string() + ": cannot copy " + (from / name).string() + " beside the saved weights: " +
                   ec.message());
  }
}

}  // namespace

void save_weights(const std::string& path, const Model& model, const SaveWeightsOptions& options) {
  check(!path.empty(), "save weights: no output path given");
  std::vector<SafetensorsEntry> entries;
  const ParamStore& params = model.params();
  auto add = [&](const ParamView& v) {
    entries.push_back({v.name, safetensors_dtype_name(v.dtype), v.shape, params.data(v)});
  };
  if (options.trainable_only) {
    for (const TrainableTensor& t : options.trainable_only->tensors()) add(*t.view);
  } else {
    for (const ParamView& v : params.views()) add(v);
  }
  std::map<std::string, std::string> metadata = options.metadata;
  metadata["format"] = "pt";

  const fs::path out(path);
  if (out.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    check(!ec, path + ": cannot create the folder of the saved weights: " + ec.message());
  }
  write_safetensors(path, entries, metadata);
  if (!options.model_path.empty()) copy_companion_files(options.model_path, out);
}

}  // namespace zotune
