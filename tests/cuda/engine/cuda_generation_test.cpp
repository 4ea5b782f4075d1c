// Generation on the CUDA engine: the device KV cache (CudaModel::make_cache) against the CPU
// engine's host cache and against the uncached device forward, on the decoder parity fixtures
// (OPT pre-/post-LN, Llama with GQA, Mistral's sliding window, Qwen2; head_dim 8, the SIMT
// attention kernel) and on two random decoders with head_dim 64 and 128 (the decode and
// tensor-core attention kernels over the cache); greedy generation token for token; the
// graph cache never capturing or replaying a cached pass; caches refused by the wrong engine.
// Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/cuda_model.h"
#include "core/io/safetensors.h"
#include "core/model/config.h"
#include "core/model/generate.h"
#include "core/model/model.h"
#include "core/model/pretrained.h"
#include "core/tasks/prompt_task.h"
#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "../../unit/parity_test_util.h"
#include "cached_forward_util.h"
#include "engine_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::parity_cases;
using test::read_batch;
using test::RefBatch;
using test::rel_error;

// The engine tests' precisions; each tolerance holds for device vs CPU and cached vs uncached.
using Precision = test::DevicePrecision;
using test::kDevicePrecisions;
using test::to_gpu;

using test::cached_logits;
using test::expect_cached_forwards_agree;
using test::feeding_schedule;
using test::is_decoder;
using test::precision_name;
using test::prompts_of;
using test::real_rows;

// ---- The parity fixtures ----------------------------------------------------------------------

class CudaGeneration : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
    if (!is_decoder(load_model_config(dir().string()))) GTEST_SKIP() << GetParam() << " is not a decoder";
  }
  fs::path dir() const { return test::parity_dir() / GetParam(); }
  std::vector<std::vector<int32_t>> prompts() const {
    const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
    return prompts_of(read_batch(ref, "left"));  // lengths 10, 7, 4
  }
};

// Prefill of left-padded prompts of unequal lengths, then one-token steps, a 3-token chunk and
// a step where one sequence is padding: (a) and (c) at every precision.
TEST_P(CudaGeneration, CachedForwardsMatchTheCpuEngineAndTheUncachedForward) {
  for (const Precision& p : kDevicePrecisions) {
    LoadOptions opt;
    opt.dtype = p.dtype;
    std::unique_ptr<Model> cpu = load_model((dir() / p.weights).string(), opt);
    std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_model((dir() / p.weights).string(), opt), p.tf32);
    const ModelConfig& c = cpu->config();
    const std::vector<Batch> steps =
        feeding_schedule(prompts(), std::max(c.pad_token_id, 0), c.vocab_size, {1, 1, 3, 1, 1}, /*masked_step=*/3);
    expect_cached_forwards_agree(*cpu, *gpu, steps, p.tolerance, GetParam() + " " + precision_name(p));
  }
}

// (b) generate_greedy on the device gives the CPU's tokens (fp32, exact GEMMs). Compared up to
// the first step whose CPU choice is a near-tie (top-2 gap below 1e-3), which must come late.
TEST_P(CudaGeneration, GreedyTokensMatchTheCpuEngine) {
  std::unique_ptr<Model> cpu = load_model(dir().string());
  std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_model(dir().string()), /*tf32=*/false);
  const std::vector<std::vector<int32_t>> prompts = this->prompts();
  GenerateOptions g;
  g.max_new_tokens = 8;
  const int32_t pad = std::max(cpu->config().pad_token_id, 0);
  const std::vector<std::vector<int32_t>> want = generate_greedy(*cpu, prompts, pad, g);
  const std::vector<std::vector<int32_t>> got = generate_greedy(*gpu, prompts, pad, g);
  EXPECT_EQ(gpu->graphs_captured(), 0) << "a cached forward was captured as a graph";
  ASSERT_EQ(got.size(), want.size());
  const int V = cpu->output_width();
  for (size_t b = 0; b < prompts.size(); ++b) {
    ASSERT_EQ(want[b].size(), static_cast<size_t>(g.max_new_tokens));
    // The CPU's logits before each of its choices, from one uncached pass over prompt + tokens.
    std::vector<int32_t> seq = prompts[b];
    seq.insert(seq.end(), want[b].begin(), want[b].end() - 1);
    std::vector<int64_t> rows;
    for (size_t i = prompts[b].size() - 1; i < seq.size(); ++i) rows.push_back(static_cast<int64_t>(i));
    const std::vector<float> logits = cpu->forward(Batch::from_sequences({seq}, pad), rows);
    size_t stable = 0;  // steps before the first near-tie
    for (; stable < rows.size(); ++stable) {
      std::vector<float> row(logits.begin() + stable * V, logits.begin() + (stable + 1) * V);
      std::partial_sort(row.begin(), row.begin() + 2, row.end(), std::greater<float>());
      if (row[0] - row[1] < 1e-3f) break;
    }
    EXPECT_GE(stable, 4u) << GetParam() << " sequence " << b << ": the CPU's greedy choices are near-ties from step "
                          << stable << "; the fixture cannot check token equality";
    ASSERT_GE(got[b].size(), stable) << GetParam() << " sequence " << b;
    for (size_t i = 0; i < stable; ++i)
      EXPECT_EQ(got[b][i], want[b][i]) << GetParam() << " sequence " << b << " token " << i;
  }
}

