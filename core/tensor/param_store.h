// ParamStore: every parameter of a model lives in one flat buffer per dtype, and a
// parameter is a named view (offset, shape) into it. The flat element index of a
// view's first element plus the position inside it is the parameter's global index:
// the counter of the perturbation generator, so a direction is a pure function of it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor/dtype.h"

namespace zotune {

struct ParamView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // row-major, as Hugging Face names it ([out, in] for Linear)
  int64_t offset = 0;          // element offset inside the buffer of `dtype`
  int64_t numel = 0;
};

std::string shape_string(const std::vector<int64_t>& shape);  // "[3, 4]"
int64_t shape_numel(const std::vector<int64_t>& shape);

class ParamStore {
 public:
  ParamStore() = default;
  ParamStore(const ParamStore&) = delete;
  ParamStore& operator=(const ParamStore&) = delete;
  ParamStore(ParamStore&&) = default;
  ParamStore& operator=(ParamStore&&) = default;

  // Declares a parameter; offsets are assigned in declaration order. Only before allocate().
  const ParamView& declare(const std::string& name, DType dtype, std::vector<int64_t> shape);
  // Allocates the buffers (64-byte aligned, zero-filled). Views stay valid afterwards.
  void allocate();
  bool allocated() const { return allocated_; }

  const ParamView* find(const std::string& name) const;
  const ParamView& at(const std::string& name) const;  // throws Error naming the tensor
  const std::vector<ParamView>& views() const { return views_; }

  void* data(const ParamView& v);
  const void* data(const ParamView& v) const;
  float* f32(const ParamView& v);  // checks dtype

  // The flat buffer of one dtype and its length in elements (0 when none declared).
  void* buffer(DType t);
  const void* buffer(DType t) const;
  int64_t numel(DType t) const { return numel_[static_cast<int>(t)]; }
  int64_t total_numel() const;
  size_t total_bytes() const;

 private:
  struct FreeDeleter {
    void operator()(void* p) const;
  };
  std::vector<ParamView> views_;
  std::map<std::string, size_t> index_;
  int64_t numel_[3] = {0, 0, 0};
  std::unique_ptr<void, FreeDeleter> buffers_[3];
  bool allocated_ = false;
};

}  // namespace zotune
