// Run files: defaults, value syntax, and every class of error with its exact message (file,
// dotted key, 1-based line). Also the example runs in experiments/runs and docs/CONFIG.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "core/config/run_config.h"
#include "core/config/run_config_schema.h"
#include "core/config/run_entries.h"
#include "core/util/error.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;

const fs::path kRepoRoot = fs::path(ZOTUNE_FIXTURES_DIR).parent_path().parent_path();

// The two required keys; each test appends what it is about.
const std::string kMinimal =
    "model:\n"
    "  path: models/tiny\n"
    "task:\n"
    "  name: lm\n";

std::string error_of(const std::string& yaml, const std::string& source = "run.yaml") {
  try {
    parse_run_config(yaml, source);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string error_of_load(const fs::path& path) {
  try {
    load_run_config(path.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(RunConfig, DefaultsWhenKeysOmitted) {
  const RunConfig c = parse_run_config(kMinimal, "experiments/runs/sst2_mezo.yaml");
  EXPECT_EQ(c.run.name, "sst2_mezo");
  EXPECT_EQ(c.run.seed, 0u);
  EXPECT_EQ(c.run.steps, 20000) << "MeZO's mezo.sh";
  EXPECT_EQ(c.run.output, "runs/sst2_mezo.h5");
  EXPECT_EQ(c.run.flush_every, 50);
  EXPECT_EQ(c.run.checksum_every, 100);
  EXPECT_EQ(c.run.log_every, 10);
  EXPECT_EQ(c.run.progress, ProgressStyle::Auto);
  EXPECT_EQ(c.model.path, "models/tiny");
  EXPECT_EQ(c.model.dtype, DType::F32);
  EXPECT_EQ(c.model.perturbation, PerturbationMode::Exact);
  EXPECT_EQ(c.task.name, "lm");
  EXPECT_EQ(c.task.train, "");
  EXPECT_EQ(c.task.dev, "");
  EXPECT_EQ(c.task.test, "");
  EXPECT_EQ(c.task.num_train, 1000);
  EXPECT_EQ(c.task.num_dev, 500);
  EXPECT_EQ(c.task.num_test, 1000);
  EXPECT_EQ(c.task.data_seed, 0u);
  EXPECT_TRUE(c.task.max_length.automatic) << "2048 for decoders, resolved against the model";
  EXPECT_TRUE(c.task.texts.empty());
  EXPECT_EQ(c.task.data_dir, "");
  EXPECT_EQ(c.task.sampling, TaskSampling::MeZO);
  EXPECT_EQ(c.task.k, 16);
  EXPECT_EQ(c.task.template_family, TemplateChoice::Auto);
  EXPECT_EQ(c.task.loss, TaskLoss::Auto);
  EXPECT_EQ(c.trainable.mode, TrainableMode::Full);
  EXPECT_TRUE(c.trainable.freeze.empty());
  EXPECT_EQ(c.optimizer.name, OptimizerKind::MeZO);
  EXPECT_EQ(c.optimizer.lr, 1e-6);
  EXPECT_EQ(c.optimizer.eps, 1e-3);
  EXPECT_EQ(c.optimizer.schedule, LrSchedule::Constant);
  EXPECT_EQ(c.optimizer.weight_decay, 0.0);
  EXPECT_EQ(c.optimizer.direction, DirectionDistribution::Gaussian);
  EXPECT_EQ(c.optimizer.queries, 1);
  EXPECT_FALSE(c.optimizer.one_sided);
  EXPECT_EQ(c.optimizer.k, 0) << "BSZO fields stay zero under mezo";
  EXPECT_EQ(c.data.batch_size, 16);
  EXPECT_EQ(c.data.sampler, MinibatchSampler::Epoch);
  EXPECT_EQ(c.eval.every, 4000) << "MeZO: 1/5 of 20,000 steps";
  EXPECT_EQ(c.eval.patience, 0) << "no early stopping (the HF trainer's default)";
  EXPECT_EQ(c.eval.select, EvalSelect::Loss) << "load_best_model_at_end's default metric";
  EXPECT_EQ(c.distributed.data_parallel, 1);
  EXPECT_EQ(c.distributed.backend, CommBackend::MPI);
  EXPECT_EQ(c.text, "model:\n  path: \"models/tiny\"\ntask:\n  name: \"lm\"\n") << "the resolved run file";
  EXPECT_EQ(c.source, "experiments/runs/sst2_mezo.yaml");
}

TEST(RunConfig, BszoDefaultsFollowThePaper) {
  const RunConfig c = parse_run_config(kMinimal + "optimizer:\n  name: bszo\n", "b.yaml");
  EXPECT_EQ(c.optimizer.name, OptimizerKind::BSZO);
  EXPECT_EQ(c.optimizer.k, 2);
  EXPECT_EQ(c.optimizer.m, 3);
  EXPECT_TRUE(c.optimizer.sigma_p.automatic);
  EXPECT_TRUE(c.optimizer.sigma_e.automatic);
  EXPECT_EQ(c.optimizer.alpha, 0.1);
  EXPECT_EQ(c.optimizer.noise_floor, 0.1);
  EXPECT_TRUE(c.optimizer.adaptive_noise);
  EXPECT_TRUE(c.optimizer.adaptive_sampling);
  EXPECT_TRUE(c.optimizer.one_sided) << "BSZO's scripts run one-sided differences (bszo.md a.4)";
  EXPECT_EQ(c.optimizer.queries, 0) << "MeZO fields stay zero under bszo";
  EXPECT_EQ(parse_run_config(kMinimal + "optimizer:\n  name: bszo-b\n", "b.yaml").optimizer.name, OptimizerKind::BSZOB);
}

TEST(RunConfig, NameAndOutputDerivedFromTheFile) {
  EXPECT_EQ(parse_run_config(kMinimal, "a/b/exp1.yaml").run.output, "runs/exp1.h5");
  const RunConfig named = parse_run_config(kMinimal + "run:\n  name: sweep-3\n", "a/b/exp1.yaml");
  EXPECT_EQ(named.run.name, "sweep-3");
  EXPECT_EQ(named.run.output, "runs/sweep-3.h5");
  const RunConfig out = parse_run_config(kMinimal + "run:\n  output: /scratch/x.h5\n", "exp1.yaml");
  EXPECT_EQ(out.run.name, "exp1");
  EXPECT_EQ(out.run.output, "/scratch/x.h5");
  EXPECT_EQ(parse_run_config(kMinimal, "").run.name, "run");
}

TEST(RunConfig, SetsEveryKindOfValue) {
  const RunConfig c = parse_run_config("task: {name: lm}\n"
                                       "run: {seed: 18446744073709551615, steps: 20000, progress: plain}\n"
                                       "model: {path: m.gguf, dtype: bf16, perturbation: inplace}\n"
                                       "trainable:\n  freeze:\n    - norms\n    - embeddings\n"
                                       "optimizer: {name: mezo, one_sided: yes, queries: 4, direction: rademacher}\n"
                                       "distributed: {backend: nccl, data_parallel: 4}\n",
                                       "r.yaml");
  EXPECT_EQ(c.run.seed, 18446744073709551615ull);
  EXPECT_EQ(c.run.steps, 20000);
  EXPECT_EQ(c.run.progress, ProgressStyle::Plain);
  EXPECT_EQ(c.model.path, "m.gguf");
  EXPECT_EQ(c.model.dtype, DType::BF16);
  EXPECT_EQ(c.model.perturbation, PerturbationMode::InPlace);
  EXPECT_EQ(c.trainable.freeze, (std::vector<FrozenGroup>{FrozenGroup::Norms, FrozenGroup::Embeddings}));
  EXPECT_TRUE(c.optimizer.one_sided);
  EXPECT_EQ(c.optimizer.queries, 4);
  EXPECT_EQ(c.optimizer.direction, DirectionDistribution::Rademacher);
  EXPECT_EQ(c.distributed.backend, CommBackend::NCCL);
  EXPECT_EQ(c.distributed.data_parallel, 4);
  EXPECT_EQ(choice_name(c.distributed.backend), "nccl");
}

// YAML 1.1 readers (PyYAML) take "1e-6" without a dot for a string; here it is a number.
TEST(RunConfig, ExponentNumbersParseAsFloats) {
  const RunConfig c = parse_run_config(kMinimal +
                                           "optimizer:\n  lr: 1e-6\n  eps: 1E-3\n  weight_decay: 5e-2\n"
                                           "run:\n  steps: 2e4\n",
                                       "r.yaml");
  EXPECT_EQ(c.optimizer.lr, 1e-6);
  EXPECT_EQ(c.optimizer.eps, 1e-3);
  EXPECT_EQ(c.optimizer.weight_decay, 5e-2);
  EXPECT_EQ(c.run.steps, 20000) << "integer keys take an integral number with an exponent";
  EXPECT_EQ(parse_run_config(kMinimal + "optimizer:\n  lr: +.5\n", "r.yaml").optimizer.lr, 0.5);
}

TEST(RunConfig, SigmaIsAutoOrANumber) {
  const RunConfig c = parse_run_config(kMinimal + "optimizer:\n  name: bszo\n  sigma_p: auto\n  sigma_e: 3.5\n", "r.yaml");
  EXPECT_TRUE(c.optimizer.sigma_p.automatic);
  EXPECT_EQ(c.optimizer.sigma_p.text(), "auto");
  EXPECT_DOUBLE_EQ(c.optimizer.sigma_p.resolve(4000000), 2.0) << "auto = sqrt(n / 1e6)";
  EXPECT_FALSE(c.optimizer.sigma_e.automatic);
  EXPECT_EQ(c.optimizer.sigma_e.value, 3.5);
  EXPECT_EQ(c.optimizer.sigma_e.text(), "3.5");
  EXPECT_EQ(c.optimizer.sigma_e.resolve(4000000), 3.5);
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: bszo\n  sigma_p: loose\n"),
            "run.yaml:7: optimizer.sigma_p: expected 'auto' or a number, got 'loose'");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: bszo\n  sigma_e: 0\n"),
            "run.yaml:7: optimizer.sigma_e: must be > 0, got 0");
}

TEST(RunConfig, MalformedYamlNamesLineAndColumn) {
  EXPECT_EQ(error_of("model:\n  path: [a, b\n"), "run.yaml:3:1: malformed YAML: end of sequence flow not found");
  EXPECT_EQ(error_of("model:\n  path: x\n task: 3\n"), "run.yaml:3:2: malformed YAML: end of map not found");
}

TEST(RunConfig, DocumentShapeErrors) {
  EXPECT_EQ(error_of("- a\n- b\n"), "run.yaml:1: expected a mapping of sections (run, model, task, ...), got a list");
  EXPECT_EQ(error_of(kMinimal + "---\nrun: {}\n"), "run.yaml:6: a run file holds one YAML document; a second one starts here");
  EXPECT_EQ(error_of("model: models/tiny\n"), "run.yaml:1: model: expected a mapping of keys, got 'models/tiny'");
  EXPECT_EQ(error_of("[model]: 1\n"), "run.yaml:1: expected a key name, got a list");
  // A section with every key commented out is an empty section, not an error.
  EXPECT_EQ(parse_run_config(kMinimal + "eval:\n  # every: 100\n", "r.yaml").eval.every, 4000);
}

TEST(RunConfig, UnknownKeySuggestsTheClosest) {
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  lrr: 1e-6\n"),
            "run.yaml:6: optimizer.lrr: unknown key; did you mean 'optimizer.lr'?");
  EXPECT_EQ(error_of(kMinimal + "run:\n  stpes: 10\n"), "run.yaml:6: run.stpes: unknown key; did you mean 'run.steps'?");
  EXPECT_EQ(error_of(kMinimal + "optimiser:\n  lr: 1e-6\n"),
            "run.yaml:5: optimiser: unknown section; did you mean 'optimizer'?");
  // The right key in the wrong section.
  EXPECT_EQ(error_of(kMinimal + "run:\n  lr: 1e-6\n"), "run.yaml:6: run.lr: unknown key; did you mean 'optimizer.lr'?");
  EXPECT_EQ(error_of(kMinimal + "lr: 1e-6\n"), "run.yaml:5: lr: unknown section; did you mean 'optimizer.lr'?");
  EXPECT_EQ(error_of(kMinimal + "run:\n  gpu_count: 8\n"),
            "run.yaml:6: run.gpu_count: unknown key (zotune config --defaults lists every key)");
}

TEST(RunConfig, UnknownNestedKey) {
  EXPECT_EQ(error_of(kMinimal + "data:\n  batch_size: 8\n  shuffle: true\n"),
            "run.yaml:7: data.shuffle: unknown key (zotune config --defaults lists every key)");
  // Keys sit one level under their section: a deeper mapping is a wrong type, not a key.
  EXPECT_EQ(error_of(kMinimal + "data:\n  batch_size:\n    train: 8\n"),
            "run.yaml:6: data.batch_size: expected an integer, got a mapping");
}

TEST(RunConfig, WrongTypeNamesKeyAndLine) {
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: bszo\n  k: two\n"),
            "run.yaml:7: optimizer.k: expected an integer, got 'two'");
  EXPECT_EQ(error_of(kMinimal + "run:\n  steps: \"500\"\n"),
            "run.yaml:6: run.steps: expected an integer, got the quoted string '500'");
  EXPECT_EQ(error_of(kMinimal + "run:\n  steps: 2.5\n"), "run.yaml:6: run.steps: expected an integer, got '2.5'");
  EXPECT_EQ(error_of(kMinimal + "run:\n  steps: [5]\n"), "run.yaml:6: run.steps: expected an integer, got a list");
  EXPECT_EQ(error_of(kMinimal + "run:\n  seed: 99999999999999999999999\n"),
            "run.yaml:6: run.seed: expected a 64-bit integer, got '99999999999999999999999' (too large)");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  lr: fast\n"), "run.yaml:6: optimizer.lr: expected a number, got 'fast'");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  lr: 1e999\n"),
            "run.yaml:6: optimizer.lr: expected a finite number, got '1e999'");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  one_sided: maybe\n"),
            "run.yaml:6: optimizer.one_sided: expected true or false, got 'maybe'");
  EXPECT_EQ(error_of(kMinimal + "run:\n  progress:\n"),
            "run.yaml:6: run.progress: expected one of auto, line, plain, off, got no value");
  EXPECT_EQ(error_of("model:\n  path: \"\"\ntask:\n  name: lm\n"), "run.yaml:2: model.path: must not be empty");
  EXPECT_EQ(error_of(kMinimal + "trainable:\n  freeze: norms\n"),
            "run.yaml:6: trainable.freeze: expected a list of embeddings, norms, head, biases, got 'norms'");
  EXPECT_EQ(error_of(kMinimal + "  texts:\n    - hello\n    - {a: 1}\n"),
            "run.yaml:7: task.texts[1]: expected a string, got a mapping");
}

