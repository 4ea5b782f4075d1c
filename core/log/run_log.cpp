#include "core/log/run_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <set>
#include <utility>

#include "core/log/hdf5_util.h"
#include "core/log/series_catalog.h"
#include "core/util/error.h"

namespace zotune {
namespace {

namespace fs = std::filesystem;

constexpr double kMissingFloat = std::numeric_limits<double>::quiet_NaN();
// Counts (series_info(...).count: queries, bytes, calls) are stored int64, missing as -1;
// everything else float64, missing as NaN.
constexpr int64_t kMissingCount = -1;

// Fault injection for the storage-fault tests (tests/unit/run_log_test.cpp, docs/RELIABILITY.md):
// ZOTUNE_LOG_FAULT=<op>:<n>[+]:<errno name>, op `write` (the rows of one dataset, before its
// H5Dwrite: a flush cut short) or `flush` (a whole flush, before it writes anything: as a
// failed space reservation), counted per run log from 1 (the log's creation flushes once).
// `+` fails that call and every later one (a full disk), without it only the n-th (a
// transient I/O error). Errno names: ENOSPC, EIO, EDQUOT. Read when a log is created.
class FaultPlan {
 public:
  static FaultPlan from_environment() {
    FaultPlan plan;
    const char* spec = std::getenv("ZOTUNE_LOG_FAULT");
    if (!spec || !*spec) return plan;
    const std::string text = spec;
    const size_t a = text.find(':'), b = a == std::string::npos ? a : text.find(':', a + 1);
    const std::string bad = std::string("ZOTUNE_LOG_FAULT: expected <write|flush>:<n>[+]:<ENOSPC|EIO|EDQUOT>, got '") + text + "'";
    if (b == std::string::npos) throw Error(bad);
    plan.op_ = text.substr(0, a);
    std::string count = text.substr(a + 1, b - a - 1);
    const std::string code = text.substr(b + 1);
    if (!count.empty() && count.back() == '+') plan.persistent_ = true, count.pop_back();
    if (plan.op_ != "write" && plan.op_ != "flush") throw Error(bad);
    if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos || count.size() > 9) throw Error(bad);
    plan.at_ = std::stoll(count);
    if (code == "ENOSPC") plan.errno_ = ENOSPC;
    else if (code == "EIO") plan.errno_ = EIO;
    else if (code == "EDQUOT") plan.errno_ = EDQUOT;
    else throw Error(bad);
    if (plan.at_ < 1) throw Error(bad);
    return plan;
  }
  // Counts one `op` call; throws the injected error (as the HDF5 failure would read) when due.
  void maybe_fail(const char* op, const std::string& where, const std::string& action) {
    if (op_ != op) return;
    const int64_t n = ++calls_;
    if (n == at_ || (persistent_ && n > at_))
      throw Error(where + ": cannot " + action + " (" + std::strerror(errno_) + ", injected by ZOTUNE_LOG_FAULT)");
  }

 private:
  std::string op_;
  int64_t at_ = 0;
  bool persistent_ = false;
  int errno_ = 0;
  int64_t calls_ = 0;
};

// Disk space for one flush, reserved before HDF5 writes anything (fallocate, keeping the file
// size). A flush that fails half way through leaves metadata pointing past the file's end
// ("addr overflow" on open): the log was unreadable after ENOSPC. With the blocks reserved
// first, a full disk or an exhausted quota fails the reservation instead, and the file stays
// exactly as its last flush left it. Filesystems that cannot reserve (EOPNOTSUPP) are written
// without (the failure then may cut a flush short, as before). The unused part of the
// reservation is released afterwards.
class SpaceReservation {
 public:
  SpaceReservation(const std::string& path, int64_t bytes) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) return;  // HDF5 reports what is wrong with the file itself
    struct stat st {};
    if (fstat(fd_, &st) != 0) return;
    start_ = st.st_size;
    if (fallocate(fd_, FALLOC_FL_KEEP_SIZE, start_, bytes) == 0) {
      reserved_ = bytes;
      return;
    }
    const int error = errno;
    if (error == ENOSPC || error == EDQUOT || error == EFBIG || error == EIO) {
      ::close(fd_);
      fd_ = -1;
      throw Error(path + ": cannot flush the run log (" + std::strerror(error) + ": " + std::to_string(bytes) +
                  " bytes could not be reserved past its " + std::to_string(start_) + " bytes; the log keeps its last flush)");
    }
  }
  ~SpaceReservation() {
    if (fd_ < 0) return;
    struct stat st {};
    if (reserved_ > 0 && fstat(fd_, &st) == 0 && st.st_size < start_ + reserved_)
      fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, st.st_size, start_ + reserved_ - st.st_size);
    ::close(fd_);
  }
  SpaceReservation(const SpaceReservation&) = delete;
  SpaceReservation& operator=(const SpaceReservation&) = delete;

 private:
  int fd_ = -1;
  int64_t start_ = 0;
  int64_t reserved_ = 0;
};

