// Prefix-tuning (MeZO-prefix) on the CUDA engine against the CPU engine, on every parity fixture
// (tests/fixtures/parity: Llama with GQA and the RoPE variants, Mistral's sliding window, Qwen2,
// OPT pre- and post-LN, BERT, RoBERTa): whole-model logits with 5 prefix tokens per layer,
// initialized from the backbone's activations (MeZO's default, computed on the host before the
// upload) and N(0, 1), per dtype at the LoRA and adapter tests' bounds (fp32 exact 1e-5, fp32 on
// TF32 5e-3, bf16 and fp16 2e-2 relative); the captured-graph replay of a prefix forward; batched
// probes (each probe group's sequences attend to that group's prefix from the bank) against one
// forward per probe and the CPU engine's batched forward; and, on the decoders, cached forwards
// (prefill, single tokens, a chunk, a padded step) against the CPU engine's cache and the
// uncached device forward. A CPU-only test checks that the prefix moves the logits far beyond
// the tolerances, so a device forward that ignored it cannot pass. The GPU tests skip without a
// device. The attention kernels themselves: tests/cuda/prefix_attention_test.cpp.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/cuda_model.h"
#include "core/io/safetensors.h"
#include "core/model/model.h"
#include "kernels/cuda/device.cuh"
#include "../../unit/io_test_util.h"
#include "../../unit/parity_test_util.h"
#include "engine_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::parity_cases;
using test::read_batch;
using test::RefBatch;
using test::rel_error;
using test::to_gpu;

const fs::path kParityDir = test::parity_dir();

PeftSettings prefix_settings(PrefixInit init) {
  PeftSettings p;
  p.kind = PeftKind::Prefix;
  p.prefix_tokens = 5;
  p.prefix_init = init;
  p.seed = 7;
  return p;
}

struct PrefixCase {
  const char* name;
  PeftSettings settings;
};

std::vector<PrefixCase> prefix_cases() {
  return {{"real_act", prefix_settings(PrefixInit::RealActivations)}, {"random", prefix_settings(PrefixInit::Random)}};
}

std::unique_ptr<Model> load_with_prefix(const fs::path& weights, DType dtype, const PeftSettings& peft) {
  LoadOptions opt;
  opt.dtype = dtype;
  opt.peft = peft;
  return load_model(weights.string(), opt);
}

// Every prefix tensor redrawn N(0.1, 1) from `seed`: one probe's perturbed prefix.
void redraw_prefix(Model& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.1f, 1.0f);
  for (const std::string& name : m.peft().tensor_names()) {
    const ParamView& v = m.params().at(name);
    float* x = m.params().f32(v);
    for (int64_t i = 0; i < v.numel; ++i) x[i] = d(rng);
  }
}

std::vector<float> logits(Model& m, const RefBatch& rb) {
  const bool lm = m.config().head == HeadKind::CausalLM || m.config().head == HeadKind::MaskedLM;
  return lm ? m.forward(rb.batch, rb.valid_rows) : m.forward(rb.batch);
}

std::string precision_name(const test::DevicePrecision& v) {
  return std::string(dtype_name(v.dtype)) + (v.tf32 ? " tf32" : " exact");
}

// The premise of the GPU comparisons (no GPU needed): on the CPU engine the prefix, either init,
// moves the fp32 logits by more than 10% (5 times the loosest bound below) on every fixture.
TEST(CudaPrefixPremise, ThePrefixMovesTheLogits) {
  const std::vector<std::string> fixtures = parity_cases();
  if (fixtures.empty()) GTEST_SKIP() << "no parity fixtures";
  for (const std::string& fixture : fixtures) {
    const fs::path dir = kParityDir / fixture;
    const SafetensorsArchive ref = SafetensorsArchive::open((dir / "reference.safetensors").string());
    const RefBatch rb = read_batch(ref, "right");
    std::unique_ptr<Model> plain = load_model((dir / "model.safetensors").string());
    const std::vector<float> base = logits(*plain, rb);
    for (const PrefixCase& c : prefix_cases()) {
      std::unique_ptr<Model> m = load_with_prefix(dir / "model.safetensors", DType::F32, c.settings);
      EXPECT_GT(rel_error(logits(*m, rb), base), 1e-1) << fixture << " " << c.name;
    }
  }
}

class CudaPrefixParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
  fs::path dir() const { return kParityDir / GetParam(); }
  SafetensorsArchive reference() const { return SafetensorsArchive::open((dir() / "reference.safetensors").string()); }
};

// The device forward with the prefix against the CPU engine's, per init and dtype, on each
// reference batch (padding right and left: a left-padded sequence's first queries see the
// prefix and no token).
TEST_P(CudaPrefixParity, LogitsMatchTheCpuEngine) {
  const SafetensorsArchive ref = reference();
  for (const PrefixCase& c : prefix_cases()) {
    for (const test::DevicePrecision& v : test::kDevicePrecisions) {
      std::unique_ptr<Model> cpu = load_with_prefix(dir() / v.weights, v.dtype, c.settings);
      std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_with_prefix(dir() / v.weights, v.dtype, c.settings), v.tf32);
      ASSERT_EQ(gpu->peft().kind(), PeftKind::Prefix);
      for (const char* name : {"unpadded", "right", "left"}) {
        if (!ref.find(std::string(name) + ".input_ids")) continue;
        const RefBatch rb = read_batch(ref, name);
        const std::vector<float> want = logits(*cpu, rb), got = logits(*gpu, rb);
        ASSERT_EQ(got.size(), want.size()) << GetParam() << " " << c.name << " " << name;
        EXPECT_LE(rel_error(got, want), v.tolerance)
            << GetParam() << " " << c.name << " batch " << name << ", " << precision_name(v);
      }
    }
  }
}

// A prefix forward is captured like a plain one (scratch from the arena, no host sync): eager,
// captured and replayed give the same bits; a replay after new tokens and a new prefix (written
// into the device buffer, as a perturbation does) equals an engine without graphs.
TEST_P(CudaPrefixParity, GraphReplayEqualsEagerLaunches) {
  const SafetensorsArchive ref = reference();
  const fs::path weights = dir() / "model_bf16.safetensors";
  const PeftSettings settings = prefix_settings(PrefixInit::RealActivations);
  std::unique_ptr<Model> host = load_with_prefix(weights, DType::BF16, settings);
  std::unique_ptr<cuda::CudaModel> graphs = to_gpu(load_with_prefix(weights, DType::BF16, settings), true, true);
  std::unique_ptr<cuda::CudaModel> eager = to_gpu(load_with_prefix(weights, DType::BF16, settings), true, false);
  RefBatch rb = read_batch(ref, "right");
  const std::vector<float> first = logits(*graphs, rb);
  EXPECT_EQ(logits(*graphs, rb), first) << "captured";
  EXPECT_EQ(logits(*graphs, rb), first) << "replayed";
  EXPECT_EQ(graphs->graphs_captured(), 1);
  for (size_t i = 0; i < rb.batch.ids.size(); ++i)
    if (rb.batch.mask[i]) rb.batch.ids[i] = (rb.batch.ids[i] * 31 + 7) % graphs->config().vocab_size;
  redraw_prefix(*host, 77);
  const int64_t n = host->peft().region_numel();
  const float* region = static_cast<const float*>(host->params().buffer(DType::F32)) + host->peft().region_offset();
  for (cuda::CudaModel* m : {graphs.get(), eager.get()}) {
    m->synchronize();
    cuda::check_status(cudaMemcpy(static_cast<float*>(m->device_buffer(DType::F32)) + m->peft().region_offset(), region,
                                  static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice),
                       "upload of a new prefix");
  }
  const std::vector<float> replayed = logits(*graphs, rb);
  EXPECT_EQ(replayed, logits(*eager, rb));
  EXPECT_EQ(graphs->graphs_captured(), 1);
  EXPECT_GT(rel_error(replayed, first), 1e-2) << "the new tokens and prefix did not reach the replay";
}