TEST(RunConfig, OutOfRangeValues) {
  EXPECT_EQ(error_of(kMinimal + "run:\n  steps: 0\n"), "run.yaml:6: run.steps: must be >= 1, got 0");
  EXPECT_EQ(error_of(kMinimal + "run:\n  seed: -1\n"), "run.yaml:6: run.seed: must be >= 0, got -1");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  lr: 0\n"), "run.yaml:6: optimizer.lr: must be > 0, got 0");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  weight_decay: -1e-4\n"),
            "run.yaml:6: optimizer.weight_decay: must be >= 0, got -1e-4");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: bszo\n  alpha: 1.5\n"),
            "run.yaml:7: optimizer.alpha: must be in (0, 1], got 1.5");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: bszo\n  k: 0\n"), "run.yaml:7: optimizer.k: must be in [1, 256], got 0");
  EXPECT_EQ(error_of(kMinimal + "  texts: []\n"), "run.yaml:5: task.texts: needs at least 1 item, got 0");
}

TEST(RunConfig, ChoiceNotInTheList) {
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: adam\n"),
            "run.yaml:6: optimizer.name: 'adam' is not one of mezo, bszo, bszo-b, adazeta, mezo-adam, hizoo, lozo, sparse-mezo");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: MeZO\n"),
            "run.yaml:6: optimizer.name: 'MeZO' is not one of mezo, bszo, bszo-b, adazeta, mezo-adam, hizoo, lozo, sparse-mezo; did you mean 'mezo'?");
  EXPECT_EQ(error_of("model:\n  path: x\n  dtype: fp16\ntask:\n  name: lm\n"),
            "run.yaml:3: model.dtype: 'fp16' is not one of f32, f16, bf16; did you mean 'f16'?");
  EXPECT_EQ(error_of("model:\n  path: x\n  dtype: fp8\ntask:\n  name: lm\n"),
            "run.yaml:3: model.dtype: 'fp8' is not one of f32, f16, bf16");
  EXPECT_EQ(error_of(kMinimal + "trainable:\n  freeze: [norms, bias]\n"),
            "run.yaml:6: trainable.freeze[1]: 'bias' is not one of embeddings, norms, head, biases; did you mean 'biases'?");
  EXPECT_EQ(error_of(kMinimal + "trainable:\n  freeze:\n    - norms\n    - norms\n"),
            "run.yaml:8: trainable.freeze[1]: 'norms' is listed twice");
}

