// A stateful optimizer's parameter pass as data, and the per-parameter state those passes
// read and write, held where they run.
//
// The host engine runs a TensorPass's closure (zo_optimizer.h) on each tensor widened to
// fp32. The CUDA engine cannot run a host closure on device memory; it runs the same
// arithmetic as one kernel per pass kind over its segment table (kernels/cuda/zo_passes.cuh),
// reading the scalars and the state named here. Each optimizer fills ParamPassSpec beside its
// closure from the same values, so the two engines compute the same formula in the same order
// (the closures are the reference; core/optim/{mezo_adam,hizoo,lozo,sparse_mezo}.cpp).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/common/philox.h"

namespace zotune {

// Per-parameter optimizer state: fp32 arrays indexed by the global trainable index (MeZO-Adam's
// m and v, HiZOO's Σ), on the host or on the GPU, wherever the last pass ran. An array is not
// materialized before a pass needs it (a device run never allocates the host copy, 4 bytes per
// parameter per array); it moves once when a pass of the other engine needs it (the host
// accessors after a device run download it). Owned by the optimizer, so it survives the
// engine: resume replays on one engine and trains on another, with the same state.
class ParamState {
 public:
  // The arrays on the GPU (core/cuda/device_param_engine.cpp implements it).
  class DeviceCopy {
   public:
    virtual ~DeviceCopy() = default;
    // Array `a` (length(a) values) into `out` (host); waits for the passes that wrote it.
    virtual void download(size_t a, float* out) = 0;
  };

  // A new array of `length` values, each `initial` until a pass writes it; returns its index.
  size_t add_array(uint64_t length, float initial);
  size_t arrays() const { return length_.size(); }
  uint64_t length(size_t a) const { return length_.at(a); }
  float initial(size_t a) const { return initial_.at(a); }

  // Array `a` on the host, for the host closures and the accessors: materialized from the
  // initial value, or downloaded (with every other array; the device copy is released).
  std::vector<float>& host(size_t a) const;

  // The device engine's side. device(): the copy the arrays live in, null while they are on
  // the host. host_values(a): the host values to upload, null while array a is not
  // materialized (upload the initial value). move_to_device: the arrays now live in `copy`;
  // the host arrays are released.
  DeviceCopy* device() const { return device_.get(); }
  const std::vector<float>* host_values(size_t a) const;
  void move_to_device(std::unique_ptr<DeviceCopy> copy);

 private:
  std::vector<uint64_t> length_;
  std::vector<float> initial_;
  mutable std::vector<std::vector<float>> host_;
  mutable std::unique_ptr<DeviceCopy> device_;
};

struct MagnitudeThresholds;  // core/optim/sparse_mezo.h

// Which arithmetic a pass runs (the closure of the same name is its reference):
//  - AdamUpdate (MeZO-Adam's update): state arrays 0 = m, 1 = v; g = grad_scale z (+ the weight
//    decay on decayed tensors), torch Adam's step; `reference`: rounded to the dtype as
//    mezo_adam.h lists.
//  - HizooProbe: x += coeff z ⊘ √Σ (state array 0 = Σ, read only); `reference`: z rounded to the dtype.
//  - HizooUpdate: Σ ← keep Σ + sample Σ z z, x −= step_c z ⊘ √Σ + step_decay x; `reference`:
//    first back from the last probe (x += restore z ⊘ √Σ with the old Σ), z and Σ rounded.
//  - LozoAxpy: x += coeff U Vᵀ per matrix (lozo.h; the plain z for vectors and small matrices).
//  - SparseAxpy: x = x scale + coeff m ⊙ z (scale = decay_scale on decayed tensors; the mask
//    from |x| <= the tensor's threshold, or from u(seed ^ kMaskStream, step) >= sparsity).
// z is z(seed, step, 0) at the tensor's global indices, drawn as cpu::direction draws it.
enum class ParamPassKind : uint8_t { None, AdamUpdate, HizooProbe, HizooUpdate, LozoAxpy, SparseAxpy };

struct ParamPassSpec {
  ParamPassKind kind = ParamPassKind::None;
  bool reference = false;  // model.perturbation: reference arithmetic (AdamUpdate, HizooProbe, HizooUpdate)
  DirectionKind direction = DirectionKind::Gaussian;
  uint64_t seed = 0;
  uint32_t step = 0;
  float coeff = 0.0f;  // HizooProbe, LozoAxpy, SparseAxpy
  // AdamUpdate: g = grad_scale z + weight_decay x; step_size = lr / (1 − β1^t); bias2_sqrt = √(1 − β2^t).
  float grad_scale = 0.0f, beta1 = 0.0f, beta2 = 0.0f, adam_eps = 0.0f, weight_decay = 0.0f, step_size = 0.0f,
        bias2_sqrt = 1.0f;
  // HizooUpdate (hizoo.cpp's names): keep = 1 − α, sample = α · curvature, step_c = η c,
  // step_decay = η λ, restore = ε (reference mode's way back from θ − εz ⊘ √Σ).
  float keep = 1.0f, sample = 0.0f, step_c = 0.0f, step_decay = 0.0f, restore = 0.0f;
  // LozoAxpy: V's window (its first step) and the rank r.
  uint32_t window = 0;
  int rank = 0;
  // SparseAxpy.
  float decay_scale = 1.0f, sparsity = 0.0f;
  bool random_mask = false;
  ParamState* state = nullptr;                // AdamUpdate, HizooProbe, HizooUpdate
  MagnitudeThresholds* thresholds = nullptr;  // SparseAxpy with the magnitude mask
};

}  // namespace zotune
