#include "core/config/complete_config.h"

#include <initializer_list>
#include <map>
#include <set>
#include <vector>

#include "core/config/run_config_schema.h"
#include "core/util/error.h"
#include "core/util/split_text.h"

namespace zotune {
namespace {

namespace schema = run_config_schema;


bool is_name(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// A key's lines: "  leaf: value" and any continuation lines ("    - item" of a list).
using KeyLines = std::map<std::string, std::string>;  // dotted key -> its lines, '\n'-ended

[[noreturn]] void bad_layout(const RunConfig& config, const std::string& part, const std::string& line) {
  throw Error(config.source + ": internal: the resolved run file's " + part + " is not in the layout zotune writes, at '" +
              line + "'");
}

// RunConfig::text: "section:" lines, each followed by its "  leaf: value" lines.
KeyLines given_keys(const RunConfig& config) {
  KeyLines out;
  std::string section, key;
  for (const std::string& line : split_text(config.text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != ' ') {
      if (line.back() != ':' || !is_name(line.substr(0, line.size() - 1))) bad_layout(config, "text", line);
      section = line.substr(0, line.size() - 1), key.clear();
    } else if (line.size() > 2 && line[1] == ' ' && line[2] != ' ') {
      const size_t colon = line.find(':');
      if (section.empty() || colon == std::string::npos) bad_layout(config, "text", line);
      key = section + "." + line.substr(2, colon - 2);
      out[key] = line + "\n";
    } else {
      if (key.empty()) bad_layout(config, "text", line);
      out[key] += line + "\n";  // a list item of the key above
    }
  }
  return out;
}

// RunConfig::defaults_text: "# section:" lines, each followed by "#   leaf: value  # source".
KeyLines default_keys(const RunConfig& config) {
  KeyLines out;
  std::string section;
  for (const std::string& line : split_text(config.defaults_text, '\n')) {
    if (line.rfind("#   ", 0) == 0) {
      const std::string entry = line.substr(4);
      const size_t colon = entry.find(':');
      if (section.empty() || colon == std::string::npos) bad_layout(config, "defaults", line);
      out[section + "." + entry.substr(0, colon)] = "  " + entry + "\n";
    } else if (line.rfind("# ", 0) == 0 && line.back() == ':' && is_name(line.substr(2, line.size() - 3))) {
      section = line.substr(2, line.size() - 3);
    }  // anything else: the heading comment
  }
  return out;
}

}  // namespace

std::string complete_config_text(const RunConfig& config) {
  KeyLines given = given_keys(config);
  const KeyLines defaults = default_keys(config);
  // Sections in schema order, then any the schema does not list; keys likewise within them.
  std::vector<std::string> order;
  std::set<std::string> listed;
  for (const schema::KeySpec& spec : schema::keys())
    if (listed.insert(std::string(spec.path)).second) order.emplace_back(spec.path);
  for (const KeyLines* lines : std::initializer_list<const KeyLines*>{&given, &defaults})
    for (const auto& [key, text] : *lines)
      if (listed.insert(key).second) order.push_back(key);
  std::vector<std::string> sections;
  std::map<std::string, std::string> body;
  for (const std::string& key : order) {
    const auto g = given.find(key);
    const auto d = defaults.find(key);
    if (g == given.end() && d == defaults.end()) continue;
    const std::string section = key.substr(0, key.find('.'));
    if (!body.count(section)) sections.push_back(section);
    body[section] += g != given.end() ? g->second : d->second;
  }
  std::string out =
      "# Every key in force: the run file's keys (bases and overrides merged, paths absolute) and the defaults it\n"
      "# took, each default followed by a comment naming where it comes from.\n";
  for (const std::string& section : sections) out += section + ":\n" + body[section];
  return out;
}

}  // namespace zotune
