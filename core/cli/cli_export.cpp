// zotune export LOG_OR_RUN --out DIR: a run's trained weights rebuilt from its log (as zotune
// replay does) and written as a directory Hugging Face loads (core/train/hf_export.h,
// docs/EXPORT.md). --reference-logits also writes zotune's own logits of the exported model on
// given texts, which tests/python/check_hf_export.py compares with transformers'.
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cli/commands.h"
#include "core/cli/replayed_model.h"
#include "core/io/safetensors.h"
#include "core/model/pretrained.h"
#include "core/train/hf_export.h"
#include "core/util/error.h"

namespace zotune::cli {

namespace {

// For each text: its token ids as the base's tokenizer encodes them (special tokens added as
// the tokenizer says) and the model's logits at every position, [tokens, vocab] fp32:
// tensors input_ids.<i> (I32) and logits.<i> (F32), the texts in the metadata (text.<i>).
void write_reference_logits(const std::string& path, Model& model, const std::string& model_path,
                            const std::vector<std::string>& texts) {
  check(model.config().head == HeadKind::CausalLM,
        path + ": --reference-logits needs a causal LM (this model's head: " + head_name(model.config().head) + ")");
  check(!texts.empty(), path + ": --reference-logits needs at least one --reference-text");
  const Tokenizer tokenizer = load_tokenizer(model_path);
  std::vector<std::vector<int32_t>> ids(texts.size());
  std::vector<std::vector<float>> logits(texts.size());
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  const int64_t V = model.config().vocab_size;
  for (size_t i = 0; i < texts.size(); ++i) {
    ids[i] = tokenizer.encode(texts[i], true);
    check(!ids[i].empty(), path + ": --reference-text '" + texts[i] + "' has no tokens");
    // One sequence per forward: no padding, positions 0 .. T-1 as transformers numbers them.
    logits[i] = model.forward(Batch::from_sequences({ids[i]}, 0));
    const int64_t T = static_cast<int64_t>(ids[i].size());
    entries.push_back({"input_ids." + std::to_string(i), "I32", {T}, ids[i].data()});
    entries.push_back({"logits." + std::to_string(i), "F32", {T, V}, logits[i].data()});
    metadata["text." + std::to_string(i)] = texts[i];
  }
  write_safetensors(path, entries, metadata);
  std::printf("reference logits of %zu texts: %s\n", texts.size(), path.c_str());
}

}  // namespace

void register_export(CLI::App& app) {
  auto* cmd = app.add_subcommand("export",
                                 "Write a run's trained model as a directory Hugging Face loads (model directory, or "
                                 "PEFT adapter for LoRA), rebuilt from its log");
  struct Args {
    std::string source, out, base, device, reference;
    int64_t steps = -1;
    bool merge_lora = false;
    std::vector<std::string> texts;
  };
  auto* a = new Args;
  cmd->add_option("log_or_run", a->source, "run log (.h5), or the run file (.yaml) whose run.output is the log")
      ->required();
  cmd->add_option("--out", a->out, "export directory (created; docs/EXPORT.md describes its layouts)")->required();
  cmd->add_flag("--merge-lora", a->merge_lora, "LoRA runs: also write DIR/merged/, the base with W + (alpha / r) B A");
  cmd->add_option("--base", a->base, "the initial model (default: model.path of the log's run file)");
  auto* steps_option =
      cmd->add_option("--steps", a->steps, "export the weights after the first N logged steps (e.g. the best dev step)");
  cmd->add_option("--device", a->device, "engine to rebuild the weights on: cpu or cuda (default: the run's engine)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--reference-logits", a->reference,
                  "also write zotune's logits of the exported model on the --reference-text texts to this "
                  ".safetensors file (input_ids.<i>, logits.<i>): what a check compares transformers' logits with");
  cmd->add_option("--reference-text", a->texts, "a text for --reference-logits (repeatable)");
  cmd->callback([a, steps_option] {
    ReplayedModel replayed = replay_model(run_log_of(a->source), a->base, a->device,
                                          steps_option->count() > 0 ? std::optional<int64_t>(a->steps) : std::nullopt);
    check(is_directory_export(a->out),
          a->out + ": --out names a .safetensors file; zotune export writes a directory (for zotune's own weights "
                   "file use zotune replay --out FILE.safetensors)");
    replayed.model->sync_params_to_host();
    HfExportOptions options;
    options.base_path = replayed.model_path;
    options.merge_lora = a->merge_lora;
    options.metadata = {{"zotune_run_log", replayed.log_path},
                        {"zotune_steps", std::to_string(replayed.result.steps_replayed)},
                        {"zotune_checksum", replayed.checksum}};
    print_export(a->out, export_hf(a->out, *replayed.model, options));
    if (!a->reference.empty()) write_reference_logits(a->reference, *replayed.model, replayed.model_path, a->texts);
  });
}

}  // namespace zotune::cli
