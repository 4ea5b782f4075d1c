// Grid files: parsing with lines in every error, and the expansion into resolved runs.
#include "core/grid/grid_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "core/config/run_entries.h"
#include "core/util/error.h"

namespace zotune {

namespace {

namespace fs = std::filesystem;

constexpr const char* kGridKeys[] = {"base", "set", "axes", "zip", "seeds", "when", "exclude", "name", "output"};

// One key's value in one combination; `at` is the value node, whose line errors quote.
struct Assignment {
  std::string key;
  YAML::Node value;
};
using Level = std::vector<Assignment>;

// A factor of the product: the levels one axis, zipped group or seed list steps through.
struct Factor {
  std::vector<std::string> keys;
  std::vector<Level> levels;
  bool replaceable = false;  // a single-key axis of `axes`, which a `when` rule may give other values
};

struct WhenRule {
  YAML::Node at;
  std::vector<Assignment> match;
  std::vector<RunEntry> set;
  std::map<std::string, std::vector<Level>> axes;  // axis key -> the values it takes instead
};

struct Exclusion {
  std::vector<std::pair<std::string, std::vector<YAML::Node>>> match;  // key -> any of these values
};

int line(const YAML::Node& node) { return node.Mark().is_null() ? 0 : node.Mark().line + 1; }

class GridParser {
 public:
  GridParser(const std::string& path, const std::vector<std::string>& overrides) : path_(path), overrides_(overrides) {
    std::error_code ec;
    folder_ = fs::absolute(path, ec).lexically_normal().parent_path().string();
  }

  Grid parse() {
    const YAML::Node root = load_yaml_document(read_text_file(path_, "grid file"), path_, "grid file");
    for (auto it = root.begin(); it != root.end(); ++it) {
      const YAML::Node key = it->first, value = it->second;
      const std::string name = key.IsScalar() ? key.Scalar() : "";
      if (std::find(std::begin(kGridKeys), std::end(kGridKeys), name) == std::end(kGridKeys))
        fail(key, name, "unknown grid key (known: base, set, axes, zip, seeds, when, exclude, name, output)");
      if (!seen_.insert(name).second) fail(key, name, "duplicate grid key");
      if (name == "base") base_entries_ = run_file_entries(path_value(key, value, "a run file"));
      if (name == "set") set_entries_ = keys_of(value, "set");
      if (name == "axes") parse_axes(value);
      if (name == "zip") parse_zip(value);
      if (name == "seeds") parse_seeds(key, value);
      if (name == "when") when_node_ = value;  // after every axis is known
      if (name == "exclude") exclude_node_ = value;
      if (name == "name") name_template_ = value;
      if (name == "output") output_ = path_value(key, value, "a folder");
    }
    if (when_node_) parse_when(*when_node_);
    if (exclude_node_) parse_excludes(*exclude_node_);
    if (name_template_ && (!name_template_->IsScalar() || name_template_->Scalar().empty()))
      fail(*name_template_, "name", "expected a name template such as \"{optimizer.name}-lr{optimizer.lr}-s{run.seed}\"");

    for (const std::string& o : overrides_) {
      RunEntry entry = override_entry(o);
      check(std::find(varying_keys_.begin(), varying_keys_.end(), entry.key) == varying_keys_.end(),
            "override " + o + ": " + entry.key + " varies in " + path_ +
                " (an axis, zip or seed list); setting it in every run would make runs the same");
      check(entry.key != "run.name" && entry.key != "run.output",
            "override " + o + ": the grid names its runs and puts their logs in its output folder (" + path_ + ")");
      override_entries_.push_back(std::move(entry));
    }
    Grid grid;
    grid.path = path_;
    grid.overrides = overrides_;
    grid.name = fs::path(path_).stem().string();
    std::error_code ec;
    grid.output_dir = output_.empty() ? (fs::current_path(ec) / "runs" / grid.name).lexically_normal().string() : output_;
    grid.varying_keys = varying_keys_;
    Level assignment;
    expand(0, assignment, grid);
    check(!grid.runs.empty(), path_ + ": the grid expands to no run (every combination is excluded)");
    name_and_resolve(grid);
    return grid;
  }

 private:
  [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& message) const {
    const int l = line(at);
    throw Error(path_ + (l ? ":" + std::to_string(l) : "") + ": " + key + (key.empty() ? "" : ": ") + message);
  }

  std::string path_value(const YAML::Node& key, const YAML::Node& value, const std::string& what) const {
    if (!value.IsScalar() || value.Scalar().empty()) fail(key, key.Scalar(), "expected the path of " + what);
    fs::path p(value.Scalar());
    return (p.is_relative() ? fs::path(folder_) / p : p).lexically_normal().string();
  }

