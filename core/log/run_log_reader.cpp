#include "core/log/run_log_reader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/log/hdf5_util.h"
#include "core/util/error.h"

namespace zotune {
namespace {

constexpr int64_t kFormatVersion = 1;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

struct RunLogReader::Impl {
  std::string path;
  h5::Id file;
  h5::Id steps_group, updates_group, eval_group, summary_group;
  int64_t format_version = 0;
  int64_t step_rows = 0;
  int64_t eval_rows = 0;

  std::string at(const std::string& object) const { return path + ": " + object; }

  h5::Id open_group(const char* name) const {
    if (!h5::has_link(file.get(), name)) throw Error(path + ": incomplete run log: missing /" + std::string(name));
    return h5::checked(H5Gopen2(file.get(), name, H5P_DEFAULT), at(std::string("/") + name), "open the group");
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
    hsize_t file_bytes = 0;
    h5::check(H5Fget_filesize(file.get(), &file_bytes), path, "read the file size");
    const size_t element_bytes = std::max<size_t>(H5Tget_size(type.get()), 1);
    if (length < 0 || static_cast<uint64_t>(length) > file_bytes / element_bytes)
      throw Error(where + ": " + std::to_string(length) + " rows of " + std::to_string(element_bytes) +
                  " bytes cannot fit in the file's " + std::to_string(file_bytes) + " bytes (a corrupted log)");
    return length;
  }

  int64_t length_of(hid_t group, const std::string& group_path, const std::string& name) const {
    h5::Id dset = open_dataset(group, group_path, name);
    return dataset_length(dset.get(), at(group_path + "/" + name));
  }

