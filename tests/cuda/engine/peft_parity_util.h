// Shared by the CUDA engine's PEFT parity tests (cuda_peft_test.cpp: LoRA and TT adapters;
// cuda_prefix_test.cpp: prefix-tuning): a case (its PeftSettings and a name), the CPU premise
// that a case's modules move the logits, and the device-vs-CPU comparisons every module kind
// runs on each parity fixture: whole-model logits per precision and reference batch, the
// captured-graph replay after new tokens and new modules, and batched probes (one forward over
// G copies of a batch, each block with its own probe's modules). Each test file passes its own
// loader (how the modules are set after loading) and redraw (one probe's modules from a seed).
#pragma once
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/cuda/cuda_model.h"
#include "core/io/safetensors.h"
#include "core/model/model.h"
#include "kernels/cuda/device.cuh"
#include "../../unit/parity_test_util.h"
#include "engine_test_util.h"

namespace zotune::test {

struct PeftCase {
  const char* name;
  PeftSettings settings;
};

// A host model of `weights` in `dtype` with the case's modules set as the test wants them.
using PeftLoader = std::unique_ptr<Model> (*)(const std::filesystem::path& weights, DType dtype,
                                              const PeftSettings& peft);
// Sets a model's modules to one probe's, drawn from `seed` (on the host).
using PeftRedraw = void (*)(Model& m, uint32_t seed);

// `weights` loaded with the modules at their own initialization.
inline std::unique_ptr<Model> load_with_modules(const std::filesystem::path& weights, DType dtype,
                                                const PeftSettings& peft) {
  LoadOptions opt;
  opt.dtype = dtype;
  opt.peft = peft;
  return load_model(weights.string(), opt);
}

// The logits the parity tests compare: the real tokens' rows for the LM heads, all for the others.
inline std::vector<float> logits(Model& m, const RefBatch& rb) {
  const bool lm = m.config().head == HeadKind::CausalLM || m.config().head == HeadKind::MaskedLM;
  return lm ? m.forward(rb.batch, rb.valid_rows) : m.forward(rb.batch);
}

inline SafetensorsArchive reference_of(const std::filesystem::path& fixture_dir) {
  return SafetensorsArchive::open((fixture_dir / "reference.safetensors").string());
}

// Copies the host model's PEFT region (fp32, region_numel() elements) over the device's, as a
// perturbation writes it; the device is synchronized first (no forward still reading it).
inline void upload_peft_region(Model& host, cuda::CudaModel& gpu, const char* what) {
  const int64_t n = host.peft().region_numel();
  const float* region = static_cast<const float*>(host.params().buffer(DType::F32)) + host.peft().region_offset();
  gpu.synchronize();
  cuda::check_status(cudaMemcpy(static_cast<float*>(gpu.device_buffer(DType::F32)) + gpu.peft().region_offset(), region,
                                static_cast<size_t>(n) * sizeof(float), cudaMemcpyHostToDevice),
                     what);
}

// The parity tests' fixture: one parity fixture folder a test, skipped without a device.
class CudaPeftParityTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
  std::filesystem::path dir() const { return parity_dir() / GetParam(); }
};

// The premise of the GPU comparisons (no GPU needed): on the CPU engine each case's modules, as
// `load` sets them, move the fp32 logits by more than 10% (5 times the loosest bound of the
// comparisons) on every fixture.
inline void expect_modules_move_the_logits(const std::vector<PeftCase>& cases, PeftLoader load) {
  const std::vector<std::string> fixtures = parity_cases();
  if (fixtures.empty()) GTEST_SKIP() << "no parity fixtures";
  for (const std::string& fixture : fixtures) {
    const std::filesystem::path dir = parity_dir() / fixture;
    const RefBatch rb = read_batch(reference_of(dir), "right");
    std::unique_ptr<Model> plain = load_model((dir / "model.safetensors").string());
    const std::vector<float> base = logits(*plain, rb);
    for (const PeftCase& c : cases) {
      std::unique_ptr<Model> m = load(dir / "model.safetensors", DType::F32, c.settings);
      EXPECT_GT(rel_error(logits(*m, rb), base), 1e-1) << fixture << " " << c.name;
    }
  }
}

