// The CUDA engine against the CPU engine and against transformers, on the parity fixtures
// (tests/fixtures/parity): whole-model logits per dtype, losses computed on the device, the
// captured-graph replay, and parameter passes through the device ParamEngine. Skipped without
// a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/cuda/cuda_model.h"
#include "core/io/safetensors.h"
#include "core/model/model.h"
#include "core/optim/trainable_space.h"
#include "core/tasks/prompt_task_forward.h"
#include "core/train/param_engine.h"
#include "kernels/cpu/cross_entropy.h"
#include "kernels/cuda/device.cuh"
#include "../../unit/parity_test_util.h"
#include "engine_test_util.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::parity_cases;
using test::read_batch;
using test::read_f32;
using test::RefBatch;
using test::reference_rows;
using test::rel_error;

const fs::path kParityDir = test::parity_dir();

bool is_lm(const Model& m) { return m.config().head == HeadKind::CausalLM || m.config().head == HeadKind::MaskedLM; }

// The numbers engine_report puts after `label` ("engine.unpadded: " -> {packed, of}; "CUDA forwards: "
// -> {replayed, captured, eager}): each integer in the text that follows, up to `count` of them.
std::vector<long> report_numbers(const std::string& report, const std::string& label, size_t count) {
  std::vector<long> out;
  const size_t at = report.find(label);
  if (at == std::string::npos) return out;
  const char* p = report.c_str() + at + label.size();
  while (*p && out.size() < count) {
    if (*p >= '0' && *p <= '9') {
      char* end = nullptr;
      out.push_back(std::strtol(p, &end, 10));
      p = end;
    } else {
      ++p;
    }
  }
  return out;
}

std::unique_ptr<cuda::CudaModel> on_gpu(const fs::path& weights, DType dtype, bool tf32, bool graphs = true,
                                        bool unpadded = false) {
  LoadOptions opt;
  opt.dtype = dtype;
  return test::to_gpu(load_model(weights.string(), opt), tf32, graphs, unpadded);
}

class CudaParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
  fs::path dir() const { return kParityDir / GetParam(); }
};

// The device forward pass against transformers with the CPU engine's tolerances (fp32 exact
// GEMMs 1e-4, TF32 5e-3, fp16/bf16 activations 2e-2), and against the CPU engine itself.
TEST_P(CudaParity, LogitsMatchTransformersAndTheCpuEngine) {
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  struct Variant {
    DType dtype;
    bool tf32;
    const char* weights;
    const char* ref_suffix;
    double vs_reference, vs_cpu;
  };
  const Variant variants[] = {
      {DType::F32, false, "model.safetensors", "logits", 1e-4, 1e-5},
      {DType::F32, true, "model.safetensors", "logits", 5e-3, 5e-3},
      {DType::BF16, true, "model_bf16.safetensors", "logits_bf16", 2e-2, 2e-2},
      {DType::F16, true, "model_f16.safetensors", "logits_f16", 2e-2, 2e-2},
  };
  for (const Variant& v : variants) {
    LoadOptions opt;
    opt.dtype = v.dtype;
    std::unique_ptr<Model> cpu = load_model((dir() / v.weights).string(), opt);
    std::unique_ptr<cuda::CudaModel> gpu = on_gpu(dir() / v.weights, v.dtype, v.tf32);
    for (const char* name : {"unpadded", "right", "left"}) {
      if (!ref.find(std::string(name) + ".input_ids")) continue;
      const RefBatch rb = read_batch(ref, name);
      const std::vector<float> want_all = read_f32(ref, std::string(name) + "." + v.ref_suffix);
      std::vector<float> got, want, cpu_out;
      if (is_lm(*cpu)) {
        got = gpu->forward(rb.batch, rb.valid_rows);
        cpu_out = cpu->forward(rb.batch, rb.valid_rows);
        want = reference_rows(want_all, rb.valid_rows, cpu->output_width());
      } else {
        got = gpu->forward(rb.batch);
        cpu_out = cpu->forward(rb.batch);
        want = want_all;
      }
      ASSERT_EQ(got.size(), want.size()) << GetParam() << " " << name;
      const std::string what = GetParam() + " batch " + name + ", " + dtype_name(v.dtype) + (v.tf32 ? " tf32" : " exact");
      EXPECT_LE(rel_error(got, want), v.vs_reference) << what << " vs transformers " << v.ref_suffix;
      EXPECT_LE(rel_error(got, cpu_out), v.vs_cpu) << what << " vs the CPU engine";
    }
  }
}

