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
#include "../../unit/parity_test_util.h"
#include "cached_forward_util.h"
#include "engine_test_util.h"
#include "peft_parity_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::parity_cases;
using test::PeftCase;
using test::to_gpu;

PeftSettings prefix_settings(PrefixInit init) {
  PeftSettings p;
  p.kind = PeftKind::Prefix;
  p.prefix_tokens = 5;
  p.prefix_init = init;
  p.seed = 7;
  return p;
}

std::vector<PeftCase> prefix_cases() {
  return {{"real_act", prefix_settings(PrefixInit::RealActivations)}, {"random", prefix_settings(PrefixInit::Random)}};
}

// The prefix at its own initialization (from the backbone's activations or N(0, 1)).
constexpr test::PeftLoader load_with_prefix = test::load_with_modules;

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

// The premise of the GPU comparisons (no GPU needed): on the CPU engine the prefix, either init,
// moves the fp32 logits by more than 10% (5 times the loosest bound below) on every fixture.
TEST(CudaPrefixPremise, ThePrefixMovesTheLogits) {
  test::expect_modules_move_the_logits(prefix_cases(), load_with_prefix);
}

class CudaPrefixParity : public test::CudaPeftParityTest {};

// The device forward with the prefix against the CPU engine's, per init and precision, on each
// reference batch (padding right and left: a left-padded sequence's first queries see the
// prefix and no token).
TEST_P(CudaPrefixParity, LogitsMatchTheCpuEngine) {
  for (const PeftCase& c : prefix_cases())
    test::expect_logits_match_the_cpu_engine(dir(), GetParam(), c, load_with_prefix);
}

// A prefix forward is captured like a plain one (scratch from the arena, no host sync): eager,
// captured and replayed give the same bits; a replay after new tokens and a new prefix (written
// into the device buffer, as a perturbation does) equals an engine without graphs.
TEST_P(CudaPrefixParity, GraphReplayEqualsEagerLaunches) {
  test::expect_graph_replay_equals_eager_launches(dir(), prefix_cases()[0], load_with_prefix, redraw_prefix);
}

// Batched probes (Model::begin_probe_groups) on the device: three probes' prefixes (each redrawn
// from its own seed) in one forward over three copies of the batch (each probe group's sequences
// attend to that group's prefix from the bank), against one forward per probe and the CPU
// engine's batched forward.
TEST_P(CudaPrefixParity, BatchedProbesMatchOneForwardPerProbeAndTheCpuEngine) {
  test::expect_batched_probes_match(dir(), GetParam(), prefix_cases()[0], load_with_prefix, redraw_prefix);
}

// ---- Generation (decoders): the device cache keeps the prefix in its first slots.

// Left-padded prompts, then steps of fixed new tokens (1, 1, a chunk of 3, 1 with sequence 1
// padding, 1): prefill and steps through the device cache against the CPU engine's cache, step by
// step, and against one uncached device forward over all the tokens; no cached forward captured.
TEST_P(CudaPrefixParity, CachedForwardsMatchTheCpuEngineAndTheUncachedForward) {
  if (!test::is_decoder(load_model_config(dir().string()))) GTEST_SKIP() << GetParam() << " is not a decoder";
  const std::vector<std::vector<int32_t>> prompts =
      test::prompts_of(test::read_batch(test::reference_of(dir()), "left"));  // lengths 10, 7, 4
  const PeftSettings settings = prefix_settings(PrefixInit::Random);
  for (const test::DevicePrecision& v : test::kDevicePrecisions) {
    std::unique_ptr<Model> cpu = load_with_prefix(dir() / v.weights, v.dtype, settings);
    std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_with_prefix(dir() / v.weights, v.dtype, settings), v.tf32);
    const ModelConfig& c = cpu->config();
    const std::vector<Batch> steps =
        test::feeding_schedule(prompts, std::max(c.pad_token_id, 0), c.vocab_size, {1, 1, 3, 1, 1}, /*masked_step=*/3);
    test::expect_cached_forwards_agree(*cpu, *gpu, steps, v.tolerance, GetParam() + " " + test::precision_name(v));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaPrefixParity, ::testing::ValuesIn(parity_cases()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaPrefixParity);

}  // namespace
}  // namespace zotune
