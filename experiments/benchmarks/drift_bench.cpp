// zotune_drift_bench: how far perturb/restore alone moves the weights, per perturbation mode
// (core/train/perturbation_mode.h), with no update. For each mode the model starts from the
// same bits and runs N steps of an optimizer's probe sequence through WeightMoves, the code
// the trainer runs, with every update empty:
//   mezo: +eps z, -2 eps z, then back (MeZO's +eps z restore), one direction per step;
//   bszo: +eps z_i then back, for i < k (BSZO's axis probes; the re-measurement adds nothing
//         new to the pattern).
// At each checkpoint it compares the trainable weights with the start: the relative L2 norm
// of the difference ||theta - theta0|| / ||theta0||, the fraction of elements whose bits
// changed, and the largest difference in units in the last place of the storage dtype.
// Output: one line per (mode, checkpoint), the numbers of docs/PRECISION.md.
//
//   zotune_drift_bench MODEL --dtype bf16 --device cuda --eps 1e-3 --steps 100,1000 --sequence mezo
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/config/run_config.h"
#include "core/model/model.h"
#include "core/optim/trainable_space.h"
#include "core/train/engine_setup.h"
#include "core/train/param_engine.h"
#include "core/train/weight_moves.h"
#include "core/util/error.h"
#include "distributed/communicator.h"
#include "distributed/world.h"

using namespace zotune;

namespace {

// Bits of element i as an integer that orders like the value (sign-magnitude to two's
// complement), so the difference of two is the distance in ulps.
int64_t ordered_bits(const void* data, DType dtype, size_t i) {
  if (dtype == DType::F32) {
    int32_t b;
    std::memcpy(&b, static_cast<const uint8_t*>(data) + 4 * i, 4);
    return b < 0 ? -static_cast<int64_t>(b & 0x7fffffff) : b;
  }
  uint16_t b;
  std::memcpy(&b, static_cast<const uint8_t*>(data) + 2 * i, 2);
  return (b & 0x8000) ? -static_cast<int64_t>(b & 0x7fff) : static_cast<int64_t>(b);
}

struct Drift {
  double rel_l2 = 0, changed = 0;
  int64_t max_ulps = 0;
};

Drift measure(Model& model, const TrainableSpace& space, const std::vector<uint8_t>& start) {
  model.sync_params_to_host();
  double diff2 = 0, norm2 = 0;
  uint64_t changed = 0;
  int64_t max_ulps = 0;
  size_t at = 0;
  for (const TrainableTensor& t : space.tensors()) {
    const DType dt = t.view->dtype;
    const void* now = model.params().data(*t.view);
    const void* then = start.data() + at;
    for (size_t i = 0; i < static_cast<size_t>(t.view->numel); ++i) {
      const double a = load_f32(now, dt, i), b = load_f32(then, dt, i);
      diff2 += (a - b) * (a - b);
      norm2 += b * b;
      const int64_t d = std::llabs(ordered_bits(now, dt, i) - ordered_bits(then, dt, i));
      changed += d != 0;
      max_ulps = std::max(max_ulps, d);
    }
    at += static_cast<size_t>(t.view->numel) * dtype_size(dt);
  }
  return {std::sqrt(diff2 / norm2), static_cast<double>(changed) / static_cast<double>(space.size()), max_ulps};
}

std::vector<int64_t> parse_steps(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoll(part));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"perturb/restore drift of the weights per perturbation mode, no update"};
  std::string model_path, dtype_name = "bf16", device = "cpu", steps_text = "100,1000", sequence = "mezo";
  std::string modes_text = "exact,inplace,reference";
  double eps = 1e-3;
  int k = 2;
  uint64_t seed = 0;
  app.add_option("model", model_path, "Hugging Face directory or .gguf file")->required();
  app.add_option("--dtype", dtype_name, "storage dtype: f32, f16, bf16");
  app.add_option("--device", device, "engine: cpu or cuda");
  app.add_option("--eps", eps, "perturbation scale");
  app.add_option("--steps", steps_text, "checkpoints, comma separated (the last is the run's length)");
  app.add_option("--sequence", sequence, "probe sequence: mezo (+eps, -2 eps, +eps) or bszo (+eps z_i, -eps z_i, i < k)");
  app.add_option("--k", k, "bszo: directions per step");
  app.add_option("--modes", modes_text, "perturbation modes, comma separated");
  app.add_option("--seed", seed, "direction seed");
  CLI11_PARSE(app, argc, argv);
  try {
    check(sequence == "mezo" || sequence == "bszo", "--sequence: mezo or bszo, not " + sequence);
    LoadOptions load;
    load.dtype = dtype_name == "f32" ? DType::F32 : dtype_name == "f16" ? DType::F16 : DType::BF16;
    check(dtype_name == "f32" || dtype_name == "f16" || dtype_name == "bf16", "--dtype: f32, f16 or bf16");
    EngineSettings settings;
    settings.device = device == "cuda" ? EngineDevice::CUDA : EngineDevice::CPU;
    Communicator comm = Communicator::world();
    Pretrained pretrained = load_on_engine(model_path, load, settings, CommBackend::MPI, comm);
    Model& model = *pretrained.model;
    const TrainableSpace space = TrainableSpace::select(model, {});
    const std::unique_ptr<ParamEngine> engine = make_param_engine(model, space);
    model.sync_params_to_host();
    std::vector<uint8_t> start;
    space.copy_out(model.params(), start);
    engine->save_snapshot();  // every mode starts from these bits
    const std::vector<int64_t> checkpoints = parse_steps(steps_text);
    std::printf("# %s, %s, %llu trainable, eps %g, sequence %s%s\n", engine_description(model).c_str(),
                dtype_name.c_str(), static_cast<unsigned long long>(space.size()), eps, sequence.c_str(),
                sequence == "bszo" ? (", k " + std::to_string(k)).c_str() : "");
    std::printf("%-10s %7s %14s %14s %9s\n", "mode", "steps", "rel_l2", "changed", "max_ulps");
    std::stringstream modes_in(modes_text);
    for (std::string name; std::getline(modes_in, name, ',');) {
      int index = -1;
      for (size_t m = 0; m < kPerturbationModeNames.size(); ++m)
        if (kPerturbationModeNames[m] == name) index = static_cast<int>(m);
      check(index >= 0, "--modes: unknown mode " + name);
      const PerturbationMode mode = static_cast<PerturbationMode>(index);
      engine->restore_snapshot();
      engine->save_snapshot();
      WeightMoves moves(*engine, mode, DirectionKind::Gaussian, sequence);
      const float e = static_cast<float>(eps);
      int64_t done = 0;
      for (const int64_t until : checkpoints) {
        for (; done < until; ++done) {
          const uint32_t step = static_cast<uint32_t>(done);
          if (sequence == "mezo") {
            moves.to_probe(Probe{{{seed, step, 0, e}}, 0});
            moves.to_probe(Probe{{{seed, step, 0, -e}}, 0});
          } else {
            for (int i = 0; i < k; ++i) moves.to_probe(Probe{{{seed, step, static_cast<uint32_t>(i), e}}, i});
          }
          moves.update(StepUpdate{});
        }
        const Drift d = measure(model, space, start);
        std::printf("%-10s %7lld %14.6e %14.6e %9lld\n", name.c_str(), static_cast<long long>(until), d.rel_l2,
                    d.changed, static_cast<long long>(d.max_ulps));
        std::fflush(stdout);
      }
    }
    engine->restore_snapshot();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zotune_drift_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