// Metadata a flush may add besides the rows (generous: object headers, B-tree nodes, heap
// blocks): per flush, per dataset that opens a chunk or is created, per dataset only extended.
constexpr int64_t kFlushMetadataBytes = 32 * 1024;
constexpr int64_t kNewChunkMetadataBytes = 4 * 1024;
constexpr int64_t kExtendMetadataBytes = 256;

// The plan of the log being written (one log at a time is written per process; a test sets
// the variable before creating it).
FaultPlan& fault_plan() {
  static FaultPlan plan;
  return plan;
}

// One extendible 1-D dataset being appended to. Elements are buffered here and written by
// write(); the dataset is created with a fill value, so elements never written (rows before
// a series first appeared) read back as that fill value.
class Column {
 public:
  // info: the dataset's description and unit attributes, written when it is created.
  template <typename T>
  static Column of(std::string name, hid_t file_type, T fill, SeriesInfo info) {
    return Column(std::move(name), file_type, h5::native_type<T>(), sizeof(T), &fill, std::move(info));
  }

  template <typename T>
  void push(T value) {
    if (sizeof(T) != elem_size_) throw Error("internal: wrong element type for column " + name_);
    const auto* bytes = reinterpret_cast<const unsigned char*>(&value);
    pending_.insert(pending_.end(), bytes, bytes + sizeof(T));
  }
  void push_fill() { pending_.insert(pending_.end(), fill_.begin(), fill_.end()); }
  void pad_to(int64_t count) {
    while (pending() < count) push_fill();
  }
  int64_t pending() const { return static_cast<int64_t>(pending_.size() / elem_size_); }
  // Bytes the next write() may add to the file: the chunks its rows open (HDF5 allocates whole
  // chunks) and metadata. Rows landing in allocated chunks need no new space.
  int64_t space_needed(int64_t chunk_rows) const {
    if (pending_.empty() && dataset_) return 0;
    const auto chunks = [&](int64_t elements) { return (elements + chunk_rows - 1) / chunk_rows; };
    const int64_t new_chunks = chunks(length_ + pending()) - chunks(length_);
    return new_chunks * chunk_rows * static_cast<int64_t>(elem_size_) +
           (new_chunks > 0 || !dataset_ ? kNewChunkMetadataBytes : kExtendMetadataBytes);
  }

