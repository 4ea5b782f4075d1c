// Run-file parsing: YAML text to RunConfig, driven by the schema table. Every error names
// the file, the dotted key and its 1-based line ("runs/a.yaml:7: optimizer.k: ...").
#include "core/config/run_config.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>

#include "core/config/run_entries.h"
#include "core/config/run_config_schema.h"
#include "core/util/error.h"
#include "core/util/suggest.h"

namespace zotune {

double SigmaSetting::resolve(uint64_t trainable_params) const {
  return automatic ? std::sqrt(static_cast<double>(trainable_params) / 1e6) : value;
}

std::string SigmaSetting::text() const {
  if (automatic) return "auto";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

std::string AutoCount::text() const { return automatic ? "auto" : std::to_string(value); }

namespace {

namespace schema = run_config_schema;
using schema::KeySpec;
using schema::Value;
using schema::ValueKind;

// ---- Scalars: YAML text to numbers and booleans, strictly (the whole text must parse).

// Decimal floating point as C++ reads it ("1e-6", "0.5", "2E3"), with an optional leading '+'.
// nullopt: not a number; NaN: a number too large or too small for a double.
std::optional<double> parse_number(std::string_view s) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (s.empty() || s[0] == '+' || s[0] == '-') return std::nullopt;
  }
  double value = 0.0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, std::chars_format::general);
  if (end != s.data() + s.size() || s.empty()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<double>::quiet_NaN();
  if (ec != std::errc{}) return std::nullopt;
  return value;
}

enum class IntegerParse { Ok, NotInteger, TooLarge };

// Decimal integers, and integral numbers written with an exponent ("2e4" steps) up to 2^53,
// beyond which a double no longer holds every integer.
template <class Int>
IntegerParse parse_integer(std::string_view s, Int& out) {
  std::string_view digits = s;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  if (!digits.empty() && (std::isdigit(static_cast<unsigned char>(digits[0])) || digits[0] == '-')) {
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    if (end == digits.data() + digits.size()) {
      if (ec == std::errc{}) return IntegerParse::Ok;
      if (ec == std::errc::result_out_of_range) return IntegerParse::TooLarge;
    }
  }
  constexpr double kExactLimit = 9007199254740992.0;  // 2^53
  std::optional<double> d = parse_number(s);
  if (!d || std::isnan(*d) || *d != std::trunc(*d)) return IntegerParse::NotInteger;
  if (std::fabs(*d) > kExactLimit) return IntegerParse::TooLarge;
  if (*d < static_cast<double>(std::numeric_limits<Int>::min())) return IntegerParse::NotInteger;
  out = static_cast<Int>(*d);
  return IntegerParse::Ok;
}

std::optional<bool> parse_boolean(std::string_view s) {
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "no" || lower == "off") return false;
  return std::nullopt;
}

// ---- Suggestions for misspelt keys and choices.

// The key part of a dotted name ("run.steps" -> "steps").
std::string_view leaf_of(std::string_view path) {
  const size_t dot = path.find('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

std::string did_you_mean(std::optional<std::string_view> suggestion) {
  return suggestion ? "; did you mean '" + std::string(*suggestion) + "'?" : "";
}

// For unknown keys and sections: a suggestion, or where the list of keys is.
std::string key_hint(std::optional<std::string_view> suggestion) {
  return suggestion ? did_you_mean(suggestion) : " (zotune config --defaults lists every key)";
}

// For an unknown dotted key: the same key name in another section ("run.lr" -> "optimizer.lr"),
// else the closest spelling among the known keys (or sections, for a top-level key).
std::optional<std::string_view> suggest_key(std::string_view path) {
  const bool top_level = path.find('.') == std::string_view::npos;
  for (const KeySpec& spec : schema::keys())
    if (leaf_of(spec.path) == leaf_of(path)) return spec.path;
  std::vector<std::string_view> candidates;
  if (top_level)
    for (const schema::SectionSpec& s : schema::sections()) candidates.push_back(s.name);
  else
    for (const KeySpec& spec : schema::keys()) candidates.push_back(spec.path);
  return closest_spelling(path, candidates);
}

std::string join_choices(std::span<const std::string_view> choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) out += (i ? ", " : "") + std::string(choices[i]);
  return out;
}

std::string join_optimizers(schema::OptimizerSet set) {
  std::string out;
  for (size_t i = 0; i < kOptimizerKindNames.size(); ++i)
    if (schema::contains(set, static_cast<OptimizerKind>(i))) out += (out.empty() ? "" : ", ") + std::string(kOptimizerKindNames[i]);
  return out;
}

// ---- Errors.

int line_of(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }

// How a node reads in "expected X, got ..." messages. Long scalars are cut: a message
// quotes the value to point at it, not to reproduce it.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "no value";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: {
      std::string text = node.Scalar();
      if (text.size() > 60) text = text.substr(0, 57) + "...";
      for (char& c : text)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      const std::string& tag = node.Tag();
      if (tag == "!") return "the quoted string '" + text + "'";
      return "'" + text + "'" + (tag == "?" || tag.empty() ? "" : " (tagged " + tag + ")");
    }
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