TEST(RunConfig, BszoKeysUnderMezoRejected) {
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: mezo\n  k: 2\n"),
            "run.yaml:7: optimizer.k: does not apply to optimizer 'mezo' (only to bszo, bszo-b)");
  // mezo is also the default optimizer.
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  sigma_p: auto\n"),
            "run.yaml:6: optimizer.sigma_p: does not apply to optimizer 'mezo' (only to bszo, bszo-b)");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  queries: 4\n  name: bszo-b\n"),
            "run.yaml:6: optimizer.queries: does not apply to optimizer 'bszo-b' (only to mezo)");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: adazeta\n  one_sided: false\n"),
            "run.yaml:7: optimizer.one_sided: does not apply to optimizer 'adazeta' (only to mezo, bszo, bszo-b)");
}

TEST(RunConfig, RequiredKeyMissing) {
  EXPECT_EQ(error_of("task:\n  name: lm\n"), "run.yaml: model.path: required key is missing");
  EXPECT_EQ(error_of("task:\n  name: lm\nmodel:\n  dtype: f16\n"),
            "run.yaml:3: model.path: required key is missing from section 'model'");
  EXPECT_EQ(error_of("model:\n  path: x\n"), "run.yaml: task.name: required key is missing");
  EXPECT_EQ(error_of(""), "run.yaml: model.path: required key is missing");
  EXPECT_EQ(error_of("# nothing yet\n"), "run.yaml: model.path: required key is missing");
}