  // Writes the buffered elements to [start, start + pending) of group/name, creating the
  // dataset on first use, then clears the buffer. `where` prefixes error messages.
  void write(hid_t group, int64_t start, int64_t chunk_rows, const std::string& where) {
    const std::string at = where + name_;
    if (!dataset_) create(group, chunk_rows, at);
    const int64_t count = pending();
    // Never shrinks: a flush retried after a failure finds this column's rows already written
    // (its buffer empty) while the table's row count has not moved on yet.
    length_ = std::max(length_, start + count);
    const hsize_t new_length[1] = {static_cast<hsize_t>(length_)};
    h5::check(H5Dset_extent(dataset_.get(), new_length), at, "extend the dataset");
    if (count > 0) {
      fault_plan().maybe_fail("write", at, "write rows");
      h5::Id file_space = h5::checked(H5Dget_space(dataset_.get()), at, "select rows");
      const hsize_t offset[1] = {static_cast<hsize_t>(start)};
      const hsize_t n[1] = {static_cast<hsize_t>(count)};
      h5::check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset, nullptr, n, nullptr), at, "select rows");
      h5::Id mem_space = h5::checked(H5Screate_simple(1, n, nullptr), at, "create a dataspace");
      h5::check(H5Dwrite(dataset_.get(), mem_type_, mem_space.get(), file_space.get(), H5P_DEFAULT, pending_.data()), at,
                "write rows");
    }
    pending_.clear();
  }

 private:
  Column(std::string name, hid_t file_type, hid_t mem_type, size_t elem_size, const void* fill, SeriesInfo info)
      : name_(std::move(name)), file_type_(file_type), mem_type_(mem_type), elem_size_(elem_size), info_(std::move(info)) {
    const auto* bytes = static_cast<const unsigned char*>(fill);
    fill_.assign(bytes, bytes + elem_size);
  }

  void create(hid_t group, int64_t chunk_rows, const std::string& at) {
    const hsize_t dims[1] = {0};
    const hsize_t max_dims[1] = {H5S_UNLIMITED};
    const hsize_t chunk[1] = {static_cast<hsize_t>(chunk_rows)};
    h5::Id space = h5::checked(H5Screate_simple(1, dims, max_dims), at, "create a dataspace");
    h5::Id dcpl = h5::checked(H5Pcreate(H5P_DATASET_CREATE), at, "create the dataset");
    h5::check(H5Pset_chunk(dcpl.get(), 1, chunk), at, "set the chunk size");
    h5::check(H5Pset_fill_value(dcpl.get(), mem_type_, fill_.data()), at, "set the fill value");
    dataset_ = h5::checked(
        H5Dcreate2(group, name_.c_str(), file_type_, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), at,
        "create the dataset");
    h5::write_description(dataset_.get(), info_.description, info_.unit, at);
  }

  std::string name_;
  hid_t file_type_;
  hid_t mem_type_;
  size_t elem_size_;
  SeriesInfo info_;
  std::vector<unsigned char> fill_;
  std::vector<unsigned char> pending_;
  int64_t length_ = 0;  // elements of the dataset in the file
  h5::Id dataset_;
};

// Series of one group sharing its row count: /steps (step + scalar series) or /eval (step +
// metrics). Every known series gets a value or its fill value in every row.
class SeriesTable {
 public:
  explicit SeriesTable(std::string group)
      : group_(std::move(group)), step_(Column::of<int64_t>("step", H5T_STD_I64LE, int64_t{-1}, series_info(group_, "step"))) {}

  bool has(const std::string& name) const { return columns_.count(name) > 0; }
  int64_t committed_rows() const { return committed_; }
  int64_t rows() const { return committed_ + pending_rows_; }

  // Throws for a value its series cannot hold (a fractional query count), before any buffering.
  void validate_row(const std::map<std::string, double>& values, const std::string& where) const {
    for (const auto& [name, value] : values)
      if (is_count(name)) to_count(value, where + name);
  }

  // Buffers one row; call validate_row first.
  void append_row(int64_t step, const std::map<std::string, double>& values) {
    for (const auto& [name, value] : values) {
      if (columns_.count(name)) continue;
      SeriesInfo info = series_info(group_, name);
      Column column = info.count ? Column::of<int64_t>(name, H5T_STD_I64LE, kMissingCount, std::move(info))
                                 : Column::of<double>(name, H5T_IEEE_F64LE, kMissingFloat, std::move(info));
      column.pad_to(pending_rows_);  // back-fill this block's earlier rows; earlier blocks read as fill
      columns_.emplace(name, std::move(column));
    }
    for (auto& [name, column] : columns_) {
      auto it = values.find(name);
      if (it == values.end()) {
        column.push_fill();
      } else if (is_count(name)) {
        column.push(to_count(it->second, name));
      } else {
        column.push(it->second);
      }
    }
    step_.push(step);
    ++pending_rows_;
  }

