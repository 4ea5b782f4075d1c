#include "core/tensor/param_store.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/util/error.h"

namespace zotune {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

int64_t shape_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void ParamStore::FreeDeleter::operator()(void* p) const { std::free(p); }

const ParamView& ParamStore::declare(const std::string& name, DType dtype, std::vector<int64_t> shape) {
  check(!allocated_, "ParamStore: cannot declare '" + name + "' after allocate()");
  check(index_.find(name) == index_.end(), "ParamStore: parameter '" + name + "' declared twice");
  for (int64_t d : shape) check(d > 0, "ParamStore: parameter '" + name + "' has a non-positive dimension " + shape_string(shape));
  ParamView v;
  v.name = name;
  v.dtype = dtype;
  v.numel = shape_numel(shape);
  v.shape = std::move(shape);
  v.offset = numel_[static_cast<int>(dtype)];
  numel_[static_cast<int>(dtype)] += v.numel;
  index_[name] = views_.size();
  views_.push_back(std::move(v));
  return views_.back();
}

void ParamStore::allocate() {
  check(!allocated_, "ParamStore: allocate() called twice");
  for (int t = 0; t < 3; ++t) {
    if (numel_[t] == 0) continue;
    size_t bytes = static_cast<size_t>(numel_[t]) * dtype_size(static_cast<DType>(t));
    bytes = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes);
    check(p != nullptr, "ParamStore: out of memory allocating " + std::to_string(bytes) + " bytes");
    std::memset(p, 0, bytes);
    buffers_[t].reset(p);
  }
  allocated_ = true;
}

const ParamView* ParamStore::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &views_[it->second];
}

const ParamView& ParamStore::at(const std::string& name) const {
  const ParamView* v = find(name);
  check(v != nullptr, "model has no parameter named '" + name + "'");
  return *v;
}

void* ParamStore::buffer(DType t) { return buffers_[static_cast<int>(t)].get(); }
const void* ParamStore::buffer(DType t) const { return buffers_[static_cast<int>(t)].get(); }

void* ParamStore::data(const ParamView& v) {
  check(allocated_, "ParamStore: data('" + v.name + "') before allocate()");
  return static_cast<char*>(buffer(v.dtype)) + static_cast<size_t>(v.offset) * dtype_size(v.dtype);
}

const void* ParamStore::data(const ParamView& v) const {
  check(allocated_, "ParamStore: data('" + v.name + "') before allocate()");
  return static_cast<const char*>(buffer(v.dtype)) + static_cast<size_t>(v.offset) * dtype_size(v.dtype);
}

float* ParamStore::f32(const ParamView& v) {
  check(v.dtype == DType::F32, "parameter '" + v.name + "' is " + dtype_name(v.dtype) + ", not f32");
  return static_cast<float*>(data(v));
}

int64_t ParamStore::total_numel() const { return numel_[0] + numel_[1] + numel_[2]; }

size_t ParamStore::total_bytes() const {
  size_t b = 0;
  for (int t = 0; t < 3; ++t) b += static_cast<size_t>(numel_[t]) * dtype_size(static_cast<DType>(t));
  return b;
}

}  // namespace zotune
