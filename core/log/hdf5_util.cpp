#include "core/log/hdf5_util.h"

#include <cstring>

#include "core/util/error.h"

namespace zotune::h5 {

Id& Id::operator=(Id&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

bool Id::reset() {
  if (id_ < 0) return true;
  herr_t status = -1;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: status = H5Fclose(id_); break;
    case H5I_GROUP: status = H5Gclose(id_); break;
    case H5I_DATASET: status = H5Dclose(id_); break;
    case H5I_DATASPACE: status = H5Sclose(id_); break;
    case H5I_DATATYPE: status = H5Tclose(id_); break;
    case H5I_ATTR: status = H5Aclose(id_); break;
    case H5I_GENPROP_LST: status = H5Pclose(id_); break;
    default: status = H5Idec_ref(id_) < 0 ? -1 : 0; break;
  }
  id_ = H5I_INVALID_HID;
  return status >= 0;
}

namespace {

// HDF5 registers an atexit handler that closes every identifier still open. After a failed
// write (a full disk), H5Fclose fails and leaves the file's identifier half torn down; that
// handler then closed it again and crashed inside the library (signal 11) at exit. zotune
// closes what it opens itself, so the handler is turned off before the library initializes
// (H5dont_atexit must precede every other HDF5 call: a static initializer of this file, which
// every user of the HDF5 helpers links). A leaked identifier after a failed close then stays
// leaked; the file keeps what its last successful flush wrote.
bool keep_library_from_closing_at_exit() {
  H5dont_atexit();
  return true;
}
[[maybe_unused]] const bool kNoCloseAtExit = keep_library_from_closing_at_exit();

}  // namespace

void silence_library_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {

// Walking upward starts at the innermost frame, where the library states the actual cause.
herr_t keep_innermost(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n == 0 && err->desc) *out = err->desc;
  return 0;
}

}  // namespace

std::string error_detail() {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, &detail);
  // The sec2 driver's write failure spells out time, buffer address and offsets around the
  // one part a user needs: "..., errno = 28, error message = 'No space left on device', ...".
  const std::string tag = "error message = '";
  const size_t begin = detail.find(tag);
  if (begin != std::string::npos) {
    const size_t end = detail.find('\'', begin + tag.size());
    const size_t errno_at = detail.find("errno = ");
    std::string short_detail = detail.substr(begin + tag.size(), end == std::string::npos ? std::string::npos : end - begin - tag.size());
    if (errno_at != std::string::npos) {
      const size_t errno_end = detail.find(',', errno_at);
      short_detail += " (" + detail.substr(errno_at, errno_end == std::string::npos ? std::string::npos : errno_end - errno_at) + ")";
    }
    if (detail.rfind("file write failed", 0) == 0) short_detail = "file write failed: " + short_detail;
    return short_detail;
  }
  return detail;
}

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& action) {
  const std::string detail = error_detail();
  throw Error(where + ": cannot " + action + (detail.empty() ? "" : " (" + detail + ")"));
}

}  // namespace

Id file_access_without_locking(const std::string& where) {
  Id fapl = checked(H5Pcreate(H5P_FILE_ACCESS), where, "create file access properties");
#if (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7) || H5_VERSION_GE(1, 12, 1)
  // ignore_when_disabled = true: a file system without locks (some NFS) is not an error.
  check(H5Pset_file_locking(fapl.get(), false, true), where, "turn file locking off");
#endif
  return fapl;
}

Id checked(hid_t id, const std::string& where, const std::string& action) {
  if (id < 0) fail(where, action);
  return Id(id);
}

void check(herr_t status, const std::string& where, const std::string& action) {
  if (status < 0) fail(where, action);
}

bool has_link(hid_t group, const std::string& name) { return H5Lexists(group, name.c_str(), H5P_DEFAULT) > 0; }

std::vector<std::string> link_names(hid_t group, const std::string& where) {
  H5G_info_t info;
  check(H5Gget_info(group, &info), where, "list the group");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) fail(where, "list the group");
    std::string name(static_cast<size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<size_t>(len));
    names.push_back(std::move(name));
  }
  return names;
}

bool has_attribute(hid_t object, const std::string& name) { return H5Aexists(object, name.c_str()) > 0; }

namespace {

herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}

}  // namespace

