// zotune score MODEL --text "..." [...]: mean next-token cross-entropy (nats per token).
#include <cmath>
#include <cstdio>

#include "core/cli/commands.h"
#include "core/model/pretrained.h"
#include "core/util/error.h"
#include "kernels/cpu/cross_entropy.h"

namespace zotune::cli {

void register_score(CLI::App& app) {
  auto* cmd = app.add_subcommand("score", "Mean next-token loss of texts under a causal LM");
  struct Args {
    std::string model, dtype = "f32";
    std::vector<std::string> texts;
  };
  auto* a = new Args;
  cmd->add_option("model", a->model, "Hugging Face model directory or .gguf file")->required();
  cmd->add_option("--text,-t", a->texts, "text to score (repeatable)")->required();
  cmd->add_option("--dtype", a->dtype, "storage dtype of the weights: f32, f16, bf16")->capture_default_str();
  cmd->callback([a] {
    LoadOptions opt;
    opt.dtype = dtype_option(a->dtype);
    Pretrained p = load_pretrained(a->model, opt);
    check(p.model->config().head == HeadKind::CausalLM, a->model + ": score needs a causal LM");
    const int V = p.model->config().vocab_size;
    double total = 0.0;
    long tokens = 0;
    for (const std::string& text : a->texts) {
      std::vector<int32_t> ids = p.tokenizer.encode(text, true);
      if (ids.size() < 2) throw Error("score: text '" + text + "' has fewer than two tokens");
      Batch batch = Batch::from_sequences({ids}, 0);
      std::vector<int64_t> rows(ids.size() - 1);
      for (size_t i = 0; i + 1 < ids.size(); ++i) rows[i] = static_cast<int64_t>(i);
      std::vector<float> logits = p.model->forward(batch, rows);
      std::vector<double> loss(rows.size());
      cpu::cross_entropy(loss.data(), logits.data(), ids.data() + 1, static_cast<int>(rows.size()), V);
      double sum = 0.0;
      for (double l : loss) sum += l;
      std::printf("%8.4f nats/token over %3zu tokens  %s\n", sum / loss.size(), loss.size(), text.c_str());
      total += sum;
      tokens += static_cast<long>(loss.size());
    }
    std::printf("mean %.4f nats/token over %ld tokens (uniform baseline ln %d = %.4f)\n", total / tokens, tokens, V,
                std::log(static_cast<double>(V)));
  });
}

}  // namespace zotune::cli
