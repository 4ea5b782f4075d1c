// RunConfig: one YAML run file parsed into plain structs. Every key, its type, default,
// allowed values and meaning are listed once, in the schema table (run_config_schema.cpp);
// the parser, the defaults and the Markdown reference (docs/CONFIG.md) all read that table.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/peft/peft_settings.h"
#include "core/tensor/dtype.h"
#include "core/train/perturbation_mode.h"

namespace zotune {

// Each choice enum below has a names array whose order is the enum's order: the schema reads
// the allowed spellings from it and the parser stores the index of the one written.

// How progress is printed: auto = an updating line on a terminal, plain lines otherwise.
enum class ProgressStyle { Auto, Line, Plain, Off };
inline constexpr std::array<std::string_view, 4> kProgressStyleNames{"auto", "line", "plain", "off"};

// lora / adapter / prefix: the PEFT modules of that kind alone (core/peft), the backbone frozen.
enum class TrainableMode { Full, Head, Lora, Adapter, Prefix };
inline constexpr std::array<std::string_view, 5> kTrainableModeNames{"full", "head", "lora", "adapter", "prefix"};

// Parameter groups that full fine-tuning can leave frozen.
enum class FrozenGroup { Embeddings, Norms, Head, Biases };
inline constexpr std::array<std::string_view, 4> kFrozenGroupNames{"embeddings", "norms", "head", "biases"};

enum class OptimizerKind { MeZO, BSZO, BSZOB, AdaZeta, MeZOAdam, HiZOO, LOZO, SparseMeZO };
inline constexpr std::array<std::string_view, 8> kOptimizerKindNames{"mezo",      "bszo",  "bszo-b", "adazeta",
                                                                     "mezo-adam", "hizoo", "lozo",   "sparse-mezo"};

// Sparse-MeZO's mask: the paper's small-magnitude mask, or AdaZeta-code's random one (R-MeZO).
enum class SparseMask { Magnitude, Random };
inline constexpr std::array<std::string_view, 2> kSparseMaskNames{"magnitude", "random"};

enum class LrSchedule { Constant, Linear };
inline constexpr std::array<std::string_view, 2> kLrScheduleNames{"constant", "linear"};

// Distribution of each element of a perturbation direction z.
enum class DirectionDistribution { Gaussian, Rademacher };
inline constexpr std::array<std::string_view, 2> kDirectionDistributionNames{"gaussian", "rademacher"};

// Transport of the per-step scalar all-reduce.
enum class CommBackend { MPI, NCCL };
inline constexpr std::array<std::string_view, 2> kCommBackendNames{"mpi", "nccl"};

// Where the forward passes and parameter passes run.
enum class EngineDevice { CPU, CUDA };
inline constexpr std::array<std::string_view, 2> kEngineDeviceNames{"cpu", "cuda"};

inline constexpr std::array<std::string_view, 3> kDTypeNames{"f32", "f16", "bf16"};  // DType order

// Which examples a task's splits hold (core/data/sampling.h): the num_* keys as given, MeZO's
// per-task sizes, BSZO's Table 6 sizes, or LM-BFF's k examples per class.
enum class TaskSampling { Sizes, MeZO, BSZO, KShot };
inline constexpr std::array<std::string_view, 4> kTaskSamplingNames{"sizes", "mezo", "bszo", "k-shot"};

// The prompt family of a task (core/tasks): auto picks MeZO's templates for decoders, LM-BFF's
// for encoders with an MLM head and a classification head for encoders without one.
enum class TemplateChoice { Auto, MeZO, LmBff, BszoMlm, Head };
inline constexpr std::array<std::string_view, 5> kTemplateChoiceNames{"auto", "mezo", "lm-bff", "bszo-mlm", "head"};

// The training loss of multiple-choice and generation tasks: auto = MeZO's choice (candidate
// cross-entropy for classification, teacher forcing for COPA, ReCoRD, SQuAD, DROP).
enum class TaskLoss { Auto, Candidates, TeacherForced };
inline constexpr std::array<std::string_view, 3> kTaskLossNames{"auto", "candidates", "teacher-forced"};

// The metric of a custom task (task.name custom): auto = accuracy for candidate tasks, F1 for
// generation ones (core/tasks/custom_task.h).
enum class TaskMetric { Auto, Accuracy, F1 };
inline constexpr std::array<std::string_view, 3> kTaskMetricNames{"auto", "accuracy", "f1"};

// What best-dev selection and early stopping compare.
enum class EvalSelect { Metric, Loss };
inline constexpr std::array<std::string_view, 2> kEvalSelectNames{"metric", "loss"};

// How a step's minibatch is drawn (core/train/task.h): epoch = the Hugging Face trainer's
// dataloader (a seeded shuffle per epoch, batches taken in order, the last one partial);
// independent = every step draws data.batch_size distinct examples afresh.
enum class MinibatchSampler { Epoch, Independent };
inline constexpr std::array<std::string_view, 2> kMinibatchSamplerNames{"epoch", "independent"};

// choice_names(E{}) finds the names array of a choice enum (by argument-dependent lookup).
constexpr std::span<const std::string_view> choice_names(ProgressStyle) { return kProgressStyleNames; }
constexpr std::span<const std::string_view> choice_names(PerturbationMode) { return kPerturbationModeNames; }
constexpr std::span<const std::string_view> choice_names(TrainableMode) { return kTrainableModeNames; }
constexpr std::span<const std::string_view> choice_names(FrozenGroup) { return kFrozenGroupNames; }
constexpr std::span<const std::string_view> choice_names(OptimizerKind) { return kOptimizerKindNames; }
constexpr std::span<const std::string_view> choice_names(LrSchedule) { return kLrScheduleNames; }
constexpr std::span<const std::string_view> choice_names(DirectionDistribution) { return kDirectionDistributionNames; }
constexpr std::span<const std::string_view> choice_names(CommBackend) { return kCommBackendNames; }
constexpr std::span<const std::string_view> choice_names(EngineDevice) { return kEngineDeviceNames; }
constexpr std::span<const std::string_view> choice_names(DType) { return kDTypeNames; }
constexpr std::span<const std::string_view> choice_names(TaskSampling) { return kTaskSamplingNames; }
constexpr std::span<const std::string_view> choice_names(TemplateChoice) { return kTemplateChoiceNames; }
constexpr std::span<const std::string_view> choice_names(TaskLoss) { return kTaskLossNames; }
constexpr std::span<const std::string_view> choice_names(EvalSelect) { return kEvalSelectNames; }
constexpr std::span<const std::string_view> choice_names(TaskMetric) { return kTaskMetricNames; }
constexpr std::span<const std::string_view> choice_names(SparseMask) { return kSparseMaskNames; }
constexpr std::span<const std::string_view> choice_names(MinibatchSampler) { return kMinibatchSamplerNames; }

// The spelling of a choice as written in a run file, e.g. choice_name(OptimizerKind::BSZOB) == "bszo-b".
template <class E>
constexpr std::string_view choice_name(E value) {
  return choice_names(value)[static_cast<size_t>(value)];
}

// BSZO's prior std sigma_p and initial noise std sigma_e,0: "auto" or a fixed positive number.
struct SigmaSetting {
  bool automatic = true;  // "auto": sqrt(n / 1e6), n = trainable parameter count (the BSZO code)
  double value = 0.0;     // the fixed value when !automatic (> 0)

