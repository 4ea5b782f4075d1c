// zotune generate MODEL --prompt "...": greedy continuation with a KV cache, streamed.
#include <cstdio>

#include "core/cli/commands.h"
#include "core/model/generate.h"
#include "core/model/pretrained.h"
#include "core/util/error.h"

#ifdef ZOTUNE_HAVE_CUDA
#include "core/cuda/cuda_model.h"
#endif

namespace zotune::cli {

void register_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Greedy text continuation of a prompt");
  struct Args {
    std::string model, prompt, dtype = "f32", device = "cpu";
    int max_new_tokens = 32, gpu = 0;
    bool no_tf32 = false;
  };
  auto* a = new Args;
  cmd->add_option("model", a->model, "Hugging Face model directory or .gguf file")->required();
  cmd->add_option("--prompt,-p", a->prompt, "text to continue")->required();
  cmd->add_option("--max-new-tokens,-n", a->max_new_tokens, "tokens to generate at most")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--dtype", a->dtype, "storage dtype of the weights: f32, f16, bf16")->capture_default_str();
  cmd->add_option("--device", a->device, "engine: cpu, or cuda (weights and KV cache on the GPU)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--gpu", a->gpu, "cuda: the CUDA device index")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-tf32", a->no_tf32, "cuda: exact fp32 GEMMs instead of TF32");
  cmd->callback([a] {
    LoadOptions opt;
    opt.dtype = dtype_option(a->dtype);
    Pretrained p = load_pretrained(a->model, opt);
    if (a->device == "cuda") {
#ifdef ZOTUNE_HAVE_CUDA
      cuda::CudaOptions cuda_options;
      cuda_options.device = a->gpu;
      cuda_options.tf32 = !a->no_tf32;
      p.model = cuda::CudaModel::from_host(std::move(p.model), cuda_options);
#else
      throw Error("generate --device cuda: this zotune was built without CUDA");
#endif
    } else {
      check(a->gpu == 0 && !a->no_tf32, "generate: --gpu and --no-tf32 go with --device cuda");
    }
    std::vector<int32_t> prompt = p.tokenizer.encode(a->prompt, /*add_special_tokens=*/true);
    GenerateOptions g;
    g.max_new_tokens = a->max_new_tokens;
    if (p.tokenizer.eos_id() >= 0) g.stop_ids.push_back(p.tokenizer.eos_id());
    // Stream: print the text each new token adds to the decoded continuation.
    std::vector<int32_t> produced;
    std::string printed;
    g.on_token = [&](int32_t token) {
      produced.push_back(token);
      const std::string text = p.tokenizer.decode(produced, /*skip_special_tokens=*/true);
      if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0) {
        std::fputs(text.c_str() + printed.size(), stdout);
        std::fflush(stdout);
        printed = text;
      }
    };
    std::fputs(a->prompt.c_str(), stdout);
    std::vector<std::vector<int32_t>> out = generate_greedy(*p.model, {prompt}, std::max(p.tokenizer.pad_id(), 0), g);
    const std::string full = p.tokenizer.decode(out[0], true);
    if (full.size() > printed.size()) std::fputs(full.c_str() + printed.size(), stdout);
    std::fputc('\n', stdout);
  });
}

}  // namespace zotune::cli