// Throws zotune::Error located in one file: "<source>:<line>: <key>: <message>".
class Reporter {
 public:
  explicit Reporter(std::string source) : source_(std::move(source)) {}

  std::string where(const YAML::Mark& mark) const {
    return mark.is_null() ? source_ : source_ + ":" + std::to_string(line_of(mark));
  }
  [[noreturn]] void fail(const YAML::Mark& mark, std::string_view key, const std::string& message) const {
    throw Error(where(mark) + ": " + std::string(key) + (key.empty() ? "" : ": ") + message);
  }

 private:
  std::string source_;
};

// ---- Values: one YAML node to a schema Value, checked against the key's type and bounds.

class ValueParser {
 public:
  ValueParser(const Reporter& reporter, const KeySpec& spec, const YAML::Mark& key_mark)
      : reporter_(reporter), spec_(spec), key_mark_(key_mark) {}

  Value parse(const YAML::Node& node) const {
    switch (spec_.kind) {
      case ValueKind::Integer: return integer<int64_t>(node, plain_scalar(node, "an integer"));
      case ValueKind::Unsigned: return integer<uint64_t>(node, plain_scalar(node, "an integer"));
      case ValueKind::Number: return number(plain_scalar(node, "a number"), "a number");
      case ValueKind::Boolean: {
        std::string text = plain_scalar(node, "true or false");
        if (auto b = parse_boolean(text)) return *b;
        fail("expected true or false, got " + describe(node));
      }
      case ValueKind::String: return non_empty_string(node, key_mark_, spec_.path);
      case ValueKind::Choice: return schema::ChoiceIndex{choice(node, key_mark_, spec_.path)};
      case ValueKind::ChoiceList: return choice_list(node);
      case ValueKind::StringList: return string_list(node);
      case ValueKind::Sigma: {
        std::string text = scalar(node, "'auto' or a number", key_mark_, spec_.path);
        if (text == "auto") return SigmaSetting{true, 0.0};
        if (node.Tag() == "!") fail("expected 'auto' or a number, got " + describe(node));
        return SigmaSetting{false, number(text, "'auto' or a number")};
      }
      case ValueKind::AutoInteger: {
        std::string text = scalar(node, "'auto' or an integer", key_mark_, spec_.path);
        if (text == "auto") return AutoCount{true, 0};
        if (node.Tag() != "?") fail("expected 'auto' or an integer, got " + describe(node));
        return AutoCount{false, integer<int64_t>(node, text)};
      }
    }
    fail("has a value kind the parser does not know");  // unreachable: every kind is handled above
  }

 private:
  [[noreturn]] void fail(const std::string& message) const { reporter_.fail(key_mark_, spec_.path, message); }

  std::string scalar(const YAML::Node& node, std::string_view what, const YAML::Mark& mark, std::string_view key) const {
    if (!node.IsScalar()) reporter_.fail(mark, key, "expected " + std::string(what) + ", got " + describe(node));
    return node.Scalar();
  }

  // Numbers and booleans must be plain: a quoted "5" is a string in YAML.
  std::string plain_scalar(const YAML::Node& node, std::string_view what) const {
    std::string text = scalar(node, what, key_mark_, spec_.path);
    if (node.Tag() != "?") fail("expected " + std::string(what) + ", got " + describe(node));
    return text;
  }

  void check_bounds(double value, const std::string& text) const {
    const schema::Bounds& b = spec_.bounds;
    bool ok = (!b.min || (b.min_exclusive ? value > *b.min : value >= *b.min)) &&
              (!b.max || (b.max_exclusive ? value < *b.max : value <= *b.max));
    if (!ok) fail("must be " + schema::describe_bounds(b) + ", got " + text);
  }