// yaml-cpp keeps both copies of a repeated key; the parser rejects them, naming both lines.
TEST(RunConfig, DuplicateKeysNameBothLines) {
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  lr: 1e-6\n  eps: 1e-3\n  lr: 1e-7\n"),
            "run.yaml:8: optimizer.lr: duplicate key (first given on line 6)");
  EXPECT_EQ(error_of(kMinimal + "model:\n  dtype: f16\n"), "run.yaml:5: model: duplicate section (first given on line 1)");
  EXPECT_EQ(error_of(kMinimal + "run: {steps: 5, steps: 6}\n"), "run.yaml:5: run.steps: duplicate key (first given on line 5)");
}

TEST(RunConfig, RulesAcrossKeys) {
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: bszo\n  m: 1\n"),
            "run.yaml:7: optimizer.m: needs optimizer.m >= optimizer.k, got m = 1, k = 2");
  EXPECT_EQ(error_of(kMinimal + "optimizer:\n  name: bszo\n  k: 4\n"),
            "run.yaml:7: optimizer.k: needs optimizer.m >= optimizer.k, got m = 3, k = 4")
      << "with m at its default the rule blames k, the key the file gives";
  EXPECT_EQ(error_of(kMinimal + "distributed:\n  data_parallel: 32\n"),
            "run.yaml:6: distributed.data_parallel: 32 ranks cannot split a minibatch of data.batch_size = 16 examples");
  EXPECT_EQ(error_of(kMinimal + "trainable:\n  mode: head\n  freeze: [norms]\n"),
            "run.yaml:7: trainable.freeze: applies only with trainable.mode 'full' (mode 'head' trains the head alone)");
  EXPECT_EQ(error_of(kMinimal + "run:\n  name: a/b\n"),
            "run.yaml:6: run.name: 'a/b' cannot name a file (no '/', not '.' or '..')");
}

