// The baselines of baselines.md sections 3-6 (core/optim/{mezo_adam,sparse_mezo,lozo,hizoo}):
// golden single steps with fixed losses on tiny hand-made tensors (each expected value written
// out in closed form here, in double, from the documented update; the directions come from
// kernels/cpu/perturb as the engine draws them), the documented defaults of their run-file
// keys, and short runs on the tiny Llama fixture that lower the loss and replay bit for bit
// (replay re-runs the optimizer on the logged probe losses).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/log/run_log_reader.h"
#include "core/model/pretrained.h"
#include "core/optim/hizoo.h"
#include "core/optim/lozo.h"
#include "core/optim/mezo_adam.h"
#include "core/optim/sparse_mezo.h"
#include "core/optim/trainable_space.h"
#include "core/train/replay.h"
#include "core/train/run_setup.h"
#include "core/train/task_setup.h"
#include "core/train/trainer.h"
#include "distributed/communicator.h"
#include "core/util/error.h"
#include "io_test_util.h"
#include "train_test_util.h"

namespace zotune {
namespace {

using test::error_of;
using test::TempDir;

// One fp32 tensor of the trainable space: its view and its place in the global index.
struct HostTensor {
  ParamView view;
  TrainableTensor t;
  HostTensor(std::vector<int64_t> shape, uint64_t first, bool decay = true) {
    view.name = "model.layers.0.w";
    view.shape = std::move(shape);
    view.numel = shape_numel(view.shape);
    t.view = &view;
    t.first = first;
    t.weight_decay = decay;
  }
  HostTensor(const HostTensor&) = delete;
};

std::vector<float> z_of(int64_t n, uint64_t first, uint64_t seed, uint32_t step) {
  std::vector<float> z(static_cast<size_t>(n));
  cpu::direction(z.data(), n, first, seed, step, 0, DirectionKind::Gaussian);
  return z;
}

// Runs a step's probe rounds on fixed losses and returns the update.
StepUpdate step_with(ZoOptimizer& opt, uint32_t step, double lr, const std::vector<double>& losses,
                     std::vector<Probe>* probes_out = nullptr) {
  opt.begin_step(step, lr);
  std::vector<Probe> probes = opt.next_probes();
  EXPECT_EQ(probes.size(), losses.size());
  opt.observe(losses);
  EXPECT_TRUE(opt.next_probes().empty());
  if (probes_out) *probes_out = probes;
  return opt.finish();
}

// ---- MeZO-Adam ----

TEST(MezoAdam, FirstStepIsASignStepThenTorchAdam) {
  HostTensor w({5}, 3);  // first = 3: the moments are indexed by the global index
  MezoAdamOptions o;
  o.seed = 11, o.eps = 1e-3, o.trainable_params = 8;
  MezoAdam adam(o);
  const double lr = 0.01;
  std::vector<Probe> probes;
  // c = (1.25 - 1.0) / 2e-3 = 125.
  StepUpdate u = step_with(adam, 0, lr, {1.25, 1.0}, &probes);
  ASSERT_EQ(probes.size(), 2u);
  EXPECT_EQ(probes[0].offset.size(), 1u);
  EXPECT_FLOAT_EQ(probes[0].offset[0].coeff, 1e-3f);
  EXPECT_FLOAT_EQ(probes[1].offset[0].coeff, -1e-3f);
  EXPECT_TRUE(u.terms.empty());
  ASSERT_TRUE(u.pass);
  EXPECT_DOUBLE_EQ(u.vectors.at("finite_differences")[0], 125.0);
  EXPECT_DOUBLE_EQ(u.loss, 1.25);
  const std::vector<float> x0 = {0.5f, -1.0f, 2.0f, 0.25f, -0.75f};
  std::vector<float> x = x0;
  u.pass(0, w.t, x.data());
  const std::vector<float> z0 = z_of(5, 3, 11, 0);
  // t = 1: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + 1e-8) = lr * sign(z) (to 1e-10).
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(x[i], x0[i] - lr * (z0[i] > 0 ? 1.0 : -1.0), 1e-6) << i;

  // t = 2 with c = (0.9 - 1.0) / 2e-3 = -50: the torch.optim.Adam recurrence in double.
  const std::vector<float> x1 = x;
  u = step_with(adam, 1, lr, {0.9, 1.0});
  u.pass(0, w.t, x.data());
  const std::vector<float> z1 = z_of(5, 3, 11, 1);
  for (int i = 0; i < 5; ++i) {
    const double g0 = 125.0 * z0[i], g1 = -50.0 * z1[i];
    const double m = 0.9 * (0.1 * g0) + 0.1 * g1;
    const double v = 0.999 * (0.001 * g0 * g0) + 0.001 * g1 * g1;
    const double bias1 = 1 - 0.81, bias2 = 1 - 0.999 * 0.999;
    const double expected = x1[i] - (lr / bias1) * m / (std::sqrt(v) / std::sqrt(bias2) + 1e-8);
    EXPECT_NEAR(x[i], expected, 2e-6) << i;
    EXPECT_NEAR(adam.first_moment()[3 + i], m, 1e-4 * std::fabs(m)) << i;
  }
  EXPECT_EQ(adam.first_moment()[0], 0.0f);  // outside the tensor: untouched
}

TEST(MezoAdam, WeightDecayIsTorchsCoupledL2OnWeightsOnly) {
  HostTensor w({3}, 0, /*decay=*/true), bias({3}, 3, /*decay=*/false);
  MezoAdamOptions o;
  o.seed = 5, o.trainable_params = 6, o.weight_decay = 0.5, o.eps = 0.1;
  MezoAdam adam(o);
  // c = 0 (equal losses): g = λθ on weights, 0 on the bias.
  StepUpdate u = step_with(adam, 0, 0.1, {2.0, 2.0});
  std::vector<float> xw = {1.0f, -2.0f, 4.0f}, xb = {1.0f, -2.0f, 4.0f};
  u.pass(0, w.t, xw.data());
  u.pass(1, bias.t, xb.data());
  const std::vector<float> expect_w = {0.9f, -1.9f, 3.9f};  // sign step of g = 0.5 θ
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(xw[i], expect_w[i], 1e-6);
    EXPECT_EQ(xb[i], (std::vector<float>{1.0f, -2.0f, 4.0f})[i]);
  }
}

// ---- Sparse-MeZO ----

TEST(SparseMezo, MagnitudeThresholdIsTheKeptRankOfTheInitialWeights) {
  const std::vector<float> x = {0.1f, -2.0f, 0.3f, 5.0f, -0.2f};
  EXPECT_FLOAT_EQ(sparse_mezo_threshold(x.data(), 5, 0.6), 0.2f);   // keep ceil(0.4 * 5) = 2: {0.1, 0.2}
  EXPECT_FLOAT_EQ(sparse_mezo_threshold(x.data(), 5, 0.0), 5.0f);   // s = 0: everything (MeZO)
  EXPECT_FLOAT_EQ(sparse_mezo_threshold(x.data(), 5, 0.8), 0.1f);   // keep 1
  EXPECT_FLOAT_EQ(sparse_mezo_threshold(x.data(), 5, 0.99), 0.1f);  // ceil(0.05) = 1
}

TEST(SparseMezo, MagnitudeMaskGoldenStep) {
  HostTensor w({5}, 0);
  SparseMezoOptions o;
  o.seed = 21, o.eps = 1e-2, o.sparsity = 0.6, o.weight_decay = 0.1;
  SparseMezo opt(o);
  const std::vector<float> x0 = {0.1f, -2.0f, 0.3f, 5.0f, -0.2f};
  const std::vector<float> z = z_of(5, 0, 21, 0);
  const bool mask[5] = {true, false, false, false, true};  // |x| <= 0.2
  std::vector<Probe> probes;
  // c = (3.0 - 2.0) / 2e-2 = 50.
  StepUpdate u = step_with(opt, 0, 0.01, {3.0, 2.0}, &probes);
  ASSERT_EQ(probes.size(), 2u);
  ASSERT_TRUE(probes[0].pass && probes[1].pass);
  for (int p = 0; p < 2; ++p) {
    std::vector<float> x = x0;
    probes[p].pass(0, w.t, x.data());
    const double sign = p == 0 ? 1.0 : -1.0;
    for (int i = 0; i < 5; ++i) EXPECT_NEAR(x[i], x0[i] + (mask[i] ? sign * 1e-2 * z[i] : 0.0), 1e-7) << p << " " << i;
  }
  std::vector<float> x = x0;
  u.pass(0, w.t, x.data());
  // θ ← (1 − ηλ)θ − η c m⊙z = 0.999 θ − 0.5 m⊙z.
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(x[i], 0.999 * x0[i] - (mask[i] ? 0.5 * z[i] : 0.0), 1e-6) << i;
  EXPECT_NE(x[0], x0[0]);
}

TEST(SparseMezo, RandomMaskKeepsOneMinusSparsityAndAgreesBetweenProbeAndUpdate) {
  const int64_t n = 20000;
  HostTensor w({n}, 40);
  SparseMezoOptions o;
  o.seed = 3, o.eps = 1.0, o.sparsity = 0.75, o.mask = SparseMaskKind::Random;
  SparseMezo opt(o);
  std::vector<Probe> probes;
  StepUpdate u = step_with(opt, 7, 1.0, {1.5, 0.5}, &probes);  // c = 0.5: update = -0.5 m⊙z
  std::vector<float> plus(n, 0.0f), upd(n, 0.0f);
  probes[0].pass(0, w.t, plus.data());
  u.pass(0, w.t, upd.data());
  std::vector<float> draw(n);
  cpu::uniform(draw.data(), n, 40, 3 ^ kMaskStream, 7, 0);
  const std::vector<float> z = z_of(n, 40, 3, 7);
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = draw[i] >= 0.75f;
    kept += keep;
    EXPECT_EQ(plus[i], keep ? z[i] : 0.0f);
    EXPECT_EQ(upd[i], keep ? -0.5f * z[i] : 0.0f);
  }
  EXPECT_NEAR(static_cast<double>(kept) / n, 0.25, 0.01);  // AdaZeta's code keeps 25%
}

