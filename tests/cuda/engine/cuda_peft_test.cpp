// PEFT modules on the CUDA engine against the CPU engine, on every parity fixture
// (tests/fixtures/parity: Llama, Mistral, Qwen2, OPT pre- and post-LN, BERT, RoBERTa):
// whole-model logits with LoRA on all four projections and with TT adapters at the code's and
// the paper's placement, per dtype (fp32 exact 1e-5, fp32 on TF32 5e-3, bf16 and fp16 2e-2
// relative, the plain parity test's bounds), the captured-graph replay of a PEFT forward, and
// the device parameter engine perturbing the PEFT tensors alone. LoRA's B starts at zero (the
// model would be the plain one), so every B is redrawn from a seeded uniform, and every adapter
// bias too (both signs reach the ReLU); a CPU-only test checks that the modules so drawn move
// the logits far beyond the tolerances, so a hook missing on the device cannot pass. The GPU
// tests skip without a device.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/cuda/cuda_model.h"
#include "core/io/safetensors.h"
#include "core/model/model.h"
#include "core/optim/trainable_space.h"
#include "core/train/param_engine.h"
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

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// LoRA r 4, alpha 8 (scale 2) on q, k, v and o: every hook of the forwards runs.
PeftSettings lora_settings() {
  PeftSettings p;
  p.kind = PeftKind::Lora;
  p.lora_rank = 4;
  p.lora_alpha = 8.0;
  p.lora_targets = {LoraTarget::Q, LoraTarget::K, LoraTarget::V, LoraTarget::O};
  p.seed = 7;
  return p;
}

// Hidden 32 = [2, 4, 4], bottleneck 8 = [2, 2, 2] (decoders) or [2, 4] (encoders), TT rank 3.
PeftSettings adapter_settings(AdapterPlacement placement) {
  PeftSettings p;
  p.kind = PeftKind::Adapter;
  p.adapter_bottleneck = 8;
  p.adapter_rank = 3;
  p.adapter_scale = 0.8;
  p.adapter_placement = placement;
  p.seed = 9;
  return p;
}

struct PeftCase {
  const char* name;
  PeftSettings settings;
};

std::vector<PeftCase> peft_cases() {
  return {{"lora", lora_settings()},
          {"adapter_code", adapter_settings(AdapterPlacement::Code)},
          {"adapter_paper", adapter_settings(AdapterPlacement::Paper)}};
}

// LoRA B (zeros at init) and the adapters' biases redrawn U(-0.25, 0.25) from `seed`; A and the
// TT cores keep their seeded (nonzero) initialization.
void redraw_peft(Model& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.25f, 0.25f);
  for (const std::string& name : m.peft().tensor_names()) {
    if (!ends_with(name, ".lora_B") && !ends_with(name, ".bias")) continue;
    const ParamView& v = m.params().at(name);
    float* x = m.params().f32(v);
    for (int64_t i = 0; i < v.numel; ++i) x[i] = u(rng);
  }
}

std::unique_ptr<Model> load_with_peft(const fs::path& weights, DType dtype, const PeftSettings& peft) {
  LoadOptions opt;
  opt.dtype = dtype;
  opt.peft = peft;
  std::unique_ptr<Model> m = load_model(weights.string(), opt);
  redraw_peft(*m, 1234);
  return m;
}

std::vector<float> logits(Model& m, const RefBatch& rb) {
  const bool lm = m.config().head == HeadKind::CausalLM || m.config().head == HeadKind::MaskedLM;
  return lm ? m.forward(rb.batch, rb.valid_rows) : m.forward(rb.batch);
}

// The premise of the GPU comparisons (no GPU needed): on the CPU engine the redrawn modules
// move the fp32 logits by more than 10% (5 times the loosest bound below; measured 15% to 54%)
// on every fixture.
TEST(CudaPeftPremise, RedrawnModulesMoveTheLogits) {
  const std::vector<std::string> fixtures = parity_cases();
  if (fixtures.empty()) GTEST_SKIP() << "no parity fixtures";
  for (const std::string& fixture : fixtures) {
    const fs::path dir = kParityDir / fixture;
    const SafetensorsArchive ref = SafetensorsArchive::open((dir / "reference.safetensors").string());
    const RefBatch rb = read_batch(ref, "right");
    std::unique_ptr<Model> plain = load_model((dir / "model.safetensors").string());
    const std::vector<float> base = logits(*plain, rb);
    for (const PeftCase& c : peft_cases()) {
      std::unique_ptr<Model> m = load_with_peft(dir / "model.safetensors", DType::F32, c.settings);
      EXPECT_GT(rel_error(logits(*m, rb), base), 1e-1) << fixture << " " << c.name;
    }
  }
}

class CudaPeftParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
  fs::path dir() const { return kParityDir / GetParam(); }
};

// The device forward with `peft` against the CPU engine's with the same modules, per dtype,
// on each reference batch.
void expect_peft_logits_match(const fs::path& dir, const std::string& fixture, const PeftCase& c) {
  const SafetensorsArchive ref = SafetensorsArchive::open((dir / "reference.safetensors").string());
  for (const test::DevicePrecision& v : test::kDevicePrecisions) {
    std::unique_ptr<Model> cpu = load_with_peft(dir / v.weights, v.dtype, c.settings);
    std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_with_peft(dir / v.weights, v.dtype, c.settings), v.tf32);
    ASSERT_EQ(gpu->peft().kind(), c.settings.kind);
    for (const char* name : {"unpadded", "right", "left"}) {
      if (!ref.find(std::string(name) + ".input_ids")) continue;
      const RefBatch rb = read_batch(ref, name);
      const std::vector<float> want = logits(*cpu, rb), got = logits(*gpu, rb);
      ASSERT_EQ(got.size(), want.size()) << fixture << " " << c.name << " " << name;
      EXPECT_LE(rel_error(got, want), v.tolerance)
          << fixture << " " << c.name << " batch " << name << ", " << dtype_name(v.dtype) << (v.tf32 ? " tf32" : " exact");
    }
  }
}

TEST_P(CudaPeftParity, LoraLogitsMatchTheCpuEngine) { expect_peft_logits_match(dir(), GetParam(), peft_cases()[0]); }

TEST_P(CudaPeftParity, CodePlacementAdapterLogitsMatchTheCpuEngine) {
  expect_peft_logits_match(dir(), GetParam(), peft_cases()[1]);
}

TEST_P(CudaPeftParity, PaperPlacementAdapterLogitsMatchTheCpuEngine) {
  expect_peft_logits_match(dir(), GetParam(), peft_cases()[2]);
}

// A PEFT forward is captured like a plain one (its scratch comes from the arena, no host
// sync): eager, captured and replayed give the same bits, and a replay with new tokens equals
// an engine without graphs.
TEST_P(CudaPeftParity, PeftGraphReplayEqualsEagerLaunches) {
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  for (const PeftCase& c : peft_cases()) {
    const fs::path weights = dir() / "model_bf16.safetensors";
    std::unique_ptr<cuda::CudaModel> graphs = to_gpu(load_with_peft(weights, DType::BF16, c.settings), true, true);
    std::unique_ptr<cuda::CudaModel> eager = to_gpu(load_with_peft(weights, DType::BF16, c.settings), true, false);
    RefBatch rb = read_batch(ref, "right");
    const std::vector<float> first = logits(*graphs, rb);
    EXPECT_EQ(logits(*graphs, rb), first) << c.name << " (captured)";
    EXPECT_EQ(logits(*graphs, rb), first) << c.name << " (replayed)";
    EXPECT_EQ(graphs->graphs_captured(), 1) << c.name;
    for (size_t i = 0; i < rb.batch.ids.size(); ++i)
      if (rb.batch.mask[i]) rb.batch.ids[i] = (rb.batch.ids[i] * 31 + 7) % graphs->config().vocab_size;
    EXPECT_EQ(logits(*graphs, rb), logits(*eager, rb)) << c.name;
    EXPECT_EQ(graphs->graphs_captured(), 1) << c.name;
  }
}