  int64_t space_needed(int64_t chunk_rows) const {
    int64_t bytes = step_.space_needed(chunk_rows);
    for (const auto& [name, column] : columns_) bytes += column.space_needed(chunk_rows);
    return bytes;
  }

  // Writes the buffered rows of every series but `step`; write_step then commits them. The
  // caller puts an H5Fflush between the two, so that `step`'s length never exceeds any
  // series' in the file, whatever order HDF5 writes its metadata in.
  void write_series(hid_t group, int64_t chunk_rows, const std::string& where) {
    for (auto& [name, column] : columns_) column.write(group, committed_, chunk_rows, where);
  }
  void write_step(hid_t group, int64_t chunk_rows, const std::string& where) {
    step_.write(group, committed_, chunk_rows, where);
    committed_ += pending_rows_;
    pending_rows_ = 0;
  }

 private:
  bool is_count(const std::string& name) const { return series_info(group_, name).count; }

  // Counts come in as doubles (every series of a row does): whole numbers up to 2^53, which
  // a double holds exactly.
  static int64_t to_count(double value, const std::string& at) {
    if (std::isnan(value)) return kMissingCount;
    if (value != std::floor(value) || value < 0 || value > 9007199254740992.0)
      throw Error(at + ": expected a whole number >= 0 (a count), got " + std::to_string(value));
    return static_cast<int64_t>(value);
  }

  std::string group_;
  Column step_;
  std::map<std::string, Column> columns_;
  int64_t committed_ = 0;
  int64_t pending_rows_ = 0;
};

// A per-step vector series of varying width: <name>.values (the vectors concatenated) and
// <name>.offsets (S + 1 running ends; offsets[0] = 0 is the dataset's fill value).
class RaggedSeries {
 public:
  explicit RaggedSeries(const std::string& name)
      : values_(Column::of<double>(name + ".values", H5T_IEEE_F64LE, kMissingFloat, series_info("steps", name))),
        offsets_(Column::of<int64_t>(name + ".offsets", H5T_STD_I64LE, int64_t{0}, vector_offsets_info(name))) {}

  // Appends one row; nullptr = the vector is absent at this step (width 0).
  void append(const std::vector<double>* vector) {
    if (vector) {
      for (double v : *vector) values_.push(v);
      total_values_ += static_cast<int64_t>(vector->size());
    }
    offsets_.push(total_values_);
  }
  // Width-0 rows for this block's rows before the series first appeared.
  void pad_rows(int64_t rows) {
    while (offsets_.pending() < rows) offsets_.push(total_values_);
  }

  int64_t space_needed(int64_t chunk_rows) const {
    return values_.space_needed(chunk_rows) + offsets_.space_needed(chunk_rows);
  }

  // Row r's end offset lives at offsets[r + 1]; offsets[0..first_row] read as the fill value 0.
  void write(hid_t group, int64_t committed_rows, int64_t chunk_rows, const std::string& where) {
    values_.write(group, committed_values_, chunk_rows, where);
    committed_values_ = total_values_;
    offsets_.write(group, committed_rows + 1, chunk_rows, where);
  }

 private:
  Column values_;
  Column offsets_;
  int64_t total_values_ = 0;
  int64_t committed_values_ = 0;
};

void check_series_name(const std::string& name, const std::string& kind, const std::string& path) {
  if (name.empty() || name.find_first_of("/.") != std::string::npos || name == "step")
    throw Error(path + ": invalid " + kind + " name '" + name + "' (must be non-empty, without '/' or '.', not 'step')");
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ',';
    out += item;
  }
  return out;
}

