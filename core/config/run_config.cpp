// Run-file parsing: YAML text to RunConfig, driven by the schema table. Every error names
// the file, the dotted key and its 1-based line ("runs/a.yaml:7: optimizer.k: ...").
#include "core/config/run_config.h"

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

#include "core/config/run_config_schema.h"
#include "core/util/error.h"

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

// Optimal-string-alignment distance, ignoring case: insertions, deletions, substitutions and
// transpositions ("MeZO" is 0 from "mezo", "stpes" 1 from "steps").
size_t edit_distance(std::string_view a_text, std::string_view b_text) {
  std::string a(a_text), b(b_text);
  for (std::string* s : {&a, &b})
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The candidate within a small edit distance of the word, or nothing. Dotted names are judged
// by their key part: one edit per three letters of the longer key name, at most three.
// Words too long to be misspellings of a key are not compared at all.
std::string_view leaf_of(std::string_view path) {
  size_t dot = path.find('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

std::optional<std::string_view> closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  if (word.size() > 64) return std::nullopt;
  std::optional<std::string_view> best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (std::string_view c : candidates) {
    const size_t allowed = std::clamp<size_t>(std::max(leaf_of(word).size(), leaf_of(c).size()) / 3, 1, 3);
    const size_t d = edit_distance(word, c);
    if (d <= allowed && d < best_distance) best = c, best_distance = d;
  }
  return best;
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
  return closest(path, candidates);
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
                       did_you_mean(closest(text, candidates)));
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

// ---- The file: sections of keys, checked against the schema.

struct Entry {
  std::string path;  // dotted
  YAML::Node key;    // for its mark: errors quote the line of the key
  YAML::Node value;
};

class RunFileParser {
 public:
  RunFileParser(const std::string& text, const std::string& source) : text_(text), source_(source), reporter_(source) {}

  RunConfig parse() {
    collect_entries(load_document());
    RunConfig config;
    config.source = source_;
    config.text = text_;
    const OptimizerKind optimizer = chosen_optimizer();
    apply_defaults(config, optimizer);
    for (const Entry& entry : entries_) apply_entry(config, entry, optimizer);
    check_required_and_derive(config, optimizer);
    check_cross_key_rules(config);
    return config;
  }

 private:
  YAML::Node load_document() const {
    std::vector<YAML::Node> documents;
    try {
      documents = YAML::LoadAll(text_);
    } catch (const YAML::Exception& e) {
      if (e.mark.is_null()) throw Error(source_ + ": malformed YAML: " + e.msg);
      throw Error(source_ + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                  ": malformed YAML: " + e.msg);
    }
    if (documents.size() > 1)
      reporter_.fail(documents[1].Mark(), "", "a run file holds one YAML document; a second one starts here");
    if (documents.empty() || documents[0].IsNull()) return YAML::Node(YAML::NodeType::Map);
    if (!documents[0].IsMap())
      reporter_.fail(documents[0].Mark(), "",
                     "expected a mapping of sections (run, model, task, ...), got " + describe(documents[0]));
    return documents[0];
  }

  // Flattens section.key entries in file order, rejecting unknown sections, keys that are not
  // names and duplicates (yaml-cpp keeps both copies of a duplicated key; YAML forbids them).
  void collect_entries(const YAML::Node& root) {
    std::map<std::string, int> section_lines;
    // Pairs are copied out: yaml-cpp's iterators hand out proxies that do not outlive the step.
    for (auto it = root.begin(); it != root.end(); ++it) {
      const YAML::Node section_key = it->first, body = it->second;
      const std::string section = key_name(section_key, "");
      bool known = std::any_of(schema::sections().begin(), schema::sections().end(),
                               [&](const schema::SectionSpec& s) { return s.name == section; });
      if (!known) reporter_.fail(section_key.Mark(), section, "unknown section" + key_hint(suggest_key(section)));
      reject_duplicate(section_lines, section, section_key.Mark(), "section");
      section_marks_[section] = section_key.Mark();
      if (body.IsNull()) continue;  // a section with every key commented out
      if (!body.IsMap()) reporter_.fail(section_key.Mark(), section, "expected a mapping of keys, got " + describe(body));
      std::map<std::string, int> key_lines;
      for (auto kv = body.begin(); kv != body.end(); ++kv) {
        const YAML::Node key = kv->first, value = kv->second;
        const std::string path = section + "." + key_name(key, section);
        reject_duplicate(key_lines, path, key.Mark(), "key");
        entries_.push_back({path, key, value});
      }
    }
  }

  std::string key_name(const YAML::Node& key, std::string_view section) const {
    if (!key.IsScalar()) reporter_.fail(key.Mark(), section, "expected a key name, got " + describe(key));
    return key.Scalar();
  }

  void reject_duplicate(std::map<std::string, int>& seen, const std::string& name, const YAML::Mark& mark,
                        std::string_view what) const {
    auto [it, inserted] = seen.emplace(name, line_of(mark));
    if (!inserted)
      reporter_.fail(mark, name, "duplicate " + std::string(what) + " (first given on line " + std::to_string(it->second) + ")");
  }

  const Entry* find_entry(std::string_view path) const {
    for (const Entry& e : entries_)
      if (e.path == path) return &e;
    return nullptr;
  }

  // The optimizer decides which keys apply, so it is read before every other key.
  OptimizerKind chosen_optimizer() const {
    size_t spec = 0;
    while (schema::keys()[spec].path != "optimizer.name") ++spec;
    const Entry* entry = find_entry("optimizer.name");
    const Value value = entry ? ValueParser(reporter_, schema::keys()[spec], entry->key.Mark()).parse(entry->value)
                              : *schema_defaults()[spec];
    return static_cast<OptimizerKind>(std::get<schema::ChoiceIndex>(value).index);
  }

  void apply_defaults(RunConfig& config, OptimizerKind optimizer) const {
    const auto& defaults = schema_defaults();
    for (size_t i = 0; i < schema::keys().size(); ++i)
      if (defaults[i] && schema::contains(schema::keys()[i].applies_to, optimizer))
        schema::keys()[i].assign(config, *defaults[i]);
  }

  void apply_entry(RunConfig& config, const Entry& entry, OptimizerKind optimizer) {
    const KeySpec* known = nullptr;
    for (const KeySpec& spec : schema::keys()) {
      if (spec.path != entry.path) continue;
      known = &spec;
      if (!schema::contains(spec.applies_to, optimizer)) continue;
      spec.assign(config, ValueParser(reporter_, spec, entry.key.Mark()).parse(entry.value));
      given_marks_[entry.path] = entry.key.Mark();
      return;
    }
    if (!known) reporter_.fail(entry.key.Mark(), entry.path, "unknown key" + key_hint(suggest_key(entry.path)));
    schema::OptimizerSet owners = 0;
    for (const KeySpec& spec : schema::keys())
      if (spec.path == entry.path) owners |= spec.applies_to;
    reporter_.fail(entry.key.Mark(), entry.path,
                   "does not apply to optimizer '" + std::string(choice_name(optimizer)) + "' (only to " +
                       join_optimizers(owners) + ")");
  }

  void check_required_and_derive(RunConfig& config, OptimizerKind optimizer) const {
    for (const KeySpec& spec : schema::keys()) {
      if (!schema::contains(spec.applies_to, optimizer) || given_marks_.count(std::string(spec.path))) continue;
      if (spec.derive) spec.derive(config);
      if (!spec.required) continue;
      const std::string section(schema::section_of(spec.path));
      auto in_section = section_marks_.find(section);
      if (in_section == section_marks_.end())
        reporter_.fail(YAML::Mark::null_mark(), spec.path, "required key is missing");
      reporter_.fail(in_section->second, spec.path, "required key is missing from section '" + section + "'");
    }
  }

  void check_cross_key_rules(const RunConfig& config) const {
    for (const schema::CrossKeyRule& rule : schema::cross_key_rules()) {
      std::optional<schema::Violation> violation = rule.check(config);
      if (!violation) continue;
      // Blame the first key of the rule that the file gives, at its line.
      for (std::string_view key : violation->keys) {
        auto given = given_marks_.find(std::string(key));
        if (given != given_marks_.end()) reporter_.fail(given->second, key, violation->message);
      }
      reporter_.fail(YAML::Mark::null_mark(), violation->keys.front(), violation->message);
    }
  }

  const std::string& text_;
  const std::string& source_;
  Reporter reporter_;
  std::vector<Entry> entries_;
  std::map<std::string, YAML::Mark> section_marks_;  // section name -> mark of its key
  std::map<std::string, YAML::Mark> given_marks_;    // dotted key -> mark of its key, for keys the file sets
};

}  // namespace

RunConfig parse_run_config(const std::string& yaml_text, const std::string& source_name) {
  return RunFileParser(yaml_text, source_name).parse();
}

RunConfig load_run_config(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such run file");
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path + ": not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the run file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_run_config(text.str(), path);
}

}  // namespace zotune