// Batched probes (Model::begin_probe_groups) on the device: three probes' prefixes (each redrawn
// from its own seed) in one forward over three copies of the batch. Each block equals the
// device's own forward of that probe alone (1e-5 with exact fp32 GEMMs, the precision's bound
// otherwise), and the CPU engine's batched forward (the precision's bound); a replay of the
// captured batched forward gives the same bits.
TEST_P(CudaPrefixParity, BatchedProbesMatchOneForwardPerProbeAndTheCpuEngine) {
  const SafetensorsArchive ref = reference();
  const RefBatch rb = read_batch(ref, "right");
  const int G = 3;
  const PeftSettings settings = prefix_settings(PrefixInit::RealActivations);
  for (const test::DevicePrecision& v : test::kDevicePrecisions) {
    std::unique_ptr<Model> cpu = load_with_prefix(dir() / v.weights, v.dtype, settings);
    std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_with_prefix(dir() / v.weights, v.dtype, settings), v.tf32);
    const int64_t n = cpu->peft().region_numel();
    float* host_region = static_cast<float*>(cpu->params().buffer(DType::F32)) + cpu->peft().region_offset();
    float* device_region = static_cast<float*>(gpu->device_buffer(DType::F32)) + gpu->peft().region_offset();
    auto set_probe = [&](int g) {  // both engines at probe g's prefix
      redraw_prefix(*cpu, 100 + static_cast<uint32_t>(g));
      gpu->synchronize();
      cuda::check_status(
          cudaMemcpy(device_region, host_region, static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice),
          "upload of a probe's prefix");
    };
    std::vector<std::vector<float>> alone;
    for (int g = 0; g < G; ++g) {
      set_probe(g);
      alone.push_back(logits(*gpu, rb));
    }
    cpu->begin_probe_groups(G);
    gpu->begin_probe_groups(G);
    for (int g = 0; g < G; ++g) {
      set_probe(g);
      cpu->store_probe_group(g);
      gpu->store_probe_group(g);
    }
    const int64_t tokens = static_cast<int64_t>(rb.batch.batch) * rb.batch.seq_len;
    const Batch all = rb.batch.repeated(G);
    const std::vector<int64_t> rows = repeat_rows(rb.valid_rows, G, tokens);
    const bool head_rows = cpu->config().head == HeadKind::CausalLM || cpu->config().head == HeadKind::MaskedLM;
    const std::vector<float> want = head_rows ? cpu->forward(all, rows) : cpu->forward(all);
    const std::vector<float> got = head_rows ? gpu->forward(all, rows) : gpu->forward(all);
    EXPECT_EQ(head_rows ? gpu->forward(all, rows) : gpu->forward(all), got) << "captured";
    EXPECT_EQ(head_rows ? gpu->forward(all, rows) : gpu->forward(all), got) << "replayed";
    cpu->end_probe_groups();
    gpu->end_probe_groups();
    const std::string what = GetParam() + ", " + precision_name(v);
    ASSERT_EQ(got.size(), alone[0].size() * G) << what;
    EXPECT_LE(rel_error(got, want), v.tolerance) << what << ": against the CPU engine's batched probes";
    for (int g = 0; g < G; ++g) {
      const std::vector<float> block(got.begin() + static_cast<ptrdiff_t>(g * alone[0].size()),
                                     got.begin() + static_cast<ptrdiff_t>((g + 1) * alone[0].size()));
      EXPECT_LE(rel_error(block, alone[g]), v.tf32 ? v.tolerance : 1e-5) << what << ": group " << g << " alone";
    }
    EXPECT_GT(rel_error(alone[0], alone[1]), 1e-2) << what << ": the probes give the same logits";
  }
}

// ---- Generation (decoders): the device cache keeps the prefix in its first slots.

bool is_decoder(const ModelConfig& c) {
  return (c.arch == Architecture::OPT || c.arch == Architecture::Llama) && c.head == HeadKind::CausalLM;
}

// Left-padded prompts, then steps of fixed new tokens (1, 1, a chunk of 3, 1 with sequence 1
// padding, 1): both engines see the same inputs whatever their logits.
std::vector<Batch> feeding_schedule(const std::vector<std::vector<int32_t>>& prompts, int32_t pad, int vocab) {
  std::vector<Batch> steps{Batch::from_sequences(prompts, pad, /*pad_left=*/true)};
  const int B = static_cast<int>(prompts.size());
  const int lengths[] = {1, 1, 3, 1, 1};
  for (int s = 0; s < 5; ++s) {
    Batch next;
    next.batch = B;
    next.seq_len = lengths[s];
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < next.seq_len; ++t) {
        const bool padding = s == 3 && b == 1;
        next.ids.push_back(padding ? pad : static_cast<int32_t>((31 * s + 7 * b + 3 * t + 5) % vocab));
        next.mask.push_back(padding ? 0 : 1);
      }
    steps.push_back(std::move(next));
  }
  return steps;
}