TEST(RunConfig, LoadNamesTheFile) {
  const fs::path dir = fs::temp_directory_path() / "zotune_run_config_test";
  fs::create_directories(dir);
  const fs::path file = dir / "bad_lr.yaml";
  std::ofstream(file) << kMinimal << "optimizer:\n  lr: -1\n";
  try {
    load_run_config(file.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), file.string() + ":6: optimizer.lr: must be > 0, got -1");
  }
  std::ofstream(file) << kMinimal;
  const RunConfig c = load_run_config(file.string());
  EXPECT_EQ(c.run.name, "bad_lr");
  EXPECT_EQ(c.model.path, (dir / "models/tiny").string()) << "relative to the run file's folder";
  EXPECT_EQ(c.text, "model:\n  path: \"" + (dir / "models/tiny").string() + "\"\ntask:\n  name: \"lm\"\n");
  EXPECT_EQ(error_of_load(dir / "missing.yaml"), (dir / "missing.yaml").string() + ": no such run file");
  EXPECT_EQ(error_of_load(dir), dir.string() + ": not a regular file");
  fs::remove_all(dir);
}

TEST(RunConfig, ReferenceListsEveryKey) {
  const std::string md = run_config_reference();
  // The keys of the design brief, written out here so a key dropped from the schema fails.
  const char* expected[] = {
      "run.name", "run.seed", "run.steps", "run.output", "run.save", "run.flush_every", "run.checksum_every", "run.divergence_factor", "run.log_every",
      "run.progress", "model.path", "model.dtype", "model.perturbation", "task.name", "task.train", "task.dev",
      "task.test", "task.data_dir", "task.sampling", "task.k", "task.template", "task.loss", "task.num_train", "task.num_dev", "task.num_test", "task.data_seed", "task.max_length", "task.texts",
      "task.prompt", "task.candidates", "task.candidates_field", "task.label_field", "task.labels", "task.answer_field",
      "task.metric",
      "trainable.mode", "trainable.freeze", "peft.seed", "peft.adapter_bottleneck", "peft.adapter_rank",
      "peft.adapter_scale", "peft.adapter_placement", "peft.lora_rank", "peft.lora_alpha", "peft.lora_targets", "peft.prefix_tokens", "peft.prefix_init", "optimizer.name", "optimizer.lr", "optimizer.eps", "optimizer.schedule",
      "optimizer.weight_decay", "optimizer.direction", "optimizer.queries", "optimizer.one_sided", "optimizer.k",
      "optimizer.m", "optimizer.sigma_p", "optimizer.sigma_e", "optimizer.alpha", "optimizer.noise_floor",
      "optimizer.adaptive_noise", "optimizer.adaptive_sampling", "optimizer.queries_alpha", "optimizer.queries_beta",
      "optimizer.queries_target", "optimizer.queries_min", "optimizer.queries_max", "optimizer.queries_fixed", "optimizer.beta1", "optimizer.beta2",
      "optimizer.adam_eps", "optimizer.hessian_smoothing", "optimizer.rank", "optimizer.refresh_every",
      "optimizer.sparsity", "optimizer.mask", "data.batch_size", "data.sampler", "eval.every", "eval.patience", "eval.select",
      "distributed.data_parallel", "distributed.backend", "distributed.timeout_s", "engine.device", "engine.tf32", "engine.cuda_graphs",
      "engine.share_gpus", "engine.probe_batch", "engine.shared_prompts", "engine.unpadded"};
  for (const char* key : expected) EXPECT_NE(md.find("| `" + std::string(key) + "` |"), std::string::npos) << key;
  const std::vector<RunConfigKey> keys = run_config_keys();
  EXPECT_EQ(keys.size(), std::size(expected));
  for (const RunConfigKey& key : keys) {
    // The global default first; per-method defaults follow it in the same cell.
    EXPECT_NE(md.find("| `" + key.path + "` | " + key.type + " | " + key.default_value +
                      (key.method_defaults.empty() ? " |" : "; ")),
              std::string::npos)
        << key.path;
    EXPECT_FALSE(key.doc.empty()) << key.path;
  }
  EXPECT_NE(md.find("| `optimizer.k` | integer | `2` | in [1, 256] | *bszo, bszo-b only:*"), std::string::npos);
}