// ---- LOZO ----

TEST(Lozo, MatrixProbeIsCoeffTimesUVtAndVectorsGetZ) {
  HostTensor m({3, 4}, 8), v({5}, 20);
  LozoOptions o;
  o.seed = 9, o.eps = 1e-2, o.rank = 2, o.refresh_every = 3;
  Lozo opt(o);
  std::vector<Probe> probes;
  StepUpdate u = step_with(opt, 4, 0.1, {1.2, 1.0}, &probes);  // c = 10; window of step 4 = 3
  EXPECT_EQ(opt.window_of(4), 3u);
  EXPECT_EQ(opt.window_of(5), 3u);
  EXPECT_EQ(opt.window_of(6), 6u);
  std::vector<float> U(6), V(8);
  cpu::direction(U.data(), 6, 8, 9, 4, 0, DirectionKind::Gaussian);
  cpu::direction(V.data(), 8, 8, 9 ^ kLowRankVStream, 3, 0, DirectionKind::Gaussian);
  std::vector<float> x(12, 1.0f);
  probes[0].pass(0, m.t, x.data());
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 4; ++b) {
      const double p = double(U[a * 2]) * V[b * 2] + double(U[a * 2 + 1]) * V[b * 2 + 1];
      EXPECT_NEAR(x[a * 4 + b], 1.0 + 1e-2 * p, 1e-6) << a << "," << b;
    }
  // The update adds -lr c U Vᵀ = -1 * U Vᵀ (decay by the engine: decay_scale 1 here).
  std::vector<float> y(12, 0.0f);
  u.pass(0, m.t, y.data());
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 4; ++b)
      EXPECT_NEAR(y[a * 4 + b], -(double(U[a * 2]) * V[b * 2] + double(U[a * 2 + 1]) * V[b * 2 + 1]), 1e-5);
  // The 2 x 2 minors of a rank-2 3 x 4 matrix: all 3 x 3 minors vanish.
  auto det3 = [&](int c0, int c1, int c2) {
    auto e = [&](int r, int c) { return double(y[r * 4 + c]); };
    return e(0, c0) * (e(1, c1) * e(2, c2) - e(1, c2) * e(2, c1)) - e(0, c1) * (e(1, c0) * e(2, c2) - e(1, c2) * e(2, c0)) +
           e(0, c2) * (e(1, c0) * e(2, c1) - e(1, c1) * e(2, c0));
  };
  EXPECT_NEAR(det3(0, 1, 2), 0.0, 1e-4);
  EXPECT_NEAR(det3(1, 2, 3), 0.0, 1e-4);
  // A vector gets the plain z.
  std::vector<float> xv(5, 0.0f);
  probes[1].pass(1, v.t, xv.data());
  const std::vector<float> zv = z_of(5, 20, 9, 4);
  for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(xv[i], -1e-2f * zv[i]);
  EXPECT_FLOAT_EQ(u.decay_scale, 1.0f);
}

