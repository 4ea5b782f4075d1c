// The run-file schema: every key with its default, bounds or choices and meaning, in one
// table, and the per-method defaults (method_defaults) with their sources. The global defaults
// are MeZO's (docs/papers/baselines.md sections 1 and 8: large_models/mezo.sh and run.py);
// every other method's differing values are rows of kMethodDefaults.
#include "core/config/run_config_schema.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <type_traits>
#include <utility>

#include "core/util/error.h"

namespace zotune::run_config_schema {
namespace {

// ---- Binding a table row to its RunConfig field: the value kind and choices follow from
// ---- the field's C++ type, so a row cannot disagree with the field it fills.

template <class T>
struct IsEnumVector : std::false_type {};
template <class E>
struct IsEnumVector<std::vector<E>> : std::is_enum<E> {};

template <auto Section, auto Field>
using FieldType = std::remove_cvref_t<decltype((std::declval<RunConfig&>().*Section).*Field)>;

template <class T>
constexpr ValueKind kind_of() {
  if constexpr (std::is_same_v<T, int64_t>) return ValueKind::Integer;
  else if constexpr (std::is_same_v<T, uint64_t>) return ValueKind::Unsigned;
  else if constexpr (std::is_same_v<T, double>) return ValueKind::Number;
  else if constexpr (std::is_same_v<T, bool>) return ValueKind::Boolean;
  else if constexpr (std::is_same_v<T, std::string>) return ValueKind::String;
  else if constexpr (std::is_enum_v<T>) return ValueKind::Choice;
  else if constexpr (IsEnumVector<T>::value) return ValueKind::ChoiceList;
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return ValueKind::StringList;
  else if constexpr (std::is_same_v<T, AutoCount>) return ValueKind::AutoInteger;
  else {
    static_assert(std::is_same_v<T, SigmaSetting>, "no value kind for this field type");
    return ValueKind::Sigma;
  }
}

template <class T>
constexpr std::span<const std::string_view> choices_of() {
  if constexpr (std::is_enum_v<T>) return choice_names(T{});
  else if constexpr (IsEnumVector<T>::value) return choice_names(typename T::value_type{});
  else return {};
}

template <auto Section, auto Field>
void assign_field(RunConfig& config, const Value& value) {
  auto& field = (config.*Section).*Field;
  using T = FieldType<Section, Field>;
  if constexpr (std::is_enum_v<T>) {
    field = static_cast<T>(std::get<ChoiceIndex>(value).index);
  } else if constexpr (IsEnumVector<T>::value) {
    field.clear();
    for (size_t i : std::get<ChoiceIndices>(value).indices) field.push_back(static_cast<typename T::value_type>(i));
  } else {
    field = std::get<T>(value);
  }
}

struct KeyOptions {
  std::string_view default_yaml = {};
  std::string_view derived_default = {};
  void (*derive)(RunConfig&) = nullptr;
  bool required = false;
  Bounds bounds{};
  OptimizerSet only = kEveryOptimizer;
  bool is_path = false;
};

template <auto Section, auto Field>
KeySpec key(std::string_view path, KeyOptions o, std::string_view doc) {
  using T = FieldType<Section, Field>;
  return KeySpec{path,       kind_of<T>(), choices_of<T>(), o.bounds, o.default_yaml, o.derived_default, o.derive,
                 o.required, o.only,       doc,             &assign_field<Section, Field>, o.is_path};
}

constexpr Bounds at_least(double v) { return {v, std::nullopt, false, false}; }
constexpr Bounds greater_than(double v) { return {v, std::nullopt, true, false}; }
constexpr Bounds closed(double lo, double hi) { return {lo, hi, false, false}; }
constexpr Bounds open_closed(double lo, double hi) { return {lo, hi, true, false}; }

constexpr OptimizerSet kMeZO = 1u << static_cast<unsigned>(OptimizerKind::MeZO);
constexpr OptimizerSet kBSZOFamily =
    (1u << static_cast<unsigned>(OptimizerKind::BSZO)) | (1u << static_cast<unsigned>(OptimizerKind::BSZOB));
constexpr OptimizerSet kAdaZeta = 1u << static_cast<unsigned>(OptimizerKind::AdaZeta);
constexpr OptimizerSet kMeZOAdam = 1u << static_cast<unsigned>(OptimizerKind::MeZOAdam);
constexpr OptimizerSet kHiZOO = 1u << static_cast<unsigned>(OptimizerKind::HiZOO);
constexpr OptimizerSet kLOZO = 1u << static_cast<unsigned>(OptimizerKind::LOZO);
constexpr OptimizerSet kSparseMeZO = 1u << static_cast<unsigned>(OptimizerKind::SparseMeZO);
constexpr Bounds closed_open(double lo, double hi) { return {lo, hi, false, true}; }
constexpr OptimizerSet kBSZO = 1u << static_cast<unsigned>(OptimizerKind::BSZO);
constexpr OptimizerSet kBSZOB = 1u << static_cast<unsigned>(OptimizerKind::BSZOB);
// The baselines as BSZO's trainer.py ran them (its Tables 1 and 3): MeZO-Adam, HiZOO, LOZO.
constexpr OptimizerSet kBSZOPorts = kMeZOAdam | kHiZOO | kLOZO;
constexpr TrainableModeSet mode_only(TrainableMode mode) { return 1u << static_cast<unsigned>(mode); }

// Derived defaults, applied in table order (run.output reads run.name).
void derive_run_name(RunConfig& c) {
  c.run.name = std::filesystem::path(c.source).stem().string();
  if (c.run.name.empty()) c.run.name = "run";
}
void derive_run_output(RunConfig& c) { c.run.output = "runs/" + c.run.name + ".h5"; }

using R = RunConfig;
using Run = RunSettings;
using Mdl = ModelSettings;
using Tsk = TaskSettings;
using Trn = TrainableSettings;
using Pft = PeftSettings;
using Opt = OptimizerSettings;

const std::vector<KeySpec>& key_table() {
  static const std::vector<KeySpec> table = {
      // run
      key<&R::run, &Run::name>("run.name", {.derived_default = "the run file's stem", .derive = derive_run_name},
                               "names the run and its log file"),
      key<&R::run, &Run::seed>("run.seed", {.default_yaml = "0"},
                               "seeds the perturbation directions (Philox key) and the minibatch order"),
      key<&R::run, &Run::steps>("run.steps", {.default_yaml = "20000", .bounds = at_least(1)},
                                "optimizer steps (global default: MeZO's 20,000, large_models/mezo.sh)"),
      key<&R::run, &Run::output>("run.output", {.derived_default = "`runs/<name>.h5`", .derive = derive_run_output, .is_path = true},
                                 "HDF5 log file, written by rank 0"),
      key<&R::run, &Run::save>("run.save", {.is_path = true},
                               "where rank 0 writes the trained weights after the last step: a directory gets a Hugging "
                               "Face export (model directory, or PEFT adapter for LoRA: docs/EXPORT.md); a .safetensors "
                               "file gets the weights (Hugging Face names, model.dtype) with the model's config.json and "
                               "tokenizer.json copied beside it when none are there; not given = not saved (the log "
                               "replays them: zotune replay, zotune export)"),
      key<&R::run, &Run::flush_every>("run.flush_every", {.default_yaml = "50", .bounds = at_least(1)},
                                      "steps between flushes of the HDF5 log (a killed run keeps what was flushed)"),
      key<&R::run, &Run::checksum_every>("run.checksum_every", {.default_yaml = "100", .bounds = at_least(0)},
                                         "steps between cross-rank checksums of the parameter replicas (0 = never)"),
      key<&R::run, &Run::divergence_factor>(
          "run.divergence_factor", {.default_yaml = "100", .bounds = at_least(0)},
          "stops a diverging run: a finite step loss above this factor times the initial loss (the loss step 0 "
          "logs, /steps/loss[0]) ends it with status `failed: diverged at step N (loss X > F x initial Y)`, every "
          "logged step kept; 0 = off"),
      key<&R::run, &Run::log_every>("run.log_every", {.default_yaml = "10", .bounds = at_least(1)},
                                    "steps between progress lines"),
      key<&R::run, &Run::progress>("run.progress", {.default_yaml = "auto"},
                                   "auto: an updating line on a terminal, plain lines otherwise; off: no progress output"),
      // model
      key<&R::model, &Mdl::path>("model.path", {.required = true, .is_path = true},
                                 "Hugging Face model directory (config.json, safetensors, tokenizer.json) or .gguf file"),
      key<&R::model, &Mdl::dtype>("model.dtype", {.default_yaml = "f32"},
                                  "storage dtype of the weights; arithmetic is fp32"),
      key<&R::model, &Mdl::perturbation>("model.perturbation", {.default_yaml = "exact"},
                                         "exact: every probe starts from a snapshot of the trainable weights, so replicas "
                                         "stay bit-identical and replay is exact (one extra copy of them); reference: the "
                                         "papers' code's arithmetic (directions rounded to the parameter dtype, every "
                                         "perturb, restore and update term its own in-place pass with one rounding, in the "
                                         "official order; HiZOO's and MeZO-Adam's state in the dtype): 16-bit runs drift as "
                                         "the papers' did, one rank only; inplace: in place with fused fp32-direction passes "
                                         "(no copy, fewer passes; neither exact nor the papers' rounding; one rank only). "
                                         "docs/PRECISION.md: what each mode reproduces, measured drift"),
      // task
      key<&R::task, &Tsk::name>("task.name", {.required = true},
                                "the task (prompt template, labels, metric): a registered task, `lm`, or `custom` (a "
                                "task defined by task.prompt and the keys after it, docs/TASKS.md)"),
      key<&R::task, &Tsk::data_dir>("task.data_dir", {.is_path = true},
                                    "folder holding the task's files under their usual names (the layout "
                                    "scripts/fetch_data.py writes: `SST-2/train.tsv`, `RTE/val.jsonl`, ...); task.train, "
                                    "task.dev and task.test override single files"),
      key<&R::task, &Tsk::train>("task.train", {.is_path = true},
                                 "training data file (lm: one example per line); train and dev are sampled from it"),
      key<&R::task, &Tsk::dev>("task.dev", {.is_path = true},
                               "dev data file (model selection, early stopping); not given: dev is sampled from "
                               "task.train, as MeZO does"),
      key<&R::task, &Tsk::test>("task.test", {.is_path = true},
                                "test data file (the protocol's test split: the official validation file for "
                                "GLUE/SuperGLUE tasks)"),
      key<&R::task, &Tsk::sampling>("task.sampling", {.default_yaml = "mezo"},
                                    "sizes: task.num_train / num_dev / num_test as given; mezo: MeZO's per-task sizes "
                                    "(1000 / 500 / 1000; CB and COPA dev 100; large_models/mezo.sh, baselines.md 8.1); "
                                    "bszo: BSZO's Table 6 sizes (MeZO's for a task Table 6 does not list); k-shot: "
                                    "LM-BFF's task.k examples per class for train and for dev (seeds 13, 21, 42, 87, "
                                    "100 as task.data_seed); all with MeZO's seeded permutation of the train file. "
                                    "Not given: `sizes` when the run gives task.num_train, num_dev or num_test, else "
                                    "the method's default. Beside mezo, bszo or k-shot, a task.num_* other than its "
                                    "default and the size the sampling takes is refused (it would be ignored)"),
      key<&R::task, &Tsk::k>("task.k", {.default_yaml = "16", .bounds = at_least(1)},
                             "k-shot: examples per class in train and in dev (LM-BFF: 16 or 512)"),
      key<&R::task, &Tsk::template_family>("task.template", {.default_yaml = "auto"},
                                           "prompt family: mezo (decoder templates, baselines.md 8.2), lm-bff (MLM "
                                           "templates, section 9), bszo-mlm (BSZO's RoBERTa templates), head (a "
                                           "classification head on the pooled output); auto: mezo for decoders, lm-bff "
                                           "for encoders with an MLM head, head otherwise"),
      key<&R::task, &Tsk::loss>("task.loss", {.default_yaml = "auto"},
                                "candidates: cross-entropy over the length-normalised candidate log-likelihoods; "
                                "teacher-forced: token loss on the gold answer; auto: MeZO's choice (teacher-forced "
                                "for copa, record, squad, drop and custom tasks with task.answer_field; candidates "
                                "otherwise)"),
      key<&R::task, &Tsk::num_train>("task.num_train", {.default_yaml = "1000", .bounds = at_least(1)},
                                     "training examples sampled (MeZO protocol: 1000)"),
      key<&R::task, &Tsk::num_dev>("task.num_dev", {.default_yaml = "500", .bounds = at_least(0)},
                                   "dev examples sampled (MeZO protocol: 500; 0 = no dev set)"),
      key<&R::task, &Tsk::num_test>("task.num_test", {.default_yaml = "1000", .bounds = at_least(0)},
                                    "test examples sampled (MeZO protocol: 1000)"),
      key<&R::task, &Tsk::data_seed>("task.data_seed", {.default_yaml = "0"},
                                     "seeds the sampling of the splits, independently of `run.seed`"),
      key<&R::task, &Tsk::max_length>(
          "task.max_length", {.default_yaml = "auto", .bounds = closed(2, 1 << 20)},
          "maximum tokens per example (longer ones are cut: decoders keep the end and BOS, encoders the start); "
          "generation tasks give max_new_tokens of it to the answer, as MeZO does. auto: 2048 for decoder "
          "templates and the lm task (MeZO large_models/run.py `max_length`, baselines.md 8.2); LM-BFF's 128, 256 "
          "for mnli, snli, rte and qnli, for the lm-bff and head templates (medium_models/run_fewshot.sh, "
          "baselines.md 9); the model's position limit for bszo-mlm (BSZO's run.py keeps MeZO's 2048, which no "
          "RoBERTa input of its tasks reaches); always capped at the model's position limit (RoBERTa: 512). A "
          "number above that limit is an error naming it"),
      key<&R::task, &Tsk::texts>("task.texts", {.bounds = at_least(1)},
                                 "inline corpus for a toy language-modelling task, one string per example"),
      // a custom task (task.name custom, core/tasks/custom_task.h, docs/TASKS.md)
      key<&R::task, &Tsk::prompt>(
          "task.prompt", {},
          "custom task: the prompt template, text with `{field}` slots filled from each record of the data files "
          "(`{a.b}` reads a nested JSON field; `{{` and `}}` are literal braces; `{mask}` is the mask token, once, "
          "for masked-LM encoders). Decoders score prompt + each candidate (MeZO's encoding) or continue it"),
      key<&R::task, &Tsk::candidates>(
          "task.candidates", {.bounds = at_least(2)},
          "custom task: the candidate of each class, appended to the prompt as written (decoders: `\" positive\"`, "
          "length-normalised log-likelihood) or the label word at `{mask}` (encoders: one token each); a "
          "classification head takes them as its classes"),
      key<&R::task, &Tsk::candidates_field>("task.candidates_field", {},
                                            "custom task: a record field holding each example's own candidates (a "
                                            "list of strings; in TSV/CSV a JSON list), instead of task.candidates"),
      key<&R::task, &Tsk::label_field>("task.label_field", {},
                                       "custom task: the record field holding the gold candidate: a value of "
                                       "task.labels, else an index (0, 1, ...) or the candidate's text. Not given: "
                                       "`label`"),
      key<&R::task, &Tsk::labels>("task.labels", {.bounds = at_least(2)},
                                  "custom task: the values task.label_field takes, in the order of task.candidates "
                                  "(`[neg, pos]`); JSON booleans read as `true` / `false`"),
      key<&R::task, &Tsk::answer_field>("task.answer_field", {},
                                        "custom generation task: the record field holding the gold answer (a string "
                                        "or a list of strings); trains on prompt + \" answer\\n\" (MeZO's SQuAD "
                                        "target), decodes greedily, scored by F1 or exact match"),
      key<&R::task, &Tsk::metric>("task.metric", {.default_yaml = "auto"},
                                  "custom task: accuracy (the chosen candidate is the gold one; generation: SQuAD "
                                  "exact match) or f1 (SQuAD token F1 of the chosen candidate's or the generated "
                                  "text against the gold, max over golds); auto: accuracy with candidates, f1 for "
                                  "generation. Registered tasks keep their own metric"),
      // trainable
      key<&R::trainable, &Trn::mode>("trainable.mode", {.default_yaml = "full"},
                                     "full: every parameter not frozen; head: only the output head; lora: LoRA "
                                     "matrices on the attention projections alone; adapter: tensorized (TT) adapters "
                                     "alone (AdaZeta); prefix: prefix keys and values in every attention layer alone "
                                     "(MeZO-prefix); PEFT modes freeze the backbone, its settings are under `peft`"),
      key<&R::trainable, &Trn::freeze>("trainable.freeze", {.default_yaml = "[]"},
                                       "parameter groups that full fine-tuning leaves untouched"),
      // peft (trainable.mode lora / adapter / prefix; docs/papers/adazeta.md a.1-a.2, baselines.md section 2)
      key<&R::peft, &Pft::seed>("peft.seed", {.default_yaml = "0"},
                                "seeds the initialization of the PEFT modules (TT cores and biases, LoRA A, the "
                                "prefix's sampled tokens or random values), independently of `run.seed`"),
      key<&R::peft, &Pft::adapter_bottleneck>("peft.adapter_bottleneck", {.default_yaml = "64", .bounds = at_least(1)},
                                              "adapter: bottleneck width of a(h) = h + s U(ReLU(D h)) (AdaZeta: 64)"),
      key<&R::peft, &Pft::adapter_rank>("peft.adapter_rank", {.default_yaml = "5", .bounds = at_least(1)},
                                        "adapter: TT rank of D and U (AdaZeta's launcher: 5); TT modes follow the "
                                        "hidden size (4096: [16,16,16,4,4,4], 1024: [8,8,16,8,8])"),
      key<&R::peft, &Pft::adapter_scale>("peft.adapter_scale", {.default_yaml = "1.0"}, "adapter: scaling s"),
      key<&R::peft, &Pft::adapter_placement>("peft.adapter_placement", {.default_yaml = "code"},
                                             "adapter: code = AdaZeta's code (Llama: gate_proj and up_proj inputs, "
                                             "down_proj output; OPT: fc1 input, fc2 output; BERT/RoBERTa: Houlsby, "
                                             "after the attention and FFN output projections); paper = after each "
                                             "attention and feed-forward sub-layer"),
      key<&R::peft, &Pft::lora_rank>("peft.lora_rank", {.default_yaml = "8", .bounds = at_least(1)},
                                     "lora: rank r (MeZO: 8; AdaZeta's MeZO-LoRA: 5)"),
      key<&R::peft, &Pft::lora_alpha>("peft.lora_alpha", {.default_yaml = "16", .bounds = greater_than(0)},
                                      "lora: alpha; the update is (alpha / r) * B A x"),
      key<&R::peft, &Pft::lora_targets>("peft.lora_targets", {.default_yaml = "[q, v]"},
                                        "lora: attention projections wrapped (query, key, value, output; MeZO: q and v)"),
      key<&R::peft, &Pft::prefix_tokens>("peft.prefix_tokens", {.default_yaml = "5", .bounds = at_least(1)},
                                         "prefix: key and value vectors per attention layer, each n_kv_heads * "
                                         "head_dim wide, that every token attends to (MeZO: 5); no reparameterization"),
      key<&R::peft, &Pft::prefix_init>("peft.prefix_init", {.default_yaml = "real_act"},
                                       "prefix: real_act = the keys (after RoPE, at positions 0 .. prefix_tokens - 1) "
                                       "and values of the plain backbone run on prefix_tokens tokens sampled uniformly "
                                       "from the vocabulary (MeZO's init_by_real_act, found crucial for MeZO); random = "
                                       "N(0, 1) entries"),
      // optimizer: every optimizer
      key<&R::optimizer, &Opt::name>("optimizer.name", {.default_yaml = "mezo"},
                                     "mezo: two-point SPSA; bszo: Bayesian subspace ZO; "
                                     "bszo-b: BSZO with a fresh forward pass for each adaptive sample (it differs "
                                     "from bszo only through the rounding of in-place 16-bit arithmetic, hence its "
                                     "default model.perturbation: reference; docs/PRECISION.md); "
                                     "adazeta: two-point SPSA averaged over a number of queries that grows with the "
                                     "epoch (the `optimizer.queries_*` schedule); baselines (both engines; baselines.md "
                                     "3-6): mezo-adam: the SPSA estimate into Adam; hizoo: probes and step scaled by a "
                                     "diagonal Hessian estimate (3 forwards); lozo: low-rank U V^T perturbations of "
                                     "every matrix; sparse-mezo: MeZO on masked directions; mezo-adam and hizoo run "
                                     "under model.perturbation exact or reference, lozo and sparse-mezo under exact"),
      key<&R::optimizer, &Opt::lr>("optimizer.lr", {.default_yaml = "1e-6", .bounds = greater_than(0)},
                                   "learning rate (global default: MeZO's full-parameter 1e-6, paper Table 16, "
                                   "large_models/mezo.sh)"),
      key<&R::optimizer, &Opt::eps>("optimizer.eps", {.default_yaml = "1e-3", .bounds = greater_than(0)},
                                    "perturbation scale epsilon (global default: MeZO's 1e-3, paper Table 16; the "
                                    "BSZO paper ran every method at 1e-4)"),
      key<&R::optimizer, &Opt::schedule>("optimizer.schedule", {.default_yaml = "constant"},
                                         "learning rate: constant, or linear decay to 0 at `run.steps`"),
      key<&R::optimizer, &Opt::weight_decay>("optimizer.weight_decay", {.default_yaml = "0.0", .bounds = at_least(0)},
                                             "weight decay lambda: `theta -= lr * lambda * theta`; MeZO skips biases and "
                                             "norms (global default: MeZO's 0, large_models/mezo.sh)"),
      key<&R::optimizer, &Opt::direction>("optimizer.direction", {.default_yaml = "gaussian"},
                                          "each element of a direction z: N(0, 1), or a random sign"),
      // optimizer: MeZO
      key<&R::optimizer, &Opt::queries>("optimizer.queries", {.default_yaml = "1", .bounds = at_least(1), .only = kMeZO},
                                        "directions averaged per step (n-SPSA)"),
      key<&R::optimizer, &Opt::one_sided>("optimizer.one_sided", {.default_yaml = "false", .only = kMeZO | kBSZOFamily},
                                          "forward difference `(L(theta + eps z) - L(theta)) / eps` instead of the central "
                                          "`(L(theta + eps z) - L(theta - eps z)) / 2 eps`; bszo, bszo-b: the code's "
                                          "bayesian_one_sided (false: 2 forwards per fresh observation, f0 still measured "
                                          "and logged as the code does)"),
      // optimizer: BSZO, BSZO-B
      key<&R::optimizer, &Opt::k>("optimizer.k", {.default_yaml = "2", .bounds = closed(1, 256), .only = kBSZOFamily},
                                  "subspace dimension: random directions per step"),
      key<&R::optimizer, &Opt::m>("optimizer.m", {.default_yaml = "3", .bounds = closed(1, 1024), .only = kBSZOFamily},
                                  "observations per step (m >= k: the first k are the coordinate axes, the rest adaptive)"),
      key<&R::optimizer, &Opt::sigma_p>("optimizer.sigma_p",
                                        {.default_yaml = "auto", .bounds = greater_than(0), .only = kBSZOFamily},
                                        "prior std of the subspace gradient; `auto` = `sqrt(n / 1e6)`, n = trainable parameters"),
      key<&R::optimizer, &Opt::sigma_e>("optimizer.sigma_e",
                                        {.default_yaml = "auto", .bounds = greater_than(0), .only = kBSZOFamily},
                                        "initial observation-noise std sigma_e,0; `auto` = `sqrt(n / 1e6)`"),
      key<&R::optimizer, &Opt::alpha>("optimizer.alpha",
                                      {.default_yaml = "0.1", .bounds = open_closed(0, 1), .only = kBSZOFamily},
                                      "smoothing of the residual-based noise EMA"),
      key<&R::optimizer, &Opt::noise_floor>("optimizer.noise_floor",
                                            {.default_yaml = "0.1", .bounds = closed(0, 1), .only = kBSZOFamily},
                                            "lower bound of sigma_e, as a fraction of sigma_e,0"),
      key<&R::optimizer, &Opt::adaptive_noise>("optimizer.adaptive_noise", {.default_yaml = "true", .only = kBSZOFamily},
                                               "re-estimate sigma_e from the residual of every observation"),
      key<&R::optimizer, &Opt::adaptive_sampling>("optimizer.adaptive_sampling",
                                                  {.default_yaml = "true", .only = kBSZOFamily},
                                                  "observations after the first k go along the most uncertain direction"),
      // optimizer: AdaZeta's query schedule (docs/papers/adazeta.md a.4)
      key<&R::optimizer, &Opt::queries_alpha>("optimizer.queries_alpha",
                                              {.default_yaml = "0.85", .bounds = greater_than(0), .only = kAdaZeta},
                                              "alpha of the schedule: Q = min(max(floor(alpha * e^beta), queries_min), "
                                              "queries_max) at epoch e = floor(step / ceil(train examples / batch size))"),
      key<&R::optimizer, &Opt::queries_beta>("optimizer.queries_beta",
                                             {.default_yaml = "auto", .bounds = greater_than(0), .only = kAdaZeta},
                                             "exponent beta of the schedule; `auto` = `ln(queries_target / alpha) / "
                                             "ln(run.steps * data.batch_size / train examples)`, as AdaZeta's code derives "
                                             "it (the paper's Llama-2 runs state 0.45)"),
      key<&R::optimizer, &Opt::queries_target>("optimizer.queries_target",
                                               {.default_yaml = "20", .bounds = at_least(1), .only = kAdaZeta},
                                               "the code's NUM: with beta auto, alpha * E^beta reaches it at the last "
                                               "epoch E; with queries_fixed, the Q of every step"),
      key<&R::optimizer, &Opt::queries_min>("optimizer.queries_min",
                                            {.default_yaml = "1", .bounds = at_least(1), .only = kAdaZeta},
                                            "lower bound of Q (the code's 1; its multi-GPU trainer uses 3)"),
      key<&R::optimizer, &Opt::queries_max>("optimizer.queries_max",
                                            {.default_yaml = "15", .bounds = at_least(1), .only = kAdaZeta},
                                            "upper bound of Q (the launcher's NUM_MAX = 15; the paper states 20)"),
      key<&R::optimizer, &Opt::queries_fixed>("optimizer.queries_fixed", {.default_yaml = "false", .only = kAdaZeta},
                                              "Q = queries_target at every step, no schedule (the code's --use_num)"),
      // optimizer: MeZO-Adam (baselines.md section 3; torch.optim.Adam's defaults, as BSZO ran it)
      key<&R::optimizer, &Opt::beta1>("optimizer.beta1",
                                      {.default_yaml = "0.9", .bounds = closed_open(0, 1), .only = kMeZOAdam},
                                      "Adam's first-moment decay"),
      key<&R::optimizer, &Opt::beta2>("optimizer.beta2",
                                      {.default_yaml = "0.999", .bounds = closed_open(0, 1), .only = kMeZOAdam},
                                      "Adam's second-moment decay"),
      key<&R::optimizer, &Opt::adam_eps>("optimizer.adam_eps",
                                         {.default_yaml = "1e-8", .bounds = greater_than(0), .only = kMeZOAdam},
                                         "Adam's denominator epsilon: `theta -= lr m_hat / (sqrt(v_hat) + adam_eps)`"),
      // optimizer: HiZOO (section 4)
      key<&R::optimizer, &Opt::hessian_smoothing>(
          "optimizer.hessian_smoothing", {.default_yaml = "1e-8", .bounds = closed_open(0, 1), .only = kHiZOO},
          "alpha of the diagonal-Hessian EMA `Sigma = (1 - alpha) Sigma + alpha |l+ + l- - 2 l0| / (2 eps^2) Sigma z^2` "
          "(the code's default `constant0` makes HiZOO MeZO: set it; BSZO ran 1e-8)"),
      // optimizer: LOZO (section 6)
      key<&R::optimizer, &Opt::rank>("optimizer.rank", {.default_yaml = "2", .bounds = closed(1, 4096), .only = kLOZO},
                                     "rank r of the U V^T perturbation of every matrix (vectors get a full z; OPT "
                                     "runs: 1 or 2, RoBERTa: 4)"),
      key<&R::optimizer, &Opt::refresh_every>("optimizer.refresh_every",
                                              {.default_yaml = "50", .bounds = at_least(1), .only = kLOZO},
                                              "nu: steps between draws of V (lazy sampling; U is drawn every step). "
                                              "V has its own seeded stream, so every update uses the U it measured; the "
                                              "official code's refresh steps update with another U (one step in nu), "
                                              "which zotune does not reproduce (docs/PRECISION.md)"),
      // optimizer: Sparse-MeZO (section 5)
      key<&R::optimizer, &Opt::sparsity>("optimizer.sparsity",
                                         {.default_yaml = "0.8", .bounds = closed_open(0, 1), .only = kSparseMeZO},
                                         "fraction of each tensor's entries left out of the mask (0 = MeZO; the paper's "
                                         "best 0.8; AdaZeta's random-mask baseline 0.75)"),
      key<&R::optimizer, &Opt::mask>("optimizer.mask", {.default_yaml = "magnitude", .only = kSparseMeZO},
                                     "magnitude: perturb and update the entries with |theta| <= a per-tensor threshold "
                                     "set from the initial weights (the paper); random: a fresh seeded Bernoulli mask "
                                     "per step (AdaZeta's code, R-MeZO)"),
      // data, eval, distributed
      key<&R::data, &DataSettings::batch_size>("data.batch_size", {.default_yaml = "16", .bounds = at_least(1)},
                                               "examples per minibatch; every query of a step sees the same minibatch "
                                               "(16 in every paper's decoder runs)"),
      key<&R::data, &DataSettings::sampler>(
          "data.sampler", {.default_yaml = "epoch"},
          "epoch: as the Hugging Face trainer's dataloader (all the papers' code): each epoch a seeded shuffle of the "
          "training examples (a function of run.seed and the epoch alone), cut into batches of data.batch_size in "
          "order, the last one partial (drop_last false); step s is in epoch floor(s / ceil(n / batch_size)). "
          "independent: every step draws data.batch_size distinct examples afresh, keyed by (run.seed, step)"),
      key<&R::eval, &EvalSettings::every>("eval.every", {.default_yaml = "4000", .bounds = at_least(0)},
                                          "steps between dev evaluations (0 = never); the evaluated checkpoints are the "
                                          "selection's candidates (global default: MeZO's 4,000 = 1/5 of 20,000 steps, "
                                          "large_models/mezo.sh)"),
      key<&R::eval, &EvalSettings::select>("eval.select", {.default_yaml = "loss"},
                                           "what best-dev selection and early stopping compare: the dev loss (lower is "
                                           "better; the Hugging Face trainer's load_best_model_at_end default metric, "
                                           "which MeZO and AdaZeta use) or the task's metric (accuracy or F1, higher is "
                                           "better, as BSZO's trainer selects; the lm task has only the loss). As in "
                                           "that trainer, the candidates are the checkpoints evaluated every eval.every "
                                           "steps: neither the untrained weights (step 0 is evaluated for the log only) "
                                           "nor final weights off the eval.every grid; a run with no evaluated "
                                           "checkpoint keeps its final weights"),
      key<&R::eval, &EvalSettings::patience>("eval.patience", {.default_yaml = "0", .bounds = at_least(0)},
                                             "evaluations without dev improvement before stopping (0 = no early stopping, "
                                             "the Hugging Face trainer's default, as MeZO and AdaZeta run)"),
      key<&R::distributed, &DistributedSettings::data_parallel>(
          "distributed.data_parallel", {.default_yaml = "1", .bounds = at_least(1)},
          "ranks that split one query's minibatch (the 2-D query x data layout)"),
      key<&R::distributed, &DistributedSettings::backend>("distributed.backend", {.default_yaml = "mpi"},
                                                          "transport of the per-step scalar all-reduce: MPI on the host, "
                                                          "or NCCL on the device (engine.device: cuda)"),
      key<&R::distributed, &DistributedSettings::timeout_s>(
          "distributed.timeout_s", {.default_yaml = "600", .bounds = {0.0, 1e6, false, false}},
          "seconds a rank waits in a collective for the other ranks once the model is loaded (a step's all-reduce, "
          "the replica checksum) before it stops the run naming the rank(s) that did not answer and the step: status "
          "`failed: distributed.timeout_s: ...`, exit code 76. 0 = wait forever. Loading is not bounded (rank 0 may "
          "read a large model for longer); a step longer than this on one rank also trips it"),
      key<&R::engine, &EngineSettings::device>("engine.device", {.default_yaml = "cpu"},
                                               "where forward and parameter passes run: the CPU reference engine, or "
                                               "one CUDA GPU per rank"),
      key<&R::engine, &EngineSettings::tf32>("engine.tf32", {.default_yaml = "true"},
                                             "CUDA: fp32 GEMMs on TF32 tensor cores (about 1e-3 relative); false = "
                                             "exact fp32"),
      key<&R::engine, &EngineSettings::cuda_graphs>("engine.cuda_graphs", {.default_yaml = "true"},
                                                    "CUDA: replay each batch shape's forward pass as a captured graph"),
      key<&R::engine, &EngineSettings::share_gpus>("engine.share_gpus", {.default_yaml = "false"},
                                                   "CUDA: allow more ranks on a node than GPUs (ranks then share GPUs)"),
      key<&R::engine, &EngineSettings::probe_batch>(
          "engine.probe_batch", {.default_yaml = "1", .bounds = at_least(1)},
          "probes evaluated in one forward (trainable.mode lora, adapter or prefix): the minibatch runs once per "
          "forward for up to this many probes, each block of rows with its probe's perturbed modules, the backbone "
          "shared. 1 = one forward per probe, as the papers' code runs them. The probes of a step are cut into "
          "these batches the same way on any number of ranks, so the logged losses do not depend on the ranks; they "
          "differ from probe_batch 1 by GEMM rounding only (docs/PERFORMANCE.md). auto: every probe of a round in "
          "one forward (AdaZeta 2 queries_max, MeZO 2 queries; 64 for optimizers whose rounds vary), fewer when the "
          "GPU's free memory would not hold that many copies of the minibatch's activations (the smallest count "
          "over the ranks, so all ranks cut alike); 1 in full and head-only training. The count chosen is printed "
          "and kept in the log's /summary probe_batch"),
      key<&R::engine, &EngineSettings::shared_prompts>(
          "engine.shared_prompts", {.default_yaml = "false"},
          "decoder candidate scoring: the candidates of an example that are one token each after the same prompt "
          "tokens (SST-2's, RTE's, CB's label words) are scored from one forward of the prompt, each candidate's "
          "log-likelihood read at its last position, instead of one forward per candidate as the papers' code "
          "runs them (false). The same numbers up to GEMM rounding (the batches differ in shape: "
          "docs/PERFORMANCE.md), for 1 / (candidates) of the forward's tokens; candidates of several tokens keep "
          "their own sequences"),
      key<&R::engine, &EngineSettings::unpadded>(
          "engine.unpadded", {.default_yaml = "false"},
          "CUDA: the loss forwards (LM heads' scored rows, the classification head's first tokens) run their GEMMs "
          "and row-wise ops on the batch's real tokens only, attention alone on the padded layout, instead of on "
          "every slot of the batch padded to its longest sequence as the papers' code runs them (false). The same "
          "numbers up to GEMM rounding (the GEMMs have fewer rows: docs/PERFORMANCE.md); generation and "
          "prefix-tuning keep the padded layout; the CPU engine ignores it"),
  };
  return table;
}

// ---- Per-method defaults (run_config_schema.h MethodDefault). The global defaults above are
// MeZO's full-parameter values; a row gives another method's value where it differs, or states
// a method's value explicitly where the issue asks for it. Sources are the notes in
// docs/papers/*.md, which cite the papers' sections and launch scripts. The baselines
// MeZO-Adam, HiZOO and LOZO take the values of BSZO's port (AeonianQuill/BSZO trainer.py and
// its scripts), because BSZO's Tables 1 and 3 are the tables zotune compares them in; their own
// launchers differ (HiZOO.sh: eps 1e-3, eval every 2,000, dev-loss selection, alpha constant0;
// LOZO's lozo.sh: eps 1e-3, eval every 4,000). Sparse-MeZO's code was not retrievable: its
// paper says its setting follows MeZO, so it keeps the global (MeZO) defaults.
constexpr std::string_view kBszoEps = "bszo.md a.4 and Tables 7-10: eps 1e-4 for every method (scripts `--zo_eps=1e-4`)";
constexpr std::string_view kBszoSteps = "bszo.md a.4, b: max 20,000 steps (paper and scripts)";
constexpr std::string_view kBszoEvery = "bszo.md a.4, b: evaluate on dev every 500 steps (scripts)";
constexpr std::string_view kBszoSelect = "bszo.md b: best dev accuracy checkpoint kept (BSZO trainer.py)";
constexpr std::string_view kBszoPatience =
    "bszo.md a.4, b: early stopping after 8 evaluations without dev improvement (4,000 steps; Tables 7-10)";
constexpr std::string_view kBszoSampling = "bszo.md b: Table 6 split sizes (SST-2 1000/500, COPA 300/100, WSC 450/100, CB 200/50)";

constexpr MethodDefault kMethodDefaults[] = {
    // MeZO with PEFT modules (baselines.md 2; MeZO paper Table 16, OPT-13B grids).
    {kMeZO, mode_only(TrainableMode::Lora), "optimizer.lr", "1e-4",
     "baselines.md 2: MeZO paper Table 16, MeZO (LoRA) lr grid {1e-4, 5e-5}: its first value"},
    {kMeZO, mode_only(TrainableMode::Lora), "optimizer.eps", "1e-2", "baselines.md 2: MeZO paper Table 16, MeZO (LoRA) eps 1e-2"},
    {kMeZO, mode_only(TrainableMode::Prefix), "optimizer.lr", "1e-2",
     "baselines.md 2: MeZO paper Table 16, MeZO (prefix) lr grid {1e-2, 1e-3}: its first value"},
    {kMeZO, mode_only(TrainableMode::Prefix), "optimizer.eps", "1e-1",
     "baselines.md 2: MeZO paper Table 16, MeZO (prefix) eps 1e-1"},
    // BSZO and BSZO-B (bszo.md a.4, b).
    {kBSZOFamily, kEveryTrainableMode, "optimizer.lr", "1e-6",
     "bszo.md a.4: the lr scripts/run_roberta_large_best_lr.sh selected for SST-2, RTE, CB and WIC (RoBERTa-large; "
     "its OPT-13B and Mistral-7B runs selected 5e-8 to 5e-7)"},
    // BSZO's protocol, for BSZO and for the baselines as its code ran them (below).
    {kBSZOFamily | kBSZOPorts, kEveryTrainableMode, "optimizer.eps", "1e-4", kBszoEps},
    {kBSZOFamily | kBSZOPorts, kEveryTrainableMode, "run.steps", "20000", kBszoSteps},
    {kBSZOFamily | kBSZOPorts, kEveryTrainableMode, "eval.every", "500", kBszoEvery},
    {kBSZOFamily | kBSZOPorts, kEveryTrainableMode, "eval.select", "metric", kBszoSelect},
    {kBSZOFamily | kBSZOPorts, kEveryTrainableMode, "eval.patience", "8", kBszoPatience},
    {kBSZOFamily | kBSZOPorts, kEveryTrainableMode, "task.sampling", "bszo", kBszoSampling},
    {kBSZOFamily, kEveryTrainableMode, "optimizer.one_sided", "true",
     "bszo.md a.1, a.4: one-sided differences (paper Def. 3.4; the scripts pass bayesian_one_sided, whose run.py "
     "default is false)"},
    {kBSZOB, kEveryTrainableMode, "model.perturbation", "reference",
     "bszo.md a.3 (RNG detail), d.6: the official v4 optimizer perturbs, restores and updates in place in the "
     "parameter dtype, and its fresh re-measurement differs from BSZO's cached one only through that arithmetic"},
    // AdaZeta (adazeta.md a.2, a.6: the Llama-2-7B launcher run_all_large_exp.sh).
    {kAdaZeta, kEveryTrainableMode, "trainable.mode", "adapter",
     "adazeta.md a.2: AdaZeta trains tensorized (TT) adapters, the backbone frozen"},
    {kAdaZeta, kEveryTrainableMode, "optimizer.lr", "1e-4", "adazeta.md a.6: launcher run_all_large_exp.sh, lr 1e-4"},
    {kAdaZeta, kEveryTrainableMode, "optimizer.eps", "1e-3", "adazeta.md a.6: launcher, eps 1e-3"},
    {kAdaZeta, kEveryTrainableMode, "optimizer.weight_decay", "0.01", "adazeta.md a.6: launcher, weight decay 0.01"},
    {kAdaZeta, kEveryTrainableMode, "run.steps", "10000", "adazeta.md a.4, a.6: launcher STEPS=10000"},
    {kAdaZeta, kEveryTrainableMode, "eval.every", "200", "adazeta.md a.6: launcher, eval every 200 steps"},
    // MeZO-Adam, HiZOO, LOZO as BSZO ran them (baselines.md 3, 4, 6; bszo.md Tables 7-10).
    {kMeZOAdam, kEveryTrainableMode, "optimizer.lr", "1e-5",
     "bszo.md Tables 7-10: the middle of BSZO's MeZO-Adam grid {1e-4, 5e-5, 1e-5, 5e-6, 1e-6} (OPT-1.3B, OPT-13B); "
     "the selected value is not published"},
    {kHiZOO, kEveryTrainableMode, "optimizer.lr", "1e-6",
     "bszo.md Tables 7-10: in BSZO's HiZOO grid {1e-5, 5e-6, 1e-6, 5e-7, 1e-7}, its middle; also HiZOO's README "
     "OPT-13B example (baselines.md 4)"},
    {kLOZO, kEveryTrainableMode, "optimizer.lr", "1e-6",
     "baselines.md 6: LOZO README OPT-13B range {1e-6, 1e-7}, its first value; the top of BSZO's LOZO grid (bszo.md "
     "Tables 7-10)"},
};

constexpr SectionSpec kSections[] = {
    {"run", "the run as a whole: name, seed, length, logging"},
    {"model", "the model to fine-tune"},
    {"task", "the task and its data"},
    {"trainable", "which parameters are trained"},
    {"peft", "parameter-efficient modules (trainable.mode lora, adapter or prefix)"},
    {"optimizer", "the zeroth-order optimizer and its hyperparameters"},
    {"data", "minibatches"},
    {"eval", "dev-set evaluation and early stopping"},
    {"distributed", "how ranks share a step (each rank holds a full replica)"},
    {"engine", "the compute engine: CPU reference or CUDA"},
};

std::optional<Violation> check_m_covers_k(const RunConfig& c) {
  const OptimizerSettings& o = c.optimizer;
  if (!contains(kBSZOFamily, o.name) || o.m >= o.k) return std::nullopt;
  return Violation{{"optimizer.m", "optimizer.k"},
                   "needs optimizer.m >= optimizer.k, got m = " + std::to_string(o.m) + ", k = " + std::to_string(o.k)};
}

std::optional<Violation> check_data_parallel_fits_batch(const RunConfig& c) {
  if (c.distributed.data_parallel <= c.data.batch_size) return std::nullopt;
  return Violation{{"distributed.data_parallel", "data.batch_size"},
                   std::to_string(c.distributed.data_parallel) + " ranks cannot split a minibatch of data.batch_size = " +
                       std::to_string(c.data.batch_size) + " examples"};
}

std::optional<Violation> check_freeze_needs_full(const RunConfig& c) {
  if (c.trainable.freeze.empty() || c.trainable.mode == TrainableMode::Full) return std::nullopt;
  return Violation{{"trainable.freeze", "trainable.mode"},
                   "applies only with trainable.mode 'full' (mode 'head' trains the head alone)"};
}

std::optional<Violation> check_run_name_is_file_name(const RunConfig& c) {
  if (c.run.name.find('/') == std::string::npos && c.run.name != "." && c.run.name != "..") return std::nullopt;
  return Violation{{"run.name"}, "'" + c.run.name + "' cannot name a file (no '/', not '.' or '..')"};
}

std::optional<Violation> check_queries_min_below_max(const RunConfig& c) {
  const OptimizerSettings& o = c.optimizer;
  if (!contains(kAdaZeta, o.name) || o.queries_min <= o.queries_max) return std::nullopt;
  return Violation{{"optimizer.queries_min", "optimizer.queries_max"},
                   "needs optimizer.queries_min <= optimizer.queries_max, got " + std::to_string(o.queries_min) + " > " +
                       std::to_string(o.queries_max)};
}

// A custom task's keys: only with task.name custom, which needs a prompt and one source of
// candidates or gold answers (core/tasks/custom_task.h).
std::optional<Violation> check_custom_task_keys(const RunConfig& c) {
  const TaskSettings& t = c.task;
  const std::pair<std::string_view, bool> given[] = {
      {"task.prompt", !t.prompt.empty()},           {"task.candidates", !t.candidates.empty()},
      {"task.candidates_field", !t.candidates_field.empty()}, {"task.label_field", !t.label_field.empty()},
      {"task.labels", !t.labels.empty()},           {"task.answer_field", !t.answer_field.empty()},
      {"task.metric", t.metric != TaskMetric::Auto}};
  if (t.name != "custom") {
    for (const auto& [key, is_given] : given)
      if (is_given)
        return Violation{{key, "task.name"}, "applies only to task.name custom (a task defined in the run file); " +
                                                 t.name + " keeps its registered template, labels and metric"};
    return std::nullopt;
  }
  if (t.prompt.empty())
    return Violation{{"task.name"}, "custom needs task.prompt (the template: text with {field} slots)"};
  const int sources = !t.candidates.empty() + !t.candidates_field.empty() + !t.answer_field.empty();
  if (sources == 0)
    return Violation{{"task.name"}, "custom needs task.candidates (one per class), task.candidates_field (per "
                                    "example) or task.answer_field (generation)"};
  if (sources > 1)
    return Violation{{"task.candidates_field", "task.answer_field", "task.candidates"},
                     "give one of task.candidates, task.candidates_field and task.answer_field"};
  if (!t.labels.empty() && t.labels.size() != t.candidates.size())
    return Violation{{"task.labels", "task.candidates"},
                     std::to_string(t.labels.size()) + " values for " + std::to_string(t.candidates.size()) +
                         " task.candidates (one per candidate, in its order)" +
                         (t.candidates.empty() ? "; task.labels names the classes of task.candidates" : "")};
  if (!t.answer_field.empty() && (!t.label_field.empty() || t.loss == TaskLoss::Candidates))
    return Violation{{t.label_field.empty() ? "task.loss" : "task.label_field", "task.answer_field"},
                     t.label_field.empty() ? "candidates: a generation task (task.answer_field) has no candidates"
                                           : "a generation task (task.answer_field) reads no label"};
  return std::nullopt;
}

constexpr CrossKeyRule kCrossKeyRules[] = {
    {"`optimizer.m` >= `optimizer.k` (bszo, bszo-b): the first k observations are the coordinate axes",
     check_m_covers_k},
    {"`distributed.data_parallel` <= `data.batch_size`: each data-parallel rank gets at least one example",
     check_data_parallel_fits_batch},
    {"`trainable.freeze` is given only with `trainable.mode: full`", check_freeze_needs_full},
    {"`run.name` is a file name (no `/`): the default `run.output` is `runs/<name>.h5`", check_run_name_is_file_name},
    {"`optimizer.queries_min` <= `optimizer.queries_max` (adazeta)", check_queries_min_below_max},
    {"`task.prompt`, `task.candidates`, `task.candidates_field`, `task.label_field`, `task.labels`, "
     "`task.answer_field` and `task.metric` are given only with `task.name: custom`, which needs `task.prompt` and "
     "exactly one of `task.candidates`, `task.candidates_field`, `task.answer_field`",
     check_custom_task_keys},
};

}  // namespace

std::span<const SectionSpec> sections() { return kSections; }
std::span<const KeySpec> keys() { return key_table(); }

size_t key_index(std::string_view path) {
  for (size_t i = 0; i < keys().size(); ++i)
    if (keys()[i].path == path) return i;
  throw Error("run_config_schema.cpp: no key '" + std::string(path) + "'");
}
std::span<const CrossKeyRule> cross_key_rules() { return kCrossKeyRules; }
std::span<const MethodDefault> method_defaults() { return kMethodDefaults; }

std::string describe_methods(const MethodDefault& row) {
  std::string out;
  for (size_t i = 0; i < kOptimizerKindNames.size(); ++i)
    if (contains(row.methods, static_cast<OptimizerKind>(i))) out += (out.empty() ? "" : ", ") + std::string(kOptimizerKindNames[i]);
  if (row.modes != kEveryTrainableMode) {
    std::string modes;
    for (size_t i = 0; i < kTrainableModeNames.size(); ++i)
      if (contains_mode(row.modes, static_cast<TrainableMode>(i))) modes += (modes.empty() ? "" : ", ") + std::string(kTrainableModeNames[i]);
    out += " (trainable.mode " + modes + ")";
  }
  return out;
}

std::string_view section_of(std::string_view path) { return path.substr(0, path.find('.')); }

std::string format_number(double value) {
  char buf[32];
  if (value == std::trunc(value) && std::fabs(value) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", value);
  else
    std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

std::string describe_bounds(const Bounds& b) {
  if (b.min && b.max)
    return std::string("in ") + (b.min_exclusive ? "(" : "[") + format_number(*b.min) + ", " + format_number(*b.max) +
           (b.max_exclusive ? ")" : "]");
  if (b.min) return (b.min_exclusive ? "> " : ">= ") + format_number(*b.min);
  if (b.max) return (b.max_exclusive ? "< " : "<= ") + format_number(*b.max);
  return "";
}

}  // namespace zotune::run_config_schema