  template <typename T>
  std::vector<T> read_column(hid_t group, const std::string& group_path, const std::string& name, int64_t rows) const {
    const std::string where = at(group_path + "/" + name);
    h5::Id dset = open_dataset(group, group_path, name);
    const int64_t length = dataset_length(dset.get(), where);
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
};

RunLogReader::RunLogReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RunLogReader::RunLogReader(RunLogReader&&) noexcept = default;
RunLogReader& RunLogReader::operator=(RunLogReader&&) noexcept = default;
RunLogReader::~RunLogReader() = default;

RunLogReader RunLogReader::open(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such run log");
  h5::silence_library_errors();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  h5::Id fapl = h5::checked(H5Pcreate(H5P_FILE_ACCESS), path, "open the run log");
// H5Pset_file_locking exists from 1.10.7 and 1.12.1 on.
#if (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7) || H5_VERSION_GE(1, 12, 1)
  // The writer holds a lock while the run lasts; reading a live log must not need it.
  h5::check(H5Pset_file_locking(fapl.get(), false, true), path, "open the run log");
#endif
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (file < 0) {
    const std::string detail = h5::error_detail();
    throw Error(path + ": not a readable HDF5 run log (damaged, truncated or not HDF5" +
                (detail.empty() ? ")" : ": " + detail + ")"));
  }
  impl->file = h5::Id(file);
  const hid_t root = impl->file.get();
  if (!h5::has_attribute(root, "format") || !h5::attribute_is_string(root, "format", path) ||
      h5::read_string_attribute(root, "format", path) != "zotune-run-log")
    throw Error(path + ": not a zotune run log (no root attribute format = \"zotune-run-log\")");
  impl->format_version = h5::read_int_attribute(root, "format_version", path + ": /");
  if (impl->format_version > kFormatVersion)
    throw Error(path + ": run log format_version " + std::to_string(impl->format_version) +
                " is newer than this zotune reads (" + std::to_string(kFormatVersion) + ")");
  impl->steps_group = impl->open_group("steps");
  impl->updates_group = impl->open_group("updates");
  impl->eval_group = impl->open_group("eval");
  impl->summary_group = impl->open_group("summary");
  if (!h5::has_link(root, "provenance") || !h5::has_link(root, "config"))
    throw Error(path + ": incomplete run log: missing /provenance or /config");
  impl->step_rows = impl->length_of(impl->steps_group.get(), "/steps", "step");
  impl->eval_rows = impl->length_of(impl->eval_group.get(), "/eval", "step");
  return RunLogReader(std::move(impl));
}

const std::string& RunLogReader::path() const { return impl_->path; }
int64_t RunLogReader::format_version() const { return impl_->format_version; }

std::string RunLogReader::config_text() const {
  return h5::read_string_dataset(impl_->file.get(), "config", impl_->at("/config"));
}

RunProvenance RunLogReader::provenance() const {
  const std::string where = impl_->at("/provenance");
  h5::Id group = h5::checked(H5Gopen2(impl_->file.get(), "provenance", H5P_DEFAULT), where, "open the group");
  const hid_t g = group.get();
  RunProvenance p;
  p.zotune_version = h5::read_string_attribute(g, "zotune_version", where);
  p.git_revision = h5::read_string_attribute(g, "git_revision", where);
  p.hostnames = split_commas(h5::read_string_attribute(g, "hostnames", where));
  p.devices = split_commas(h5::read_string_attribute(g, "devices", where));
  p.ranks = h5::read_int_attribute(g, "ranks", where);
  p.started_utc = h5::read_string_attribute(g, "started_utc", where);
  p.command_line = h5::read_string_attribute(g, "command_line", where);
  return p;
}

int64_t RunLogReader::steps_logged() const { return impl_->step_rows; }

std::vector<int64_t> RunLogReader::steps() const {
  return impl_->read_column<int64_t>(impl_->steps_group.get(), "/steps", "step", impl_->step_rows);
}

std::vector<std::string> RunLogReader::series_names() const {
  return impl_->scalar_names(impl_->steps_group.get(), "/steps");
}

bool RunLogReader::has_series(const std::string& name) const {
  const std::vector<std::string> names = series_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<double> RunLogReader::series(const std::string& name) const {
  if (!has_series(name)) throw Error(impl_->at("/steps/" + name) + ": no such series");
  return impl_->read_series(impl_->steps_group.get(), "/steps", name, impl_->step_rows);
}

std::vector<std::string> RunLogReader::vector_series_names() const {
  std::vector<std::string> out;
  const std::vector<std::string> links = h5::link_names(impl_->steps_group.get(), impl_->at("/steps"));
  for (const std::string& link : links) {
    if (!ends_with(link, ".offsets")) continue;
    const std::string name = link.substr(0, link.size() - 8);
    if (std::find(links.begin(), links.end(), name + ".values") != links.end()) out.push_back(name);
  }
  return out;
}

std::vector<double> RunLogReader::vector(const std::string& name, int64_t row) const {
  if (row < 0 || row >= impl_->step_rows)
    throw Error(impl_->at("/steps/" + name) + ": row " + std::to_string(row) + " out of range (" +
                std::to_string(impl_->step_rows) + " steps logged)");
  const hid_t g = impl_->steps_group.get();
  const std::string offsets_at = impl_->at("/steps/" + name + ".offsets");
  const std::string values_at = impl_->at("/steps/" + name + ".values");
  if (!h5::has_link(g, name + ".offsets") || !h5::has_link(g, name + ".values"))
    throw Error(impl_->at("/steps/" + name) + ": no such vector series");
  h5::Id offsets = impl_->open_dataset(g, "/steps", name + ".offsets");
  if (impl_->dataset_length(offsets.get(), offsets_at) < row + 2) return {};
  const std::vector<int64_t> bounds = h5::read_range<int64_t>(offsets.get(), row, 2, offsets_at);
  if (bounds[0] < 0) throw Error(offsets_at + ": negative offset at row " + std::to_string(row));
  if (bounds[1] < bounds[0]) throw Error(offsets_at + ": offsets decrease at row " + std::to_string(row));
  h5::Id values = impl_->open_dataset(g, "/steps", name + ".values");
  impl_->dataset_length(values.get(), values_at);  // bounds what read_range may allocate
  return h5::read_range<double>(values.get(), bounds[0], bounds[1] - bounds[0], values_at);
}

UpdateTable RunLogReader::updates() const {
  const hid_t g = impl_->updates_group.get();
  int64_t rows = impl_->length_of(g, "/updates", "step");
  for (const char* name : {"query", "coefficient", "seed"}) rows = std::min(rows, impl_->length_of(g, "/updates", name));
  UpdateTable t;
  t.step = impl_->read_column<int64_t>(g, "/updates", "step", rows);
  t.query = impl_->read_column<int32_t>(g, "/updates", "query", rows);
  t.coefficient = impl_->read_column<double>(g, "/updates", "coefficient", rows);
  t.seed = impl_->read_column<uint64_t>(g, "/updates", "seed", rows);
  return t;
}

std::vector<int64_t> RunLogReader::eval_steps() const {
  return impl_->read_column<int64_t>(impl_->eval_group.get(), "/eval", "step", impl_->eval_rows);
}

std::vector<std::string> RunLogReader::eval_metric_names() const {
  return impl_->scalar_names(impl_->eval_group.get(), "/eval");
}

std::vector<double> RunLogReader::eval_series(const std::string& name) const {
  const std::vector<std::string> names = eval_metric_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw Error(impl_->at("/eval/" + name) + ": no such eval metric");
  return impl_->read_series(impl_->eval_group.get(), "/eval", name, impl_->eval_rows);
}

std::map<std::string, SummaryValue> RunLogReader::summary() const {
  const hid_t g = impl_->summary_group.get();
  const std::string where = impl_->at("/summary");
  std::map<std::string, SummaryValue> out;
  for (const std::string& key : h5::attribute_names(g, where)) {
    if (h5::attribute_is_string(g, key, where))
      out[key] = h5::read_string_attribute(g, key, where);
    else
      out[key] = h5::read_double_attribute(g, key, where);
  }
  return out;
}

}  // namespace zotune