// Quotes an argument for the recorded command line only where a shell would need it.
std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos) return arg;
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Everything that refers to objects inside the open file; destroyed before the file closes.
struct OpenTables {
  h5::Id steps_group, updates_group, eval_group, summary_group;
  SeriesTable steps{"steps"};
  std::map<std::string, RaggedSeries> vectors;
  SeriesTable eval{"eval"};
  Column update_step = Column::of<int64_t>("step", H5T_STD_I64LE, int64_t{-1}, series_info("updates", "step"));
  Column update_query = Column::of<int32_t>("query", H5T_STD_I32LE, int32_t{-1}, series_info("updates", "query"));
  Column update_coefficient =
      Column::of<double>("coefficient", H5T_IEEE_F64LE, kMissingFloat, series_info("updates", "coefficient"));
  Column update_seed = Column::of<uint64_t>("seed", H5T_STD_U64LE, uint64_t{0}, series_info("updates", "seed"));
  int64_t updates_committed = 0;
};

}  // namespace

std::string utc_now_iso8601() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

RunProvenance local_provenance(int argc, const char* const* argv) {
  RunProvenance p;
  p.zotune_version = ZOTUNE_VERSION;
  p.git_revision = ZOTUNE_GIT_REVISION;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) p.hostnames.push_back(host);
  p.ranks = 1;
  p.started_utc = utc_now_iso8601();
  for (int i = 0; i < argc; ++i) {
    if (i > 0) p.command_line += ' ';
    p.command_line += shell_quote(argv[i]);
  }
  return p;
}

