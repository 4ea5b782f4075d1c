#include "core/log/run_log_contents.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <type_traits>

#include "core/log/hdf5_util.h"
#include "core/util/split_text.h"

namespace zotune {
namespace {

constexpr int64_t kFormatVersion = 1;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();


bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Runs `read`; its zotune::Error becomes the part's error (thrown when the part is used).
template <typename F>
auto read_part(F&& read) -> LogPart<decltype(read())> {
  LogPart<decltype(read())> part;
  try {
    part.value = read();
  } catch (const Error& e) {
    part.error = e.what();
  }
  return part;
}

// The open file and what every read needs: the path for messages and the file's size.
class LogFile {
 public:
  explicit LogFile(const std::string& path) : path_(path) {
    h5::silence_library_errors();
    // Logs written before the writer turned locking off stay locked while their run lasts;
    // reading a live log must not need the lock.
    const h5::Id fapl = h5::file_access_without_locking(path + ": open the run log");
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
    if (file < 0) {
      const std::string detail = h5::error_detail();
      throw Error(path + ": not a readable HDF5 run log (damaged, truncated or not HDF5" +
                  (detail.empty() ? ")" : ": " + detail + ")"));
    }
    file_ = h5::Id(file);
    hsize_t bytes = 0;
    h5::check(H5Fget_filesize(file_.get(), &bytes), path, "read the file size");
    file_bytes_ = bytes;
  }

  hid_t get() const { return file_.get(); }
  std::string at(const std::string& object) const { return path_ + ": " + object; }

  h5::Id open_group(const char* name) const {
    if (!h5::has_link(file_.get(), name)) throw Error(path_ + ": incomplete run log: missing /" + std::string(name));
    return h5::checked(H5Gopen2(file_.get(), name, H5P_DEFAULT), at(std::string("/") + name), "open the group");
  }

  h5::Id open_dataset(hid_t group, const std::string& group_path, const std::string& name) const {
    const std::string where = at(group_path + "/" + name);
    if (!h5::has_link(group, name)) throw Error(where + ": no such series");
    return h5::checked(H5Dopen2(group, name.c_str(), H5P_DEFAULT), where, "open the dataset");
  }

  // A dataset's length, refused when its elements could not fit in the whole file: zotune
  // stores rows uncompressed, so a larger length is a corrupted dataspace, and reading it
  // would allocate that many rows (gigabytes from a 64 KB log, found by tests/fuzz/fuzz_run_log).
  int64_t dataset_length(hid_t dset, const std::string& where) const {
    const int64_t length = h5::dataset_length(dset, where);
    h5::Id type = h5::checked(H5Dget_type(dset), where, "read the dataset type");
    const size_t element_bytes = std::max<size_t>(H5Tget_size(type.get()), 1);
    if (length < 0 || static_cast<uint64_t>(length) > file_bytes_ / element_bytes)
      throw Error(where + ": " + std::to_string(length) + " rows of " + std::to_string(element_bytes) +
                  " bytes cannot fit in the file's " + std::to_string(file_bytes_) + " bytes (a corrupted log)");
    return length;
  }

  int64_t length_of(hid_t group, const std::string& group_path, const std::string& name) const {
    h5::Id dset = open_dataset(group, group_path, name);
    return dataset_length(dset.get(), at(group_path + "/" + name));
  }

  // The first `rows` elements (all of them for rows < 0).
  template <typename T>
  std::vector<T> read_column(hid_t group, const std::string& group_path, const std::string& name, int64_t rows) const {
    const std::string where = at(group_path + "/" + name);
    h5::Id dset = open_dataset(group, group_path, name);
    const int64_t length = dataset_length(dset.get(), where);
    if (rows < 0) rows = length;
    if (length < rows) throw Error(where + ": " + std::to_string(length) + " rows, expected " + std::to_string(rows));
    return h5::read_range<T>(dset.get(), 0, rows, where);
  }

