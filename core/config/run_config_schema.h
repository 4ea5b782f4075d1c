// The run-file schema as data: one KeySpec per key (type, default, bounds or choices,
// optimizers it applies to, doc, and where the value goes in RunConfig), plus the rules that
// relate several keys. Read by the parser (run_config.cpp) and the reference renderer
// (run_config_reference.cpp); the table itself is in run_config_schema.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config/run_config.h"

namespace zotune::run_config_schema {

enum class ValueKind {
  Integer,     // int64
  Unsigned,    // uint64 (seeds)
  Number,      // finite double
  Boolean,
  String,      // non-empty
  Choice,      // one of KeySpec::choices
  ChoiceList,  // a YAML list of distinct choices
  StringList,  // a YAML list of non-empty strings
  Sigma,       // "auto" or a number
  AutoInteger, // "auto" or an integer
};

// A parsed value, before it is stored in RunConfig.
struct ChoiceIndex {
  size_t index;
};
struct ChoiceIndices {
  std::vector<size_t> indices;
};
using Value = std::variant<int64_t, uint64_t, double, bool, std::string, ChoiceIndex, ChoiceIndices,
                           std::vector<std::string>, SigmaSetting, AutoCount>;

// Bounds of a number (Integer, Number, Sigma) or of a list's length (StringList).
struct Bounds {
  std::optional<double> min, max;
  bool min_exclusive = false, max_exclusive = false;
};

// Set of optimizers, bit i standing for OptimizerKind i.
using OptimizerSet = unsigned;
inline constexpr OptimizerSet kEveryOptimizer = (1u << kOptimizerKindNames.size()) - 1;
constexpr bool contains(OptimizerSet set, OptimizerKind kind) { return (set >> static_cast<unsigned>(kind)) & 1u; }

struct KeySpec {
  std::string_view path;  // dotted: section.key
  ValueKind kind;
  std::span<const std::string_view> choices;  // Choice, ChoiceList
  Bounds bounds;
  // The default written as YAML, parsed exactly like a value in a run file. Empty when the key
  // is required, derived from other values (derive), or optional with no value.
  std::string_view default_yaml;
  std::string_view derived_default;          // how derive computes it, for the reference
  void (*derive)(RunConfig&) = nullptr;      // fills the field when the key is absent
  bool required = false;
  OptimizerSet applies_to = kEveryOptimizer;
  std::string_view doc;
  void (*assign)(RunConfig&, const Value&);  // stores a parsed value into its field
  // A file or folder: a relative value is resolved against the folder of the file that writes
  // it (a value from the command line: against the current directory).
  bool is_path = false;
};

// A default that depends on the method: for the optimizers in `methods` (and, when `modes` is
// not every mode, only with those trainable.mode values) `key` defaults to `value_yaml` instead
// of its KeySpec::default_yaml. RunResolver applies the global defaults, then these rows (rows
// without a mode restriction first, so a mode-specific row wins), then the run's entries.
// `source` says where the value comes from: a paper section or launch script and line, as
// cited in docs/papers/*.md.
using TrainableModeSet = unsigned;  // bit i = TrainableMode i
inline constexpr TrainableModeSet kEveryTrainableMode = (1u << kTrainableModeNames.size()) - 1;
constexpr bool contains_mode(TrainableModeSet set, TrainableMode mode) { return (set >> static_cast<unsigned>(mode)) & 1u; }

struct MethodDefault {
  OptimizerSet methods;
  TrainableModeSet modes;
  std::string_view key;
  std::string_view value_yaml;
  std::string_view source;
};

struct SectionSpec {
  std::string_view name;
  std::string_view doc;
};

// A broken rule: the keys involved, most to blame first (the error quotes the line of the
// first one the file gives), and what is wrong.
struct Violation {
  std::vector<std::string_view> keys;
  std::string message;
};

struct CrossKeyRule {
  std::string_view doc;
  std::optional<Violation> (*check)(const RunConfig&);
};

std::span<const SectionSpec> sections();
std::span<const KeySpec> keys();  // in section order, the order docs/CONFIG.md lists them
// The index in keys() of the key at `path` ("task.num_train"); throws zotune::Error for a path
// the schema does not have (a bug in the caller).
size_t key_index(std::string_view path);
std::span<const CrossKeyRule> cross_key_rules();
std::span<const MethodDefault> method_defaults();
// "bszo, bszo-b" or "mezo (trainable.mode lora)": who a MethodDefault row is for.
std::string describe_methods(const MethodDefault& row);

// The section part of a dotted path ("optimizer" for "optimizer.k").
std::string_view section_of(std::string_view path);

// Bounds as the reference and error messages write them: ">= 1", "> 0", "in (0, 1]".
std::string describe_bounds(const Bounds& bounds);
// A bound or value as text: integral values without a fraction, others in %g.
std::string format_number(double value);

}  // namespace zotune::run_config_schema