// One writer per log. HDF5's own file lock is off (readers must open the live log), so the
// writer holds an exclusive flock on <log>.lock instead, from before the file is created (or
// truncated, with overwrite) until it is closed: a second zotune writing the same log is
// refused instead of truncating the first one's file. The lock goes with the process (kill -9
// included); the file is removed when the log is closed.
class WriterLock {
 public:
  WriterLock() = default;
  explicit WriterLock(const std::string& log_path) : path_(log_path + ".lock") {
    fd_ = ::open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(path_ + ": cannot create the run log's lock file: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK)
        throw Error(log_path + ": another process is writing this run log (" + path_ +
                    " is locked); wait for it to end or stop it");
      throw Error(path_ + ": cannot lock the run log's lock file: " + std::strerror(err));
    }
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;
  ~WriterLock() { release(); }
  void release() noexcept {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());  // while still held: a writer that opens it next gets a new file
    ::close(fd_);
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

struct RunLog::Impl {
  std::string path;
  std::unique_ptr<WriterLock> writer_lock;  // held while the log is open
  RunLogOptions options;
  h5::Id file;
  std::unique_ptr<OpenTables> tables;  // null once closed
  std::map<std::string, SummaryValue> pending_summary;
  int64_t steps_since_flush = 0;
  int64_t steps_at_close = 0;
  // A write or flush failed (a full disk, an I/O error): the error reached the caller once;
  // close() and the destructor then release the handles without writing again.
  bool write_failed = false;

  std::string at(const std::string& object) const { return path + ": " + object; }

  OpenTables& open_tables() const {
    if (!tables) throw Error(path + ": run log is closed");
    return *tables;
  }

  void flush() {
    open_tables();
    try {
      write_buffered();
    } catch (...) {
      write_failed = true;
      throw;
    }
    write_failed = false;  // a retry (mark_failed after a transient error) got everything out
  }

  int64_t summary_space_needed() const {
    int64_t bytes = kFlushMetadataBytes;
    for (const auto& [key, value] : pending_summary) {
      const auto* text = std::get_if<std::string>(&value);
      bytes += static_cast<int64_t>(key.size() + (text ? text->size() : sizeof(double))) + 512;
    }
    return bytes;
  }

  // After a failed flush: the status alone, which needs a few KB where the rows may need
  // whole new chunks (a full disk often still has room for it). The rows buffered since the
  // last good flush stay out of the file.
  void flush_summary_only() {
    open_tables();
    h5::silence_library_errors();
    fault_plan().maybe_fail("flush", path, "flush the run log");
    const SpaceReservation reserved(path, summary_space_needed());
    write_summary_and_flush();
  }

  int64_t space_needed() const {
    const OpenTables& t = *tables;
    const int64_t chunk = options.chunk_rows;
    int64_t bytes = kFlushMetadataBytes + t.steps.space_needed(chunk) + t.eval.space_needed(chunk) +
                    t.update_step.space_needed(chunk) + t.update_query.space_needed(chunk) +
                    t.update_coefficient.space_needed(chunk) + t.update_seed.space_needed(chunk);
    for (const auto& [name, series] : t.vectors) bytes += series.space_needed(chunk);
    return bytes + summary_space_needed();
  }

  void write_buffered() {
    OpenTables& t = open_tables();
    h5::silence_library_errors();
    fault_plan().maybe_fail("flush", path, "flush the run log");  // as a failed reservation: before any write
    const SpaceReservation reserved(path, space_needed());
    const int64_t chunk = options.chunk_rows;
    // Two phases, each ended by H5Fflush. HDF5 writes a flush's metadata in its cache's order,
    // not in the order of the calls; the row counts readers trust (each group's `step`) reach
    // the file only after every row they count, so a reader of the live log (which sees the
    // file between flushes, or during one) never finds a counted row unwritten.
    // Phase 1: the vectors, the series and the update columns but `step`.
    for (auto& [name, series] : t.vectors)
      series.write(t.steps_group.get(), t.steps.committed_rows(), chunk, at("/steps/"));
    t.steps.write_series(t.steps_group.get(), chunk, at("/steps/"));
    t.eval.write_series(t.eval_group.get(), chunk, at("/eval/"));
    const int64_t new_updates = t.update_step.pending();
    t.update_query.write(t.updates_group.get(), t.updates_committed, chunk, at("/updates/"));
    t.update_coefficient.write(t.updates_group.get(), t.updates_committed, chunk, at("/updates/"));
    t.update_seed.write(t.updates_group.get(), t.updates_committed, chunk, at("/updates/"));
    h5::check(H5Fflush(file.get(), H5F_SCOPE_LOCAL), path, "flush the run log");
    // Phase 2: the `step` datasets (the row counts), the summary.
    t.steps.write_step(t.steps_group.get(), chunk, at("/steps/"));
    t.eval.write_step(t.eval_group.get(), chunk, at("/eval/"));
    t.update_step.write(t.updates_group.get(), t.updates_committed, chunk, at("/updates/"));
    t.updates_committed += new_updates;
    write_summary_and_flush();
  }

  // The /summary attributes and H5Fflush, without the buffered rows.
  void write_summary_and_flush() {
    OpenTables& t = open_tables();
    for (const auto& [key, value] : pending_summary) {
      const double* number = std::get_if<double>(&value);
      if (const auto* text = std::get_if<std::string>(&value))
        h5::write_attribute(t.summary_group.get(), key, *text, at("/summary"));
      else if (summary_value_is_count(key) && *number >= 0 && *number <= 9007199254740992.0 && *number == std::floor(*number))
        h5::write_attribute(t.summary_group.get(), key, static_cast<int64_t>(*number), at("/summary"));
      else
        h5::write_attribute(t.summary_group.get(), key, *number, at("/summary"));
    }
    pending_summary.clear();
    h5::check(H5Fflush(file.get(), H5F_SCOPE_LOCAL), path, "flush the run log");
    steps_since_flush = 0;
  }
};

RunLog::RunLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RunLog::Impl& RunLog::state() const {
  if (!impl_) throw Error("run log used after being moved from");
  return *impl_;
}
RunLog::RunLog(RunLog&&) noexcept = default;
RunLog& RunLog::operator=(RunLog&& other) noexcept {
  if (this != &other) {
    if (is_open()) {
      try {
        close();
      } catch (...) {  // the assigned-over log is being abandoned; nothing can report here
      }
    }
    impl_ = std::move(other.impl_);
  }
  return *this;
}

RunLog::~RunLog() {
  if (!is_open()) return;
  try {
    close();
  } catch (...) {  // destructors must not throw; an explicit close() reports the error
  }
  release_handles();  // after a failed close: the handles still go, without another write
}

RunLog RunLog::create(const std::string& path, const std::string& config_text, const RunProvenance& provenance,
                      const RunLogOptions& options, const std::string& resolved_config_text) {
  if (options.flush_every_steps < 1) throw Error(path + ": flush_every_steps must be >= 1");
  if (options.chunk_rows < 1) throw Error(path + ": chunk_rows must be >= 1");
  std::error_code ec;
  if (fs::exists(path, ec) && !options.overwrite)
    throw Error(path + ": run log already exists (remove it or create with overwrite)");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) throw Error(path + ": cannot create directory " + parent.string() + ": " + ec.message());
  }

