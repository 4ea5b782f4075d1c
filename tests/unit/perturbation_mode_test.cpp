// The perturbation modes (core/train/perturbation_mode.h, weight_moves.h): the reference
// mode's per-term pass against a scalar re-statement of torch's `add_(z, alpha=c)` with z in
// the parameter dtype; the order of its passes for MeZO, BSZO and BSZO-B against the official
// codes' sequences; and whole trajectories on the tiny Llama fixture in bf16: BSZO-B equals
// BSZO (same checksum, same losses, one more forward per step) under exact perturbation,
// differs from it under the reference arithmetic, and with m = k equals pure axis sampling;
// a reference run replays bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/log/run_log_reader.h"
#include "core/model/pretrained.h"
#include "core/optim/bszo.h"
#include "core/optim/mezo.h"
#include "core/optim/trainable_space.h"
#include "core/train/replay.h"
#include "core/train/run_setup.h"
#include "core/train/task_setup.h"
#include "core/train/trainer.h"
#include "core/train/weight_moves.h"
#include "core/util/error.h"
#include "distributed/communicator.h"
#include "io_test_util.h"
#include "train_test_util.h"

namespace zotune {
namespace {

// ---- the per-term pass ----

// x + c round(z), every value in fp32, then rounded: torch's 16-bit add_ (opmath fp32, fma).
uint16_t reference_term_16(uint16_t x, float c, float z, DType dtype) {
  const float zr = cpu::round_to_dtype(z, dtype);
  if (dtype == DType::BF16) return f32_to_bf16(std::fma(c, zr, bf16_to_f32(x)));
  return f32_to_f16(std::fma(c, zr, f16_to_f32(x)));
}

class PerturbInDtype : public ::testing::TestWithParam<DType> {};

TEST_P(PerturbInDtype, RoundsZToTheDtypeAndEachTermOnce) {
  const DType dtype = GetParam();
  const int64_t n = 5003;  // not a multiple of 4: the last Philox block is partial
  const uint64_t first = 6;  // starts inside a Philox block
  std::mt19937 rng(3);
  std::normal_distribution<float> w(0.0f, 0.05f);
  std::vector<float> values(n);
  for (float& v : values) v = w(rng);
  std::vector<uint8_t> x(n * dtype_size(dtype)), fused;
  convert(values.data(), DType::F32, x.data(), dtype, n);
  fused = x;
  const cpu::DirectionTerm term{41, 3, 1, 1e-3f};
  std::vector<float> z(n);
  cpu::direction(z.data(), n, first, term.seed, term.step, term.query, DirectionKind::Gaussian);
  std::vector<uint8_t> want = x;
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == DType::F32) {
      float* p = reinterpret_cast<float*>(want.data()) + i;
      *p = std::fma(term.coeff, z[i], *p);
    } else {
      uint16_t* p = reinterpret_cast<uint16_t*>(want.data()) + i;
      *p = reference_term_16(*p, term.coeff, z[i], dtype);
    }
  }
  cpu::perturb_in_dtype(x.data(), dtype, n, first, term, DirectionKind::Gaussian);
  EXPECT_EQ(x, want);
  // Not the fused pass's arithmetic (fp32 z, one rounding of the fp32 sum) in 16 bits: the
  // test would pass vacuously if rounding z changed nothing.
  cpu::perturb(fused.data(), dtype, n, first, &term, 1, DirectionKind::Gaussian);
  if (dtype != DType::F32) EXPECT_NE(x, fused);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PerturbInDtype, ::testing::Values(DType::F32, DType::F16, DType::BF16));

TEST(PerturbInDtype, RoundToDtypeIsRoundToNearestEven) {
  // 1 + 2^-8 lies halfway between two bf16 values (1 and 1 + 2^-7): it rounds to even (1).
  EXPECT_EQ(cpu::round_to_dtype(1.0f + 0x1p-8f, DType::BF16), 1.0f);
  EXPECT_EQ(cpu::round_to_dtype(1.0f + 3 * 0x1p-8f, DType::BF16), 1.0f + 0x1p-6f);
  EXPECT_EQ(cpu::round_to_dtype(1.0f + 0x1p-11f, DType::F16), 1.0f);
  EXPECT_EQ(cpu::round_to_dtype(0.1f, DType::F32), 0.1f);
}