  template <class Int>
  Int integer(const YAML::Node& node, const std::string& text) const {
    if constexpr (std::is_unsigned_v<Int>) {
      int64_t signed_value = 0;
      if (parse_integer(text, signed_value) == IntegerParse::Ok && signed_value < 0) fail("must be >= 0, got " + text);
    }
    Int value = 0;
    switch (parse_integer(text, value)) {
      case IntegerParse::Ok: break;
      case IntegerParse::NotInteger: fail("expected an integer, got " + describe(node));
      case IntegerParse::TooLarge: fail("expected a 64-bit integer, got " + describe(node) + " (too large)");
    }
    check_bounds(static_cast<double>(value), text);
    return value;
  }

  double number(const std::string& text, std::string_view what) const {
    std::optional<double> value = parse_number(text);
    if (!value) fail("expected " + std::string(what) + ", got '" + text + "'");
    if (!std::isfinite(*value)) fail("expected a finite number, got '" + text + "'");
    check_bounds(*value, text);
    return *value;
  }

  std::string non_empty_string(const YAML::Node& node, const YAML::Mark& mark, std::string_view key) const {
    std::string text = scalar(node, "a string", mark, key);
    if (text.empty()) reporter_.fail(mark, key, "must not be empty");
    return text;
  }

  size_t choice(const YAML::Node& node, const YAML::Mark& mark, std::string_view key) const {
    std::string text = scalar(node, "one of " + join_choices(spec_.choices), mark, key);
    for (size_t i = 0; i < spec_.choices.size(); ++i)
      if (spec_.choices[i] == text) return i;
    std::vector<std::string_view> candidates(spec_.choices.begin(), spec_.choices.end());
    reporter_.fail(mark, key,
                   describe(node) + " is not one of " + join_choices(spec_.choices) +
                       did_you_mean(closest_spelling(text, candidates)));
  }

  // Lists: the node must be a sequence; each element is located by its own line and named
  // by its index ("trainable.freeze[1]").
  void expect_list(const YAML::Node& node, std::string_view what) const {
    if (!node.IsSequence()) fail("expected " + std::string(what) + ", got " + describe(node));
    if (spec_.bounds.min && static_cast<double>(node.size()) < *spec_.bounds.min)
      fail("needs at least " + schema::format_number(*spec_.bounds.min) + (*spec_.bounds.min == 1 ? " item" : " items") +
           ", got " + std::to_string(node.size()));
  }
  YAML::Mark element_mark(const YAML::Node& element) const {
    return element.Mark().is_null() ? key_mark_ : element.Mark();
  }
  std::string element_key(size_t i) const { return std::string(spec_.path) + "[" + std::to_string(i) + "]"; }

  schema::ChoiceIndices choice_list(const YAML::Node& node) const {
    expect_list(node, "a list of " + join_choices(spec_.choices));
    schema::ChoiceIndices out;
    size_t i = 0;
    for (const YAML::Node& element : node) {
      size_t index = choice(element, element_mark(element), element_key(i));
      if (std::find(out.indices.begin(), out.indices.end(), index) != out.indices.end())
        reporter_.fail(element_mark(element), element_key(i), "'" + std::string(spec_.choices[index]) + "' is listed twice");
      out.indices.push_back(index);
      ++i;
    }
    return out;
  }

  std::vector<std::string> string_list(const YAML::Node& node) const {
    expect_list(node, "a list of strings");
    std::vector<std::string> out;
    for (const YAML::Node& element : node) out.push_back(non_empty_string(element, element_mark(element), element_key(out.size())));
    return out;
  }

  const Reporter& reporter_;
  const KeySpec& spec_;
  YAML::Mark key_mark_;
};

// The schema defaults as Values, parsed once from their YAML text by the same code as a file.
const std::vector<std::optional<Value>>& schema_defaults() {
  static const std::vector<std::optional<Value>> defaults = [] {
    const Reporter reporter("run_config_schema.cpp (a default)");
    std::vector<std::optional<Value>> out;
    for (const KeySpec& spec : schema::keys()) {
      if (spec.default_yaml.empty()) {
        out.emplace_back();
        continue;
      }
      out.emplace_back(ValueParser(reporter, spec, YAML::Mark::null_mark()).parse(YAML::Load(std::string(spec.default_yaml))));
    }
    return out;
  }();
  return defaults;
}

