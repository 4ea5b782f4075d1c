// zotune inspect MODEL: architecture, parameter counts per dtype, tokenizer.
#include <cstdio>

#include "core/cli/commands.h"
#include "core/model/pretrained.h"
#include "core/util/error.h"

namespace zotune::cli {

DType dtype_option(const std::string& value) {
  auto t = parse_dtype(value);
  if (!t) throw Error("--dtype: unknown dtype '" + value + "' (use f32, f16 or bf16)");
  return *t;
}

void register_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a model's architecture, parameters and tokenizer");
  auto* model_path = new std::string;
  auto* dtype = new std::string("f32");
  cmd->add_option("model", *model_path, "Hugging Face model directory or .gguf file")->required();
  cmd->add_option("--dtype", *dtype, "storage dtype of the weights: f32, f16, bf16")->capture_default_str();
  cmd->callback([=] {
    LoadOptions opt;
    opt.dtype = dtype_option(*dtype);
    // The tokenizer is optional here: a weights-only directory is still worth inspecting.
    LoadReport report;
    std::unique_ptr<Model> model = load_model(*model_path, opt, &report);
    const ModelConfig& c = model->config();
    std::printf("model         %s\n", model_path->c_str());
    std::printf("format        %s\n", report.format.c_str());
    std::printf("architecture  %s (model_type %s), head: %s\n", architecture_name(c.arch), c.model_type.c_str(),
                head_name(c.head));
    std::printf("layers        %d, hidden %d, heads %d (kv %d, head_dim %d), ffn %d\n", c.num_layers, c.hidden_size,
                c.num_heads, c.num_kv_heads, c.head_dim, c.intermediate_size);
    std::printf("vocabulary    %d, max positions %d, tied embeddings %s\n", c.vocab_size, c.max_position,
                c.tie_word_embeddings ? "yes" : "no");
    if (c.arch == Architecture::Llama) {
      int windowed = 0;
      for (int w : c.sliding_window) windowed += w > 0;
      std::printf("rope          theta %g, scaling %s (factor %g), sliding-window layers %d\n", c.rope_theta,
                  c.rope.type.c_str(), c.rope.factor, windowed);
    }
    const ParamStore& ps = model->params();
    std::printf("parameters    %lld in %zu tensors, %.1f MB\n", static_cast<long long>(ps.total_numel()), ps.views().size(),
                ps.total_bytes() / 1e6);
    for (DType t : {DType::F32, DType::F16, DType::BF16})
      if (ps.numel(t) > 0) std::printf("  %-5s       %lld\n", dtype_name(t), static_cast<long long>(ps.numel(t)));
    if (!report.unused.empty())
      std::printf("unused tensors in the file: %zu (e.g. %s)\n", report.unused.size(), report.unused[0].c_str());
    try {
      const Tokenizer tok = load_tokenizer(*model_path);
      std::printf("tokenizer     %s, %d tokens, bos %d, eos %d, pad %d, unk %d\n", tok.kind().c_str(), tok.vocab_size(),
                  tok.bos_id(), tok.eos_id(), tok.pad_id(), tok.unk_id());
    } catch (const Error& e) {
      std::printf("tokenizer     none: %s\n", e.what());
    }
  });
}

}  // namespace zotune::cli