// With graphs on, a decode-shaped uncached forward (B sequences of 1 token, B rows) is captured;
// cached forwards of that very shape must run eagerly (not replay it, not be captured), and the
// uncached graph must still replay after them. A first cached run sizes the arena, so the later
// ones leave its generation (and the captured graph) alone.
TEST_P(CudaGeneration, CachedForwardsAreNeverCapturedOrReplayed) {
  LoadOptions opt;
  opt.dtype = DType::BF16;
  const fs::path weights = dir() / "model_bf16.safetensors";
  std::unique_ptr<cuda::CudaModel> graphs = to_gpu(load_model(weights.string(), opt), true, /*graphs=*/true);
  std::unique_ptr<cuda::CudaModel> eager = to_gpu(load_model(weights.string(), opt), true, /*graphs=*/false);
  const ModelConfig& c = graphs->config();
  const std::vector<Batch> steps =
      feeding_schedule(prompts(), std::max(c.pad_token_id, 0), c.vocab_size, {1, 1, 1}, /*masked_step=*/-1);
  const Batch& decode_shaped = steps[1];
  const std::vector<int64_t> rows = real_rows(decode_shaped);
  ASSERT_EQ(static_cast<int>(rows.size()), decode_shaped.batch);

  const std::vector<std::vector<float>> sizing_run = cached_logits(*graphs, steps);
  EXPECT_EQ(graphs->graphs_captured(), 0);
  for (int i = 0; i < 3; ++i) graphs->forward(decode_shaped, rows);  // eager, captured, replayed
  ASSERT_EQ(graphs->graphs_captured(), 1);

  const std::vector<std::vector<float>> with_graphs = cached_logits(*graphs, steps);
  const std::vector<std::vector<float>> without = cached_logits(*eager, steps);
  ASSERT_EQ(with_graphs.size(), without.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    EXPECT_EQ(with_graphs[s], without[s]) << GetParam() << " step " << s;
    EXPECT_EQ(with_graphs[s], sizing_run[s]) << GetParam() << " step " << s << ": the cache of an earlier run leaked in";
  }
  EXPECT_EQ(graphs->graphs_captured(), 1);
  const std::vector<float> replayed = graphs->forward(decode_shaped, rows);
  EXPECT_EQ(replayed, eager->forward(decode_shaped, rows));
  EXPECT_EQ(graphs->graphs_captured(), 1);
  // Uncached, the decode-shaped batch is three one-token sequences: not the cached step's logits.
  EXPECT_NE(replayed, with_graphs[1]);
}

// A cache only works with the engine that made it: a clear error, not a crash or garbage.
TEST_P(CudaGeneration, CachesAreRefusedByTheWrongEngine) {
  std::unique_ptr<Model> cpu = load_model(dir().string());
  std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_model(dir().string()), false);
  std::unique_ptr<cuda::CudaModel> other = to_gpu(load_model(dir().string()), false);
  const Batch prefill = Batch::from_sequences(prompts(), std::max(cpu->config().pad_token_id, 0), true);
  const std::vector<int64_t> rows = real_rows(prefill);
  KVCache host_cache = cpu->make_cache(prefill.batch, prefill.seq_len);
  KVCache device_cache = gpu->make_cache(prefill.batch, prefill.seq_len);
  EXPECT_TRUE(device_cache.k.empty() && device_cache.v.empty());
  EXPECT_NE(device_cache.device, nullptr);
  EXPECT_THROW(gpu->forward(prefill, rows, &host_cache), Error);
  EXPECT_THROW(cpu->forward(prefill, rows, &device_cache), Error);
  KVCache other_cache = other->make_cache(prefill.batch, prefill.seq_len);
  EXPECT_THROW(gpu->forward(prefill, rows, &other_cache), Error);
  // Past the capacity: refused before anything is written.
  KVCache small = gpu->make_cache(prefill.batch, prefill.seq_len - 1);
  EXPECT_THROW(gpu->forward(prefill, rows, &small), Error);
  EXPECT_EQ(small.length, 0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaGeneration, ::testing::ValuesIn(parity_cases()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaGeneration);

// ---- Random decoders with real head sizes -----------------------------------------------------

struct RandomDecoder {
  const char* name;
  const char* config_json;
};
void PrintTo(const RandomDecoder& d, std::ostream* os) { *os << d.name; }

// Llama GQA (4 query heads over 2 kv heads) of head_dim 64 with Mistral's sliding window (24,
// shorter than the longest prompt), and OPT of head_dim 128.
const RandomDecoder kRandomDecoders[] = {
    {"mistral_gqa_window_hd64",
     R"({"model_type": "mistral", "architectures": ["MistralForCausalLM"], "vocab_size": 160, "hidden_size": 256,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
         "intermediate_size": 512, "max_position_embeddings": 128, "sliding_window": 24, "rms_norm_eps": 1e-6,
         "tie_word_embeddings": false, "pad_token_id": 0, "hidden_act": "silu"})"},
    {"opt_hd128",
     R"({"model_type": "opt", "architectures": ["OPTForCausalLM"], "vocab_size": 160, "hidden_size": 512,
         "num_hidden_layers": 2, "num_attention_heads": 4, "ffn_dim": 1024, "max_position_embeddings": 128,
         "do_layer_norm_before": true, "word_embed_proj_dim": 512, "enable_bias": true, "pad_token_id": 1,
         "activation_function": "relu"})"},
};