// The per-method defaults as Values, parsed once like schema_defaults; a row that names an
// unknown key, a key that does not apply to its methods, or a bad value is a schema bug and
// throws on first use (every run file then fails with this message; a unit test parses one).
struct ParsedMethodDefault {
  const schema::MethodDefault* row;
  size_t spec;
  Value value;
};
const std::vector<ParsedMethodDefault>& parsed_method_defaults() {
  static const std::vector<ParsedMethodDefault> parsed = [] {
    const Reporter reporter("run_config_schema.cpp (a per-method default)");
    std::vector<ParsedMethodDefault> out;
    // Rows for every trainable.mode first: a mode-specific row applied later wins.
    for (bool restricted : {false, true}) {
      for (const schema::MethodDefault& row : schema::method_defaults()) {
        if ((row.modes != schema::kEveryTrainableMode) != restricted) continue;
        const size_t spec = schema::key_index(row.key);
        const KeySpec& key = schema::keys()[spec];
        if ((row.methods & key.applies_to) != row.methods)
          throw Error("run_config_schema.cpp: the per-method default of " + std::string(row.key) + " for " +
                      schema::describe_methods(row) + " names an optimizer the key does not apply to");
        if (row.key == "trainable.mode" && restricted)
          throw Error("run_config_schema.cpp: a per-method default of trainable.mode cannot depend on trainable.mode");
        out.push_back({&row, spec, ValueParser(reporter, key, YAML::Mark::null_mark()).parse(YAML::Load(std::string(row.value_yaml)))});
      }
    }
    return out;
  }();
  return parsed;
}

bool method_default_applies(const schema::MethodDefault& row, OptimizerKind optimizer, TrainableMode mode) {
  return schema::contains(row.methods, optimizer) && schema::contains_mode(row.modes, mode);
}

// ---- Entries: a layer's sections of keys, flattened and checked for structure.

int line_of_node(const YAML::Node& node) { return node.IsDefined() ? line_of(node.Mark()) : 0; }

std::string key_name(const Reporter& reporter, const YAML::Node& key, std::string_view section) {
  if (!key.IsScalar()) reporter.fail(key.Mark(), section, "expected a key name, got " + describe(key));
  return key.Scalar();
}

// yaml-cpp keeps both copies of a duplicated key; YAML forbids them.
void reject_duplicate(const Reporter& reporter, std::map<std::string, int>& seen, const std::string& name,
                      const YAML::Mark& mark, std::string_view what) {
  auto [it, inserted] = seen.emplace(name, line_of(mark));
  if (!inserted)
    reporter.fail(mark, name, "duplicate " + std::string(what) + " (first given on line " + std::to_string(it->second) + ")");
}

bool is_section(std::string_view name) {
  return std::any_of(schema::sections().begin(), schema::sections().end(),
                     [&](const schema::SectionSpec& s) { return s.name == name; });
}

std::string absolute_folder_of(const std::string& file) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(file, ec);
  return p.lexically_normal().parent_path().string();
}

// ---- Resolution: the merged entries checked against the schema into a RunConfig.

class RunResolver {
 public:
  RunResolver(const std::vector<RunEntry>& entries, const std::string& source, std::vector<std::string>* problems)
      : source_(source), problems_(problems) {
    // Later entries win; the merged list keeps each key at its first position. The winners are
    // copied in only once chosen: assigning one YAML::Node over another writes into the node
    // the first one shares with its source (yaml-cpp's nodes are references), so overwriting an
    // earlier entry in place would change the grid rule or file layer it came from, and with it
    // every run resolved after this one (a rule's value leaking into runs it does not match).
    std::map<std::string, size_t> position;  // key -> its slot in `winner`
    std::vector<size_t> winner;              // per key, in first-seen order: the last entry giving it
    for (size_t i = 0; i < entries.size(); ++i) {
      auto [it, inserted] = position.emplace(entries[i].key, winner.size());
      if (inserted)
        winner.push_back(i);
      else
        winner[it->second] = i;
    }
    merged_.reserve(winner.size());
    for (size_t i : winner) merged_.push_back(entries[i]);
  }