// ---- the order of the passes ----

// Records every pass as text: "+1e-03*z(step.query)" for an in-dtype term, "decay" for a
// scaling, "fused" for a fused pass, "restore" / "save" for the snapshot.
class RecordingEngine final : public ParamEngine {
 public:
  std::vector<std::string> passes;
  void apply(const std::vector<cpu::DirectionTerm>& terms, DirectionKind, float decay_scale) override {
    if (decay_scale != 1.0f) passes.push_back("decay");
    if (!terms.empty()) passes.push_back("fused");
  }
  void apply_in_dtype(const cpu::DirectionTerm& t, DirectionKind) override {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%+.0e*z%u", static_cast<double>(t.coeff), t.query);
    passes.emplace_back(buf);
  }
  bool supports_tensor_passes() const override { return true; }
  void apply_pass(const TensorPass&, const std::string&) override { passes.push_back("pass"); }
  void save_snapshot() override { passes.push_back("save"); }
  void restore_snapshot() override { passes.push_back("restore"); }
  uint64_t checksum() override { return 0; }
  size_t extra_bytes() const override { return 0; }
};

// Runs one step of `opt` through WeightMoves with made-up losses; returns the passes.
std::vector<std::string> passes_of_one_step(ZoOptimizer& opt, PerturbationMode mode) {
  RecordingEngine engine;
  WeightMoves moves(engine, mode, DirectionKind::Gaussian, opt.name());
  opt.begin_step(0, 1e-2);
  double loss = 1.0;
  for (std::vector<Probe> probes = opt.next_probes(); !probes.empty(); probes = opt.next_probes()) {
    std::vector<double> losses;
    for (const Probe& p : probes) {
      moves.to_probe(p);
      losses.push_back(loss += 0.25);
    }
    opt.observe(losses);
  }
  moves.update(opt.finish());
  return engine.passes;
}

TEST(WeightMoves, MezoReferenceIsPlusEpsMinusTwoEpsPlusEpsThenDecayAndUpdate) {
  MezoOptions o;
  o.eps = 1e-3;
  o.weight_decay = 0.1;
  Mezo mezo(o);
  const std::vector<std::string> want{"+1e-03*z0", "-2e-03*z0", "+1e-03*z0", "decay", "+1e+00*z0"};
  EXPECT_EQ(passes_of_one_step(mezo, PerturbationMode::Reference), want);
}

TEST(WeightMoves, BszoReferencePerturbsAndRestoresEachAxisThenUpdatesPerTerm) {
  BszoOptions o;
  o.eps = 1e-3;
  o.sigma_p = o.sigma_e = 1.0;
  Bszo bszo(o);
  // f0 (no pass), +eps z0, -eps z0, +eps z1, -eps z1; the cached re-measurement takes no
  // forward; the update: one pass per nonzero posterior mean.
  const std::vector<std::string> got = passes_of_one_step(bszo, PerturbationMode::Reference);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(got.begin(), got.begin() + 4),
            (std::vector<std::string>{"+1e-03*z0", "-1e-03*z0", "+1e-03*z1", "-1e-03*z1"}));
  EXPECT_NE(got[4].find("*z0"), std::string::npos);
  EXPECT_NE(got[5].find("*z1"), std::string::npos);
}

TEST(WeightMoves, BszoBRemeasuresTheLastAxisByRestoringAndPerturbingAgain) {
  // Losses 1.25 (f0), 1.5, 1.75: the larger residual comes second, so σe grows and axis 1
  // keeps the larger variance: v4 restores (-eps z1) and perturbs again (+eps z1), two
  // roundings, where a fused move would be no pass at all.
  BszoOptions o;
  o.eps = 1e-3;
  o.sigma_p = o.sigma_e = 1.0;
  o.fresh_remeasure = true;
  Bszo b(o);
  const std::vector<std::string> got = passes_of_one_step(b, PerturbationMode::Reference);
  ASSERT_GE(got.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(got.begin(), got.begin() + 6),
            (std::vector<std::string>{"+1e-03*z0", "-1e-03*z0", "+1e-03*z1", "-1e-03*z1", "+1e-03*z1", "-1e-03*z1"}));
}