// Device cross-entropy of the rows against the CPU's over the CPU's logits (fp32, exact GEMMs).
TEST_P(CudaParity, RowLossesMatchTheCpuEngine) {
  std::unique_ptr<Model> cpu = load_model(dir().string());
  if (!is_lm(*cpu)) GTEST_SKIP() << "no LM head";
  std::unique_ptr<cuda::CudaModel> gpu = on_gpu(dir(), DType::F32, false);
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  const RefBatch rb = read_batch(ref, "right");
  std::vector<int32_t> targets;
  for (size_t i = 0; i < rb.valid_rows.size(); ++i) targets.push_back(static_cast<int32_t>((i * 7919) % cpu->output_width()));
  const std::vector<double> want = cpu->row_losses(rb.batch, rb.valid_rows, targets);
  const std::vector<double> got = gpu->row_losses(rb.batch, rb.valid_rows, targets);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 * (1.0 + std::fabs(want[i]))) << "row " << i;
}

// engine.shared_prompts on the device: one-token options read from a shared prompt's last row
// (a batch of fewer, shorter sequences, rows repeated) give the unshared scores and the CPU
// engine's, in exact fp32.
TEST_P(CudaParity, SharedPromptOptionScoresMatchUnsharedAndTheCpuEngine) {
  std::unique_ptr<Model> cpu = load_model(dir().string());
  if (cpu->config().head != HeadKind::CausalLM) GTEST_SKIP() << "not a decoder";
  std::unique_ptr<cuda::CudaModel> gpu = on_gpu(dir(), DType::F32, false);
  const int V = cpu->output_width();
  std::vector<tasks::ScoredSequence> owned;
  const std::vector<std::vector<int32_t>> prompts = {{3, 17, 5, 9, 2, 11}, {8, 4}, {12, 6, 6, 1}};
  for (size_t p = 0; p < prompts.size(); ++p)
    for (int32_t option : {int32_t(7 % V), int32_t(13 % V), int32_t((20 + p) % V)}) {
      tasks::ScoredSequence s;
      s.ids = prompts[p];
      s.ids.push_back(option);
      s.option_len = 1;
      owned.push_back(s);
    }
  tasks::ScoredSequence longer;  // a two-token option keeps its own sequence
  longer.ids = {5, 5, 9, 1, 4};
  longer.option_len = 2;
  owned.push_back(longer);
  std::vector<const tasks::ScoredSequence*> seqs;
  for (const auto& s : owned) seqs.push_back(&s);
  ASSERT_EQ(tasks::plan_option_scoring(seqs, true).runs.size(), 4u);
  const auto want = tasks::option_token_nll(*cpu, seqs, 0, 8, false);
  const auto unshared = tasks::option_token_nll(*gpu, seqs, 0, 8, false);
  const auto shared = tasks::option_token_nll(*gpu, seqs, 0, 8, true);
  for (size_t i = 0; i < seqs.size(); ++i)
    for (size_t j = 0; j < want[i].size(); ++j) {
      EXPECT_NEAR(shared[i][j], unshared[i][j], 1e-5 * (1.0 + std::fabs(want[i][j]))) << "sequence " << i;
      EXPECT_NEAR(shared[i][j], want[i][j], 1e-5 * (1.0 + std::fabs(want[i][j]))) << "sequence " << i;
    }
}