// ---- Per-method defaults (run_config_schema.cpp kMethodDefaults, sources in shared/papers).

// kMinimal with optimizer.name and more keys, as overrides (dotted.key=value) of that file.
RunConfig with_method(const std::string& method, const std::vector<std::string>& more = {}) {
  std::vector<RunEntry> entries = section_entries(
      load_yaml_document(kMinimal + "optimizer:\n  name: " + method + "\n", "m.yaml", "run file"), "m.yaml", "");
  for (const std::string& o : more) entries.push_back(override_entry(o));
  return resolve_run_config(entries, "m.yaml");
}

TEST(RunConfig, PerMethodDefaultsApplied) {
  const RunConfig bszo = with_method("bszo");
  EXPECT_EQ(bszo.optimizer.eps, 1e-4);
  EXPECT_EQ(bszo.optimizer.lr, 1e-6);
  EXPECT_TRUE(bszo.optimizer.one_sided);
  EXPECT_EQ(bszo.run.steps, 20000);
  EXPECT_EQ(bszo.eval.every, 500);
  EXPECT_EQ(bszo.eval.select, EvalSelect::Metric);
  EXPECT_EQ(bszo.eval.patience, 8);
  EXPECT_EQ(bszo.task.sampling, TaskSampling::BSZO);
  EXPECT_EQ(bszo.model.perturbation, PerturbationMode::Exact) << "reference is BSZO-B's alone";
  const RunConfig bszo_b = with_method("bszo-b");
  EXPECT_EQ(bszo_b.optimizer.eps, 1e-4);
  EXPECT_EQ(bszo_b.eval.patience, 8);
  EXPECT_EQ(bszo_b.model.perturbation, PerturbationMode::Reference);
  const RunConfig adazeta = with_method("adazeta");
  EXPECT_EQ(adazeta.trainable.mode, TrainableMode::Adapter);
  EXPECT_EQ(adazeta.optimizer.lr, 1e-4);
  EXPECT_EQ(adazeta.optimizer.eps, 1e-3);
  EXPECT_EQ(adazeta.optimizer.weight_decay, 0.01);
  EXPECT_EQ(adazeta.run.steps, 10000);
  EXPECT_EQ(adazeta.eval.every, 200);
  EXPECT_EQ(adazeta.eval.select, EvalSelect::Loss);
  EXPECT_EQ(adazeta.eval.patience, 0);
  EXPECT_EQ(adazeta.task.sampling, TaskSampling::MeZO);
  for (const char* port : {"mezo-adam", "hizoo", "lozo"}) {
    SCOPED_TRACE(port);
    const RunConfig c = with_method(port);
    EXPECT_EQ(c.optimizer.eps, 1e-4) << "as BSZO ran the baselines";
    EXPECT_EQ(c.eval.every, 500);
    EXPECT_EQ(c.eval.select, EvalSelect::Metric);
    EXPECT_EQ(c.eval.patience, 8);
    EXPECT_EQ(c.task.sampling, TaskSampling::BSZO);
  }
  EXPECT_EQ(with_method("mezo-adam").optimizer.lr, 1e-5);
  EXPECT_EQ(with_method("hizoo").optimizer.lr, 1e-6);
  EXPECT_EQ(with_method("lozo").optimizer.lr, 1e-6);
  const RunConfig sparse = with_method("sparse-mezo");
  EXPECT_EQ(sparse.optimizer.eps, 1e-3) << "Sparse-MeZO follows MeZO's setting";
  EXPECT_EQ(sparse.eval.every, 4000);
  // MeZO with PEFT modules: the defaults depend on trainable.mode, read before the other keys.
  const RunConfig lora = with_method("mezo", {"trainable.mode=lora"});
  EXPECT_EQ(lora.optimizer.lr, 1e-4);
  EXPECT_EQ(lora.optimizer.eps, 1e-2);
  const RunConfig prefix = parse_run_config("trainable:\n  mode: prefix\n" + kMinimal, "m.yaml");
  EXPECT_EQ(prefix.optimizer.lr, 1e-2) << "trainable.mode written before optimizer.name, mezo by default";
  EXPECT_EQ(prefix.optimizer.eps, 1e-1);
  const RunConfig full = with_method("mezo");
  EXPECT_EQ(full.optimizer.lr, 1e-6);
  EXPECT_EQ(full.optimizer.eps, 1e-3);
  // AdaZeta on other modules: its mode default yields to the file; lr stays AdaZeta's.
  const RunConfig adazeta_full = with_method("adazeta", {"trainable.mode=full"});
  EXPECT_EQ(adazeta_full.trainable.mode, TrainableMode::Full);
  EXPECT_EQ(adazeta_full.optimizer.lr, 1e-4);
}