  h5::silence_library_errors();
  fault_plan() = FaultPlan::from_environment();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->writer_lock = std::make_unique<WriterLock>(path);
  // No file lock while the run lasts: h5py.File(path, "r") (which locks by default) and any
  // other reader open the live log; they see it as of its last flush (header comment).
  const h5::Id fapl = h5::file_access_without_locking(path + ": create the run log");
  impl->file = h5::checked(
      H5Fcreate(path.c_str(), options.overwrite ? H5F_ACC_TRUNC : H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()), path,
      "create the run log");
  const hid_t root = impl->file.get();
  h5::write_attribute(root, "format", std::string("zotune-run-log"), path + ": /");
  h5::write_attribute(root, "format_version", int64_t{1}, path + ": /");
  h5::write_attribute(root, "description", std::string("a zotune training run's log; layout in docs/LOGS.md"), path + ": /");
  auto write_text = [&](const char* name, const std::string& text, const std::string& description) {
    const std::string at = path + ": /" + name;
    h5::write_string_dataset(root, name, text, at);
    const h5::Id dataset = h5::checked(H5Dopen2(root, name, H5P_DEFAULT), at, "open the dataset");
    h5::write_description(dataset.get(), description, "", at);
  };
  write_text("config", config_text,
             "the run file as the run read it (bases and overrides merged, paths absolute), then the defaults in "
             "force as YAML comments with their sources");
  if (!resolved_config_text.empty())
    write_text("config_resolved", resolved_config_text,
               "every key in force as one YAML document, defaults applied (a comment names each default's source)");