  RunConfig resolve() {
    RunConfig config;
    config.source = source_;
    const OptimizerKind optimizer = chosen_optimizer();
    const TrainableMode mode = chosen_trainable_mode(optimizer);
    apply_defaults(config, optimizer);
    apply_method_defaults(config, optimizer, mode);
    for (const RunEntry& entry : merged_) attempt([&] { apply_entry(config, entry, optimizer); });
    imply_sizes_sampling(config);
    check_required_and_derive(config, optimizer);
    check_cross_key_rules(config);
    config.text = resolved_text();
    config.defaults_text = defaults_text(optimizer);
    for (const auto& [key, entry] : given_) config.origins[key] = origin_of(*entry);
    return config;
  }

 private:
  // Runs one check: its Error is thrown, or recorded when every problem is wanted.
  template <class F>
  void attempt(F&& check_one) {
    if (!problems_) return check_one();
    try {
      check_one();
    } catch (const Error& e) {
      problems_->push_back(e.what());
    }
  }

  static std::string origin_of(const RunEntry& e) {
    const int line = line_of_node(e.key_node);
    return line ? e.source + ":" + std::to_string(line) : e.source;
  }

  const RunEntry* find(std::string_view key) const {
    for (const RunEntry& e : merged_)
      if (e.key == key) return &e;
    return nullptr;
  }

  // The optimizer decides which keys apply, so it is read before every other key.
  OptimizerKind chosen_optimizer() {
    size_t spec = 0;
    while (schema::keys()[spec].path != "optimizer.name") ++spec;
    Value value = *schema_defaults()[spec];
    if (const RunEntry* entry = find("optimizer.name"))
      attempt([&] { value = ValueParser(Reporter(entry->source), schema::keys()[spec], entry->key_node.Mark()).parse(entry->value); });
    return static_cast<OptimizerKind>(std::get<schema::ChoiceIndex>(value).index);
  }

  // Mode-specific per-method defaults need the trainable mode before the other keys: the
  // run's value, else the method's default (AdaZeta: adapter), else the global one.
  TrainableMode chosen_trainable_mode(OptimizerKind optimizer) {
    const size_t spec = schema::key_index("trainable.mode");
    Value value = *schema_defaults()[spec];
    for (const ParsedMethodDefault& d : parsed_method_defaults())
      if (d.spec == spec && schema::contains(d.row->methods, optimizer)) value = d.value;
    if (const RunEntry* entry = find("trainable.mode"))
      attempt([&] { value = ValueParser(Reporter(entry->source), schema::keys()[spec], entry->key_node.Mark()).parse(entry->value); });
    return static_cast<TrainableMode>(std::get<schema::ChoiceIndex>(value).index);
  }

  void apply_defaults(RunConfig& config, OptimizerKind optimizer) {
    const auto& defaults = schema_defaults();
    for (size_t i = 0; i < schema::keys().size(); ++i)
      if (defaults[i] && schema::contains(schema::keys()[i].applies_to, optimizer)) {
        schema::keys()[i].assign(config, *defaults[i]);
        default_in_force_[i] = {std::string(schema::keys()[i].default_yaml), "default"};
      }
  }

  void apply_method_defaults(RunConfig& config, OptimizerKind optimizer, TrainableMode mode) {
    for (const ParsedMethodDefault& d : parsed_method_defaults()) {
      if (!method_default_applies(*d.row, optimizer, mode)) continue;
      schema::keys()[d.spec].assign(config, d.value);
      default_in_force_[d.spec] = {std::string(d.row->value_yaml),
                                   schema::describe_methods(*d.row) + " default: " + std::string(d.row->source)};
    }
  }

  // Split sizes given without a sampling: the run asks for those sizes (task.sampling sizes),
  // not the method's per-task sizes, which would ignore them.
  void imply_sizes_sampling(RunConfig& config) {
    if (given_.count("task.sampling")) return;
    for (const char* key : {"task.num_train", "task.num_dev", "task.num_test"}) {
      if (!given_.count(key)) continue;
      config.task.sampling = TaskSampling::Sizes;
      default_in_force_[schema::key_index("task.sampling")] = {"sizes", std::string("implied: the run gives ") + key};
      return;
    }
  }

  // A relative path value made absolute against the folder of the file that wrote it.
  static YAML::Node resolved_path(const RunEntry& entry) {
    if (entry.base_dir.empty() || !entry.value.IsScalar()) return entry.value;
    const std::filesystem::path written(entry.value.Scalar());
    if (written.empty() || written.is_absolute()) return entry.value;
    YAML::Node out = YAML::Clone(entry.value);
    out = (std::filesystem::path(entry.base_dir) / written).lexically_normal().string();
    return out;
  }