std::vector<std::string> attribute_names(hid_t object, const std::string& where) {
  std::vector<std::string> names;
  hsize_t index = 0;
  check(H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, collect_attribute_name, &names), where,
        "list attributes");
  return names;
}

namespace {

Id vlen_utf8_string_type(const std::string& where) {
  Id type = checked(H5Tcopy(H5T_C_S1), where, "create a string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), where, "create a string type");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), where, "create a string type");
  return type;
}

// Replaces an existing attribute: its type may change (a summary value "running" -> 0.5).
Id create_attribute(hid_t object, const std::string& name, hid_t file_type, const std::string& where) {
  const std::string at = where + " attribute '" + name + "'";
  if (has_attribute(object, name)) check(H5Adelete(object, name.c_str()), at, "replace the attribute");
  Id space = checked(H5Screate(H5S_SCALAR), at, "create a dataspace");
  return checked(H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), at,
                 "create the attribute");
}

Id open_attribute(hid_t object, const std::string& name, const std::string& where) {
  if (!has_attribute(object, name)) throw Error(where + ": missing attribute '" + name + "'");
  return checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), where + " attribute '" + name + "'", "open the attribute");
}

// The value of an attribute or dataset read as one value must be one element: a corrupted
// log can give it any dataspace, and H5Aread/H5Dread would then write every element into
// the one value's buffer (a stack overflow found by tests/fuzz/fuzz_run_log).
void check_one_element(const Id& space, const std::string& where) {
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n != 1) throw Error(where + ": expected one value, the file holds " + std::to_string(static_cast<int64_t>(n)));
}

// Reads a scalar string from an attribute or dataset whose file type is `file_type`.
template <typename ReadFn>
std::string read_string(hid_t file_type, const std::string& where, ReadFn&& read) {
  if (H5Tget_class(file_type) != H5T_STRING) throw Error(where + ": expected a string");
  if (H5Tis_variable_str(file_type) > 0) {
    Id mem = vlen_utf8_string_type(where);
    char* text = nullptr;
    check(read(mem.get(), &text), where, "read the string");
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  const size_t size = H5Tget_size(file_type);
  std::string out(size, '\0');
  Id mem = checked(H5Tcopy(file_type), where, "read the string");
  check(read(mem.get(), out.data()), where, "read the string");
  // Fixed-length strings are NUL- or space-padded to their size.
  const size_t end = out.find('\0');
  if (end != std::string::npos) out.resize(end);
  return out;
}

}  // namespace

bool attribute_is_string(hid_t object, const std::string& name, const std::string& where) {
  Id attr = open_attribute(object, name, where);
  Id type = checked(H5Aget_type(attr.get()), where, "read attribute '" + name + "'");
  return H5Tget_class(type.get()) == H5T_STRING;
}

void write_attribute(hid_t object, const std::string& name, const std::string& value, const std::string& where) {
  Id type = vlen_utf8_string_type(where);
  Id attr = create_attribute(object, name, type.get(), where);
  const char* text = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &text), where + " attribute '" + name + "'", "write the attribute");
}

void write_attribute(hid_t object, const std::string& name, double value, const std::string& where) {
  Id attr = create_attribute(object, name, H5T_IEEE_F64LE, where);
  check(H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value), where + " attribute '" + name + "'", "write the attribute");
}

void write_attribute(hid_t object, const std::string& name, int64_t value, const std::string& where) {
  Id attr = create_attribute(object, name, H5T_STD_I64LE, where);
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), where + " attribute '" + name + "'", "write the attribute");
}

std::string read_string_attribute(hid_t object, const std::string& name, const std::string& where) {
  Id attr = open_attribute(object, name, where);
  Id type = checked(H5Aget_type(attr.get()), where, "read attribute '" + name + "'");
  check_one_element(checked(H5Aget_space(attr.get()), where, "read attribute '" + name + "'"),
                    where + " attribute '" + name + "'");
  return read_string(type.get(), where + " attribute '" + name + "'",
                     [&](hid_t mem, void* buf) { return H5Aread(attr.get(), mem, buf); });
}