TEST(RunConfig, FileValueWinsOverMethodDefault) {
  const RunConfig c = with_method("bszo", {"optimizer.eps=1e-3", "optimizer.one_sided=false", "eval.patience=0", "eval.select=loss"});
  EXPECT_EQ(c.optimizer.eps, 1e-3);
  EXPECT_FALSE(c.optimizer.one_sided);
  EXPECT_EQ(c.eval.patience, 0);
  EXPECT_EQ(c.eval.select, EvalSelect::Loss);
  EXPECT_EQ(c.eval.every, 500) << "the keys not given keep the method's default";
  const RunConfig lora = with_method("mezo", {"optimizer.lr=5e-5", "trainable.mode=lora"});
  EXPECT_EQ(lora.optimizer.lr, 5e-5);
  EXPECT_EQ(lora.optimizer.eps, 1e-2);
  EXPECT_EQ(with_method("bszo-b", {"model.perturbation=exact"}).model.perturbation, PerturbationMode::Exact);
  // Given split sizes mean `sizes`, unless the file names a sampling.
  EXPECT_EQ(with_method("bszo", {"task.num_train=64"}).task.sampling, TaskSampling::Sizes);
  EXPECT_EQ(with_method("mezo", {"task.num_test=64"}).task.sampling, TaskSampling::Sizes);
  EXPECT_EQ(with_method("bszo", {"task.num_train=64", "task.sampling=mezo"}).task.sampling, TaskSampling::MeZO);
}

TEST(RunConfig, OverrideOfOptimizerNameSwitchesDefaults) {
  std::vector<RunEntry> entries = section_entries(
      load_yaml_document(kMinimal + "optimizer:\n  name: mezo\n  lr: 2e-6\n", "o.yaml", "run file"), "o.yaml", "");
  EXPECT_EQ(resolve_run_config(entries, "o.yaml").optimizer.eps, 1e-3);
  entries.push_back(override_entry("optimizer.name=bszo"));
  const RunConfig c = resolve_run_config(entries, "o.yaml");
  EXPECT_EQ(c.optimizer.name, OptimizerKind::BSZO);
  EXPECT_EQ(c.optimizer.eps, 1e-4) << "bszo's default, not mezo's";
  EXPECT_EQ(c.eval.patience, 8);
  EXPECT_EQ(c.optimizer.lr, 2e-6) << "the file's value still wins";
  entries.push_back(override_entry("trainable.mode=lora"));
  entries.push_back(override_entry("optimizer.name=mezo"));
  const RunConfig lora = resolve_run_config(entries, "o.yaml");
  EXPECT_EQ(lora.optimizer.eps, 1e-2) << "mezo with lora";
}

TEST(RunConfig, ResolvedDefaultsNameTheirSource) {
  const RunConfig c = with_method("bszo", {"optimizer.lr=1e-7"});
  EXPECT_NE(c.defaults_text.find("#   eps: 1e-4  # bszo, bszo-b, mezo-adam, hizoo, lozo default: bszo.md a.4"), std::string::npos) << c.defaults_text;
  EXPECT_NE(c.defaults_text.find("#   schedule: constant  # default\n"), std::string::npos);
  EXPECT_EQ(c.defaults_text.find("#   lr:"), std::string::npos) << "a key the run sets is not a default";
  EXPECT_EQ(c.defaults_text.find("queries:"), std::string::npos) << "MeZO's key does not apply to bszo";
  EXPECT_NE(with_method("mezo", {"task.num_dev=10"}).defaults_text.find("#   sampling: sizes  # implied: the run gives task.num_dev"),
            std::string::npos);
  // Comments: the resolved text with its defaults parses to the same run.
  const RunConfig again = parse_run_config(c.text + c.defaults_text, "m.yaml");
  EXPECT_EQ(again.text, c.text);
  EXPECT_EQ(again.optimizer.eps, 1e-4);
}