  // A scalar series as float64 over `rows` rows: integer fill values become NaN, rows past the
  // dataset's end (a flush cut short) read as NaN.
  std::vector<double> read_series(hid_t group, const std::string& group_path, const std::string& name,
                                  int64_t rows) const {
    const std::string where = at(group_path + "/" + name);
    h5::Id dset = open_dataset(group, group_path, name);
    const int64_t available = std::min(rows, dataset_length(dset.get(), where));
    std::vector<double> out(static_cast<size_t>(rows), kNaN);
    h5::Id type = h5::checked(H5Dget_type(dset.get()), where, "read the dataset type");
    if (H5Tget_class(type.get()) == H5T_INTEGER) {
      const int64_t missing = h5::fill_value<int64_t>(dset.get(), where);
      const std::vector<int64_t> values = h5::read_range<int64_t>(dset.get(), 0, available, where);
      for (int64_t i = 0; i < available; ++i)
        if (values[i] != missing) out[i] = static_cast<double>(values[i]);
    } else {
      const std::vector<double> values = h5::read_range<double>(dset.get(), 0, available, where);
      std::copy(values.begin(), values.end(), out.begin());
    }
    return out;
  }

  // Dataset names of a series group: everything but `step` and the ragged-vector parts.
  std::vector<std::string> scalar_names(hid_t group, const std::string& group_path) const {
    std::vector<std::string> out;
    for (const std::string& name : h5::link_names(group, at(group_path)))
      if (name != "step" && name.find('.') == std::string::npos) out.push_back(name);
    return out;
  }