TEST(Lozo, VIsSharedInsideAWindowAndRedrawnAtItsEnd) {
  HostTensor m({4, 3}, 0);
  LozoOptions o;
  o.seed = 2, o.eps = 1.0, o.rank = 1, o.refresh_every = 2;
  Lozo opt(o);
  // Rank 1: the probe is u vᵀ; rows are multiples of v, so the ratio of two columns of one
  // row is v_b / v_b', the same at steps 0 and 1 (one window) and different at step 2.
  auto probe_of = [&](uint32_t step) {
    std::vector<Probe> probes;
    step_with(opt, step, 0.1, {1.0, 1.0}, &probes);
    std::vector<float> x(12, 0.0f);
    probes[0].pass(0, m.t, x.data());
    return x;
  };
  const std::vector<float> s0 = probe_of(0), s1 = probe_of(1), s2 = probe_of(2);
  EXPECT_NEAR(s0[1] / s0[0], s1[1] / s1[0], 1e-4 * (1 + std::fabs(s0[1] / s0[0])));
  EXPECT_NEAR(s0[2] / s0[0], s1[2] / s1[0], 1e-4 * (1 + std::fabs(s0[2] / s0[0])));
  EXPECT_NE(s0[0], s1[0]);  // U is fresh every step
  EXPECT_GT(std::fabs(s0[1] / s0[0] - s2[1] / s2[0]), 1e-3);
  EXPECT_EQ(error_of([] { Lozo bad(LozoOptions{.rank = 0}); }), "lozo: optimizer.rank must be at least 1");
}

