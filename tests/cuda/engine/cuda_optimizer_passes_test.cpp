// The stateful baselines' parameter passes on the CUDA engine against the host engine's
// closures (core/optim/{mezo_adam,hizoo,lozo,sparse_mezo}.cpp, the reference): the same
// optimizer re-run on the same probe losses (replay_optimizer, no forward pass) over the llama
// parity fixture's weights on each engine, then the weights and the optimizer state compared.
//
// Every pass computes the host's fp32 operations in the host's order (kernels/cuda/zo_passes.cu),
// so with Rademacher directions and the uniform mask draws, whose bits the device reproduces,
// the two engines agree bit for bit, in both perturbation modes and every storage dtype. With
// Gaussian directions the device's z is within kDeviceZAbsError of the CPU's
// (kernels/common/philox.h): the weights agree to a tolerance stated per case. Skipped without
// a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/cuda/cuda_model.h"
#include "core/optim/hizoo.h"
#include "core/optim/lozo.h"
#include "core/optim/mezo_adam.h"
#include "core/optim/sparse_mezo.h"
#include "core/optim/trainable_space.h"
#include "core/train/param_engine.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "engine_test_util.h"
#include "kernels/cuda/device.cuh"
#include "../../unit/io_test_util.h"
#include "../../unit/parity_test_util.h"

