#include "core/model/generate.h"

#include <algorithm>

#include "core/util/error.h"

namespace zotune {

namespace {
int32_t argmax(const float* x, int n) { return static_cast<int32_t>(std::max_element(x, x + n) - x); }
}  // namespace

std::vector<std::vector<int32_t>> generate_greedy(Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                  int32_t pad_id, const GenerateOptions& options) {
  check(model.config().head == HeadKind::CausalLM, "generate: needs a model with a causal LM head");
  check(!prompts.empty(), "generate: no prompt");
  for (const auto& p : prompts) check(!p.empty(), "generate: empty prompt (the tokenizer produced no tokens)");
  const int B = static_cast<int>(prompts.size());
  Batch batch = Batch::from_sequences(prompts, pad_id, /*pad_left=*/true);
  KVCache cache = model.make_cache(B, batch.seq_len + options.max_new_tokens);
  const int V = model.config().vocab_size;

  std::vector<int64_t> last(B);
  for (int b = 0; b < B; ++b) last[b] = static_cast<int64_t>(b) * batch.seq_len + batch.seq_len - 1;
  std::vector<float> logits = model.forward(batch, last, &cache);

  std::vector<std::vector<int32_t>> out(B);
  std::vector<bool> done(B, false);
  for (int step = 0; step < options.max_new_tokens; ++step) {
    Batch next;
    next.batch = B;
    next.seq_len = 1;
    next.ids.assign(B, pad_id);
    next.mask.assign(B, 0);
    bool any = false;
    for (int b = 0; b < B; ++b) {
      if (done[b]) continue;
      const int32_t token = argmax(logits.data() + static_cast<size_t>(b) * V, V);
      out[b].push_back(token);
      if (B == 1 && options.on_token) options.on_token(token);
      if (std::find(options.stop_ids.begin(), options.stop_ids.end(), token) != options.stop_ids.end()) {
        done[b] = true;
        continue;
      }
      next.ids[b] = token;
      next.mask[b] = 1;
      any = true;
    }
    if (!any || step + 1 == options.max_new_tokens) break;
    std::vector<int64_t> rows(B);
    for (int b = 0; b < B; ++b) rows[b] = b;
    logits = model.forward(next, rows, &cache);
  }
  return out;
}

}  // namespace zotune