// ---- HiZOO ----

TEST(Hizoo, GoldenStepsWithTheHessianRecurrence) {
  HostTensor w({4}, 1), b({2}, 5, /*decay=*/false);
  HizooOptions o;
  o.seed = 17, o.eps = 0.1, o.hessian_smoothing = 0.5, o.weight_decay = 0.2, o.trainable_params = 7;
  Hizoo opt(o);
  std::vector<Probe> probes;
  // l0 = 1, l+ = 1.3, l- = 0.9: c = 0.4 / 0.2 = 2, |l+ + l- - 2 l0| / (2 eps^2) = 0.2 / 0.02 = 10.
  StepUpdate u = step_with(opt, 0, 0.05, {1.0, 1.3, 0.9}, &probes);
  ASSERT_EQ(probes.size(), 3u);
  EXPECT_TRUE(probes[0].offset.empty() && !probes[0].pass);  // ℓ0 at the unperturbed weights
  EXPECT_NE(probes[0].group, probes[1].group);
  EXPECT_DOUBLE_EQ(u.loss, 1.0);
  EXPECT_NEAR(u.scalars.at("hessian_sample"), 10.0, 1e-12);
  EXPECT_EQ(u.forward_passes, 3);
  const std::vector<float> x0 = {0.5f, -1.0f, 2.0f, 0.0f};
  const std::vector<float> z = z_of(4, 1, 17, 0);
  {  // Σ = 1 at step 0: the probe is θ + ε z.
    std::vector<float> x = x0;
    probes[1].pass(0, w.t, x.data());
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(x[i], x0[i] + 0.1 * z[i], 1e-7);
  }
  std::vector<float> x = x0;
  u.pass(0, w.t, x.data());
  std::vector<double> sigma(4);
  for (int i = 0; i < 4; ++i) {
    sigma[i] = 0.5 * 1.0 + 0.5 * 10.0 * (1.0 * z[i] * z[i]);  // Σ ← (1-α)Σ + α·10·Σ z²
    // θ ← θ − η (c z / √Σ_new + λ θ), λ on every tensor.
    EXPECT_NEAR(x[i], x0[i] - 0.05 * (2.0 * z[i] / std::sqrt(sigma[i]) + 0.2 * x0[i]), 1e-6) << i;
    EXPECT_NEAR(opt.hessian()[1 + i], sigma[i], 1e-5 * sigma[i]);
  }
  EXPECT_EQ(opt.hessian()[0], 1.0f);
  std::vector<float> xb = {1.0f, 1.0f};
  u.pass(1, b.t, xb.data());
  EXPECT_LT(xb[0] + xb[1], 2.0f + 4 * 0.05f * 2.0f);  // the bias moves (and decays) too
  // Step 1's probes read the new Σ: θ ± ε z / √Σ.
  step_with(opt, 1, 0.05, {1.0, 1.0, 1.0}, &probes);
  const std::vector<float> z1 = z_of(4, 1, 17, 1);
  std::vector<float> p = x0;
  probes[2].pass(0, w.t, p.data());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(p[i], x0[i] - 0.1 * z1[i] / std::sqrt(sigma[i]), 1e-6) << i;
}