TEST(WeightMoves, BszoCentralDifferenceMovesMinusTwoEpsInsideAnObservation) {
  BszoOptions o;
  o.eps = 1e-3;
  o.sigma_p = o.sigma_e = 1.0;
  o.one_sided = false;
  Bszo b(o);
  const std::vector<std::string> got = passes_of_one_step(b, PerturbationMode::Reference);
  ASSERT_GE(got.size(), 6u);
  // The code's _evaluate_directional_derivative_with_seeds: +eps, -2 eps, +eps per axis.
  EXPECT_EQ(std::vector<std::string>(got.begin(), got.begin() + 6),
            (std::vector<std::string>{"+1e-03*z0", "-2e-03*z0", "+1e-03*z0", "+1e-03*z1", "-2e-03*z1", "+1e-03*z1"}));
}

TEST(WeightMoves, ExactModeRestoresTheSnapshotBeforeEveryProbe) {
  MezoOptions o;
  Mezo mezo(o);
  const std::vector<std::string> want{"restore", "fused", "restore", "fused", "restore", "fused", "save"};
  EXPECT_EQ(passes_of_one_step(mezo, PerturbationMode::Exact), want);
}

// ---- trajectories on the tiny Llama fixture, bf16 ----

const std::string kTinyLm = test::fixture_path("train/tiny_lm");

std::string run_yaml(const std::string& optimizer, const std::string& mode, int steps, const std::string& output = "") {
  std::string y = "run:\n  seed: 5\n  steps: " + std::to_string(steps) + "\n  progress: off\n";
  if (!output.empty()) y += "  output: " + output + "\n";
  y += "model:\n  path: " + kTinyLm + "\n  dtype: bf16\n  perturbation: " + mode + "\n";
  y += "task:\n  name: lm\n  max_length: 24\n  texts:\n"
       "    - \"The capital of France is Paris.\"\n"
       "    - \"Zeroth-order methods estimate gradients from forward passes only.\"\n"
       "    - \"A seed and a step number are all it takes to regenerate a direction.\"\n";
  y += "optimizer:\n" + optimizer + "data:\n  batch_size: 2\neval:\n  every: 0\n";
  return y;
}

struct Trajectory {
  std::vector<double> losses;               // the logged loss of every step
  std::vector<std::vector<double>> probes;  // every probe loss of every step
  std::vector<int> forwards;
  uint64_t checksum = 0;
};

Trajectory run_trainer(const std::string& yaml, int steps) {
  const RunConfig config = parse_run_config(yaml, "trajectory.yaml");
  LoadOptions load;
  load.dtype = config.model.dtype;
  Pretrained pretrained = load_pretrained(config.model.path, load);
  Model& model = *pretrained.model;
  std::unique_ptr<Task> task = make_task_splits(config, pretrained.tokenizer, model.config()).train;
  const TrainableSpace space = TrainableSpace::select(model, trainable_selection(config.trainable));
  std::unique_ptr<ZoOptimizer> optimizer = make_optimizer(config.optimizer, config.run.seed, space.size());
  Communicator comm = Communicator::world();
  Trainer trainer(model, space, *optimizer, *task, comm, trainer_options(config));
  Trajectory t;
  for (int s = 0; s < steps; ++s) {
    const StepRecord r = trainer.step(static_cast<uint32_t>(s));
    t.losses.push_back(r.loss);
    t.probes.push_back(r.probe_losses);
    t.forwards.push_back(r.forward_passes);
  }
  t.checksum = trainer.checksum();
  return t;
}

std::string bszo_section(const std::string& name, int k, int m, const std::string& extra = "") {
  return "  name: " + name + "\n  lr: 1e-1\n  eps: 1e-3\n  one_sided: true\n  k: " + std::to_string(k) +
         "\n  m: " + std::to_string(m) + "\n" + extra;
}