 private:
  std::string path_;
  h5::Id file_;
  uint64_t file_bytes_ = 0;
};

// The datasets of one group with their description, unit and integer-ness; unreadable ones
// (a damaged header) are skipped: the attributes only explain, the series carry the data.
void read_dataset_infos(const LogFile& file, hid_t group, const std::string& group_path,
                        std::map<std::string, DatasetInfo>& out) {
  std::vector<std::string> names;
  try {
    names = h5::link_names(group, file.at(group_path));
  } catch (const Error&) {
    return;
  }
  for (const std::string& name : names) {
    const std::string where = file.at(group_path + "/" + name);
    try {
      h5::Id dset = h5::checked(H5Dopen2(group, name.c_str(), H5P_DEFAULT), where, "open the dataset");
      h5::Id type = h5::checked(H5Dget_type(dset.get()), where, "read the dataset type");
      DatasetInfo info;
      info.integer = H5Tget_class(type.get()) == H5T_INTEGER;
      for (auto [key, value] : {std::pair{"description", &info.description}, std::pair{"unit", &info.unit}})
        if (h5::has_attribute(dset.get(), key) && h5::attribute_is_string(dset.get(), key, where))
          *value = h5::read_string_attribute(dset.get(), key, where);
      out[group_path + "/" + name] = std::move(info);
    } catch (const Error&) {
    }
  }
}

RunProvenance read_provenance(const LogFile& file) {
  const std::string where = file.at("/provenance");
  h5::Id group = h5::checked(H5Gopen2(file.get(), "provenance", H5P_DEFAULT), where, "open the group");
  const hid_t g = group.get();
  RunProvenance p;
  p.zotune_version = h5::read_string_attribute(g, "zotune_version", where);
  p.git_revision = h5::read_string_attribute(g, "git_revision", where);
  p.hostnames = split_text(h5::read_string_attribute(g, "hostnames", where), ',');
  p.devices = split_text(h5::read_string_attribute(g, "devices", where), ',');
  p.ranks = h5::read_int_attribute(g, "ranks", where);
  p.started_utc = h5::read_string_attribute(g, "started_utc", where);
  p.command_line = h5::read_string_attribute(g, "command_line", where);
  return p;
}

UpdateTable read_updates(const LogFile& file, hid_t g) {
  int64_t rows = file.length_of(g, "/updates", "step");
  for (const char* name : {"query", "coefficient", "seed"}) rows = std::min(rows, file.length_of(g, "/updates", name));
  UpdateTable t;
  t.step = file.read_column<int64_t>(g, "/updates", "step", rows);
  t.query = file.read_column<int32_t>(g, "/updates", "query", rows);
  t.coefficient = file.read_column<double>(g, "/updates", "coefficient", rows);
  t.seed = file.read_column<uint64_t>(g, "/updates", "seed", rows);
  return t;
}

std::map<std::string, SummaryValue> read_summary(const LogFile& file, hid_t g) {
  const std::string where = file.at("/summary");
  std::map<std::string, SummaryValue> out;
  for (const std::string& key : h5::attribute_names(g, where)) {
    if (h5::attribute_is_string(g, key, where))
      out[key] = h5::read_string_attribute(g, key, where);
    else
      out[key] = h5::read_double_attribute(g, key, where);
  }
  return out;
}

// ---- Encoding: one list of the fields (`fields`) drives both directions.

class Encoder {
 public:
  template <typename T>
  std::enable_if_t<std::is_arithmetic_v<T>> operator()(const T& v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void operator()(const std::string& s) {
    (*this)(static_cast<uint64_t>(s.size()));
    bytes_.append(s);
  }
  template <typename T>
  void operator()(const std::vector<T>& v) {
    (*this)(static_cast<uint64_t>(v.size()));
    if constexpr (std::is_arithmetic_v<T>)
      bytes_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    else
      for (const T& item : v) (*this)(item);
  }
  template <typename V>
  void operator()(const std::map<std::string, V>& m) {
    (*this)(static_cast<uint64_t>(m.size()));
    for (const auto& [key, value] : m) {
      (*this)(key);
      (*this)(value);
    }
  }
  void operator()(const SummaryValue& v) {
    (*this)(static_cast<uint8_t>(v.index()));
    std::visit([this](const auto& x) { (*this)(x); }, v);
  }
  template <typename T>
  void operator()(const LogPart<T>& part) {
    (*this)(part.error);
    if (part.error.empty()) (*this)(part.value);
  }
  template <typename Struct>
  auto operator()(const Struct& s) -> decltype(fields(*this, const_cast<Struct&>(s))) {
    return fields(*this, const_cast<Struct&>(s));  // fields only reads through an Encoder
  }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Decoder {
 public:
  Decoder(const std::string& bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  template <typename T>
  std::enable_if_t<std::is_arithmetic_v<T>> operator()(T& v) {
    std::memcpy(&v, take(sizeof v), sizeof v);
  }
  void operator()(std::string& s) {
    const uint64_t n = count(1);
    s.assign(take(n), n);
  }
  template <typename T>
  void operator()(std::vector<T>& v) {
    const uint64_t n = count(std::is_arithmetic_v<T> ? sizeof(T) : 1);
    v.resize(n);
    if constexpr (std::is_arithmetic_v<T>) {
      if (n > 0) std::memcpy(v.data(), take(n * sizeof(T)), n * sizeof(T));
    } else {
      for (T& item : v) (*this)(item);
    }
  }
  template <typename V>
  void operator()(std::map<std::string, V>& m) {
    m.clear();
    for (uint64_t n = count(1); n > 0; --n) {
      std::string key;
      (*this)(key);
      (*this)(m[key]);
    }
  }
  void operator()(SummaryValue& v) {
    uint8_t index = 0;
    (*this)(index);
    if (index == 0) {
      std::string s;
      (*this)(s);
      v = s;
    } else if (index == 1) {
      double d = 0;
      (*this)(d);
      v = d;
    } else {
      malformed();
    }
  }
  template <typename T>
  void operator()(LogPart<T>& part) {
    (*this)(part.error);
    if (part.error.empty()) (*this)(part.value);
  }
  template <typename Struct>
  auto operator()(Struct& s) -> decltype(fields(*this, s)) {
    return fields(*this, s);
  }
  void finish() const {
    if (at_ != bytes_.size()) malformed();
  }

 private:
  [[noreturn]] void malformed() const {
    throw Error(path_ + ": the process that read the run log sent back a malformed answer (" +
                std::to_string(bytes_.size()) + " bytes)");
  }
  const char* take(uint64_t n) {
    if (n > bytes_.size() - at_) malformed();
    const char* p = bytes_.data() + at_;
    at_ += n;
    return p;
  }
  // An element count, bounded by the bytes left (each element takes at least `unit` bytes).
  uint64_t count(uint64_t unit) {
    uint64_t n = 0;
    (*this)(n);
    if (n > (bytes_.size() - at_) / unit) malformed();
    return n;
  }
  const std::string& bytes_;
  std::string path_;
  size_t at_ = 0;
};

template <typename A>
void fields(A& a, RunProvenance& p) {
  a(p.zotune_version), a(p.git_revision), a(p.hostnames), a(p.devices), a(p.ranks), a(p.started_utc),
      a(p.command_line);
}

template <typename A>
void fields(A& a, UpdateTable& t) {
  a(t.step), a(t.query), a(t.coefficient), a(t.seed);
}

template <typename A>
void fields(A& a, RaggedSeries& r) {
  a(r.offsets), a(r.values);
}

template <typename A>
void fields(A& a, DatasetInfo& d) {
  a(d.description), a(d.unit), a(d.integer);
}

template <typename A>
void fields(A& a, RunLogContents& c) {
  a(c.path), a(c.format_version), a(c.step_rows), a(c.eval_rows), a(c.config_text), a(c.config_resolved_text),
      a(c.provenance), a(c.steps), a(c.series), a(c.vectors), a(c.updates), a(c.eval_steps), a(c.eval_series),
      a(c.summary), a(c.datasets);
}

}  // namespace

RunLogContents read_run_log_contents(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such run log");
  const LogFile file(path);
  const hid_t root = file.get();
  if (!h5::has_attribute(root, "format") || !h5::attribute_is_string(root, "format", path) ||
      h5::read_string_attribute(root, "format", path) != "zotune-run-log")
    throw Error(path + ": not a zotune run log (no root attribute format = \"zotune-run-log\")");
  RunLogContents c;
  c.path = path;
  c.format_version = h5::read_int_attribute(root, "format_version", path + ": /");
  if (c.format_version > kFormatVersion)
    throw Error(path + ": run log format_version " + std::to_string(c.format_version) +
                " is newer than this zotune reads (" + std::to_string(kFormatVersion) + ")");
  const h5::Id steps = file.open_group("steps");
  const h5::Id updates = file.open_group("updates");
  const h5::Id eval = file.open_group("eval");
  const h5::Id summary = file.open_group("summary");
  if (!h5::has_link(root, "provenance") || !h5::has_link(root, "config"))
    throw Error(path + ": incomplete run log: missing /provenance or /config");
  c.step_rows = file.length_of(steps.get(), "/steps", "step");
  c.eval_rows = file.length_of(eval.get(), "/eval", "step");

  c.config_text = read_part([&] { return h5::read_string_dataset(root, "config", file.at("/config")); });
  c.config_resolved_text = read_part([&] {
    return h5::has_link(root, "config_resolved")
               ? h5::read_string_dataset(root, "config_resolved", file.at("/config_resolved"))
               : std::string();
  });
  c.provenance = read_part([&] { return read_provenance(file); });
  c.steps = read_part([&] { return file.read_column<int64_t>(steps.get(), "/steps", "step", c.step_rows); });
  for (const std::string& name : file.scalar_names(steps.get(), "/steps"))
    c.series[name] = read_part([&] { return file.read_series(steps.get(), "/steps", name, c.step_rows); });
  const std::vector<std::string> links = h5::link_names(steps.get(), file.at("/steps"));
  for (const std::string& link : links) {
    if (!ends_with(link, ".offsets")) continue;
    const std::string name = link.substr(0, link.size() - 8);
    if (std::find(links.begin(), links.end(), name + ".values") == links.end()) continue;
    RaggedSeries& ragged = c.vectors[name];
    ragged.offsets = read_part([&] { return file.read_column<int64_t>(steps.get(), "/steps", link, -1); });
    ragged.values = read_part([&] { return file.read_column<double>(steps.get(), "/steps", name + ".values", -1); });
  }
  c.updates = read_part([&] { return read_updates(file, updates.get()); });
  c.eval_steps = read_part([&] { return file.read_column<int64_t>(eval.get(), "/eval", "step", c.eval_rows); });
  for (const std::string& name : file.scalar_names(eval.get(), "/eval"))
    c.eval_series[name] = read_part([&] { return file.read_series(eval.get(), "/eval", name, c.eval_rows); });
  c.summary = read_part([&] { return read_summary(file, summary.get()); });
  read_dataset_infos(file, steps.get(), "/steps", c.datasets);
  read_dataset_infos(file, eval.get(), "/eval", c.datasets);
  read_dataset_infos(file, updates.get(), "/updates", c.datasets);
  return c;
}

std::string encode_run_log_contents(const RunLogContents& contents) {
  Encoder encoder;
  encoder(contents);
  return encoder.take();
}

RunLogContents decode_run_log_contents(const std::string& bytes, const std::string& path) {
  Decoder decoder(bytes, path);
  RunLogContents contents;
  decoder(contents);
  decoder.finish();
  return contents;
}

}  // namespace zotune