  void apply_entry(RunConfig& config, const RunEntry& entry, OptimizerKind optimizer) {
    const Reporter reporter(entry.source);
    const YAML::Mark mark = entry.key_node.Mark();
    const KeySpec* known = nullptr;
    for (const KeySpec& spec : schema::keys()) {
      if (spec.path != entry.key) continue;
      known = &spec;
      if (!schema::contains(spec.applies_to, optimizer)) continue;
      const YAML::Node value = spec.is_path ? resolved_path(entry) : entry.value;
      spec.assign(config, ValueParser(reporter, spec, mark).parse(value));
      given_[entry.key] = &entry;
      in_force_[&spec] = value;
      return;
    }
    if (!known) reporter.fail(mark, entry.key, "unknown key" + key_hint(suggest_key(entry.key)));
    schema::OptimizerSet owners = 0;
    for (const KeySpec& spec : schema::keys())
      if (spec.path == entry.key) owners |= spec.applies_to;
    reporter.fail(mark, entry.key,
                  "does not apply to optimizer '" + std::string(choice_name(optimizer)) + "' (only to " +
                      join_optimizers(owners) + ")");
  }

  void check_required_and_derive(RunConfig& config, OptimizerKind optimizer) {
    for (const KeySpec& spec : schema::keys()) {
      if (!schema::contains(spec.applies_to, optimizer) || given_.count(std::string(spec.path))) continue;
      if (spec.derive) spec.derive(config);
      if (!spec.required) continue;
      attempt([&] {
        // Blame the section where the key belongs, in the last layer that writes the section.
        const std::string section(schema::section_of(spec.path));
        for (auto it = merged_.rbegin(); it != merged_.rend(); ++it)
          if (schema::section_of(it->key) == section)
            Reporter(it->source).fail(it->section_mark, spec.path,
                                      "required key is missing from section '" + section + "'");
        Reporter(source_).fail(YAML::Mark::null_mark(), spec.path, "required key is missing");
      });
    }
  }

  void check_cross_key_rules(const RunConfig& config) {
    for (const schema::CrossKeyRule& rule : schema::cross_key_rules()) {
      std::optional<schema::Violation> violation = rule.check(config);
      if (!violation) continue;
      attempt([&] {
        // Blame the first key of the rule that is given, at its line.
        for (std::string_view key : violation->keys) {
          auto given = given_.find(std::string(key));
          if (given != given_.end())
            Reporter(given->second->source).fail(given->second->key_node.Mark(), key, violation->message);
        }
        Reporter(source_).fail(YAML::Mark::null_mark(), violation->keys.front(), violation->message);
      });
    }
  }

  // ---- The resolved run file: the keys in force, in schema order, one document.

  static std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        default:
          if (c < 0x20 || c == 0x7f) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
          } else {
            out += static_cast<char>(c);
          }
      }
    }
    return out + "\"";
  }

  // Strings are written double-quoted (any text survives); numbers, booleans and choices as
  // the plain scalars they were checked as, so they read back as written ("1e-3" stays 1e-3).
  static std::string emit_value(const KeySpec& spec, const YAML::Node& value) {
    switch (spec.kind) {
      case ValueKind::String: return " " + quoted(value.Scalar());
      case ValueKind::StringList: {
        std::string out;
        for (const YAML::Node& element : value) out += "\n    - " + quoted(element.Scalar());
        return out;
      }
      case ValueKind::ChoiceList: {
        std::string out = " [";
        size_t i = 0;
        for (const YAML::Node& element : value) out += (i++ ? ", " : "") + element.Scalar();
        return out + "]";
      }
      default: return " " + value.Scalar();
    }
  }

  std::string resolved_text() const {
    std::string out;
    std::string_view section;
    for (const KeySpec& spec : schema::keys()) {  // in section order
      auto value = in_force_.find(&spec);
      if (value == in_force_.end()) continue;
      if (schema::section_of(spec.path) != section) section = schema::section_of(spec.path), out += std::string(section) + ":\n";
      out += "  " + std::string(leaf_of(spec.path)) + ":" + emit_value(spec, value->second) + "\n";
    }
    return out;
  }

  // The defaults in force, as comment lines under their sections (schema order), for the keys
  // that apply to the optimizer and that the run does not set.
  std::string defaults_text(OptimizerKind optimizer) const {
    std::string out;
    std::string_view section;
    for (size_t i = 0; i < schema::keys().size(); ++i) {
      const KeySpec& spec = schema::keys()[i];
      const auto d = default_in_force_.find(i);
      if (d == default_in_force_.end() || given_.count(std::string(spec.path)) ||
          !schema::contains(spec.applies_to, optimizer))
        continue;
      if (out.empty()) out = "# Defaults in force (keys the run does not set), with where each comes from:\n";
      if (schema::section_of(spec.path) != section) section = schema::section_of(spec.path), out += "# " + std::string(section) + ":\n";
      out += "#   " + std::string(leaf_of(spec.path)) + ": " + d->second.first + "  # " + d->second.second + "\n";
    }
    return out;
  }

  std::string source_;
  std::vector<std::string>* problems_;
  std::map<size_t, std::pair<std::string, std::string>> default_in_force_;  // key index -> (YAML value, origin)
  std::vector<RunEntry> merged_;
  std::map<std::string, const RunEntry*> given_;                 // dotted key -> its entry, for keys set
  std::map<const KeySpec*, YAML::Node> in_force_;  // the checked values, paths resolved
};

