#include "core/optim/param_pass.h"

#include "core/util/error.h"

namespace zotune {

size_t ParamState::add_array(uint64_t length, float initial) {
  check(!device_, "ParamState: an array added after the state moved to the device");
  length_.push_back(length);
  initial_.push_back(initial);
  host_.emplace_back();
  return length_.size() - 1;
}

std::vector<float>& ParamState::host(size_t a) const {
  check(a < length_.size(), "ParamState: array " + std::to_string(a) + " of " + std::to_string(length_.size()));
  if (device_) {
    for (size_t i = 0; i < length_.size(); ++i) {
      host_[i].resize(static_cast<size_t>(length_[i]));
      device_->download(i, host_[i].data());
    }
    device_.reset();
  }
  if (host_[a].size() != length_[a]) host_[a].assign(static_cast<size_t>(length_[a]), initial_[a]);
  return host_[a];
}

const std::vector<float>* ParamState::host_values(size_t a) const {
  check(a < length_.size(), "ParamState: array " + std::to_string(a) + " of " + std::to_string(length_.size()));
  return host_[a].size() == length_[a] ? &host_[a] : nullptr;
}

void ParamState::move_to_device(std::unique_ptr<DeviceCopy> copy) {
  check(copy != nullptr, "ParamState: no device copy");
  device_ = std::move(copy);
  for (std::vector<float>& h : host_) std::vector<float>().swap(h);
}

}  // namespace zotune