TEST(RunConfig, ReferenceListsEveryMethodDefaultWithSource) {
  const std::string md = run_config_reference();
  const std::vector<RunConfigKey> keys = run_config_keys();
  size_t rows = 0;
  for (const run_config_schema::MethodDefault& d : run_config_schema::method_defaults()) {
    SCOPED_TRACE(std::string(d.key) + " for " + run_config_schema::describe_methods(d));
    EXPECT_FALSE(d.source.empty());
    EXPECT_NE(md.find("| " + run_config_schema::describe_methods(d) + " | `" + std::string(d.key) + "` | `" +
                      std::string(d.value_yaml) + "` | " + std::string(d.source) + " |"),
              std::string::npos);
    for (const RunConfigKey& k : keys)
      if (k.path == d.key) {
        ++rows;
        EXPECT_NE(std::find_if(k.method_defaults.begin(), k.method_defaults.end(),
                               [&](const std::string& m) { return m.find(std::string(d.source)) != std::string::npos; }),
                  k.method_defaults.end());
      }
  }
  EXPECT_EQ(rows, run_config_schema::method_defaults().size());
  // The examples, in the key table's default cell.
  EXPECT_NE(md.find("| `optimizer.eps` | number | `1e-3`; mezo (trainable.mode lora): `1e-2`"), std::string::npos);
  EXPECT_NE(md.find("bszo, bszo-b, mezo-adam, hizoo, lozo: `1e-4`"), std::string::npos);
  EXPECT_NE(md.find("adazeta: `0.01`"), std::string::npos);
}

TEST(RunConfig, MaxLengthIsAutoOrAnInteger) {
  const RunConfig fixed = parse_run_config(kMinimal + "  max_length: 512\n", "r.yaml");
  EXPECT_FALSE(fixed.task.max_length.automatic);
  EXPECT_EQ(fixed.task.max_length.value, 512);
  EXPECT_EQ(fixed.task.max_length.text(), "512");
  EXPECT_TRUE(parse_run_config(kMinimal + "  max_length: auto\n", "r.yaml").task.max_length.automatic);
  EXPECT_EQ(error_of(kMinimal + "  max_length: long\n"), "run.yaml:5: task.max_length: expected an integer, got 'long'");
  EXPECT_EQ(error_of(kMinimal + "  max_length: \"512\"\n"),
            "run.yaml:5: task.max_length: expected 'auto' or an integer, got the quoted string '512'");
  EXPECT_EQ(error_of(kMinimal + "  max_length: 1\n"), "run.yaml:5: task.max_length: must be in [2, 1048576], got 1");
}

// docs/CONFIG.md is the committed copy of the reference; regenerate it when the schema changes.
TEST(RunConfig, DocsConfigMdIsCurrent) {
  std::ifstream in(kRepoRoot / "docs" / "CONFIG.md");
  ASSERT_TRUE(in) << "docs/CONFIG.md is missing";
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(text.str() == run_config_reference())
      << "docs/CONFIG.md is out of date: build/zotune config --defaults > docs/CONFIG.md";
}

TEST(RunConfig, ExampleRunFilesParse) {
  const fs::path runs = kRepoRoot / "experiments" / "runs";
  ASSERT_TRUE(fs::is_directory(runs));
  int parsed = 0;
  std::vector<RunConfig> configs;
  for (const auto& entry : fs::recursive_directory_iterator(runs)) {
    if (!entry.is_regular_file() || (entry.path().extension() != ".yaml" && entry.path().extension() != ".yml")) continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(configs.push_back(load_run_config(entry.path().string())));
    ++parsed;
  }
  // A model is in the tree (fixtures, fetched models) or is the folder another run file saves
  // its trained weights into (run.save: fine-tuning from a probe's result).
  std::set<std::string> saved;
  for (const RunConfig& c : configs)
    if (!c.run.save.empty()) saved.insert(fs::path(c.run.save).parent_path().string());
  for (const RunConfig& c : configs)
    EXPECT_TRUE(fs::exists(kRepoRoot / c.model.path) || saved.count(c.model.path)) << c.source << ": " << c.model.path;
  EXPECT_GE(parsed, 2);
  const RunConfig bszo = load_run_config((runs / "tiny_bszo.yaml").string());
  EXPECT_EQ(bszo.optimizer.name, OptimizerKind::BSZO);
  EXPECT_EQ(bszo.task.texts.size(), 4u);
}

}  // namespace
}  // namespace zotune