// The device forward with the case's modules against the CPU engine's with the same modules, per
// precision (its tolerance), on each reference batch (padding right and left).
inline void expect_logits_match_the_cpu_engine(const std::filesystem::path& dir, const std::string& fixture,
                                               const PeftCase& c, PeftLoader load) {
  const SafetensorsArchive ref = reference_of(dir);
  for (const DevicePrecision& v : kDevicePrecisions) {
    std::unique_ptr<Model> cpu = load(dir / v.weights, v.dtype, c.settings);
    std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load(dir / v.weights, v.dtype, c.settings), v.tf32);
    ASSERT_EQ(gpu->peft().kind(), c.settings.kind);
    for (const char* name : {"unpadded", "right", "left"}) {
      if (!ref.find(std::string(name) + ".input_ids")) continue;
      const RefBatch rb = read_batch(ref, name);
      const std::vector<float> want = logits(*cpu, rb), got = logits(*gpu, rb);
      ASSERT_EQ(got.size(), want.size()) << fixture << " " << c.name << " " << name;
      EXPECT_LE(rel_error(got, want), v.tolerance)
          << fixture << " " << c.name << " batch " << name << ", " << precision_name(v);
    }
  }
}

// A forward with modules is captured like a plain one (scratch from the arena, no host sync):
// eager, captured and replayed give the same bits (bf16); a replay after new tokens and new
// modules (written into the device buffer, as a perturbation does) equals an engine without
// graphs, with no second capture, and differs from the first logits.
inline void expect_graph_replay_equals_eager_launches(const std::filesystem::path& dir, const PeftCase& c,
                                                      PeftLoader load, PeftRedraw redraw) {
  const std::filesystem::path weights = dir / "model_bf16.safetensors";
  std::unique_ptr<Model> host = load(weights, DType::BF16, c.settings);
  std::unique_ptr<cuda::CudaModel> graphs = to_gpu(load(weights, DType::BF16, c.settings), true, true);
  std::unique_ptr<cuda::CudaModel> eager = to_gpu(load(weights, DType::BF16, c.settings), true, false);
  RefBatch rb = read_batch(reference_of(dir), "right");
  const std::vector<float> first = logits(*graphs, rb);
  EXPECT_EQ(logits(*graphs, rb), first) << c.name << " (captured)";
  EXPECT_EQ(logits(*graphs, rb), first) << c.name << " (replayed)";
  EXPECT_EQ(graphs->graphs_captured(), 1) << c.name;
  for (size_t i = 0; i < rb.batch.ids.size(); ++i)
    if (rb.batch.mask[i]) rb.batch.ids[i] = (rb.batch.ids[i] * 31 + 7) % graphs->config().vocab_size;
  redraw(*host, 77);
  for (cuda::CudaModel* m : {graphs.get(), eager.get()}) upload_peft_region(*host, *m, "upload of new modules");
  const std::vector<float> replayed = logits(*graphs, rb);
  EXPECT_EQ(replayed, logits(*eager, rb)) << c.name;
  EXPECT_EQ(graphs->graphs_captured(), 1) << c.name;
  EXPECT_GT(rel_error(replayed, first), 1e-2) << c.name << ": the new tokens and modules did not reach the replay";
}

// Batched probes (Model::begin_probe_groups) on the device: three probes' modules (each redrawn
// from its own seed) in one forward over three copies of the batch. Each block equals the
// device's own forward of that probe alone (1e-5 with exact fp32 GEMMs, the precision's bound
// otherwise: more rows may change cuBLAS's choice of kernel), and the CPU engine's batched
// forward (the precision's bound); a replay of the captured batched forward gives the same bits.
inline void expect_batched_probes_match(const std::filesystem::path& dir, const std::string& fixture,
                                        const PeftCase& c, PeftLoader load, PeftRedraw redraw) {
  const RefBatch rb = read_batch(reference_of(dir), "right");
  const int G = 3;
  for (const DevicePrecision& v : kDevicePrecisions) {
    std::unique_ptr<Model> cpu = load(dir / v.weights, v.dtype, c.settings);
    std::unique_ptr<cuda::CudaModel> gpu = to_gpu(load(dir / v.weights, v.dtype, c.settings), v.tf32);
    auto set_probe = [&](int g) {  // both engines at probe g's modules
      redraw(*cpu, 100 + static_cast<uint32_t>(g));
      upload_peft_region(*cpu, *gpu, "upload of a probe's modules");
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
    const std::string what = fixture + " " + c.name + ", " + precision_name(v);
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

}  // namespace zotune::test