namespace zotune {
namespace {

using MakeOptimizer = std::function<std::unique_ptr<ZoOptimizer>(uint64_t trainable_params, DirectionKind kind)>;

struct PassCase {
  std::string name;
  MakeOptimizer make;
  int probes = 2;  // probe losses per step
  double lr = 1e-2;
  bool reference_mode = false;
};

// gtest prints a case by its name (not its bytes) in test listings.
void PrintTo(const PassCase& c, std::ostream* os) { *os << c.name; }

std::string weights_file(DType dtype) {
  const std::string dir = (test::parity_dir() / "llama_gqa").string();
  switch (dtype) {
    case DType::F16: return dir + "/model_f16.safetensors";
    case DType::BF16: return dir + "/model_bf16.safetensors";
    case DType::F32: break;
  }
  return dir + "/model.safetensors";
}

std::unique_ptr<Model> load_fixture(DType dtype) {
  LoadOptions opt;
  opt.dtype = dtype;
  return load_model(weights_file(dtype), opt);
}

// Made-up probe losses of `steps` steps (finite differences of either sign, a curvature for HiZOO).
std::vector<LoggedStepInputs> step_inputs(int steps, int probes, double lr) {
  std::vector<LoggedStepInputs> in;
  for (int s = 0; s < steps; ++s) {
    LoggedStepInputs step;
    step.step = static_cast<uint32_t>(s);
    step.lr = lr * (1.0 - 0.1 * s);
    if (probes == 3)  // HiZOO: ℓ0, ℓ⁺, ℓ⁻
      step.probe_losses = {1.0, 1.0 + 0.003 * (s % 3 + 1), 1.0 - 0.001 * (s + 1)};
    else
      step.probe_losses = {1.0 + 0.002 * std::sin(s + 1.0), 1.0 - 0.0015 * std::cos(static_cast<double>(s))};
    in.push_back(step);
  }
  return in;
}

// The case's optimizer re-run on `model` for `steps` steps through the model's engine (host or
// device), the engine released afterwards (the state lives on in the optimizer).
std::unique_ptr<ZoOptimizer> run_case(Model& model, const PassCase& c, DirectionKind kind, int steps) {
  const TrainableSpace space = TrainableSpace::select(model, TrainableSelection{});
  std::unique_ptr<ZoOptimizer> opt = c.make(space.size(), kind);
  const std::unique_ptr<ParamEngine> engine = make_param_engine(model, space);
  replay_optimizer(*engine, *opt, step_inputs(steps, c.probes, c.lr), steps, kind,
                   c.reference_mode ? PerturbationMode::Reference : PerturbationMode::Exact);
  if (model.on_device()) model.sync_params_to_host();
  return opt;
}

// The trainable values of `model` (host copy) widened to fp32, in space order.
std::vector<float> trainable_values(const Model& model) {
  const TrainableSpace space = TrainableSpace::select(model, TrainableSelection{});
  std::vector<float> out(static_cast<size_t>(space.size()));
  for (const TrainableTensor& t : space.tensors())
    convert(model.params().data(*t.view), t.view->dtype, out.data() + t.first, DType::F32,
            static_cast<size_t>(t.view->numel));
  return out;
}

// Bit for bit, or (tolerance > 0) |gpu − cpu| <= tolerance at all but `allowed_outliers`
// elements and <= outlier_bound at every element; `relative`: the differences divided by
// max(1, |cpu|) first.
void expect_values_agree(const std::vector<float>& cpu, const std::vector<float>& gpu, const std::string& what,
                         double tolerance = 0.0, size_t allowed_outliers = 0, double outlier_bound = 0.0,
                         bool relative = false) {
  ASSERT_EQ(cpu.size(), gpu.size()) << what;
  size_t outliers = 0, first_bad = cpu.size();
  double worst = 0.0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double scale = relative ? std::max(1.0, std::fabs(static_cast<double>(cpu[i]))) : 1.0;
    const double d = std::fabs(static_cast<double>(gpu[i]) - static_cast<double>(cpu[i])) / scale;
    const bool same = tolerance == 0.0 ? std::memcmp(&cpu[i], &gpu[i], sizeof(float)) == 0 : d <= tolerance;
    if (!same) {
      ++outliers;
      if (first_bad == cpu.size()) first_bad = i;
    }
    if (std::isnan(d) || d > worst) worst = std::isnan(d) ? INFINITY : d;
  }
  EXPECT_LE(outliers, allowed_outliers) << what << ": " << outliers << " of " << cpu.size()
                                        << " values differ beyond " << tolerance << "; first at " << first_bad
                                        << " (cpu " << (first_bad < cpu.size() ? cpu[first_bad] : 0.0f) << ", gpu "
                                        << (first_bad < cpu.size() ? gpu[first_bad] : 0.0f) << ")";
  if (tolerance > 0.0) {
    EXPECT_LE(worst, std::max(tolerance, outlier_bound)) << what << ": the largest difference";
  }
}

// The optimizer's per-parameter state on the host (downloaded from the device for the GPU run).
std::vector<std::vector<float>> state_of(const ZoOptimizer& opt) {
  if (const auto* a = dynamic_cast<const MezoAdam*>(&opt)) return {a->first_moment(), a->second_moment()};
  if (const auto* h = dynamic_cast<const Hizoo*>(&opt)) return {h->hessian()};
  return {};
}

std::vector<PassCase> pass_cases() {
  std::vector<PassCase> cases;
  for (const bool reference : {false, true}) {
    const std::string mode = reference ? "Reference" : "Exact";
    cases.push_back({"MezoAdam" + mode,
                     [](uint64_t n, DirectionKind kind) {
                       MezoAdamOptions o;
                       o.seed = 7, o.eps = 1e-3, o.weight_decay = 0.1, o.trainable_params = n, o.kind = kind;
                       return std::make_unique<MezoAdam>(o);
                     },
                     2, 1e-3, reference});
    cases.push_back({"Hizoo" + mode,
                     [](uint64_t n, DirectionKind kind) {
                       HizooOptions o;
                       // α = 1e-3 with a curvature of ~1e3: Σ moves by ~z² per step.
                       o.seed = 7, o.eps = 1e-3, o.hessian_smoothing = 1e-3, o.weight_decay = 0.05;
                       o.trainable_params = n, o.kind = kind;
                       return std::make_unique<Hizoo>(o);
                     },
                     3, 1e-2, reference});
  }
  // Rank 3: U and V offsets off the 4-element Philox blocks; refresh every 2 steps: V of
  // windows 0 and 2. Rank 20 leaves the [16, 32] k/v projections on the plain direction.
  for (const int rank : {3, 20})
    cases.push_back({"LozoRank" + std::to_string(rank),
                     [rank](uint64_t, DirectionKind kind) {
                       LozoOptions o;
                       o.seed = 7, o.eps = 1e-3, o.rank = rank, o.refresh_every = 2, o.weight_decay = 0.1, o.kind = kind;
                       return std::make_unique<Lozo>(o);
                     },
                     2, 1e-2, false});
  for (const SparseMaskKind mask : {SparseMaskKind::Magnitude, SparseMaskKind::Random})
    cases.push_back({mask == SparseMaskKind::Magnitude ? "SparseMezoMagnitude" : "SparseMezoRandom",
                     [mask](uint64_t, DirectionKind kind) {
                       SparseMezoOptions o;
                       o.seed = 7, o.eps = 1e-3, o.sparsity = 0.75, o.mask = mask, o.weight_decay = 0.1, o.kind = kind;
                       return std::make_unique<SparseMezo>(o);
                     },
                     2, 1e-2, false});
  return cases;
}

class CudaOptimizerPasses : public ::testing::TestWithParam<PassCase> {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  }
};

// Rademacher directions: every operation the same on both engines, the weights and the state
// bit for bit after 4 steps, in fp32 and (the reference arithmetic rounds into them) 16 bits.
TEST_P(CudaOptimizerPasses, RademacherPassesMatchTheHostBitForBit) {
  const PassCase& c = GetParam();
  for (const DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    std::unique_ptr<Model> host = load_fixture(dtype);
    std::unique_ptr<cuda::CudaModel> gpu = test::to_gpu(load_fixture(dtype), false);
    const std::vector<float> before = trainable_values(*host);
    const std::unique_ptr<ZoOptimizer> host_opt = run_case(*host, c, DirectionKind::Rademacher, 4);
    const std::unique_ptr<ZoOptimizer> gpu_opt = run_case(*gpu, c, DirectionKind::Rademacher, 4);
    const std::vector<float> want = trainable_values(*host);
    ASSERT_NE(want, before) << "the passes moved nothing: the test could not fail";
    expect_values_agree(want, trainable_values(*gpu), c.name + " weights");
    const std::vector<std::vector<float>> hs = state_of(*host_opt), gs = state_of(*gpu_opt);
    ASSERT_EQ(hs.size(), gs.size());
    for (size_t a = 0; a < hs.size(); ++a) expect_values_agree(hs[a], gs[a], c.name + " state array " + std::to_string(a));
  }
}