  // Run keys of `set` and `when[i].set`: dotted keys (run.steps: 100) or sections (run: {steps: 100}).
  std::vector<RunEntry> keys_of(const YAML::Node& node, const std::string& where) const {
    if (!node.IsMap()) fail(node, where, "expected a mapping of run keys (optimizer.lr: 1e-3, or sections)");
    std::vector<RunEntry> out;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first, value = it->second;
      if (!key.IsScalar()) fail(key, where, "expected a run key");
      if (key.Scalar().find('.') != std::string::npos) {
        out.push_back({key.Scalar(), key, value, path_, folder_});
        continue;
      }
      YAML::Node section(YAML::NodeType::Map);
      section.force_insert(key, value);
      for (RunEntry& e : section_entries(section, path_, folder_)) out.push_back(std::move(e));
    }
    return out;
  }

  void add_varying(const YAML::Node& at, const std::string& key) {
    if (key.find('.') == std::string::npos) fail(at, key, "expected a dotted run key such as optimizer.lr");
    if (std::find(varying_keys_.begin(), varying_keys_.end(), key) != varying_keys_.end())
      fail(at, key, "varies twice (on two axes, zipped groups or seeds)");
    varying_keys_.push_back(key);
  }

  std::vector<Level> levels_of(const std::string& key, const YAML::Node& list) const {
    if (!list.IsSequence() || list.size() == 0) fail(list, key, "expected a non-empty list of values");
    std::vector<Level> out;
    for (const YAML::Node& v : list) out.push_back({{key, v}});
    return out;
  }

  void parse_axes(const YAML::Node& node) {
    if (!node.IsMap()) fail(node, "axes", "expected a mapping of dotted keys to lists of values");
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first, values = it->second;
      add_varying(key, key.Scalar());
      factors_.push_back({{key.Scalar()}, levels_of(key.Scalar(), values), true});
    }
  }

  void parse_zip(const YAML::Node& node) {
    if (!node.IsSequence()) fail(node, "zip", "expected a list of groups, each a mapping of keys to equally long lists");
    for (const YAML::Node& group : node) {
      if (!group.IsMap() || group.size() < 2) fail(group, "zip", "a zipped group maps at least two keys to lists");
      Factor f;
      for (auto it = group.begin(); it != group.end(); ++it) {
        const YAML::Node key = it->first, values = it->second;
        add_varying(key, key.Scalar());
        std::vector<Level> levels = levels_of(key.Scalar(), values);
        if (f.levels.empty()) f.levels.resize(levels.size());
        if (levels.size() != f.levels.size())
          fail(key, key.Scalar(),
               "has " + std::to_string(levels.size()) + " values, the group's first key " + f.keys.front() + " has " +
                   std::to_string(f.levels.size()) + " (zipped keys vary together)");
        f.keys.push_back(key.Scalar());
        for (size_t i = 0; i < levels.size(); ++i) f.levels[i].push_back(levels[i].front());
      }
      factors_.push_back(std::move(f));
    }
  }

  void parse_seeds(const YAML::Node& key, const YAML::Node& values) {
    add_varying(key, "run.seed");
    factors_.push_back({{"run.seed"}, levels_of("run.seed", values), true});
  }

  size_t factor_of(const std::string& key) const {
    for (size_t i = 0; i < factors_.size(); ++i)
      if (std::find(factors_[i].keys.begin(), factors_[i].keys.end(), key) != factors_[i].keys.end()) return i;
    return factors_.size();
  }

