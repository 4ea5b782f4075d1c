// Export of a trained model to a directory the Hugging Face libraries load (docs/EXPORT.md):
// what `run.save: DIR`, `zotune replay --out DIR` and `zotune export` write.
//
//  - full, head-only and other backbone runs: DIR is a transformers model directory:
//    model.safetensors (the model's Hugging Face tensor names, the run's dtype), config.json
//    (the base's, or built from the GGUF metadata), tokenizer files (copied from the base
//    directory, or tokenizer.json + tokenizer_config.json written from the GGUF vocabulary).
//  - LoRA runs: DIR is a PEFT adapter: adapter_config.json + adapter_model.safetensors (PEFT's
//    names, fp32) + the tokenizer files; the adapter's base is the base directory, or, for a
//    GGUF base, DIR/base/ (the dequantized base as a transformers model directory).
//    merge_lora adds DIR/merged/: the base with W + (alpha / r) B A, a plain model directory.
//  - TT adapters and prefixes (no transformers or PEFT equivalent: the adapters are nonlinear
//    bottlenecks, the prefix has no position): DIR is the backbone's model directory plus
//    zotune_peft.safetensors (the modules' tensors under zotune's names, fp32) and
//    zotune_peft.json (kind, shapes, placement, scale: the format docs/EXPORT.md documents).
// Every export writes README.md saying what the directory holds and how to load it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/model/model.h"

namespace zotune {

struct HfExportOptions {
  // The run's initial model (model.path or --base): a Hugging Face directory, a .safetensors
  // file beside its config.json, or a .gguf file.
  std::string base_path;
  bool merge_lora = false;  // LoRA runs: also write DIR/merged/
  // safetensors __metadata__ entries (run log, steps, checksum), also listed in README.md.
  std::map<std::string, std::string> metadata;
};

struct HfExportReport {
  std::string layout;                // "model", "lora adapter", "tt adapter", "prefix"
  std::vector<std::string> written;  // files written, relative to DIR
  std::string tokenizer_note;        // empty, or why no tokenizer files were written
  std::string load_hint;             // a Python line that loads the export
};

// Writes the export of `model` (host parameters current: call sync_params_to_host first) into
// `dir`, creating it. Files of an earlier export of another layout in DIR are removed (a stale
// adapter_config.json would make transformers load DIR as an adapter). Throws Error naming the
// file for anything it cannot write, and when DIR is the base model's own directory.
HfExportReport export_hf(const std::string& dir, const Model& model, const HfExportOptions& options);

// Whether `run.save` / `--out` names a directory export (anything but a .safetensors file).
bool is_directory_export(const std::string& path);

}  // namespace zotune