// base_followed: the caller follows a top-level `base` key (a run file); elsewhere it is an error.
std::vector<RunEntry> collect_sections(const YAML::Node& root, const std::string& source, const std::string& base_dir,
                                       bool base_followed) {
  const Reporter reporter(source);
  std::vector<RunEntry> out;
  std::map<std::string, int> section_lines;
  // Pairs are copied out: yaml-cpp's iterators hand out proxies that do not outlive the step.
  for (auto it = root.begin(); it != root.end(); ++it) {
    const YAML::Node section_key = it->first, body = it->second;
    const std::string section = key_name(reporter, section_key, "");
    if (section == "base" && base_followed) continue;
    if (section == "base") reporter.fail(section_key.Mark(), section, "only a run file may name a base run file");
    if (!is_section(section)) reporter.fail(section_key.Mark(), section, "unknown section" + key_hint(suggest_key(section)));
    reject_duplicate(reporter, section_lines, section, section_key.Mark(), "section");
    if (body.IsNull()) continue;  // a section with every key commented out
    if (!body.IsMap()) reporter.fail(section_key.Mark(), section, "expected a mapping of keys, got " + describe(body));
    std::map<std::string, int> key_lines;
    for (auto kv = body.begin(); kv != body.end(); ++kv) {
      const YAML::Node key = kv->first, value = kv->second;
      const std::string path = section + "." + key_name(reporter, key, section);
      reject_duplicate(reporter, key_lines, path, key.Mark(), "key");
      out.push_back({path, key, value, source, base_dir, section_key.Mark()});
    }
  }
  return out;
}

// The `base:` chain of run_file_entries: `chain` holds the canonical paths being loaded.
void append_run_file_entries(const std::string& path, std::vector<std::string>& chain, std::vector<RunEntry>& out) {
  const YAML::Node root = load_yaml_document(read_text_file(path, "run file"), path, "run file");
  const Reporter reporter(path);
  if (root.IsMap()) {
    for (auto it = root.begin(); it != root.end(); ++it) {
      const YAML::Node key = it->first, value = it->second;
      if (!key.IsScalar() || key.Scalar() != "base") continue;
      if (!value.IsScalar() || value.Scalar().empty())
        reporter.fail(key.Mark(), "base", "expected the path of a run file, got " + describe(value));
      std::filesystem::path base(value.Scalar());
      if (base.is_relative()) base = std::filesystem::path(absolute_folder_of(path)) / base;
      const std::string base_path = base.lexically_normal().string();
      std::error_code ec;
      if (!std::filesystem::is_regular_file(base_path, ec))
        reporter.fail(key.Mark(), "base", "no such run file: " + base_path);
      const std::string canonical = std::filesystem::canonical(base_path, ec).string();
      if (std::find(chain.begin(), chain.end(), canonical) != chain.end()) {
        std::string cycle;
        for (const std::string& p : chain) cycle += p + " -> ";
        reporter.fail(key.Mark(), "base", "the bases form a cycle: " + cycle + canonical);
      }
      chain.push_back(canonical);
      append_run_file_entries(base_path, chain, out);
      chain.pop_back();
    }
  }
  for (RunEntry& e : collect_sections(root, path, absolute_folder_of(path), true)) out.push_back(std::move(e));
}

