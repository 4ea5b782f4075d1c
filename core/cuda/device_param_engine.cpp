#include "core/cuda/device_param_engine.h"

#include <cuda_runtime.h>

#include <vector>

#include "core/cuda/device_memory.h"
#include "core/util/error.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/perturb.cuh"

namespace zotune::cuda {

namespace {

class DeviceParamEngine final : public ParamEngine {
 public:
  DeviceParamEngine(CudaModel& model, const TrainableSpace& space) : model_(model), space_(space) {
    std::vector<PerturbSegment> segments;
    for (const TrainableTensor& t : space.tensors()) {
      PerturbSegment s;
      s.data = model.device_data(*t.view);
      s.first = t.first;
      s.n = t.view->numel;
      s.dtype = t.view->dtype;
      s.decay = t.weight_decay;
      segments.push_back(s);
      // Snapshot runs: adjacent trainable tensors of one dtype copy as one block.
      const size_t bytes = static_cast<size_t>(t.view->numel) * dtype_size(t.view->dtype);
      if (!runs_.empty() && runs_.back().dtype == t.view->dtype &&
          static_cast<char*>(runs_.back().data) + runs_.back().bytes == s.data) {
        runs_.back().bytes += bytes;
      } else {
        runs_.push_back({s.data, bytes, t.view->dtype});
      }
    }
    n_segments_ = static_cast<int>(segments.size());
    segments_ = DeviceBuffer(segments.size() * sizeof(PerturbSegment));
    check_status(cudaMemcpy(segments_.get(), segments.data(), segments.size() * sizeof(PerturbSegment),
                            cudaMemcpyHostToDevice),
                 "upload of the trainable segment table");
  }

  void apply(const std::vector<cpu::DirectionTerm>& terms, DirectionKind kind, float decay_scale) override {
    if (terms.empty() && decay_scale == 1.0f) return;
    perturb_segments(segments_.as<PerturbSegment>(), n_segments_, space_.size(), terms.data(),
                     static_cast<int>(terms.size()), kind, decay_scale, model_.stream());
  }

  void apply_in_dtype(const cpu::DirectionTerm& term, DirectionKind kind) override {
    perturb_segments_in_dtype(segments_.as<PerturbSegment>(), n_segments_, space_.size(), term, kind, model_.stream());
  }

  // Optimizers with their own parameter passes (MeZO-Adam, HiZOO, LOZO, Sparse-MeZO) have a
  // host implementation only; refused here, before anything touches the device.
  bool supports_tensor_passes() const override { return false; }
  void apply_pass(const TensorPass&, const std::string& optimizer) override {
    throw Error("optimizer " + optimizer +
                ": its parameter passes are not on the CUDA engine yet; run it with engine.device: cpu");
  }

  void save_snapshot() override { copy(true); }
  void restore_snapshot() override {
    check(snapshot_.bytes() > 0, "restore_snapshot before save_snapshot");
    copy(false);
  }

  uint64_t checksum() override {
    // FNV-1a over the trainable bytes in space order, as TrainableSpace::checksum: the bits
    // come to the host run by run (a rare check, every run.checksum_every steps).
    model_.synchronize();
    uint64_t h = 1469598103934665603ull;
    std::vector<uint8_t> host;
    for (const Run& r : runs_) {
      host.resize(r.bytes);
      check_status(cudaMemcpy(host.data(), r.data, r.bytes, cudaMemcpyDeviceToHost), "checksum download");
      for (uint8_t b : host) h = (h ^ b) * 1099511628211ull;
    }
    return h;
  }

  size_t extra_bytes() const override { return snapshot_.bytes(); }

 private:
  struct Run {
    void* data;
    size_t bytes;
    DType dtype;
  };

  void copy(bool save) {
    size_t total = 0;
    for (const Run& r : runs_) total += r.bytes;
    if (snapshot_.bytes() != total) snapshot_ = DeviceBuffer(total);
    size_t at = 0;
    const cudaStream_t s = static_cast<cudaStream_t>(model_.stream());
    for (const Run& r : runs_) {
      char* snap = snapshot_.as<char>() + at;
      check_status(save ? cudaMemcpyAsync(snap, r.data, r.bytes, cudaMemcpyDeviceToDevice, s)
                        : cudaMemcpyAsync(r.data, snap, r.bytes, cudaMemcpyDeviceToDevice, s),
                   "snapshot copy");
      at += r.bytes;
    }
  }

  CudaModel& model_;
  const TrainableSpace& space_;
  DeviceBuffer segments_;
  int n_segments_ = 0;
  std::vector<Run> runs_;
  DeviceBuffer snapshot_;
};

}  // namespace

std::unique_ptr<ParamEngine> make_device_param_engine(CudaModel& model, const TrainableSpace& space) {
  return std::make_unique<DeviceParamEngine>(model, space);
}

}  // namespace zotune::cuda
