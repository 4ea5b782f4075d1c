// PEFT modules (core/peft): TT adapter shapes and trainable counts on the real Llama-2-7B and
// RoBERTa-large shapes (declared only, nothing allocated; adazeta.md a.2's totals), the
// adapter forward against a dense reference built from tt_dense, LoRA against merged weights
// W + (alpha/r) B A, and a short MeZO run in trainable.mode adapter that lowers the loss, moves
// only PEFT tensors and replays to its checksum.
#include "core/peft/peft_modules.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/io/safetensors.h"
#include "core/log/run_log_reader.h"
#include "core/model/model.h"
#include "core/optim/trainable_space.h"
#include "core/train/replay.h"
#include "core/train/run_setup.h"
#include "core/util/error.h"
#include "io_test_util.h"
#include "random_test_util.h"
#include "kernels/cpu/tt_linear.h"
#include "train_test_util.h"
#ifdef ZOTUNE_HAVE_CUDA
#include "core/cuda/cuda_model.h"
#endif

namespace zotune {
namespace {

namespace fs = std::filesystem;
using test::error_of;

const fs::path kRepoRoot = fs::path(ZOTUNE_FIXTURES_DIR).parent_path().parent_path();
const std::string kTinyLm = test::fixture_path("train/tiny_lm");

ModelConfig shape_config(const std::string& name) {
  return parse_hf_config((kRepoRoot / "experiments" / "benchmarks" / "shapes" / name / "config.json").string());
}

PeftSettings adapter_settings(int64_t bottleneck = 64, int64_t rank = 5) {
  PeftSettings p;
  p.kind = PeftKind::Adapter;
  p.adapter_bottleneck = bottleneck;
  p.adapter_rank = rank;
  return p;
}

int64_t peft_numel(const Model& m) {
  int64_t n = 0;
  for (const ParamView& v : m.params().views())
    if (v.name.rfind("peft.", 0) == 0) n += v.numel;
  return n;
}

TEST(PeftShapes, AdazetaTtShapesFromTheHiddenSize) {
  const cpu::TtShape d7 = adapter_down_shape(Architecture::Llama, 4096, 64, 5);
  EXPECT_EQ(d7.modes, (std::vector<int>{16, 16, 16, 4, 4, 4}));
  EXPECT_EQ(d7.in_modes, 3);
  EXPECT_EQ(d7.cores_numel(), 1100);
  const cpu::TtShape u7 = adapter_up_shape(Architecture::Llama, 4096, 64, 5);
  EXPECT_EQ(u7.modes, (std::vector<int>{4, 4, 4, 16, 16, 16}));
  EXPECT_EQ(u7.in_modes, 3);
  EXPECT_EQ(u7.in(), 64);
  EXPECT_EQ(u7.out(), 4096);
  const cpu::TtShape dr = adapter_down_shape(Architecture::RoBERTa, 1024, 64, 5);
  EXPECT_EQ(dr.modes, (std::vector<int>{8, 8, 16, 8, 8}));
  EXPECT_EQ(dr.in_modes, 3);
  EXPECT_EQ(dr.cores_numel(), 880);
  const cpu::TtShape ur = adapter_up_shape(Architecture::RoBERTa, 1024, 64, 5);
  EXPECT_EQ(ur.modes, (std::vector<int>{8, 8, 16, 8, 8}));
  EXPECT_EQ(ur.in_modes, 2);
  EXPECT_EQ(ur.out(), 1024);
  // The tiny fixture's hidden size 16 = 2 * 2 * 4.
  EXPECT_EQ(adapter_down_shape(Architecture::Llama, 16, 8, 3).modes, (std::vector<int>{2, 2, 4, 2, 2, 2}));
  // 14 = 2 * 7 has no three factors >= 2.
  const std::string e = error_of([] { adapter_down_shape(Architecture::Llama, 14, 64, 5); });
  EXPECT_NE(e.find("hidden size 14"), std::string::npos) << e;
  EXPECT_NE(e.find("hidden sizes with at least three prime factors"), std::string::npos) << e;
}

// adazeta.md a.2: 3 adapters x 32 layers x 6,360 = 610,560 (211,200 in TT cores).
TEST(PeftCounts, Llama2_7bCodePlacement) {
  std::unique_ptr<Model> m = declare_model(shape_config("llama-2-7b"), DType::BF16, adapter_settings());
  EXPECT_FALSE(m->params().allocated());
  EXPECT_EQ(peft_numel(*m), 610560);
  EXPECT_EQ(m->peft().numel(), 610560);
  EXPECT_EQ(m->params().numel(DType::F32), 610560);  // fp32 modules over the bf16 backbone
  int64_t cores = 0;
  for (const ParamView& v : m->params().views())
    if (v.name.find(".core.") != std::string::npos) cores += v.numel;
  EXPECT_EQ(cores, 211200);
  const ParamView& core2 = m->params().at("peft.layers.3.mlp.gate_proj.adapter.down.core.2");
  EXPECT_EQ(core2.shape, (std::vector<int64_t>{5, 16, 5}));
  EXPECT_EQ(m->params().at("peft.layers.31.mlp.down_proj.adapter.up.bias").shape, (std::vector<int64_t>{4096}));
  TrainableSelection sel;
  sel.mode = TrainableSelection::Mode::Peft;
  const TrainableSpace space = TrainableSpace::select(*m, sel);
  EXPECT_EQ(space.size(), 610560u);
  for (const TrainableTensor& t : space.tensors()) {
    EXPECT_EQ(param_role(t.view->name), ParamRole::Peft) << t.view->name;
    const bool bias = t.view->name.size() > 5 && t.view->name.substr(t.view->name.size() - 5) == ".bias";
    EXPECT_EQ(t.weight_decay, !bias) << t.view->name;
  }
  // The paper's placement: 2 adapters per layer.
  PeftSettings paper = adapter_settings();
  paper.adapter_placement = AdapterPlacement::Paper;
  EXPECT_EQ(peft_numel(*declare_model(shape_config("llama-2-7b"), DType::BF16, paper)), 2 * 32 * 6360);
}

// 2 Houlsby adapters x 24 layers x 2,848 = 136,704.
TEST(PeftCounts, RobertaLarge) {
  std::unique_ptr<Model> m = declare_model(shape_config("roberta-large"), DType::F32, adapter_settings());
  EXPECT_EQ(peft_numel(*m), 136704);
  EXPECT_EQ(m->params().at("peft.layers.0.attention.output.adapter.down.core.2").shape,
            (std::vector<int64_t>{5, 16, 5}));
  EXPECT_EQ(m->params().at("peft.layers.23.output.adapter.up.bias").shape, (std::vector<int64_t>{1024}));
}

// MeZO's LoRA (r 8, q and v) on Llama-2-7B: 32 x 2 x (8 x 4096 + 4096 x 8) = 4,194,304.
TEST(PeftCounts, LoraOnLlama2_7b) {
  PeftSettings p;
  p.kind = PeftKind::Lora;
  std::unique_ptr<Model> m = declare_model(shape_config("llama-2-7b"), DType::F16, p);
  EXPECT_EQ(peft_numel(*m), 4194304);
  EXPECT_EQ(m->params().at("peft.layers.0.self_attn.q_proj.lora_A").shape, (std::vector<int64_t>{8, 4096}));
  EXPECT_EQ(m->params().at("peft.layers.0.self_attn.v_proj.lora_B").shape, (std::vector<int64_t>{4096, 8}));
  EXPECT_EQ(m->params().find("peft.layers.0.self_attn.k_proj.lora_A"), nullptr);
}

std::unique_ptr<Model> load_tiny(const PeftSettings& peft) {
  LoadOptions load;
  load.peft = peft;
  return load_model(kTinyLm, load);
}

Batch tiny_batch() {
  return Batch::from_sequences({{72, 101, 108, 108, 111, 32}, {84, 104, 101, 32}}, 256);
}

// a(h) = h + s U(ReLU(D h)) with D, U as dense matrices from tt_dense, in double.
TEST(PeftAdapter, ForwardMatchesDenseReference) {
  PeftSettings p = adapter_settings(8, 3);
  p.adapter_scale = 0.7;
  p.seed = 11;
  std::unique_ptr<Model> m = load_tiny(p);
  const int C = 16, b = 8, N = 5;
  const ParamStore& ps = m->params();
  const std::string a = "peft.layers.1.mlp.gate_proj.adapter.";
  const cpu::TtShape down = adapter_down_shape(Architecture::Llama, C, b, 3), up = adapter_up_shape(Architecture::Llama, C, b, 3);
  const std::vector<float> Wd = cpu::tt_dense(down, static_cast<const float*>(ps.data(ps.at(a + "down.core.0"))));
  const std::vector<float> Wu = cpu::tt_dense(up, static_cast<const float*>(ps.data(ps.at(a + "up.core.0"))));
  const float* bd = static_cast<const float*>(ps.data(ps.at(a + "down.bias")));
  const float* bu = static_cast<const float*>(ps.data(ps.at(a + "up.bias")));
  ASSERT_EQ(Wd.size(), static_cast<size_t>(C * b));
  const std::vector<float> h = test::uniform_vector(static_cast<size_t>(N) * C, 5);
  std::vector<float> got = h;
  ASSERT_TRUE(m->peft().has_adapter(1, AdapterPoint::GateInput));
  m->peft().adapt(1, AdapterPoint::GateInput, got.data(), N, ps);
  double max_err = 0.0, max_delta = 0.0;
  for (int n = 0; n < N; ++n) {
    std::vector<double> mid(b);
    for (int j = 0; j < b; ++j) {
      double s = bd[j];
      for (int i = 0; i < C; ++i) s += static_cast<double>(h[n * C + i]) * Wd[static_cast<size_t>(i) * b + j];
      mid[j] = s > 0 ? s : 0;
    }
    for (int i = 0; i < C; ++i) {
      double s = bu[i];
      for (int j = 0; j < b; ++j) s += mid[j] * Wu[static_cast<size_t>(j) * C + i];
      const double want = h[n * C + i] + 0.7 * s;
      max_err = std::max(max_err, std::fabs(want - got[n * C + i]));
      max_delta = std::max(max_delta, std::fabs(0.7 * s));
    }
  }
  EXPECT_LT(max_err, 1e-5);
  EXPECT_GT(max_delta, 1e-2);  // the adapter is not the identity at init (adazeta.md d.7)

  // Init statistics (a.1): an entry of the dense D has variance 1 / (in + out) in expectation
  // (r^(p-1) rank paths, each a product of p entries of variance s^(2/p) / r_i). The entries of
  // one TT layer share cores, so average the mean square over the 48 layers of RoBERTa-large.
  PeftSettings big = adapter_settings(64, 5);
  std::unique_ptr<Model> m2 = declare_model(shape_config("roberta-large"), DType::F32, big);
  m2->params().allocate();
  m2->peft().initialize(m2->params(), 3);
  const cpu::TtShape dr = adapter_down_shape(Architecture::RoBERTa, 1024, 64, 5);
  double ss = 0.0;
  size_t count = 0;
  for (int l = 0; l < 24; ++l)
    for (const char* where : {".attention.output", ".output"}) {
      const std::string core0 = "peft.layers." + std::to_string(l) + where + ".adapter.down.core.0";
      const std::vector<float> W = cpu::tt_dense(dr, static_cast<const float*>(m2->params().data(m2->params().at(core0))));
      for (float w : W) ss += static_cast<double>(w) * w;
      count += W.size();
    }
  const double variance_ratio = ss / count * (1024 + 64);
  EXPECT_NEAR(variance_ratio, 1.0, 0.4) << variance_ratio;
  const std::vector<float> bias_values(static_cast<const float*>(m2->params().data(m2->params().at("peft.layers.0.output.adapter.up.bias"))),
                                       static_cast<const float*>(m2->params().data(m2->params().at("peft.layers.0.output.adapter.up.bias"))) + 1024);
  float lo = 1, hi = -1;
  for (float v : bias_values) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_GE(lo, -1.0f / 32);  // U(+-1/sqrt(1024))
  EXPECT_LE(hi, 1.0f / 32);
  EXPECT_LT(lo, -0.9f / 32);
  EXPECT_GT(hi, 0.9f / 32);
}

// In the model: scale 0 or U = 0 is the plain model bit for bit; otherwise the logits move.
TEST(PeftAdapter, ModelHooksAtTheCodePlacement) {
  const Batch batch = tiny_batch();
  const std::vector<float> plain = load_tiny({})->forward(batch);
  PeftSettings p = adapter_settings(8, 3);
  std::unique_ptr<Model> m = load_tiny(p);
  EXPECT_EQ(m->peft().tensor_names().size(), 2u * 3 * 2 * (6 + 1));  // layers x adapters x (D, U) x (cores + bias)
  const std::vector<float> adapted = m->forward(batch);
  double diff = 0.0;
  for (size_t i = 0; i < plain.size(); ++i) diff = std::max(diff, std::fabs(static_cast<double>(plain[i]) - adapted[i]));
  EXPECT_GT(diff, 1e-3);
  // U's cores zero: U(.) = its bias; zero that too and every adapter is the identity.
  for (const std::string& name : m->peft().tensor_names())
    if (name.find(".adapter.up.") != std::string::npos) {
      const ParamView& v = m->params().at(name);
      std::memset(m->params().data(v), 0, static_cast<size_t>(v.numel) * sizeof(float));
    }
  EXPECT_EQ(m->forward(batch), plain);
  PeftSettings zero = p;
  zero.adapter_scale = 0.0;
  EXPECT_EQ(load_tiny(zero)->forward(batch), plain);
}

TEST(PeftAdapter, TinyHiddenSizeWithoutShapeIsAnError) {
  ModelConfig c = parse_hf_config(kTinyLm + "/config.json");
  c.hidden_size = 22;  // 2 * 11
  const std::string e = error_of([&] { declare_model(c, DType::F32, adapter_settings()); });
  EXPECT_NE(e.find("hidden size 22"), std::string::npos) << e;
}

// LoRA with B = 0 leaves the logits unchanged; with B != 0 the model equals the plain one
// with the merged weights W + (alpha / r) B A on q_proj and v_proj.
TEST(PeftLora, ZeroBIsThePlainModelAndLoraEqualsMergedWeights) {
  const Batch batch = tiny_batch();
  std::unique_ptr<Model> plain = load_tiny({});
  const std::vector<float> base = plain->forward(batch);
  PeftSettings p;
  p.kind = PeftKind::Lora;
  p.lora_rank = 4;
  p.lora_alpha = 6.0;
  p.seed = 2;
  std::unique_ptr<Model> m = load_tiny(p);
  EXPECT_EQ(m->forward(batch), base);
  // Kaiming-uniform A: |A| <= 1/sqrt(in) = 0.25, not all tiny.
  const ParamView& a0 = m->params().at("peft.layers.0.self_attn.q_proj.lora_A");
  float amax = 0;
  for (int64_t i = 0; i < a0.numel; ++i) amax = std::max(amax, std::fabs(m->params().f32(a0)[i]));
  EXPECT_LE(amax, 0.25f);
  EXPECT_GT(amax, 0.2f);

  const double scale = 6.0 / 4;
  for (int l = 0; l < 2; ++l) {
    for (const char* proj : {"q_proj", "v_proj"}) {
      const std::string base_name = "model.layers." + std::to_string(l) + ".self_attn." + proj;
      const std::string peft_name = "peft.layers." + std::to_string(l) + ".self_attn." + proj;
      const ParamView& A = m->params().at(peft_name + ".lora_A");
      const ParamView& B = m->params().at(peft_name + ".lora_B");
      const std::vector<float> b = test::uniform_vector(static_cast<size_t>(B.numel), 100 + l, 0.3f);
      std::memcpy(m->params().f32(B), b.data(), b.size() * sizeof(float));
      const ParamView& W = plain->params().at(base_name + ".weight");
      const int64_t out = W.shape[0], in = W.shape[1], r = 4;
      float* w = plain->params().f32(W);
      const float* av = m->params().f32(A);
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i) {
          double s = 0;
          for (int64_t k = 0; k < r; ++k) s += static_cast<double>(b[o * r + k]) * av[k * in + i];
          w[o * in + i] = static_cast<float>(w[o * in + i] + scale * s);
        }
    }
  }
  const std::vector<float> lora = m->forward(batch), merged = plain->forward(batch);
  double err = 0.0, moved = 0.0;
  for (size_t i = 0; i < base.size(); ++i) {
    err = std::max(err, std::fabs(static_cast<double>(lora[i]) - merged[i]));
    moved = std::max(moved, std::fabs(static_cast<double>(lora[i]) - base[i]));
  }
  EXPECT_LT(err, 1e-4);
  EXPECT_GT(moved, 1e-2);
}

TEST(PeftConfig, RunFileSectionAndTrainableModes) {
  const std::string yaml = "model:\n  path: m\ntask:\n  name: lm\n  texts: [\"a\"]\ntrainable:\n  mode: lora\n"
                           "peft:\n  lora_rank: 5\n  lora_targets: [q, k, o]\n";
  const RunConfig c = parse_run_config(yaml, "peft.yaml");
  const PeftSettings p = peft_settings(c);
  EXPECT_EQ(p.kind, PeftKind::Lora);
  EXPECT_EQ(p.lora_rank, 5);
  EXPECT_EQ(p.lora_targets, (std::vector<LoraTarget>{LoraTarget::Q, LoraTarget::K, LoraTarget::O}));
  EXPECT_EQ(trainable_selection(c.trainable).mode, TrainableSelection::Mode::Peft);
  // The schema's defaults are PeftSettings' own.
  const RunConfig d = parse_run_config("model:\n  path: m\ntask:\n  name: lm\n  texts: [\"a\"]\n", "d.yaml");
  const PeftSettings defaults;
  EXPECT_EQ(peft_settings(d).kind, PeftKind::None);
  EXPECT_EQ(d.peft.seed, defaults.seed);
  EXPECT_EQ(d.peft.adapter_bottleneck, defaults.adapter_bottleneck);
  EXPECT_EQ(d.peft.adapter_rank, defaults.adapter_rank);
  EXPECT_EQ(d.peft.adapter_scale, defaults.adapter_scale);
  EXPECT_EQ(d.peft.adapter_placement, defaults.adapter_placement);
  EXPECT_EQ(d.peft.lora_rank, defaults.lora_rank);
  EXPECT_EQ(d.peft.lora_alpha, defaults.lora_alpha);
  EXPECT_EQ(d.peft.lora_targets, defaults.lora_targets);
  const std::string bad = error_of([] {
    parse_run_config("model:\n  path: m\ntask:\n  name: lm\n  texts: [\"a\"]\npeft:\n  lora_targets: [q, x]\n", "b.yaml");
  });
  EXPECT_NE(bad.find("peft.lora_targets"), std::string::npos) << bad;
}

TEST(PeftTraining, MezoAdapterRunTrainsOnlyPeftTensorsAndReplays) {
  test::TempDir dir;
  const std::string log = (dir.path() / "adapter.h5").string(), saved = (dir.path() / "trained.safetensors").string();
  const std::string yaml =
      "run:\n  seed: 3\n  steps: 60\n  progress: off\n  output: " + log + "\n  save: " + saved + "\n"
      "model:\n  path: " + kTinyLm + "\n"
      "task:\n  name: lm\n  max_length: 24\n  texts:\n"
      "    - \"The capital of France is Paris.\"\n"
      "    - \"Zeroth-order methods estimate gradients from forward passes only.\"\n"
      "trainable:\n  mode: adapter\n"
      "peft:\n  adapter_bottleneck: 8\n  adapter_rank: 3\n  seed: 4\n"
      "optimizer:\n  name: mezo\n  lr: 2e-2\n  eps: 1e-3\n  weight_decay: 0.01\n"
      "data:\n  batch_size: 2\neval:\n  every: 0\n";
  const TrainOutcome out = test::train_quietly(yaml, dir.path());
  std::unique_ptr<Model> fresh = load_tiny(peft_settings(parse_run_config(yaml, "x.yaml")));
  EXPECT_EQ(out.trainable_params, static_cast<uint64_t>(fresh->peft().numel()));
  // D [2,2,4,2,2,2] rank 3: 102 core entries + 8 bias; U [2,2,2,4,2,2]: 102 + 16; 3 adapters x 2 layers.
  EXPECT_EQ(out.trainable_params, 2u * 3 * (102 + 8 + 102 + 16));
  ASSERT_TRUE(out.initial_loss && out.final_loss);
  EXPECT_LT(*out.final_loss, *out.initial_loss - 0.01) << *out.initial_loss << " -> " << *out.final_loss;

  // The saved weights: backbone bytes as in the base file, every PEFT tensor moved from its init.
  LoadOptions load;
  load.peft = peft_settings(parse_run_config(yaml, "x.yaml"));
  std::unique_ptr<Model> trained = load_model(saved, load);
  // Replay onto the base model with the run's PEFT modules gives the run's checksum.
  test::expect_peft_run_trained_and_replays(*fresh, *trained, log, out.checksum);
  const RunLogReader reader = RunLogReader::open(log);
  // Without the PEFT modules the model is not the one trained.
  std::unique_ptr<Model> plain = load_tiny({});
  EXPECT_NE(error_of([&] { replay_run(*plain, reader); }), "");
}

#ifdef ZOTUNE_HAVE_CUDA
// The CUDA engine takes LoRA, adapter and prefix models (tests/cuda/engine/cuda_peft_test.cpp
// and cuda_prefix_test.cpp compare their logits with this engine's): with a GPU they load,
// without one the only error is the missing device's, never a refusal of the modules.
TEST(PeftCuda, DeviceEngineTakesLoraAdapterAndPrefixModels) {
  PeftSettings lora, prefix;
  lora.kind = PeftKind::Lora;
  prefix.kind = PeftKind::Prefix;
  for (const PeftSettings& p : {adapter_settings(8, 3), lora, prefix}) {
    const std::string e = error_of([&] { cuda::CudaModel::from_host(load_tiny(p), {}); });
    EXPECT_TRUE(e.empty() || e.find("no usable CUDA device") != std::string::npos) << e;
  }
}
#endif

}  // namespace
}  // namespace zotune