// Where a YAML document starts and whether it is nothing but an empty value: the parser
// events of one document (load_yaml_document asks for at most two documents with it).
struct DocumentProbe : YAML::EventHandler {
  YAML::Mark start = YAML::Mark::null_mark();  // the first node's mark
  bool only_null = true;
  int nodes = 0;

  void node(const YAML::Mark& mark, bool null) {
    if (nodes++ == 0) start = mark;
    if (!null) only_null = false;
  }
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override { node(mark, false); }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(mark, false);
  }
  void OnMapEnd() override {}
};

}  // namespace

YAML::Node load_yaml_document(const std::string& text, const std::string& source, const std::string& what) {
  // Not YAML::LoadAll: on a token that starts no value (a lone ',', yaml-cpp issue 1040) the
  // parser of yaml-cpp 0.7 and 0.8 returns an empty document without moving on, every time it
  // is asked, and LoadAll asks forever, allocating until the process is killed (found by
  // tests/fuzz/fuzz_run_config). One document is read and a second is an error, so the parser
  // is asked for two at most; a second empty one where the first started is that stuck token.
  const Reporter reporter(source);
  YAML::Node document;
  DocumentProbe first, second;
  bool has_second = false;
  try {
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    has_second = parser.HandleNextDocument(first) && parser.HandleNextDocument(second);
    if (has_second && first.only_null && second.only_null && second.start.pos == first.start.pos)
      throw Error(source + ":" + std::to_string(second.start.line + 1) + ":" + std::to_string(second.start.column + 1) +
                  ": malformed YAML: '" + text.substr(second.start.pos, 1) + "' starts no value");
    document = YAML::Load(text);  // the first document alone
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) throw Error(source + ": malformed YAML: " + e.msg);
    throw Error(source + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                ": malformed YAML: " + e.msg);
  }
  if (has_second) reporter.fail(second.start, "", "a " + what + " holds one YAML document; a second one starts here");
  if (!document || document.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!document.IsMap())
    reporter.fail(document.Mark(), "",
                  "expected a mapping of " + std::string(what == "run file" ? "sections (run, model, task, ...)" : "keys") +
                      ", got " + describe(document));
  return document;
}

std::string read_text_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such " + what);
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the " + what);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}


std::vector<RunEntry> section_entries(const YAML::Node& root, const std::string& source, const std::string& base_dir) {
  return collect_sections(root, source, base_dir, false);
}

std::vector<RunEntry> run_file_entries(const std::string& path) {
  std::vector<RunEntry> out;
  std::error_code ec;
  std::vector<std::string> chain{std::filesystem::canonical(path, ec).string()};
  append_run_file_entries(path, chain, out);
  return out;
}

RunEntry override_entry(const std::string& assignment) {
  const std::string source = "command line (" + assignment + ")";
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw Error(source + ": expected an override dotted.key=value (e.g. optimizer.lr=1e-5)");
  const std::string key = assignment.substr(0, eq);
  if (key.find('.') == std::string::npos || key.front() == '.' || key.back() == '.')
    throw Error(source + ": " + key + ": expected a dotted key section.key" + key_hint(suggest_key(key)));
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw Error(source + ": " + key + ": malformed YAML value: " + e.msg);
  }
  if (!value.IsDefined() || value.IsNull()) value = YAML::Node(YAML::NodeType::Null);
  std::error_code ec;
  return {key, YAML::Node(key), value, source, std::filesystem::current_path(ec).string()};
}

RunConfig resolve_run_config(const std::vector<RunEntry>& entries, const std::string& source,
                             std::vector<std::string>* problems) {
  return RunResolver(entries, source, problems).resolve();
}

RunConfig parse_run_config(const std::string& yaml_text, const std::string& source_name) {
  return resolve_run_config(section_entries(load_yaml_document(yaml_text, source_name, "run file"), source_name, ""),
                            source_name);
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<RunEntry> entries = run_file_entries(path);
  for (const std::string& o : overrides) entries.push_back(override_entry(o));
  return resolve_run_config(entries, path);
}

}  // namespace zotune