  auto make_group = [&](const char* name, const char* description) {
    const std::string at = path + ": /" + name;
    h5::Id group = h5::checked(H5Gcreate2(root, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), at, "create the group");
    h5::write_attribute(group.get(), "description", std::string(description), at);
    return group;
  };
  {
    h5::Id prov = make_group("provenance", "who ran the run, where and when (attributes)");
    const std::string at = path + ": /provenance";
    h5::write_attribute(prov.get(), "zotune_version", provenance.zotune_version, at);
    h5::write_attribute(prov.get(), "git_revision", provenance.git_revision, at);
    h5::write_attribute(prov.get(), "hostnames", join(provenance.hostnames), at);
    h5::write_attribute(prov.get(), "devices", join(provenance.devices), at);
    h5::write_attribute(prov.get(), "ranks", provenance.ranks, at);
    h5::write_attribute(prov.get(), "started_utc", provenance.started_utc, at);
    h5::write_attribute(prov.get(), "command_line", provenance.command_line, at);
  }
  impl->tables = std::make_unique<OpenTables>();
  impl->tables->steps_group =
      make_group("steps", "one row per optimizer step: `step` and one dataset per series (vectors ragged: .values, .offsets)");
  impl->tables->updates_group = make_group(
      "updates", "the replay record: one row per applied (step, query) update, theta += coefficient * z(seed, step, query)");
  impl->tables->eval_group = make_group("eval", "one row per evaluation: `step` and one dataset per metric");
  // No description attribute here: every attribute of /summary is a summary value.
  impl->tables->summary_group = h5::checked(H5Gcreate2(root, "summary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                            path + ": /summary", "create the group");
  impl->pending_summary["status"] = std::string("running");
  // The first flush creates the fixed datasets (the step columns, the update table) at length 0.
  impl->flush();
  return RunLog(std::move(impl));
}

void RunLog::log_step(int64_t step, const std::map<std::string, double>& scalars,
                      const std::map<std::string, std::vector<double>>& vectors) {
  OpenTables& t = state().open_tables();
  const std::string& path = impl_->path;
  // Validate everything before buffering anything, so a rejected row leaves no partial trace.
  for (const auto& [name, value] : scalars) {
    check_series_name(name, "series", path);
    if (t.vectors.count(name) || vectors.count(name))
      throw Error(path + ": /steps/" + name + ": already a vector series, cannot also be a scalar series");
  }
  for (const auto& [name, vector] : vectors) {
    check_series_name(name, "vector series", path);
    if (t.steps.has(name))
      throw Error(path + ": /steps/" + name + ": already a scalar series, cannot also be a vector series");
  }
  t.steps.validate_row(scalars, path + ": /steps/");

  // Rows already buffered in this block; a vector series new in this block pads to it.
  const int64_t block_rows = t.steps.rows() - t.steps.committed_rows();
  for (const auto& [name, vector] : vectors)
    if (!t.vectors.count(name)) t.vectors.emplace(name, RaggedSeries(name)).first->second.pad_rows(block_rows);
  for (auto& [name, series] : t.vectors) {
    auto it = vectors.find(name);
    series.append(it == vectors.end() ? nullptr : &it->second);
  }
  t.steps.append_row(step, scalars);
  if (++impl_->steps_since_flush >= impl_->options.flush_every_steps) impl_->flush();
}

void RunLog::log_updates(int64_t step, std::span<const UpdateRecord> updates) {
  OpenTables& t = state().open_tables();
  for (const UpdateRecord& u : updates) {
    t.update_step.push(step);
    t.update_query.push(u.query);
    t.update_coefficient.push(u.coefficient);
    t.update_seed.push(u.seed);
  }
}

void RunLog::log_eval(int64_t step, const std::map<std::string, double>& metrics) {
  OpenTables& t = state().open_tables();
  for (const auto& [name, value] : metrics) check_series_name(name, "eval metric", impl_->path);
  t.eval.append_row(step, metrics);
  impl_->flush();
}

void RunLog::set_summary(const std::string& key, const std::string& value) {
  state().open_tables();
  if (key.empty()) throw Error(impl_->path + ": empty summary key");
  impl_->pending_summary[key] = value;
}

void RunLog::set_summary(const std::string& key, double value) {
  state().open_tables();
  if (key.empty()) throw Error(impl_->path + ": empty summary key");
  impl_->pending_summary[key] = value;
}

bool RunLog::mark_failed(const std::string& message) noexcept {
  try {
    set_summary("status", "failed: " + message);
  } catch (...) {
    return false;
  }
  try {
    flush();
    return true;
  } catch (...) {  // called from error paths: the original error matters more than this one
  }
  try {
    impl_->flush_summary_only();  // the rows did not fit: at least the status
    return true;
  } catch (...) {
    return false;
  }
}

void RunLog::flush() { state().flush(); }

void RunLog::close() {
  if (!is_open()) return;
  // After a failed write the file is left as its last successful flush made it: writing the
  // same rows to a full disk again only fails again (the error was reported when it happened).
  const bool write_failed = impl_->write_failed;
  if (!write_failed) {
    try {
      impl_->flush();
    } catch (...) {
      release_handles();
      throw;
    }
  }
  impl_->steps_at_close = impl_->tables->steps.rows();
  if (!release_handles() && !write_failed)
    throw Error(impl_->path + ": cannot close the run log (" + h5::error_detail() + ")");
}

bool RunLog::release_handles() noexcept {
  if (!impl_ || !impl_->tables) return true;
  impl_->steps_at_close = impl_->tables->steps.rows();
  // Datasets and groups first: HDF5 keeps a file open while any object in it is open.
  impl_->tables.reset();
  const bool closed = impl_->file.reset();
  if (impl_->writer_lock) impl_->writer_lock->release();
  return closed;
}

bool RunLog::is_open() const { return impl_ && impl_->tables; }

const std::string& RunLog::path() const {
  static const std::string moved_from;
  return impl_ ? impl_->path : moved_from;
}

int64_t RunLog::steps_logged() const {
  if (!impl_) return 0;
  return impl_->tables ? impl_->tables->steps.rows() : impl_->steps_at_close;
}

}  // namespace zotune