TEST(Hizoo, ZeroSmoothingKeepsSigmaAtOneSoTheStepIsMezos) {
  HostTensor w({6}, 0);
  HizooOptions o;
  o.seed = 4, o.eps = 1e-3, o.hessian_smoothing = 0.0, o.trainable_params = 6;
  Hizoo opt(o);
  StepUpdate u = step_with(opt, 3, 0.1, {1.0, 1.002, 0.999});  // c = 1.5
  std::vector<float> x(6, 0.0f);
  u.pass(0, w.t, x.data());
  const std::vector<float> z = z_of(6, 0, 4, 3);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(x[i], -0.1 * 1.5 * z[i], 1e-6);
}

// ---- Run files: defaults, and what the keys apply to ----

std::string minimal_run(const std::string& optimizer_body) {
  return "model:\n  path: m\ntask:\n  name: lm\n  texts:\n    - \"a\"\noptimizer:\n" + optimizer_body;
}

TEST(BaselineConfig, DocumentedDefaults) {
  const RunConfig adam = parse_run_config(minimal_run("  name: mezo-adam\n"), "adam.yaml");
  EXPECT_EQ(adam.optimizer.name, OptimizerKind::MeZOAdam);
  EXPECT_DOUBLE_EQ(adam.optimizer.beta1, 0.9);
  EXPECT_DOUBLE_EQ(adam.optimizer.beta2, 0.999);
  EXPECT_DOUBLE_EQ(adam.optimizer.adam_eps, 1e-8);
  const RunConfig hizoo = parse_run_config(minimal_run("  name: hizoo\n"), "hizoo.yaml");
  EXPECT_DOUBLE_EQ(hizoo.optimizer.hessian_smoothing, 1e-8);
  const RunConfig lozo = parse_run_config(minimal_run("  name: lozo\n"), "lozo.yaml");
  EXPECT_EQ(lozo.optimizer.rank, 2);
  EXPECT_EQ(lozo.optimizer.refresh_every, 50);
  const RunConfig sparse = parse_run_config(minimal_run("  name: sparse-mezo\n"), "sparse.yaml");
  EXPECT_DOUBLE_EQ(sparse.optimizer.sparsity, 0.8);
  EXPECT_EQ(sparse.optimizer.mask, SparseMask::Magnitude);
  const RunConfig random = parse_run_config(minimal_run("  name: sparse-mezo\n  mask: random\n  sparsity: 0.75\n"), "r.yaml");
  EXPECT_EQ(random.optimizer.mask, SparseMask::Random);
  // Keys of one method are errors under another, naming the key.
  const std::string err = error_of([] { parse_run_config(minimal_run("  name: mezo\n  rank: 4\n"), "bad.yaml"); });
  EXPECT_NE(err.find("optimizer.rank"), std::string::npos) << err;
  const std::string range = error_of([] { parse_run_config(minimal_run("  name: sparse-mezo\n  sparsity: 1\n"), "s.yaml"); });
  EXPECT_NE(range.find("optimizer.sparsity"), std::string::npos) << range;
}

