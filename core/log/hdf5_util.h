// Thin helpers over the HDF5 C API (1.10-compatible) shared by the run-log writer and reader:
// an owning handle, error messages that name the file and object, attributes, strings and 1-D
// datasets. Internal to core/log: public headers never include hdf5.h.
#pragma once
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace zotune::h5 {

// Owns one HDF5 identifier of any kind (file, group, dataset, dataspace, datatype, attribute,
// property list) and closes it with the matching H5*close. Move-only.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  Id(Id&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& other) noexcept;
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  ~Id() { reset(); }

  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  // Closes now; returns false when HDF5 reports a failure (e.g. a failed final write of a file).
  bool reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Turns off the library's own printing of its error stack: it would flood stderr with a
// dozen frames for one failure. Errors reach users as one zotune::Error instead.
void silence_library_errors();

// The innermost description on the current thread's HDF5 error stack ("file signature not
// found", "truncated file: eof = ..."), or "" when the stack is empty.
std::string error_detail();

// A file-access property list with HDF5's file locking off (where the library has the switch:
// 1.10.7 / 1.12.1 on). The run-log writer uses it so that it holds no lock while a run lasts:
// readers that lock (h5py's default) open a live log; readers see the state of its last flush.
Id file_access_without_locking(const std::string& where);

// Throws zotune::Error("<where>: cannot <action> (<detail>)") when id / status is negative.
Id checked(hid_t id, const std::string& where, const std::string& action);
void check(herr_t status, const std::string& where, const std::string& action);

// Native in-memory type of an element type (H5T_NATIVE_* are runtime values).
template <typename T>
hid_t native_type();
template <>
inline hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <>
inline hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <>
inline hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <>
inline hid_t native_type<uint64_t>() { return H5T_NATIVE_UINT64; }

// Links (groups and datasets) directly under a group, in name order.
bool has_link(hid_t group, const std::string& name);
std::vector<std::string> link_names(hid_t group, const std::string& where);

// Attributes. Strings are written variable-length UTF-8 (h5py reads them as str); the readers
// also accept fixed-length strings written by other tools.
bool has_attribute(hid_t object, const std::string& name);
std::vector<std::string> attribute_names(hid_t object, const std::string& where);
bool attribute_is_string(hid_t object, const std::string& name, const std::string& where);
void write_attribute(hid_t object, const std::string& name, const std::string& value, const std::string& where);
void write_attribute(hid_t object, const std::string& name, double value, const std::string& where);
void write_attribute(hid_t object, const std::string& name, int64_t value, const std::string& where);
std::string read_string_attribute(hid_t object, const std::string& name, const std::string& where);
double read_double_attribute(hid_t object, const std::string& name, const std::string& where);
int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& where);

// The `description` and `unit` string attributes of a dataset or group (docs/LOGS.md).
void write_description(hid_t object, const std::string& description, const std::string& unit, const std::string& where);

// A scalar variable-length UTF-8 string dataset (the run's YAML config).
void write_string_dataset(hid_t group, const std::string& name, const std::string& text, const std::string& where);
std::string read_string_dataset(hid_t group, const std::string& name, const std::string& where);

// Length of a 1-D dataset; throws naming `where` for a missing or non-1-D dataset.
int64_t dataset_length(hid_t dataset, const std::string& where);

// Reads elements [start, start + count) of a 1-D dataset, converting to T (HDF5 converts
// integer and float types on read).
template <typename T>
std::vector<T> read_range(hid_t dataset, int64_t start, int64_t count, const std::string& where);

// The dataset's fill value converted to T (the value unwritten elements read as).
template <typename T>
T fill_value(hid_t dataset, const std::string& where);

}  // namespace zotune::h5