// A model of `json` with weights drawn from `seed`: N(0, 0.05) matrices (attention scores of
// order one at these widths), norm weights 1 + N(0, 0.1), biases N(0, 0.02). The same seed gives
// the same values in every dtype (rounded from the same fp32 draws).
std::unique_ptr<Model> random_decoder(const char* json, DType dtype, uint32_t seed) {
  std::unique_ptr<Model> m = create_model(parse_hf_config_text(json, "random decoder"), dtype);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const ParamView& v : m->params().views()) {
    const bool bias = v.name.size() >= 5 && v.name.compare(v.name.size() - 5, 5, ".bias") == 0;
    const bool vector = v.shape.size() == 1;
    std::vector<float> values(static_cast<size_t>(v.numel));
    for (float& x : values) x = bias ? 0.02f * normal(rng) : vector ? 1.0f + 0.1f * normal(rng) : 0.05f * normal(rng);
    convert(values.data(), DType::F32, m->params().data(v), v.dtype, values.size());
  }
  return m;
}

class CudaGenerationRandom : public ::testing::TestWithParam<RandomDecoder> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

// Prompts of 37, 20 and 5 tokens (16-bit prefill on the tensor-core kernel), one-token steps
// (the decode kernel), a 3-token chunk, a 17-token chunk after the cache (tensor cores with
// q_start > 0) and a step with one sequence padding: (a) and (c) at every precision.
TEST_P(CudaGenerationRandom, CachedForwardsMatchTheCpuEngineAndTheUncachedForward) {
  const RandomDecoder& d = GetParam();
  for (const Precision& p : kDevicePrecisions) {
    std::unique_ptr<Model> cpu = random_decoder(d.config_json, p.dtype, 20261201);
    std::unique_ptr<cuda::CudaModel> gpu = to_gpu(random_decoder(d.config_json, p.dtype, 20261201), p.tf32);
    const ModelConfig& c = cpu->config();
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> token(0, c.vocab_size - 1);
    std::vector<std::vector<int32_t>> prompts;
    for (int len : {37, 20, 5}) {
      prompts.emplace_back(len);
      for (int32_t& t : prompts.back()) t = token(rng);
    }
    const std::vector<Batch> steps =
        feeding_schedule(prompts, std::max(c.pad_token_id, 0), c.vocab_size, {1, 1, 3, 17, 1, 1}, /*masked_step=*/4);
    expect_cached_forwards_agree(*cpu, *gpu, steps, p.tolerance, std::string(d.name) + " " + precision_name(p));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudaGenerationRandom, ::testing::ValuesIn(kRandomDecoders),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- A generation task ------------------------------------------------------------------------

// A generation task (DROP's format: greedy answers up to 50 tokens with the task's stops, F1)
// evaluated on the device, as zotune train / eval do for SQuAD and DROP with engine.device:
// cuda, gives the CPU engine's answers. The tiny Llama of tests/fixtures/train; its greedy
// choices on these prompts are at least 8e-3 apart on the CPU (fp32, exact GEMMs here).
TEST(CudaGenerationTask, GenerationTaskAnswersMatchTheCpuEngine) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  const std::string tiny_lm = std::string(ZOTUNE_FIXTURES_DIR) + "/train/tiny_lm";
  Pretrained cpu = load_pretrained(tiny_lm);
  std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_pretrained(tiny_lm).model, /*tf32=*/false);
  std::vector<tasks::EncodedExample> examples;
  for (const char* prompt : {"Context: a\nAnswer:", "Question: who wrote it, and when?\nAnswer:"}) {
    tasks::EncodedExample e;
    e.format = tasks::Format::Generation;
    e.ids = cpu.tokenizer.encode(prompt);
    e.answers = {"zzz"};
    e.where = "drop.jsonl:" + std::to_string(examples.size() + 1);
    examples.push_back(std::move(e));
  }
  tasks::PromptTaskOptions o;
  o.pad_id = 256;
  o.generation = tasks::generation_config(cpu.tokenizer);
  tasks::PromptTask task("drop", examples, o);
  const tasks::Evaluation want = task.evaluate(*cpu.model, {0, 1});
  const tasks::Evaluation got = task.evaluate(*gpu, {0, 1});
  ASSERT_EQ(got.predictions.size(), want.predictions.size());
  for (size_t i = 0; i < want.predictions.size(); ++i) {
    EXPECT_FALSE(want.predictions[i].text.empty()) << "example " << i;
    EXPECT_EQ(got.predictions[i].text, want.predictions[i].text) << "example " << i;
  }
  EXPECT_DOUBLE_EQ(got.value, want.value);
}

}  // namespace
}  // namespace zotune