// The PEFT tensors sit in the fp32 device buffer, so the device parameter engine over the
// PEFT trainable space perturbs them with the fused kernel: the same terms on both engines
// give the same modules (to the GPU normals' last bits) and the same logits, and leave the
// backbone's bytes alone.
TEST_P(CudaPeftParity, DevicePerturbationOfPeftTensorsMatchesTheHost) {
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  const RefBatch rb = read_batch(ref, "right");
  TrainableSelection sel;
  sel.mode = TrainableSelection::Mode::Peft;
  const std::vector<cpu::DirectionTerm> terms{{5, 3, 0, 0.05f}, {5, 3, 1, -0.1f}};
  for (const PeftCase& c : peft_cases()) {
    std::unique_ptr<Model> cpu = load_with_peft(dir() / "model.safetensors", DType::F32, c.settings);
    std::unique_ptr<cuda::CudaModel> gpu =
        to_gpu(load_with_peft(dir() / "model.safetensors", DType::F32, c.settings), false);
    const TrainableSpace cpu_space = TrainableSpace::select(*cpu, sel);
    const TrainableSpace gpu_space = TrainableSpace::select(*gpu, sel);
    ASSERT_EQ(gpu_space.size(), static_cast<uint64_t>(gpu->peft().numel())) << c.name;
    const std::vector<float> before = logits(*cpu, rb);
    const std::unique_ptr<ParamEngine> host = make_param_engine(*cpu, cpu_space);
    const std::unique_ptr<ParamEngine> device = make_param_engine(*gpu, gpu_space);
    host->apply(terms, DirectionKind::Gaussian, 0.9f);
    device->apply(terms, DirectionKind::Gaussian, 0.9f);
    const std::vector<float> want = logits(*cpu, rb), got = logits(*gpu, rb);
    EXPECT_GT(rel_error(want, before), 1e-3) << c.name << ": the perturbation does not move the logits";
    EXPECT_LE(rel_error(got, want), 5e-5) << c.name;

    gpu->sync_params_to_host();
    std::unique_ptr<Model> untouched = load_model((dir() / "model.safetensors").string());
    double max_diff = 0.0;
    for (const ParamView& v : gpu->params().views()) {
      if (v.name.rfind("peft.", 0) == 0) {
        const float* a = cpu->params().f32(cpu->params().at(v.name));
        const float* b = gpu->params().f32(v);
        for (int64_t i = 0; i < v.numel; ++i) max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
      } else {
        const ParamView& u = untouched->params().at(v.name);
        const size_t bytes = static_cast<size_t>(v.numel) * dtype_size(v.dtype);
        EXPECT_EQ(std::memcmp(gpu->params().data(v), untouched->params().data(u), bytes), 0)
            << c.name << ": " << v.name << " is backbone and changed";
      }
    }
    EXPECT_LE(max_diff, 1e-5) << c.name;
  }
}

// Batched probes (Model::begin_probe_groups) on the device: three probes' modules (each
// redrawn from its own seed) in one forward over three copies of the batch. Each block equals
// the device's own forward of that probe alone (1e-5 with exact fp32 GEMMs, the precision's
// bound otherwise: more rows may change cuBLAS's choice of kernel), and the CPU engine's
// batched forward (the precision's bound); a replay of the captured batched forward gives the
// same bits.
TEST_P(CudaPeftParity, BatchedProbesMatchOneForwardPerProbeAndTheCpuEngine) {
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  const RefBatch rb = read_batch(ref, "right");
  const int G = 3;
  for (const PeftCase& c : {peft_cases()[0], peft_cases()[1]}) {
    for (const test::DevicePrecision& v : test::kDevicePrecisions) {
      std::unique_ptr<Model> cpu = load_with_peft(dir() / v.weights, v.dtype, c.settings);
      std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load_with_peft(dir() / v.weights, v.dtype, c.settings), v.tf32);
      const int64_t n = cpu->peft().region_numel();
      float* host_region = static_cast<float*>(cpu->params().buffer(DType::F32)) + cpu->peft().region_offset();
      float* device_region = static_cast<float*>(gpu->device_buffer(DType::F32)) + gpu->peft().region_offset();
      auto set_probe = [&](int g) {  // both engines at probe g's modules
        redraw_peft(*cpu, 100 + static_cast<uint32_t>(g));
        gpu->synchronize();
        cuda::check_status(cudaMemcpy(device_region, host_region, static_cast<size_t>(n) * sizeof(float),
                                      cudaMemcpyHostToDevice),
                           "upload of a probe's modules");
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
      EXPECT_EQ(head_rows ? gpu->forward(all, rows) : gpu->forward(all), got) << c.name << " (captured)";
      EXPECT_EQ(head_rows ? gpu->forward(all, rows) : gpu->forward(all), got) << c.name << " (replayed)";
      cpu->end_probe_groups();
      gpu->end_probe_groups();
      const std::string what = std::string(c.name) + ", " + dtype_name(v.dtype) + (v.tf32 ? " tf32" : " exact");
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
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaPeftParity, ::testing::ValuesIn(parity_cases()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaPeftParity);

}  // namespace
}  // namespace zotune