namespace {

template <typename T>
T read_number_attribute(hid_t object, const std::string& name, const std::string& where) {
  Id attr = open_attribute(object, name, where);
  Id type = checked(H5Aget_type(attr.get()), where, "read attribute '" + name + "'");
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) throw Error(where + " attribute '" + name + "': expected a number");
  check_one_element(checked(H5Aget_space(attr.get()), where, "read attribute '" + name + "'"),
                    where + " attribute '" + name + "'");
  T value{};
  check(H5Aread(attr.get(), native_type<T>(), &value), where + " attribute '" + name + "'", "read the attribute");
  return value;
}

}  // namespace

double read_double_attribute(hid_t object, const std::string& name, const std::string& where) {
  return read_number_attribute<double>(object, name, where);
}

int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& where) {
  return read_number_attribute<int64_t>(object, name, where);
}

void write_description(hid_t object, const std::string& description, const std::string& unit, const std::string& where) {
  write_attribute(object, "description", description, where);
  write_attribute(object, "unit", unit, where);
}

void write_string_dataset(hid_t group, const std::string& name, const std::string& text, const std::string& where) {
  Id type = vlen_utf8_string_type(where);
  Id space = checked(H5Screate(H5S_SCALAR), where, "create a dataspace");
  Id dset = checked(H5Dcreate2(group, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    where, "create the dataset");
  const char* data = text.c_str();
  check(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &data), where, "write the dataset");
}

std::string read_string_dataset(hid_t group, const std::string& name, const std::string& where) {
  if (!has_link(group, name)) throw Error(where + ": missing");
  Id dset = checked(H5Dopen2(group, name.c_str(), H5P_DEFAULT), where, "open the dataset");
  Id type = checked(H5Dget_type(dset.get()), where, "read the dataset");
  check_one_element(checked(H5Dget_space(dset.get()), where, "read the dataset"), where);
  return read_string(type.get(), where,
                     [&](hid_t mem, void* buf) { return H5Dread(dset.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); });
}

int64_t dataset_length(hid_t dataset, const std::string& where) {
  Id space = checked(H5Dget_space(dataset), where, "read the dataset's shape");
  if (H5Sget_simple_extent_ndims(space.get()) != 1) throw Error(where + ": expected a 1-D dataset");
  hsize_t dims[1] = {0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  return static_cast<int64_t>(dims[0]);
}

template <typename T>
std::vector<T> read_range(hid_t dataset, int64_t start, int64_t count, const std::string& where) {
  if (count == 0) return {};
  const int64_t length = dataset_length(dataset, where);
  // Checked before allocating, without overflow: start and count may come from a corrupted log.
  if (start < 0 || count < 0 || start > length || count > length - start)
    throw Error(where + ": elements [" + std::to_string(start) + ", " + std::to_string(start + count) +
                ") out of range (length " + std::to_string(length) + ")");
  Id file_space = checked(H5Dget_space(dataset), where, "read the dataset");
  const hsize_t offset[1] = {static_cast<hsize_t>(start)};
  const hsize_t n[1] = {static_cast<hsize_t>(count)};
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, offset, nullptr, n, nullptr), where, "select elements");
  Id mem_space = checked(H5Screate_simple(1, n, nullptr), where, "create a dataspace");
  std::vector<T> out(static_cast<size_t>(count));
  check(H5Dread(dataset, native_type<T>(), mem_space.get(), file_space.get(), H5P_DEFAULT, out.data()), where,
        "read the dataset");
  return out;
}

template <typename T>
T fill_value(hid_t dataset, const std::string& where) {
  Id dcpl = checked(H5Dget_create_plist(dataset), where, "read the dataset's properties");
  T value{};
  check(H5Pget_fill_value(dcpl.get(), native_type<T>(), &value), where, "read the fill value");
  return value;
}

template std::vector<double> read_range<double>(hid_t, int64_t, int64_t, const std::string&);
template std::vector<int64_t> read_range<int64_t>(hid_t, int64_t, int64_t, const std::string&);
template std::vector<int32_t> read_range<int32_t>(hid_t, int64_t, int64_t, const std::string&);
template std::vector<uint64_t> read_range<uint64_t>(hid_t, int64_t, int64_t, const std::string&);
template double fill_value<double>(hid_t, const std::string&);
template int64_t fill_value<int64_t>(hid_t, const std::string&);

}  // namespace zotune::h5