  double resolve(uint64_t trainable_params) const;
  std::string text() const;  // "auto" or the value, as a run file would write it
};

// "auto" or a positive integer (task.max_length): auto is resolved where the model is known.
struct AutoCount {
  bool automatic = true;
  int64_t value = 0;  // when !automatic

  std::string text() const;  // "auto" or the integer, as a run file would write it
};

// The structs below hold no defaults of their own: parse_run_config fills every field from the
// file or from the schema table. Fields of keys that do not apply to the chosen optimizer
// (the BSZO keys under mezo, `queries` under bszo) stay zero.

struct RunSettings {
  std::string name;             // names the run and its log; default: the run file's stem
  uint64_t seed = 0;            // seeds the perturbation directions and the minibatch order
  int64_t steps = 0;            // optimizer steps
  std::string output;           // HDF5 log path; default runs/<name>.h5
  std::string save;             // safetensors file for the trained weights; empty = not saved
  int64_t flush_every = 0;      // steps between HDF5 flushes
  int64_t checksum_every = 0;   // steps between replica parameter checksums (0 = never)
  double divergence_factor = 0.0;  // a finite step loss above this x the first step's stops the run (0 = off)
  int64_t log_every = 0;        // steps between progress lines
  ProgressStyle progress = ProgressStyle::Auto;
};

struct ModelSettings {
  std::string path;  // Hugging Face directory or .gguf file
  DType dtype = DType::F32;
  PerturbationMode perturbation = PerturbationMode::InPlace;
};

struct TaskSettings {
  std::string name;
  std::string train, dev, test;    // data files; empty = not given
  std::string data_dir;            // folder with the task's files under their usual names
  TaskSampling sampling = TaskSampling::Sizes;
  int64_t k = 0;                   // k-shot: examples per class
  TemplateChoice template_family = TemplateChoice::Auto;
  TaskLoss loss = TaskLoss::Auto;
  int64_t num_train = 0, num_dev = 0, num_test = 0;  // examples sampled per split
  uint64_t data_seed = 0;          // seeds the split sampling (independent of run.seed)
  AutoCount max_length;            // tokens per example; auto: see resolved_max_length (core/train/sequence_length.h)
  std::vector<std::string> texts;  // inline toy corpus; empty = not given
  // task.name custom: a task defined in the run file (core/tasks/custom_task.h); empty = not given
  std::string prompt;                   // template with {field} slots ({{ }} = literal braces)
  std::vector<std::string> candidates;  // the continuation (decoders) or label word (encoders) of each class
  std::string candidates_field;         // per-example candidates: a record field holding a list
  std::string label_field;              // the record field holding the gold (not given: "label")
  std::vector<std::string> labels;      // label_field values in class order (not given: 0, 1, ... or the candidates)
  std::string answer_field;             // generation: the record field holding the gold answer(s)
  TaskMetric metric = TaskMetric::Auto;
};

struct TrainableSettings {
  TrainableMode mode = TrainableMode::Full;
  std::vector<FrozenGroup> freeze;  // in the order written, each at most once
};

struct OptimizerSettings {
  OptimizerKind name = OptimizerKind::MeZO;
  double lr = 0.0;
  double eps = 0.0;  // perturbation scale
  LrSchedule schedule = LrSchedule::Constant;
  double weight_decay = 0.0;
  DirectionDistribution direction = DirectionDistribution::Gaussian;
  bool one_sided = false;  // forward instead of central differences
  // MeZO
  int64_t queries = 0;  // n of n-SPSA: directions averaged per step
  // BSZO and BSZO-B (docs/papers/bszo.md a.3, a.4)
  int64_t k = 0;  // subspace dimension
  int64_t m = 0;  // observations per step
  SigmaSetting sigma_p, sigma_e;
  double alpha = 0.0;        // noise EMA smoothing
  double noise_floor = 0.0;  // lower bound of sigma_e as a fraction of sigma_e,0
  bool adaptive_noise = false;
  bool adaptive_sampling = false;
  // AdaZeta's query schedule (docs/papers/adazeta.md a.4): Q_e = min(max(floor(alpha e^beta), min), max)
  double queries_alpha = 0.0;
  SigmaSetting queries_beta;  // "auto or a number": auto = ln(target / alpha) / ln(steps * batch / train examples)
  int64_t queries_target = 0;  // NUM: the unclipped Q at the last epoch (beta auto), or Q itself when fixed
  int64_t queries_min = 0, queries_max = 0;
  bool queries_fixed = false;  // Q = queries_target at every step (the code's --use_num)
  // MeZO-Adam (baselines.md section 3)
  double beta1 = 0.0, beta2 = 0.0, adam_eps = 0.0;
  // HiZOO (section 4)
  double hessian_smoothing = 0.0;  // alpha of the diagonal-Hessian EMA
  // LOZO (section 6)
  int64_t rank = 0;           // r of the U V^T perturbation
  int64_t refresh_every = 0;  // nu: steps between draws of V
  // Sparse-MeZO (section 5)
  double sparsity = 0.0;      // fraction of entries left out of the mask
  SparseMask mask = SparseMask::Magnitude;
};

struct DataSettings {
  int64_t batch_size = 0;  // examples per minibatch (per query, all data-parallel ranks together)
  MinibatchSampler sampler = MinibatchSampler::Epoch;
};

struct EvalSettings {
  int64_t every = 0;     // steps between dev evaluations (0 = never)
  int64_t patience = 0;  // evaluations without dev improvement before stopping (0 = never stop)
  EvalSelect select = EvalSelect::Metric;
};

struct DistributedSettings {
  int64_t data_parallel = 0;  // ranks that split one query's minibatch
  CommBackend backend = CommBackend::MPI;
  double timeout_s = 0.0;     // seconds a rank waits in a collective before naming the silent ranks (0 = forever)
};

struct EngineSettings {
  EngineDevice device = EngineDevice::CPU;
  bool tf32 = true;          // fp32 GEMMs on TF32 tensor cores (CUDA)
  bool cuda_graphs = true;   // replay the forward pass as a CUDA graph per batch shape
  bool share_gpus = false;   // allow more ranks on a node than GPUs
  AutoCount probe_batch;     // probes per forward (PEFT modes): 1 = one forward per probe; auto: Trainer
  bool shared_prompts = false;  // one-token candidates of one prompt scored from one forward of it
  bool unpadded = false;     // loss forwards over the batch's real tokens only (CUDA)
};

struct RunConfig {
  RunSettings run;
  ModelSettings model;
  TaskSettings task;
  TrainableSettings trainable;
  PeftSettings peft;  // the peft: section; kind stays None here (peft_settings() sets it from trainable.mode)
  OptimizerSettings optimizer;
  DataSettings data;
  EvalSettings eval;
  DistributedSettings distributed;
  EngineSettings engine;
  // The resolved run file, what the run log stores: one self-contained YAML document of the keys
  // set (bases and overrides merged, relative paths made absolute), which parses back to this.
  std::string text;
  std::string source;  // the run file (its stem is the default run.name)
  std::map<std::string, std::string> origins;  // dotted key -> "file:line" (or the override) that set it
  // The keys in force that the run does not set, as YAML comment lines ("#   eps: 1e-4  # bszo
  // default: <source>"), in schema order: what `zotune config --resolved` prints after `text`.
  std::string defaults_text;
};

// Parses a run file, the run files it names as `base:` (relative to its folder; its own keys win)
// and command-line overrides "dotted.key=value" (they win over the file). Relative paths are
// resolved against the folder of the file that writes them, overrides' against the current
// directory. Throws zotune::Error naming the file (or override), the dotted key and its line for
// malformed YAML, unknown or duplicate keys, wrong types, out-of-range values, choices not in
// the list, keys that do not apply to the chosen optimizer, missing required keys, missing
// bases and cycles of bases.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});
// A run file's text alone (no base): relative paths stay as written (relative to the current
// directory). Reads run logs' /config back.
RunConfig parse_run_config(const std::string& yaml_text, const std::string& source_name);

// One row of the schema, rendered as text (what docs/CONFIG.md shows).
struct RunConfigKey {
  std::string path;        // dotted, e.g. "optimizer.k"
  std::string type;        // "integer", "number", "choice", ...
  std::string default_value;
  std::string allowed;     // range or choices
  std::string applies_to;  // optimizer names, or empty for every optimizer
  std::string doc;
  // The per-method defaults of this key: "methods[+mode]: value (source)", table order.
  std::vector<std::string> method_defaults;
};
std::vector<RunConfigKey> run_config_keys();

// The schema as Markdown: every section and key with type, default, allowed values and meaning.
std::string run_config_reference();

}  // namespace zotune