// A shape runs eagerly (a model's first shape twice: the first pass sizes the arena), is captured
// the next time and replayed after: all give the same bits, and a replay with new token values
// equals an engine without graphs.
TEST_P(CudaParity, GraphReplayEqualsEagerLaunches) {
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  std::unique_ptr<cuda::CudaModel> graphs = on_gpu(dir(), DType::BF16, true, true);
  std::unique_ptr<cuda::CudaModel> eager = on_gpu(dir(), DType::BF16, true, false);
  RefBatch rb = read_batch(ref, "right");
  const std::vector<float> first = graphs->forward(rb.batch, rb.valid_rows);
  const std::vector<float> captured = graphs->forward(rb.batch, rb.valid_rows);
  const std::vector<float> replayed = graphs->forward(rb.batch, rb.valid_rows);
  EXPECT_EQ(first, captured);
  EXPECT_EQ(first, replayed);
  EXPECT_EQ(graphs->graphs_captured(), 1);
  for (size_t i = 0; i < rb.batch.ids.size(); ++i)
    if (rb.batch.mask[i]) rb.batch.ids[i] = (rb.batch.ids[i] * 31 + 7) % graphs->config().vocab_size;
  EXPECT_EQ(graphs->forward(rb.batch, rb.valid_rows), eager->forward(rb.batch, rb.valid_rows));
  EXPECT_EQ(graphs->graphs_captured(), 1);
  EXPECT_EQ(eager->graphs_captured(), 0);
  // engine_report: the first pass overflows the empty arena, so the second starts a new arena
  // generation (the seen shape is dropped) and runs eagerly again; the third is captured and the
  // fourth replayed: replayed 1, captured 1, eager 2, one drop.
  EXPECT_EQ(report_numbers(graphs->engine_report(), "CUDA forwards: ", 3), (std::vector<long>{1, 1, 2}))
      << graphs->engine_report();
  EXPECT_EQ(report_numbers(graphs->engine_report(), "graphs dropped ", 1), (std::vector<long>{1}))
      << graphs->engine_report();
  EXPECT_EQ(report_numbers(eager->engine_report(), "CUDA forwards: ", 3), (std::vector<long>{0, 0, 1}))
      << eager->engine_report();
}

// engine.unpadded: the forward on the real tokens alone gives the padded forward's outputs
// (exact fp32: the same sums, GEMMs of fewer rows; TF32 and 16-bit: within the CPU-parity
// tolerances) for every fixture (decoders' LM heads, encoders' MLM and classification heads),
// on right- and left-padded batches, eagerly, captured and replayed, and the losses alike; an
// LM head row on padding falls back to the padded forward instead of failing.
TEST_P(CudaParity, UnpaddedForwardMatchesThePaddedOne) {
  const SafetensorsArchive ref = SafetensorsArchive::open((dir() / "reference.safetensors").string());
  for (const test::DevicePrecision& p : test::kDevicePrecisions) {
    std::unique_ptr<cuda::CudaModel> padded = on_gpu(dir() / p.weights, p.dtype, p.tf32);
    std::unique_ptr<cuda::CudaModel> unpadded = on_gpu(dir() / p.weights, p.dtype, p.tf32, true, true);
    if (padded->config().head == HeadKind::Base) GTEST_SKIP() << "no head: every token's output is read";
    const bool lm = is_lm(*padded);
    const double tolerance = p.tolerance;
    // engine_report's count: forwards with head rows (LM heads: the rows asked for; classification:
    // each sequence's first token), and those of them with a row on padding (kept padded).
    long head_forwards = 0, padding_rows = 0;
    auto count = [&](const Batch& b, const std::vector<int64_t>& asked) {
      std::vector<int64_t> head = asked;
      if (!lm)
        for (int i = 0; i < b.batch; ++i) head.push_back(static_cast<int64_t>(i) * b.seq_len);
      ++head_forwards;
      for (int64_t r : head)
        if (!b.mask[r]) {
          ++padding_rows;
          break;
        }
    };
    for (const char* name : {"right", "left"}) {
      if (!ref.find(std::string(name) + ".input_ids")) continue;
      const RefBatch rb = read_batch(ref, name);
      // LM heads read the real tokens' rows; the classification head each sequence's first.
      const std::vector<int64_t> rows = lm ? rb.valid_rows : std::vector<int64_t>{};
      const std::string what = GetParam() + " batch " + name + ", " + test::precision_name(p);
      const std::vector<float> want = padded->forward(rb.batch, rows);
      const std::vector<float> eager = unpadded->forward(rb.batch, rows);
      const std::vector<float> captured = unpadded->forward(rb.batch, rows);
      const std::vector<float> replayed = unpadded->forward(rb.batch, rows);
      for (int i = 0; i < 3; ++i) count(rb.batch, rows);
      ASSERT_EQ(eager.size(), want.size()) << what;
      EXPECT_LE(rel_error(eager, want), tolerance) << what;
      EXPECT_EQ(captured, eager) << what << ": captured";
      EXPECT_EQ(replayed, eager) << what << ": replayed";
      if (!lm) continue;
      std::vector<int32_t> targets;
      for (size_t i = 0; i < rows.size(); ++i) targets.push_back(static_cast<int32_t>((i * 7919) % padded->output_width()));
      const std::vector<double> loss_want = padded->row_losses(rb.batch, rows, targets);
      const std::vector<double> loss_got = unpadded->row_losses(rb.batch, rows, targets);
      count(rb.batch, rows);
      ASSERT_EQ(loss_got.size(), loss_want.size());
      for (size_t i = 0; i < loss_got.size(); ++i)
        EXPECT_NEAR(loss_got[i], loss_want[i], 10 * tolerance * (1.0 + std::fabs(loss_want[i]))) << what << " row " << i;
      // A head row on a padding slot: the padded forward, the same values as without the option.
      for (int64_t j = 0; j < static_cast<int64_t>(rb.batch.mask.size()); ++j) {
        if (rb.batch.mask[j]) continue;
        const std::vector<int64_t> with_padding = {rows.front(), j};
        EXPECT_EQ(unpadded->forward(rb.batch, with_padding), padded->forward(rb.batch, with_padding))
            << what << ": row on padding";
        count(rb.batch, with_padding);
        break;
      }
    }
    // engine_report: every forward with head rows ran packed but those with a row on padding
    const std::vector<long> packed = report_numbers(unpadded->engine_report(), "engine.unpadded: ", 2);
    EXPECT_EQ(packed, (std::vector<long>{head_forwards - padding_rows, head_forwards})) << unpadded->engine_report();
    EXPECT_GT(head_forwards - padding_rows, 0) << unpadded->engine_report();
    EXPECT_EQ(padded->engine_report().find("engine.unpadded"), std::string::npos) << padded->engine_report();
  }
}

