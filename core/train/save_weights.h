// Trained weights as a Hugging Face safetensors file: what `run.save` writes after training
// and what `zotune replay --out` writes from a run log. Tensor names are the model's Hugging
// Face parameter names and the dtype is the one the model stores (the run's model.dtype),
// so `zotune eval --weights`, `zotune inspect` and load_model read the file back unchanged.
#pragma once
#include <map>
#include <string>

#include "core/model/model.h"
#include "core/optim/trainable_space.h"

namespace zotune {

struct SaveWeightsOptions {
  // nullptr: every parameter of the model; otherwise only the tensors of this space (the
  // trained part: a PEFT module's tensors, a head), to be loaded over the base model.
  const TrainableSpace* trainable_only = nullptr;
  // The model the weights came from (a directory, or a .safetensors file beside its
  // config.json): its config.json and tokenizer.json are copied beside `path` where that
  // folder has none, so the folder loads as a model directory. Empty = copy nothing.
  std::string model_path;
  // Extra `__metadata__` entries (the file always says "format": "pt", as transformers does).
  std::map<std::string, std::string> metadata;
};

// Writes `path` atomically (safetensors writer: path + ".tmp", then renamed) and creates its
// parent directories. Throws Error naming the path.
void save_weights(const std::string& path, const Model& model, const SaveWeightsOptions& options = {});

}  // namespace zotune
