#include "core/train/resume.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <variant>

#include "core/config/run_config_schema.h"
#include "core/log/run_log_reader.h"
#include "core/util/error.h"

namespace zotune {

namespace {

// ---- Configurations as dotted key -> value

// Adds every `section: {key: value}` of a YAML document as "section.key" -> value, keeping
// keys already there (the resolved run file wins over the defaults' block: they never overlap).
void add_flat(const YAML::Node& root, std::map<std::string, YAML::Node>& out) {
  if (!root.IsMap()) return;
  for (const auto& section : root) {
    if (!section.second.IsMap()) continue;
    for (const auto& key : section.second)
      out.emplace(section.first.Scalar() + "." + key.first.Scalar(), key.second);
  }
}

// A logged or resolved configuration: the run file's keys, and the defaults in force that
// follow it as comment lines ("# section:", "#   key: value  # source"), uncommented.
std::map<std::string, YAML::Node> flat_config(const std::string& text, const std::string& what) {
  std::string keys, defaults;
  std::istringstream in(text);
  std::string line;
  bool in_defaults = false;
  while (std::getline(in, line)) {
    if (line.rfind("# Defaults in force", 0) == 0) {
      in_defaults = true;
      continue;
    }
    if (line.rfind('#', 0) == 0) {
      if (!in_defaults) continue;
      std::string body = line.substr(line.size() > 1 && line[1] == ' ' ? 2 : 1);
      const size_t source = body.find("  # ");
      if (source != std::string::npos) body.erase(source);
      defaults += body + "\n";
    } else {
      keys += line + "\n";
    }
  }
  std::map<std::string, YAML::Node> out;
  try {
    add_flat(YAML::Load(keys), out);
    add_flat(YAML::Load(defaults), out);
  } catch (const YAML::Exception& e) {
    throw Error(what + ": the configuration does not parse: " + e.what());
  }
  return out;
}

std::optional<double> as_number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

bool same_value(const YAML::Node& a, const YAML::Node& b) {
  if (a.IsSequence() || b.IsSequence()) {
    if (!a.IsSequence() || !b.IsSequence() || a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_value(a[i], b[i])) return false;
    return true;
  }
  if (!a.IsScalar() || !b.IsScalar()) return a.IsNull() && b.IsNull();
  const std::optional<double> x = as_number(a.Scalar()), y = as_number(b.Scalar());
  if (x && y) return *x == *y;
  return a.Scalar() == b.Scalar();
}

std::string value_text(const YAML::Node* node) {
  if (!node) return "(not set)";
  YAML::Emitter out;
  out << YAML::Flow << *node;
  return out.c_str();
}

// ---- A byte stream for the broadcast of a ResumePoint

class Writer {
 public:
  template <class T>
  void put(const T& value) {
    const auto* bytes = reinterpret_cast<const char*>(&value);
    out_.append(bytes, sizeof(T));
  }
  void put_string(const std::string& text) {
    put<uint64_t>(text.size());
    out_ += text;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  template <class T>
  T get() {
    check(at_ + sizeof(T) <= in_.size(), "resume: the broadcast resume point is cut short");
    T value;
    std::memcpy(&value, in_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  std::string get_string() {
    const uint64_t n = get<uint64_t>();
    check(at_ + n <= in_.size(), "resume: the broadcast resume point is cut short");
    std::string out = in_.substr(at_, n);
    at_ += n;
    return out;
  }

 private:
  const std::string& in_;
  size_t at_ = 0;
};

std::optional<std::string> summary_text(const std::map<std::string, SummaryValue>& summary, const std::string& key) {
  const auto it = summary.find(key);
  if (it == summary.end() || !std::holds_alternative<std::string>(it->second)) return std::nullopt;
  return std::get<std::string>(it->second);
}

}  // namespace

bool resume_may_change(const std::string& dotted_key) {
  static const std::set<std::string> cosmetic = {"run.progress", "run.log_every", "run.flush_every", "run.output",
                                                 "distributed.timeout_s"};
  return cosmetic.count(dotted_key) > 0;
}

std::string first_config_difference(const std::string& logged_config_text, const RunConfig& config) {
  const std::map<std::string, YAML::Node> logged = flat_config(logged_config_text, "the log's /config");
  const std::map<std::string, YAML::Node> now = flat_config(config.text + config.defaults_text, config.source);
  const std::map<std::string, YAML::Node> set_now = flat_config(config.text, config.source);
  // Schema order first (the order a run file and docs/CONFIG.md list them), then anything else.
  std::vector<std::string> order;
  for (const run_config_schema::KeySpec& spec : run_config_schema::keys()) order.emplace_back(spec.path);
  for (const auto& [key, value] : logged) order.push_back(key);
  for (const auto& [key, value] : now) order.push_back(key);
  std::set<std::string> seen;
  for (const std::string& key : order) {
    if (!seen.insert(key).second || resume_may_change(key)) continue;
    const auto a = logged.find(key);
    const auto b = now.find(key);
    if (a == logged.end() && b == now.end()) continue;
    if (a != logged.end() && b != now.end() && same_value(a->second, b->second)) continue;
    // A key newer than the log, in force only as its default: a key is added with the behaviour
    // before it as its default (docs/RELIABILITY.md), so the logged run computed the same.
    if (a == logged.end() && b != now.end() && set_now.count(key) == 0) continue;
    return key + ": the log has " + value_text(a == logged.end() ? nullptr : &a->second) + ", the run file gives " +
           value_text(b == now.end() ? nullptr : &b->second);
  }
  return "";
}

std::string serialize_resume_point(const ResumePoint& point) {
  Writer w;
  w.put<int64_t>(point.steps);
  w.put<uint64_t>(point.inputs.size());
  for (const LoggedStepInputs& in : point.inputs) {
    w.put<uint32_t>(in.step);
    w.put<double>(in.lr);
    w.put<uint64_t>(in.probe_losses.size());
    for (double v : in.probe_losses) w.put<double>(v);
  }
  w.put<uint64_t>(point.updates.size());
  for (const LoggedUpdate& u : point.updates) {
    w.put<int64_t>(u.step);
    w.put<float>(u.decay_scale);
    w.put<uint64_t>(u.terms.size());
    for (const cpu::DirectionTerm& t : u.terms) w.put<cpu::DirectionTerm>(t);
  }
  w.put<uint64_t>(point.evals.size());
  for (const LoggedEval& e : point.evals) {
    w.put<int64_t>(e.step);
    w.put<uint64_t>(e.metrics.size());
    for (const auto& [name, value] : e.metrics) {
      w.put_string(name);
      w.put<double>(value);
    }
  }
  return w.take();
}

ResumePoint deserialize_resume_point(const std::string& bytes) {
  Reader r(bytes);
  ResumePoint point;
  point.steps = r.get<int64_t>();
  point.inputs.resize(r.get<uint64_t>());
  for (LoggedStepInputs& in : point.inputs) {
    in.step = r.get<uint32_t>();
    in.lr = r.get<double>();
    in.probe_losses.resize(r.get<uint64_t>());
    for (double& v : in.probe_losses) v = r.get<double>();
  }
  point.updates.resize(r.get<uint64_t>());
  for (LoggedUpdate& u : point.updates) {
    u.step = r.get<int64_t>();
    u.decay_scale = r.get<float>();
    u.terms.resize(r.get<uint64_t>());
    for (cpu::DirectionTerm& t : u.terms) t = r.get<cpu::DirectionTerm>();
  }
  point.evals.resize(r.get<uint64_t>());
  for (LoggedEval& e : point.evals) {
    e.step = r.get<int64_t>();
    const uint64_t n = r.get<uint64_t>();
    for (uint64_t i = 0; i < n; ++i) {
      std::string name = r.get_string();
      e.metrics[name] = r.get<double>();
    }
  }
  return point;
}

ResumeLog read_resume_log(const std::string& path, const RunConfig& config) {
  std::error_code ec;
  check(std::filesystem::exists(path, ec),
        path + ": --resume: no run log to resume (start the run without --resume)");
  const RunLogReader log = RunLogReader::open(path);
  ResumeLog out;
  const std::map<std::string, SummaryValue> summary = log.summary();
  out.status = summary_text(summary, "status").value_or("");
  out.completed = out.status == "completed";
  out.final_checksum = summary_text(summary, "final_checksum");
  if (auto it = summary.find("steps"); it != summary.end() && std::holds_alternative<double>(it->second))
    out.summary_steps = std::get<double>(it->second);
  const std::string difference = first_config_difference(log.config_text(), config);
  check(difference.empty(), path + ": --resume: the run file's configuration is not the logged one: " + difference +
                                " (resume needs the same configuration; train it anew with --overwrite instead)");
  if (out.completed) return out;

  const RunProvenance provenance = log.provenance();
  out.started_utc = summary_text(summary, "first_started_utc").value_or(provenance.started_utc);
  out.resumed_at = summary_text(summary, "resumed_at_steps").value_or("");

  // /steps rows 0 .. n-1 must be steps 0 .. n-1: replay needs every step from the start.
  const std::vector<int64_t> steps = log.steps();
  const int64_t n = static_cast<int64_t>(steps.size());
  for (int64_t i = 0; i < n; ++i)
    check(steps[i] == i, path + ": --resume: /steps row " + std::to_string(i) + " is step " + std::to_string(steps[i]) +
                             ", expected " + std::to_string(i) + " (resume replays every step from 0)");
  ResumePoint& point = out.point;
  point.steps = n;
  out.scalars.resize(n);
  out.vectors.resize(n);
  out.update_rows.resize(n);
  for (const std::string& name : log.series_names()) {
    const std::vector<double> values = log.series(name);
    for (int64_t i = 0; i < n; ++i)
      if (!std::isnan(values[i])) out.scalars[i][name] = values[i];
  }
  for (const std::string& name : log.vector_series_names())
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> v = log.vector(name, i);
      if (!v.empty()) out.vectors[i][name] = std::move(v);
    }
  point.inputs.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const auto lr = out.scalars[i].find("lr");
    check(lr != out.scalars[i].end(), path + ": --resume: /steps/lr is missing at step " + std::to_string(i));
    const auto losses = out.vectors[i].find("probe_losses");
    point.inputs[i] = {static_cast<uint32_t>(i), lr->second,
                       losses == out.vectors[i].end() ? std::vector<double>{} : losses->second};
  }
  // /updates rows of the steps kept (a flush cut short may have left rows of later steps).
  const UpdateTable table = log.updates();
  point.updates.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    point.updates[i].step = i;
    const auto decay = out.scalars[i].find("decay_scale");
    check(decay != out.scalars[i].end(), path + ": --resume: /steps/decay_scale is missing at step " + std::to_string(i));
    point.updates[i].decay_scale = static_cast<float>(decay->second);
  }
  for (size_t row = 0; row < table.size(); ++row) {
    const int64_t step = table.step[row];
    check(row == 0 || step >= table.step[row - 1], path + ": --resume: /updates/step decreases at row " + std::to_string(row));
    if (step < 0 || step >= n) continue;
    cpu::DirectionTerm t;
    t.seed = table.seed[row];
    t.step = static_cast<uint32_t>(step);
    t.query = static_cast<uint32_t>(table.query[row]);
    t.coeff = static_cast<float>(table.coefficient[row]);
    point.updates[step].terms.push_back(t);
    out.update_rows[step].push_back({table.query[row], table.coefficient[row], table.seed[row]});
  }
  // /eval rows up to the resume point. The row after the last step that holds the final
  // training loss (written once the steps are done) is left out: the finishing run writes it.
  const std::vector<int64_t> eval_steps = log.eval_steps();
  std::map<std::string, std::vector<double>> metrics;
  for (const std::string& name : log.eval_metric_names()) metrics[name] = log.eval_series(name);
  for (size_t row = 0; row < eval_steps.size(); ++row) {
    LoggedEval e;
    e.step = eval_steps[row];
    for (const auto& [name, values] : metrics)
      if (!std::isnan(values[row])) e.metrics[name] = values[row];
    if (e.step > n || (e.step > 0 && e.metrics.count("train_loss"))) continue;
    point.evals.push_back(std::move(e));
  }
  return out;
}

void write_resumed_rows(const ResumeLog& resumed, RunLog& log) {
  const ResumePoint& point = resumed.point;
  size_t next_eval = 0;
  // Rows in the order the run wrote them: the evaluations of step k (after k steps) follow /steps row k-1.
  auto evals_through = [&](int64_t steps_done) {
    for (; next_eval < point.evals.size() && point.evals[next_eval].step <= steps_done; ++next_eval)
      log.log_eval(point.evals[next_eval].step, point.evals[next_eval].metrics);
  };
  evals_through(0);
  for (int64_t i = 0; i < point.steps; ++i) {
    log.log_updates(i, resumed.update_rows[i]);
    log.log_step(i, resumed.scalars[i], resumed.vectors[i]);
    evals_through(i + 1);
  }
  evals_through(point.steps);
  log.set_summary("first_started_utc", resumed.started_utc);
  log.set_summary("resumed_at_steps", (resumed.resumed_at.empty() ? "" : resumed.resumed_at + ",") + std::to_string(point.steps));
  log.flush();
}

}  // namespace zotune