// Gaussian directions (fp32): z differs by <= kDeviceZAbsError, the updates by that times their
// coefficient. Tolerances: the directions' coefficients are ~1e-2 (lr c, eps), LOZO's U Vᵀ sums
// r products, so 1e-5 absolute on weights of ~0.02-1 (a few fp32 ulp beyond the bound). Adam's step is ±lr per element whatever z's size, and its ratio m/√v
// is sensitive to z near 0: a few elements in 1e3 may differ by up to 2 lr. Sparse-MeZO's
// magnitude mask compares the moved weights with a fixed threshold: one step only (the first
// mask reads the identical initial weights).
TEST_P(CudaOptimizerPasses, GaussianPassesMatchTheHostToTheDirectionsTolerance) {
  const PassCase& c = GetParam();
  const bool adam = c.name.rfind("MezoAdam", 0) == 0;
  const int steps = c.name == "SparseMezoMagnitude" ? 1 : 3;
  std::unique_ptr<Model> host = load_fixture(DType::F32);
  std::unique_ptr<cuda::CudaModel> gpu = test::to_gpu(load_fixture(DType::F32), false);
  const std::unique_ptr<ZoOptimizer> host_opt = run_case(*host, c, DirectionKind::Gaussian, steps);
  const std::unique_ptr<ZoOptimizer> gpu_opt = run_case(*gpu, c, DirectionKind::Gaussian, steps);
  const std::vector<float> want = trainable_values(*host);
  const size_t outliers = adam ? want.size() / 1000 + 1 : 0;
  expect_values_agree(want, trainable_values(*gpu), c.name + " weights", 1e-5, outliers, adam ? 2.5 * c.lr : 0.0);
  const std::vector<std::vector<float>> hs = state_of(*host_opt), gs = state_of(*gpu_opt);
  ASSERT_EQ(hs.size(), gs.size());
  // m ~ 0.1 c z and v ~ 1e-3 c² z² (c ~ 2) move by c dz; Σ grows by a factor 1 + z² per step,
  // so relative 2 z dz / (1 + z²) <= 1e-5 per step.
  for (size_t a = 0; a < hs.size(); ++a)
    expect_values_agree(hs[a], gs[a], c.name + " state array " + std::to_string(a), 1e-4, 0, 0.0, true);
}

// The cases themselves, on the host engine alone (runs without a GPU): each moves the weights
// in every dtype and mode, so the comparisons above can fail.
TEST(CudaOptimizerPassCases, EachCaseMovesTheWeightsOnTheHost) {
  for (const PassCase& c : pass_cases())
    for (const DirectionKind kind : {DirectionKind::Rademacher, DirectionKind::Gaussian}) {
      SCOPED_TRACE(c.name);
      std::unique_ptr<Model> host = load_fixture(DType::BF16);
      const std::vector<float> before = trainable_values(*host);
      const std::unique_ptr<ZoOptimizer> opt = run_case(*host, c, kind, 2);
      const std::vector<float> after = trainable_values(*host);
      size_t moved = 0;
      for (size_t i = 0; i < after.size(); ++i) moved += after[i] != before[i];
      EXPECT_GT(moved, after.size() / 10) << "of " << after.size();
    }
}

INSTANTIATE_TEST_SUITE_P(Baselines, CudaOptimizerPasses, ::testing::ValuesIn(pass_cases()),
                         [](const ::testing::TestParamInfo<PassCase>& info) { return info.param.name; });

// A pass with no device form (a bare host closure) is refused by name on the CUDA engine.
TEST(CudaOptimizerPassesRefusal, AHostOnlyPassNamesTheOptimizerAndTheKey) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  std::unique_ptr<cuda::CudaModel> gpu = test::to_gpu(load_fixture(DType::F32), false);
  const TrainableSpace space = TrainableSpace::select(*gpu, TrainableSelection{});
  const std::unique_ptr<ParamEngine> engine = make_param_engine(*gpu, space);
  const TensorPass host_only([](size_t, const TrainableTensor&, float*) {});
  const std::string err = test::error_of([&] { engine->apply_pass(host_only, "my-optimizer"); });
  EXPECT_NE(err.find("optimizer my-optimizer"), std::string::npos) << err;
  EXPECT_NE(err.find("engine.device: cpu"), std::string::npos) << err;
}

}  // namespace
}  // namespace zotune
