// AdaZeta's optimizer (docs/papers/adazeta.md a.3, a.5): a golden step with fixed losses,
// the schedule driving the probes per step, the update against an independent host
// reference on a quadratic, and agreement with MeZO at the same Q.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/config/run_config.h"
#include "core/optim/adazeta.h"
#include "core/optim/mezo.h"
#include "core/train/run_setup.h"
#include "core/util/error.h"
#include "kernels/cpu/perturb.h"
#include "quadratic_test_util.h"

namespace zotune {
namespace {

// Q fixed at 3, no schedule to derive (the golden step's Q is part of the input).
AdazetaOptions fixed_three() {
  AdazetaOptions o;
  o.seed = 42;
  o.eps = 1e-3;
  o.weight_decay = 0.01;
  o.schedule.fixed = true;
  o.schedule.target = 3;
  o.extent = TrainingExtent{8, 2, 10};
  return o;
}

TEST(Adazeta, GoldenStepWithFixedLosses) {
  Adazeta opt(fixed_three());
  opt.begin_step(7, 0.1);
  const std::vector<Probe> probes = opt.next_probes();
  ASSERT_EQ(probes.size(), 6u);
  for (int j = 0; j < 6; ++j) {
    const int q = j / 2;
    EXPECT_EQ(probes[j].group, q) << j;  // query q's two probes on rank q mod P
    ASSERT_EQ(probes[j].offset.size(), 1u);
    EXPECT_EQ(probes[j].offset[0].seed, 42u);
    EXPECT_EQ(probes[j].offset[0].step, 7u);
    EXPECT_EQ(probes[j].offset[0].query, static_cast<uint32_t>(q));
    EXPECT_EQ(probes[j].offset[0].coeff, j % 2 == 0 ? 1e-3f : -1e-3f) << j;
  }
  // c = (2.5 - 2.3)/0.002 = 100, (1.0 - 1.2)/0.002 = -100, (3.0 - 3.0004)/0.002 = -0.2.
  opt.observe({2.5, 2.3, 1.0, 1.2, 3.0, 3.0004});
  EXPECT_TRUE(opt.next_probes().empty());
  const StepUpdate u = opt.finish();
  ASSERT_EQ(u.terms.size(), 3u);
  // Coefficients -lr c_q / Q = -0.1 c_q / 3: -10/3, +10/3, +0.02/3.
  const double expected[] = {-10.0 / 3.0, 10.0 / 3.0, 0.02 / 3.0};
  for (int q = 0; q < 3; ++q) {
    EXPECT_EQ(u.terms[q].seed, 42u);
    EXPECT_EQ(u.terms[q].step, 7u);
    EXPECT_EQ(u.terms[q].query, static_cast<uint32_t>(q));
    EXPECT_FLOAT_EQ(u.terms[q].coeff, static_cast<float>(expected[q])) << q;
  }
  const std::vector<double>& c = u.vectors.at("finite_differences");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_NEAR(c[0], 100.0, 1e-9);
  EXPECT_NEAR(c[1], -100.0, 1e-9);
  EXPECT_NEAR(c[2], -0.2, 1e-9);
  EXPECT_DOUBLE_EQ(u.loss, (2.5 + 1.0 + 3.0) / 3.0);  // mean of L(θ + ε z_q), as MeZO logs
  EXPECT_FLOAT_EQ(u.decay_scale, 0.999f);             // 1 - lr λ = 1 - 0.1 * 0.01
  EXPECT_EQ(u.forward_passes, 6);
  EXPECT_EQ(u.scalars.at("queries_used"), 3.0);
  EXPECT_EQ(u.scalars.at("epoch"), 1.0);  // step 7, ceil(8 / 2) = 4 steps per epoch
  EXPECT_EQ(u.scalars.at("eps"), 1e-3);
}

TEST(Adazeta, ScheduleSetsTheQueriesOfEachStep) {
  // The code's worked example: 63 steps per epoch, Q = 1 until step 251, 2 from step 252.
  AdazetaOptions o;
  o.schedule.alpha = 0.85;
  o.schedule.target = 20;
  o.schedule.max_queries = 15;
  o.extent = TrainingExtent{1000, 16, 10000};
  Adazeta opt(o);
  const struct {
    uint32_t step;
    int queries;
  } cases[] = {{0, 1}, {251, 1}, {252, 2}, {630, 3}, {6300, 14}, {6363, 15}, {9999, 15}};
  for (const auto& c : cases) {
    opt.begin_step(c.step, 1e-4);
    const std::vector<Probe> probes = opt.next_probes();
    ASSERT_EQ(static_cast<int>(probes.size()), 2 * c.queries) << "step " << c.step;
    EXPECT_EQ(probes.back().group, c.queries - 1);
    std::vector<double> losses(probes.size());
    for (size_t j = 0; j < losses.size(); ++j) losses[j] = 1.0 + 0.001 * static_cast<double>(j);
    opt.observe(losses);
    const StepUpdate u = opt.finish();
    EXPECT_EQ(u.scalars.at("queries_used"), c.queries) << "step " << c.step;
    EXPECT_EQ(static_cast<int>(u.terms.size()), c.queries);
    EXPECT_NEAR(u.scalars.at("query_beta"), 0.6223, 5e-5);
  }
}

TEST(Adazeta, FinishBeforeEveryLossIsAnError) {
  Adazeta opt(fixed_three());
  opt.begin_step(0, 0.1);
  (void)opt.next_probes();
  opt.observe({1.0, 2.0});
  EXPECT_THROW(opt.finish(), Error);
}

using test::host_step;
using test::make_quadratic;
using test::Quadratic;

TEST(Adazeta, UpdateIsMinusLrTimesTheQueryAverageOnAQuadratic) {
  const int n = 48, Q = 4;
  const Quadratic f = make_quadratic(n, 5);
  AdazetaOptions o = fixed_three();
  o.schedule.target = Q;
  o.eps = 1e-2;
  o.weight_decay = 0.0;
  Adazeta opt(o);
  std::vector<float> theta(n);
  for (int i = 0; i < n; ++i) theta[i] = static_cast<float>(0.1 * (i % 7) - 0.3);
  const std::vector<float> before = theta;
  const double lr = 0.05;
  host_step(opt, theta, f, 3, lr);
  // Reference: θ − (lr / Q) Σ_q (z_qᵀ g) z_q with g = aθ − b, z_q regenerated here.
  std::vector<double> expected(before.begin(), before.end());
  for (int q = 0; q < Q; ++q) {
    std::vector<float> z(n);
    cpu::direction(z.data(), n, 0, o.seed, 3, static_cast<uint32_t>(q), DirectionKind::Gaussian);
    double zg = 0;
    for (int i = 0; i < n; ++i) zg += z[i] * (f.a[i] * before[i] - f.b[i]);
    for (int i = 0; i < n; ++i) expected[i] -= lr / Q * zg * z[i];
  }
  double moved = 0;
  for (int i = 0; i < n; ++i) {
    moved += std::fabs(expected[i] - before[i]);
    EXPECT_NEAR(theta[i], expected[i], 2e-4) << i;
  }
  EXPECT_GT(moved / n, 1e-2);  // the step is large against the tolerance
}

TEST(Adazeta, AgreesWithMezoAtTheSameQueries) {
  // Same seed, Q = 3 fixed: AdaZeta's step is MeZO's two-sided 3-SPSA step term for term.
  AdazetaOptions ao = fixed_three();
  Adazeta ada(ao);
  MezoOptions mo;
  mo.seed = ao.seed;
  mo.eps = ao.eps;
  mo.queries = 3;
  mo.weight_decay = ao.weight_decay;
  Mezo mezo(mo);
  const std::vector<double> losses{0.9, 0.7, 1.3, 1.31, 2.0, 1.5};
  StepUpdate u[2];
  ZoOptimizer* opts[2] = {&ada, &mezo};
  for (int k = 0; k < 2; ++k) {
    opts[k]->begin_step(11, 0.02);
    ASSERT_EQ(opts[k]->next_probes().size(), 6u);
    opts[k]->observe(losses);
    u[k] = opts[k]->finish();
  }
  ASSERT_EQ(u[0].terms.size(), u[1].terms.size());
  for (size_t q = 0; q < u[0].terms.size(); ++q) {
    EXPECT_EQ(u[0].terms[q].query, u[1].terms[q].query);
    EXPECT_EQ(u[0].terms[q].coeff, u[1].terms[q].coeff) << q;
  }
  EXPECT_EQ(u[0].loss, u[1].loss);
  EXPECT_EQ(u[0].decay_scale, u[1].decay_scale);
}

TEST(Adazeta, RejectsInvalidOptions) {
  AdazetaOptions o = fixed_three();
  o.eps = 0.0;
  EXPECT_THROW((Adazeta(o)), Error);
  o = fixed_three();
  o.schedule.fixed = false;  // beta auto with T * B = 20 > D = 8 works; min > max does not
  o.schedule.min_queries = 5;
  o.schedule.max_queries = 4;
  EXPECT_THROW((Adazeta(o)), Error);
}

// A run file that names only the model, the task and the method: every value below is what
// resolution gives, checked against the launcher values cited in docs/papers/adazeta.md
// (a.4, a.6: run_all_large_exp.sh, Llama-2-7B; b: HF load_best_model_at_end on dev loss).
const std::string kAdazetaRun = "model:\n  path: x\ntask:\n  name: sst2\noptimizer:\n  name: adazeta\n";

TEST(Adazeta, RunFileDefaultsAreTheLaunchersAndMakeOptimizerUsesTheExtent) {
  const RunConfig c = parse_run_config(kAdazetaRun, "a.yaml");
  EXPECT_EQ(c.text, "model:\n  path: \"x\"\ntask:\n  name: \"sst2\"\noptimizer:\n  name: adazeta\n")
      << "nothing else is set by the file";
  EXPECT_EQ(c.optimizer.name, OptimizerKind::AdaZeta);
  EXPECT_EQ(c.trainable.mode, TrainableMode::Adapter) << "a.2: TT adapters, backbone frozen";
  EXPECT_EQ(c.peft.adapter_bottleneck, 64) << "a.6: bottleneck 64";
  EXPECT_EQ(c.peft.adapter_rank, 5) << "a.6: the launcher's --rank 5";
  EXPECT_EQ(c.optimizer.lr, 1e-4) << "a.6: lr 1e-4";
  EXPECT_EQ(c.optimizer.eps, 1e-3) << "a.6: eps 1e-3";
  EXPECT_EQ(c.optimizer.weight_decay, 0.01) << "a.6: weight decay 0.01";
  EXPECT_EQ(c.optimizer.schedule, LrSchedule::Constant) << "a.6: constant lr";
  EXPECT_EQ(c.run.steps, 10000) << "a.4: STEPS=10000";
  EXPECT_EQ(c.data.batch_size, 16) << "a.4: BS=16";
  EXPECT_EQ(c.data.sampler, MinibatchSampler::Epoch) << "a.5: shuffled HF dataloader epochs";
  EXPECT_EQ(c.eval.every, 200) << "a.6: eval every 200";
  EXPECT_EQ(c.eval.select, EvalSelect::Loss) << "b: load_best_model_at_end, dev loss";
  EXPECT_EQ(c.eval.patience, 0);
  EXPECT_EQ(c.task.sampling, TaskSampling::MeZO) << "a.6: 1000 / 500 / 1000, CB and COPA dev 100";
  EXPECT_EQ(c.optimizer.queries_alpha, 0.85) << "a.4: SHRINK=0.85";
  EXPECT_TRUE(c.optimizer.queries_beta.automatic) << "a.4: run.py overwrites RATE";
  EXPECT_EQ(c.optimizer.queries_target, 20) << "a.4: NUM=20";
  EXPECT_EQ(c.optimizer.queries_min, 1) << "a.4: the single-GPU code floors Q at 1";
  EXPECT_EQ(c.optimizer.queries_max, 15) << "a.4: NUM_MAX=15";
  EXPECT_FALSE(c.optimizer.queries_fixed) << "a.4: no --use_num";
  // 1000 training examples: the worked example of a.4, Q = 2 from step 252 on (4 probes).
  const std::unique_ptr<ZoOptimizer> opt = make_optimizer(c.optimizer, 3, 100, training_extent(c, 1000));
  EXPECT_EQ(opt->name(), "adazeta");
  opt->begin_step(251, 1e-4);
  EXPECT_EQ(opt->next_probes().size(), 2u) << "epoch 3: Q = 1";
  const std::unique_ptr<ZoOptimizer> later = make_optimizer(c.optimizer, 3, 100, training_extent(c, 1000));
  later->begin_step(252, 1e-4);
  EXPECT_EQ(later->next_probes().size(), 4u) << "epoch 4 (step 252 = 4 * 63): Q = 2";
  // Without the extent the schedule cannot find its epochs.
  EXPECT_THROW(make_optimizer(c.optimizer, 3, 100), Error);
}

TEST(Adazeta, RunFileScheduleKeys) {
  const std::string base = "model:\n  path: x\ntask:\n  name: lm\noptimizer:\n  name: adazeta\n";
  const RunConfig c = parse_run_config(base + "  queries_beta: 0.45\n  queries_max: 20\n  queries_fixed: true\n", "b.yaml");
  EXPECT_FALSE(c.optimizer.queries_beta.automatic);
  EXPECT_EQ(c.optimizer.queries_beta.value, 0.45);
  EXPECT_EQ(c.optimizer.queries_max, 20);
  EXPECT_TRUE(c.optimizer.queries_fixed);
  auto error_of = [](const std::string& yaml) {
    try {
      parse_run_config(yaml, "run.yaml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of(base + "  queries_min: 5\n  queries_max: 4\n").find("optimizer.queries_min"), std::string::npos);
  EXPECT_NE(error_of(base + "  queries_beta: -1\n").find("optimizer.queries_beta"), std::string::npos);
  // Schedule keys belong to adazeta alone; MeZO's `queries` does not apply to it.
  EXPECT_NE(error_of("model:\n  path: x\ntask:\n  name: lm\noptimizer:\n  queries_max: 4\n").find("does not apply"),
            std::string::npos);
  EXPECT_NE(error_of(base + "  queries: 3\n").find("does not apply"), std::string::npos);
}

}  // namespace
}  // namespace zotune