// The device parameter engine against the host one: the same terms with weight decay move
// every trainable value alike (the GPU's normals agree with the CPU's to about 1e-6).
TEST_P(CudaParity, DeviceParameterPassesMatchTheHost) {
  std::unique_ptr<Model> cpu = load_model(dir().string());
  std::unique_ptr<cuda::CudaModel> gpu = on_gpu(dir(), DType::F32, false);
  const TrainableSpace cpu_space = TrainableSpace::select(*cpu, {});
  const TrainableSpace gpu_space = TrainableSpace::select(*gpu, {});
  const std::unique_ptr<ParamEngine> host = make_param_engine(*cpu, cpu_space);
  const std::unique_ptr<ParamEngine> device = make_param_engine(*gpu, gpu_space);
  const std::vector<cpu::DirectionTerm> terms{{5, 3, 0, 0.25f}, {5, 3, 1, -0.5f}, {9, 0, 2, 0.125f}};
  host->apply(terms, DirectionKind::Gaussian, 0.9f);
  device->apply(terms, DirectionKind::Gaussian, 0.9f);
  device->save_snapshot();
  device->apply({{1, 1, 1, 3.0f}}, DirectionKind::Gaussian);
  device->restore_snapshot();
  gpu->sync_params_to_host();
  double max_diff = 0.0, max_value = 0.0;
  for (const TrainableTensor& t : cpu_space.tensors()) {
    const float* a = cpu->params().f32(*t.view);
    const float* b = gpu->params().f32(gpu->params().at(t.view->name));
    for (int64_t i = 0; i < t.view->numel; ++i) {
      max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
      max_value = std::max(max_value, std::fabs(double(a[i])));
    }
  }
  EXPECT_GT(max_value, 0.1);
  EXPECT_LE(max_diff, 1e-5) << "largest value " << max_value;
  EXPECT_EQ(device->checksum(), TrainableSpace::select(*gpu, {}).checksum(gpu->params()));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaParity, ::testing::ValuesIn(parity_cases()),
                         [](const auto& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaParity);

}  // namespace
}  // namespace zotune