std::vector<int64_t> real_rows(const Batch& b) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < b.mask.size(); ++i)
    if (b.mask[i]) rows.push_back(static_cast<int64_t>(i));
  return rows;
}

// Each step's real-row logits through one cache of the model's own make_cache.
std::vector<std::vector<float>> cached_logits(Model& model, const std::vector<Batch>& steps, int total) {
  KVCache cache = model.make_cache(steps[0].batch, total);
  std::vector<std::vector<float>> out;
  for (const Batch& s : steps) out.push_back(model.forward(s, real_rows(s), &cache));
  EXPECT_EQ(cache.length, total);
  return out;
}

// Prefill and steps through the device cache against the CPU engine's cache, step by step, and
// against one uncached device forward over all the tokens (each step's columns side by side).
TEST_P(CudaPrefixParity, CachedForwardsMatchTheCpuEngineAndTheUncachedForward) {
  if (!is_decoder(load_model_config(dir().string()))) GTEST_SKIP() << GetParam() << " is not a decoder";
  const SafetensorsArchive ref = reference();
  const RefBatch left = read_batch(ref, "left");
  std::vector<std::vector<int32_t>> prompts(left.batch.batch);
  for (int b = 0; b < left.batch.batch; ++b)
    for (int t = 0; t < left.batch.seq_len; ++t) {
      const size_t i = static_cast<size_t>(b) * left.batch.seq_len + t;
      if (left.batch.mask[i]) prompts[b].push_back(left.batch.ids[i]);
    }
  const PeftSettings settings = prefix_settings(PrefixInit::Random);
  for (const test::DevicePrecision& v : test::kDevicePrecisions) {
    std::unique_ptr<Model> cpu = load_with_prefix(dir() / v.weights, v.dtype, settings);
    std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_with_prefix(dir() / v.weights, v.dtype, settings), v.tf32);
    const ModelConfig& c = cpu->config();
    const std::vector<Batch> steps = feeding_schedule(prompts, std::max(c.pad_token_id, 0), c.vocab_size);
    int total = 0;
    for (const Batch& s : steps) total += s.seq_len;
    // The same tokens as one batch [B, total], and each step's real rows as its flat indices.
    Batch full;
    full.batch = steps[0].batch;
    full.seq_len = total;
    full.ids.assign(static_cast<size_t>(full.batch) * total, 0);
    full.mask.assign(full.ids.size(), 0);
    std::vector<std::vector<int64_t>> rows;
    int offset = 0;
    for (const Batch& s : steps) {
      std::vector<int64_t> r;
      for (int b = 0; b < s.batch; ++b)
        for (int t = 0; t < s.seq_len; ++t) {
          const size_t from = static_cast<size_t>(b) * s.seq_len + t, to = static_cast<size_t>(b) * total + offset + t;
          full.ids[to] = s.ids[from];
          full.mask[to] = s.mask[from];
          if (s.mask[from]) r.push_back(static_cast<int64_t>(to));
        }
      rows.push_back(std::move(r));
      offset += s.seq_len;
    }
    const std::vector<std::vector<float>> want = cached_logits(*cpu, steps, total);
    const std::vector<std::vector<float>> got = cached_logits(*gpu, steps, total);
    EXPECT_EQ(gpu->graphs_captured(), 0) << "a cached forward was captured as a graph";
    ASSERT_EQ(got.size(), want.size());
    for (size_t s = 0; s < steps.size(); ++s) {
      const std::string what = GetParam() + " " + precision_name(v) + ", step " + std::to_string(s);
      ASSERT_EQ(got[s].size(), want[s].size()) << what;
      EXPECT_LE(rel_error(got[s], want[s]), v.tolerance) << what << ": device cache vs the CPU engine's";
      EXPECT_LE(rel_error(got[s], gpu->forward(full, rows[s])), v.tolerance)
          << what << ": device cache vs the uncached device forward";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaPrefixParity, ::testing::ValuesIn(parity_cases()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaPrefixParity);

}  // namespace
}  // namespace zotune