TEST(BszoTrajectory, BszoBEqualsBszoUnderExactPerturbationWithOneMoreForward) {
  const int steps = 8;
  const Trajectory a = run_trainer(run_yaml(bszo_section("bszo", 2, 3), "exact", steps), steps);
  const Trajectory b = run_trainer(run_yaml(bszo_section("bszo-b", 2, 3), "exact", steps), steps);
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(a.losses, b.losses);
  for (int s = 0; s < steps; ++s) {
    EXPECT_EQ(a.forwards[s], 3);
    EXPECT_EQ(b.forwards[s], 4);  // the re-measurement: the cached point, measured again
    ASSERT_EQ(b.probes[s].size(), 4u);
    // It evaluates bit-identical weights on the same minibatch: one of the axis losses again.
    EXPECT_TRUE(b.probes[s][3] == b.probes[s][1] || b.probes[s][3] == b.probes[s][2]) << "step " << s;
  }
}

TEST(BszoTrajectory, BszoBDiffersFromBszoUnderTheReferenceArithmeticIn16Bit) {
  const int steps = 8;
  const Trajectory a = run_trainer(run_yaml(bszo_section("bszo", 2, 3), "reference", steps), steps);
  const Trajectory b = run_trainer(run_yaml(bszo_section("bszo-b", 2, 3), "reference", steps), steps);
  EXPECT_NE(a.checksum, b.checksum);
  // The first step's f0 is the same point; the re-measurement sees the residues of the axis
  // probes, so at least one step's re-measured loss differs from the cached axis loss.
  EXPECT_EQ(a.losses[0], b.losses[0]);
  bool remeasure_differs = false;
  for (int s = 0; s < steps; ++s)
    remeasure_differs = remeasure_differs || (b.probes[s][3] != b.probes[s][1] && b.probes[s][3] != b.probes[s][2]);
  EXPECT_TRUE(remeasure_differs);
}

TEST(BszoTrajectory, BszoBWithMEqualKIsPureAxisSampling) {
  const int steps = 6;
  for (const char* mode : {"exact", "reference"}) {
    const Trajectory b = run_trainer(run_yaml(bszo_section("bszo-b", 2, 2), mode, steps), steps);
    const Trajectory a = run_trainer(run_yaml(bszo_section("bszo", 2, 2), mode, steps), steps);
    const Trajectory axes =
        run_trainer(run_yaml(bszo_section("bszo", 2, 2, "  adaptive_sampling: false\n"), mode, steps), steps);
    EXPECT_EQ(b.checksum, a.checksum) << mode;
    EXPECT_EQ(b.checksum, axes.checksum) << mode;
    EXPECT_EQ(b.losses, axes.losses) << mode;
    EXPECT_EQ(b.forwards, std::vector<int>(steps, 3)) << mode;
  }
}

TEST(BszoTrajectory, ReferenceRunsReplayBitForBit) {
  for (const std::string& optimizer :
       {bszo_section("bszo-b", 2, 3), std::string("  name: mezo\n  lr: 1e-2\n  eps: 1e-3\n  weight_decay: 0.5\n")}) {
    test::TempDir dir;
    const std::string log = dir.file("run.h5");
    const TrainOutcome trained = test::train_quietly(run_yaml(optimizer, "reference", 5, log), dir.path());
    LoadOptions load;
    load.dtype = DType::BF16;
    std::unique_ptr<Model> model = load_model(kTinyLm, load);
    const ReplayResult r = replay_run(*model, RunLogReader::open(log));
    EXPECT_EQ(r.checksum, trained.checksum) << optimizer;
    ASSERT_TRUE(r.logged_checksum.has_value());
    // Applying the logged updates alone (the exact mode's replay) would not give these bits.
    std::unique_ptr<Model> base = load_model(kTinyLm, load);
    EXPECT_NE(TrainableSpace::select(*base, {}).checksum(base->params()), trained.checksum);
  }
}

}  // namespace
}  // namespace zotune