// ---- Training on the tiny fixture: the loss goes down, replay rebuilds the weights ----

const std::string kTinyLm = test::fixture_path("train/tiny_lm");

std::string tiny_run(const std::string& optimizer, int steps, const std::string& output,
                     const std::string& perturbation = "exact") {
  std::string y = "run:\n  seed: 3\n  steps: " + std::to_string(steps) + "\n  progress: off\n  output: " + output + "\n";
  y += "model:\n  path: " + kTinyLm + "\n  dtype: f32\n  perturbation: " + perturbation + "\n";
  y += "task:\n  name: lm\n  max_length: 32\n  texts:\n"
       "    - \"The capital of France is Paris.\"\n"
       "    - \"Zeroth-order methods estimate gradients from forward passes only.\"\n"
       "    - \"A seed and a step number are all it takes to regenerate a direction.\"\n"
       "    - \"Every rank holds a full replica of the model.\"\n";
  y += "optimizer:\n" + optimizer + "data:\n  batch_size: 2\neval:\n  every: 0\n";
  return y;
}

void expect_trains_and_replays(const std::string& optimizer, int steps, double min_drop) {
  TempDir dir;
  const std::string log = dir.file("run.h5");
  const TrainOutcome out = test::train_quietly(tiny_run(optimizer, steps, log), dir.path());
  ASSERT_TRUE(out.initial_loss && out.final_loss);
  EXPECT_LT(*out.final_loss, *out.initial_loss - min_drop) << *out.initial_loss << " -> " << *out.final_loss;
  const RunLogReader reader = RunLogReader::open(log);
  EXPECT_EQ(reader.updates().size(), 0u) << "tensor-pass optimizers log no /updates rows";
  LoadOptions load;
  std::unique_ptr<Model> model = load_model(kTinyLm, load);
  const ReplayResult r = replay_run(*model, reader);
  EXPECT_EQ(r.steps_replayed, steps);
  ASSERT_TRUE(r.logged_checksum.has_value());
  EXPECT_EQ(r.checksum, out.checksum) << "replay re-runs the recurrence bit for bit";
}

TEST(BaselineTraining, MezoAdamLowersTheLossAndReplays) {
  expect_trains_and_replays("  name: mezo-adam\n  lr: 1e-3\n  eps: 1e-3\n", 60, 0.05);
}

TEST(BaselineTraining, SparseMezoMagnitudeLowersTheLossAndReplays) {
  expect_trains_and_replays("  name: sparse-mezo\n  lr: 2e-3\n  eps: 1e-3\n  sparsity: 0.5\n", 150, 0.05);
}

TEST(BaselineTraining, SparseMezoRandomLowersTheLossAndReplays) {
  expect_trains_and_replays("  name: sparse-mezo\n  mask: random\n  sparsity: 0.75\n  lr: 3e-3\n  eps: 1e-3\n", 150, 0.05);
}