  std::vector<Assignment> match_of(const YAML::Node& node, const std::string& where) const {
    if (!node.IsMap() || node.size() == 0) fail(node, where, "expected a mapping of varying keys to values");
    std::vector<Assignment> out;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      if (factor_of(key.Scalar()) == factors_.size())
        fail(key, where + ": " + key.Scalar(), "is not a key the grid varies (axes, zip, seeds)");
      out.push_back({key.Scalar(), it->second});
    }
    return out;
  }

  void parse_when(const YAML::Node& node) {
    if (!node.IsSequence()) fail(node, "when", "expected a list of rules {match: ..., set: ..., axes: ...}");
    size_t i = 0;
    for (const YAML::Node& rule_node : node) {
      const std::string where = "when[" + std::to_string(i++) + "]";
      if (!rule_node.IsMap()) fail(rule_node, where, "expected a rule {match: ..., set: ..., axes: ...}");
      WhenRule rule;
      rule.at = rule_node;
      for (auto it = rule_node.begin(); it != rule_node.end(); ++it) {
        const YAML::Node key = it->first, value = it->second;
        const std::string k = key.Scalar();
        if (k == "match") {
          rule.match = match_of(value, where + ".match");
        } else if (k == "set") {
          rule.set = keys_of(value, where + ".set");
          for (const RunEntry& e : rule.set)
            if (factor_of(e.key) != factors_.size())
              fail(e.key_node, where + ".set: " + e.key, "varies on an axis; give it other values with " + where + ".axes");
        } else if (k == "axes") {
          if (!value.IsMap()) fail(value, where + ".axes", "expected a mapping of axis keys to lists of values");
          for (auto a = value.begin(); a != value.end(); ++a) {
            const std::string axis = a->first.Scalar();
            const size_t f = factor_of(axis);
            if (f == factors_.size() || !factors_[f].replaceable)
              fail(a->first, where + ".axes: " + axis, "is not an axis of `axes` or `seeds` (only those take other values)");
            rule.axes[axis] = levels_of(axis, a->second);
          }
        } else {
          fail(key, where + "." + k, "unknown rule key (known: match, set, axes)");
        }
      }
      if (rule.match.empty()) fail(rule_node, where, "a rule needs `match`");
      // A rule's match must be decided before the axes it replaces are expanded.
      for (const auto& [axis, levels] : rule.axes)
        for (const Assignment& m : rule.match)
          if (factor_of(m.key) >= factor_of(axis))
            fail(rule_node, where,
                 "matches on " + m.key + ", which varies after (or with) " + axis +
                     "; write the axis of " + m.key + " first");
      when_.push_back(std::move(rule));
    }
  }

  void parse_excludes(const YAML::Node& node) {
    if (!node.IsSequence()) fail(node, "exclude", "expected a list of combinations {key: value, ...}");
    size_t i = 0;
    for (const YAML::Node& combo : node) {
      const std::string where = "exclude[" + std::to_string(i++) + "]";
      Exclusion ex;
      for (const Assignment& a : match_of(combo, where)) {
        // A list of values excludes any of them (unless the key itself takes lists).
        std::vector<YAML::Node> values;
        if (a.value.IsSequence())
          for (const YAML::Node& v : a.value) values.push_back(v);
        else
          values.push_back(a.value);
        ex.match.emplace_back(a.key, values);
      }
      excludes_.push_back(std::move(ex));
    }
  }

  // Values compare as numbers where both are numbers (1e-3 == 0.001), else as text.
  static bool same_value(const YAML::Node& a, const YAML::Node& b) {
    if (a.IsScalar() && b.IsScalar()) {
      if (a.Scalar() == b.Scalar()) return true;
      double x = 0, y = 0;
      const std::string& sa = a.Scalar();
      const std::string& sb = b.Scalar();
      auto [ea, ra] = std::from_chars(sa.data(), sa.data() + sa.size(), x);
      auto [eb, rb] = std::from_chars(sb.data(), sb.data() + sb.size(), y);
      return ra == std::errc{} && rb == std::errc{} && ea == sa.data() + sa.size() && eb == sb.data() + sb.size() && x == y;
    }
    if (a.IsSequence() && b.IsSequence() && a.size() == b.size()) {
      for (size_t i = 0; i < a.size(); ++i)
        if (!same_value(a[i], b[i])) return false;
      return true;
    }
    return false;
  }

  static const YAML::Node* value_in(const Level& assignment, const std::string& key) {
    for (const Assignment& a : assignment)
      if (a.key == key) return &a.value;
    return nullptr;
  }

  bool matches(const std::vector<Assignment>& match, const Level& assignment) const {
    for (const Assignment& m : match) {
      const YAML::Node* v = value_in(assignment, m.key);
      if (!v || !same_value(*v, m.value)) return false;
    }
    return true;
  }

  bool excluded(const Level& assignment) const {
    for (const Exclusion& ex : excludes_) {
      bool all = true;
      for (const auto& [key, values] : ex.match) {
        const YAML::Node* v = value_in(assignment, key);
        all = all && v && std::any_of(values.begin(), values.end(), [&](const YAML::Node& x) { return same_value(*v, x); });
      }
      if (all) return true;
    }
    return false;
  }

  void expand(size_t f, Level& assignment, Grid& grid) {
    if (f == factors_.size()) {
      if (excluded(assignment)) return;
      GridRun run;
      run.index = grid.runs.size();
      for (const std::string& key : varying_keys_) run.varying.emplace_back(key, text_of(*value_in(assignment, key)));
      assignments_.push_back(assignment);
      grid.runs.push_back(std::move(run));
      return;
    }
    const std::vector<Level>* levels = &factors_[f].levels;
    if (factors_[f].replaceable)
      for (const WhenRule& rule : when_) {
        auto it = rule.axes.find(factors_[f].keys.front());
        if (it != rule.axes.end() && matches(rule.match, assignment)) levels = &it->second;  // the last rule wins
      }
    for (const Level& level : *levels) {
      assignment.insert(assignment.end(), level.begin(), level.end());
      expand(f + 1, assignment, grid);
      assignment.resize(assignment.size() - level.size());
    }
  }

  static std::string text_of(const YAML::Node& v) {
    if (v.IsScalar()) return v.Scalar();
    // A mapping as a value (`[{a: b}]`): iterated as a list below, yaml-cpp hands out invalid
    // nodes (found by tests/fuzz/fuzz_grid_spec); the run-file check then refuses the value.
    if (v.IsMap()) return "{...}";
    std::string out;
    for (const YAML::Node& e : v) out += (out.empty() ? "" : ",") + (e.IsScalar() ? e.Scalar() : std::string("..."));
    return out;
  }

  // A value in a run name: path separators and shell-unfriendly characters become '_'.
  static std::string name_piece(const std::string& text) {
    std::string out = text;
    for (char& c : out)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == '=' || c == '_')) c = '_';
    return out;
  }

  std::string render_name(const GridRun& run, const std::vector<RunEntry>& entries) const {
    if (!name_template_) {
      std::string out;
      for (const auto& [key, value] : run.varying) {
        const std::string leaf = key.substr(key.find('.') + 1);
        out += (out.empty() ? "" : "_") + leaf + "=" + name_piece(value);
      }
      return out.empty() ? "run" + std::to_string(run.index) : out;
    }
    const std::string& t = name_template_->Scalar();
    std::string out;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] != '{') {
        out += t[i];
        continue;
      }
      const size_t close = t.find('}', i);
      if (close == std::string::npos) fail(template_at(), "name", "'{' without '}' in \"" + t + "\"");
      const std::string key = t.substr(i + 1, close - i - 1);
      i = close;
      if (key == "index") {
        out += std::to_string(run.index);
        continue;
      }
      if (key == "grid") {
        out += name_piece(fs::path(path_).stem().string());
        continue;
      }
      auto v = std::find_if(run.varying.begin(), run.varying.end(), [&](const auto& kv) { return kv.first == key; });
      if (v != run.varying.end()) {
        out += name_piece(v->second);
        continue;
      }
      const RunEntry* set = nullptr;
      for (const RunEntry& e : entries)
        if (e.key == key) set = &e;
      if (!set) fail(template_at(), "name", "{" + key + "} is neither {index}, {grid} nor a key this grid sets or varies");
      out += name_piece(text_of(set->value));
    }
    return out;
  }

  void name_and_resolve(Grid& grid) {
    std::map<std::string, size_t> names;
    const size_t total = grid.runs.size();
    for (GridRun& run : grid.runs) {
      const Level& assignment = assignments_[run.index];
      std::vector<RunEntry> entries = base_entries_;
      entries.insert(entries.end(), set_entries_.begin(), set_entries_.end());
      for (const WhenRule& rule : when_)
        if (matches(rule.match, assignment)) entries.insert(entries.end(), rule.set.begin(), rule.set.end());
      for (const Assignment& a : assignment) entries.push_back({a.key, a.value, a.value, path_, folder_});
      entries.insert(entries.end(), override_entries_.begin(), override_entries_.end());
      run.name = render_name(run, entries);
      if (run.name.empty() || run.name == "." || run.name == "..")
        fail(template_at(), "name", "gives run " + std::to_string(run.index) + " the name '" + run.name + "'");
      auto [it, inserted] = names.emplace(run.name, run.index);
      if (!inserted)
        fail(template_at(), "name",
             "runs " + std::to_string(it->second) + " and " + std::to_string(run.index) + " both get the name '" + run.name +
                 "'; put the keys that tell them apart in the template");
      const fs::path out = fs::path(grid.output_dir);
      run.log_path = (out / (run.name + ".h5")).string();
      run.run_file = (out / (run.name + ".yaml")).string();
      run.out_file = (out / (run.name + ".out")).string();
      const YAML::Node name_value(run.name), output_value(run.log_path);
      entries.push_back({"run.name", name_value, name_value, path_ + " (run name)", ""});
      entries.push_back({"run.output", output_value, output_value, path_ + " (output)", ""});
      try {
        run.config = resolve_run_config(entries, path_);
      } catch (const Error& e) {
        throw Error(std::string(e.what()) + " (run " + std::to_string(run.index) + " of " + std::to_string(total) + ": " +
                    run.name + ")");
      }
    }
  }

  YAML::Node template_at() const { return name_template_ ? *name_template_ : YAML::Node(); }

  std::string path_, folder_, output_;
  std::vector<std::string> overrides_;
  std::set<std::string> seen_;
  std::vector<RunEntry> base_entries_, set_entries_, override_entries_;
  std::vector<Factor> factors_;
  std::vector<std::string> varying_keys_;
  std::vector<WhenRule> when_;
  std::vector<Exclusion> excludes_;
  std::optional<YAML::Node> when_node_, exclude_node_, name_template_;
  std::vector<Level> assignments_;  // per expanded run
};

}  // namespace

Grid load_grid(const std::string& path, const std::vector<std::string>& overrides) {
  return GridParser(path, overrides).parse();
}

}  // namespace zotune