TEST(BaselineTraining, LozoLowersTheLossAndReplays) {
  expect_trains_and_replays("  name: lozo\n  lr: 1e-3\n  eps: 1e-3\n  rank: 2\n  refresh_every: 10\n  weight_decay: 0.1\n",
                            150, 0.05);
}

TEST(BaselineTraining, HizooLowersTheLossAndReplays) {
  expect_trains_and_replays("  name: hizoo\n  lr: 1e-3\n  eps: 1e-3\n  hessian_smoothing: 1e-6\n", 150, 0.05);
}

TEST(BaselineTraining, InPlacePerturbationIsRefusedNamingTheKey) {
  TempDir dir;
  const std::string err = error_of(
      [&] { test::train_quietly(tiny_run("  name: mezo-adam\n", 2, dir.file("run.h5"), "inplace"), dir.path()); });
  EXPECT_NE(err.find("mezo-adam"), std::string::npos) << err;
  EXPECT_NE(err.find("model.perturbation: exact"), std::string::npos) << err;
}

// Under model.perturbation: reference, HiZOO's Σ and MeZO-Adam's moments hold values of the
// parameter dtype (as the official code allocates them); under exact they stay fp32, so the
// same check fails there (the test can fail).
std::vector<float> state_after_steps(const std::string& optimizer, const std::string& perturbation, int steps) {
  std::string yaml = tiny_run(optimizer, steps, "", perturbation);
  yaml.replace(yaml.find("dtype: f32"), 10, "dtype: bf16");
  yaml.replace(yaml.find("  output: \n"), 11, "");
  const RunConfig config = parse_run_config(yaml, "state.yaml");
  LoadOptions load;
  load.dtype = DType::BF16;
  Pretrained pretrained = load_pretrained(config.model.path, load);
  std::unique_ptr<Task> task = make_task_splits(config, pretrained.tokenizer, pretrained.model->config()).train;
  const TrainableSpace space = TrainableSpace::select(*pretrained.model, trainable_selection(config.trainable));
  std::unique_ptr<ZoOptimizer> opt = make_optimizer(config.optimizer, config.run.seed, space.size());
  Communicator comm = Communicator::world();
  Trainer trainer(*pretrained.model, space, *opt, *task, comm, trainer_options(config));
  for (int s = 0; s < steps; ++s) trainer.step(static_cast<uint32_t>(s));
  if (const auto* h = dynamic_cast<const Hizoo*>(opt.get())) return h->hessian();
  const auto* a = dynamic_cast<const MezoAdam*>(opt.get());
  std::vector<float> both = a->first_moment();
  both.insert(both.end(), a->second_moment().begin(), a->second_moment().end());
  return both;
}

int64_t not_in_bf16(const std::vector<float>& v) {
  int64_t n = 0;
  for (const float x : v) n += cpu::round_to_dtype(x, DType::BF16) != x;
  return n;
}

TEST(BaselineReference, HizooAndMezoAdamStateIsRoundedToTheParameterDtype) {
  for (const std::string optimizer : {std::string("  name: hizoo\n  lr: 1e-3\n  eps: 1e-2\n  hessian_smoothing: 1e-2\n"),
                                      std::string("  name: mezo-adam\n  lr: 1e-3\n  eps: 1e-2\n")}) {
    const std::vector<float> reference = state_after_steps(optimizer, "reference", 4);
    const std::vector<float> exact = state_after_steps(optimizer, "exact", 4);
    EXPECT_EQ(not_in_bf16(reference), 0) << optimizer;
    EXPECT_GT(not_in_bf16(exact), static_cast<int64_t>(exact.size() / 10)) << optimizer;
  }
}

TEST(BaselineReference, OptimizersWithoutReferenceArithmeticAreRefusedNamingThem) {
  TempDir dir;
  const std::string err = error_of([&] {
    test::train_quietly(tiny_run("  name: lozo\n", 2, dir.file("run.h5"), "reference"), dir.path());
  });
  EXPECT_NE(err.find("lozo"), std::string::npos) << err;
  EXPECT_NE(err.find("reference"), std::string::npos) << err;
}

}  // namespace
}  // namespace zotune
